//! Events go out through [`emit`] and `broadcast`, which take the name from the payload's
//! type, and only a server event's:
//!
//! ```
//! use app::events::RoomList;
//! use palaver_server::SocketRef;
//!
//! fn tell(socket: &SocketRef, list: &RoomList) {
//!     let _ = palaver_server::socket::emit::emit(socket, list);
//! }
//! ```
//!
//! ```compile_fail
//! use app::events::RoomInfo;
//! use palaver_server::SocketRef;
//!
//! // A room's entry is not an event: the list it belongs in is.
//! fn tell(socket: &SocketRef, room: &RoomInfo) {
//!     let _ = palaver_server::socket::emit::emit(socket, room);
//! }
//! ```
//!
//! ```compile_fail
//! use app::events::SendMessage;
//! use palaver_server::SocketRef;
//!
//! // The server does not send what clients send.
//! fn tell(socket: &SocketRef, message: &SendMessage) {
//!     let _ = palaver_server::socket::emit::emit(socket, message);
//! }
//! ```

use crate::cluster::{BroadcastOperators, SocketRef};
use app::events::ServerEvent;
use socketioxide::{BroadcastError, SendError};

/// Sends `event` to `socket`, under its own name.
pub fn emit<E: ServerEvent>(socket: &SocketRef, event: &E) -> Result<(), SendError> {
    socket.emit(E::NAME, event)
}

/// Sends `event` to every socket `to` names, under its own name.
pub(crate) async fn broadcast<E: ServerEvent>(
    to: BroadcastOperators,
    event: &E,
) -> Result<(), BroadcastError> {
    to.emit(E::NAME, event).await
}
