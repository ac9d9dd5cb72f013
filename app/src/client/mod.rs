//! A Socket.IO v5 client over Engine.IO v4 WebSockets, typed by Palaver's wire contract.
//!
//! Two layers:
//! - [`Connection`]: the protocol logic without I/O. It multiplexes namespaces, matches acks and
//!   watches pings. Frames and time go in; frames to send and events come out. It runs anywhere,
//!   and that is how it is tested.
//! - `Client` and `Socket` (browser only, feature `hydrate`): the driver. It owns the
//!   `WebSocket` and the timers, and reconnects with exponential backoff and jitter. It exposes
//!   the connection state as a Leptos signal.
//!
//! The API is typed by [`crate::events`]: a namespace handle only accepts that namespace's
//! client events, and the payload is the event itself.
//!
//! ```
//! use app::client::Connection;
//! use app::events::{Main, SendMessage};
//!
//! let mut connection = Connection::new();
//! let main = connection.add_namespace::<Main>();
//! let message = SendMessage { text: "hi".into(), client_offset: None };
//! // Not connected yet, but it type-checks.
//! assert!(connection.emit(main, &message).is_err());
//! ```
//!
//! Sending a server-to-client event does not compile:
//!
//! ```compile_fail
//! use app::client::Connection;
//! use app::events::{ChatMessage, Main, MessageMeta};
//!
//! let mut connection = Connection::new();
//! let main = connection.add_namespace::<Main>();
//! let message = ChatMessage {
//!     text: "hi".into(),
//!     id: 1,
//!     meta: MessageMeta { author: "ann".into(), ts: 0, client_offset: None },
//! };
//! let _ = connection.emit(main, &message); // ChatMessage is not a ClientEvent
//! ```
//!
//! Neither does sending the wrong payload:
//!
//! ```compile_fail
//! use app::client::Connection;
//! use app::events::{Main, SendMessage};
//!
//! let mut connection = Connection::new();
//! let main = connection.add_namespace::<Main>();
//! let _ = connection.emit::<SendMessage>(main, &"hi".to_string()); // a String is not a SendMessage
//! ```

// Only the browser driver reconnects; natively the backoff is exercised by its tests.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
mod backoff;
mod connection;
mod engine;

#[cfg(feature = "hydrate")]
mod browser;

pub use connection::{
    AckFailure, Connection, DecodeError, EmitError, Incoming, Millis, Ns, NsStatus, Output,
};

#[cfg(feature = "hydrate")]
pub use browser::{AckError, Client, ConnectionState, Socket};
