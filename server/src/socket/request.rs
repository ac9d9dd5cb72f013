//! The typed request layer: each handler is a function from its request to its answer, and
//! [`serve`] ties the event's name, its payload and its ack together, so that a handler
//! answering with another type than its request's `Ack` does not compile:
//!
//! ```
//! use app::events::{ChatError, JoinRoom, RoomInfo};
//! use palaver_server::socket::request::{Ctx, HandlerError, serve};
//!
//! async fn join(_: Ctx, _: JoinRoom) -> Result<RoomInfo, HandlerError> {
//!     Err(ChatError::NameRequired.into())
//! }
//! let _ = |socket, data, ack| serve(socket, data, ack, join);
//! ```
//!
//! ```compile_fail
//! use app::events::{ChatError, JoinRoom, Left};
//! use palaver_server::socket::request::{Ctx, HandlerError, serve};
//!
//! // `join room` is answered with a `RoomInfo`, not a `Left`.
//! async fn join(_: Ctx, _: JoinRoom) -> Result<Left, HandlerError> {
//!     Err(ChatError::NameRequired.into())
//! }
//! let _ = |socket, data, ack| serve(socket, data, ack, join);
//! ```

use crate::cluster::{AckSender, Socket, SocketIo, SocketRef};
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use app::events::{ChatError, Reply, Request};
use serde::Serialize;
use socketioxide::extract::{State, TryData};
use socketioxide::handler::FromMessageParts;
use socketioxide_core::Value;
use tracing::{debug, error, warn};

use crate::logging::{self, Escaped, Verdict};
use crate::socket::backlog::{Backlog, wire_bytes};
use crate::state::Chat;
use crate::store::StoreError;

/// What a handler works with: the socket that asked, the server's sockets, and the chat.
pub struct Ctx {
    pub(crate) socket: SocketRef,
    pub(crate) io: SocketIo,
    pub(crate) chat: Chat,
}

/// Why a request failed: the client's doing, answered as it is, or the server's, logged once
/// with what it was doing and answered `unavailable`.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    Client(#[from] ChatError),
    #[error("{doing} failed: {source}")]
    Internal {
        doing: &'static str,
        #[source]
        source: StoreError,
    },
}

impl HandlerError {
    /// What the client is told; a failure of the server's own is logged first.
    pub(crate) fn into_answer(self, socket: &SocketRef, event: &str) -> ChatError {
        match self {
            HandlerError::Client(e) => e,
            internal @ HandlerError::Internal { .. } => {
                error!(sid = %socket.id, event = %Escaped(event), error = %internal, "request failed");
                ChatError::Unavailable
            }
        }
    }

    /// A store failure while doing `doing` (what the log says, e.g. "the history query").
    pub(crate) fn store(doing: &'static str) -> impl FnOnce(StoreError) -> HandlerError {
        move |source| HandlerError::Internal { doing, source }
    }
}

/// Runs `handler` for the event that `socket` sent with `data` (and `ack`, its ack id): the
/// payload is read as `R`, a payload that is not one is answered `invalid_payload`, and the
/// handler's outcome is the ack, typed by `R`.
pub fn serve<R, T, F, Fut>(socket: Arc<Socket>, mut data: Value, ack: Option<i64>, handler: F)
where
    R: Request<Ack = Reply<T>> + Send,
    T: Serialize + Send + 'static,
    F: FnOnce(Ctx, R) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, HandlerError>> + Send + 'static,
{
    let wants_ack = ack.is_some();
    // Infallible extractors, all four; the payload's failure is kept for the answer.
    let Ok(TryData(request)) = TryData::<R>::from_message_parts(&socket, &mut data, &ack);
    let Ok(ack) = AckSender::from_message_parts(&socket, &mut data, &ack);
    let (Ok(io), Ok(State(chat))) = (
        SocketIo::from_message_parts(&socket, &mut data, &None),
        State::<Chat>::from_message_parts(&socket, &mut data, &None),
    ) else {
        warn!(
            event = R::NAME,
            "a request reached a socket without the chat's state"
        );
        return;
    };
    let socket = SocketRef::from(socket);
    let underway = match socket.extensions.get::<Arc<Backlog>>() {
        Some(backlog) => match backlog.start_request() {
            Some(underway) => Some(underway),
            None => {
                let busy = ChatError::Overloaded {
                    retry_after_ms: OVERLOADED_RETRY_MS,
                };
                answer::<T>(&socket, R::NAME, ack, wants_ack, Err(busy));
                return;
            }
        },
        None => None,
    };
    tokio::spawn(async move {
        let _underway = underway;
        let result = match request {
            Ok(request) => {
                let ctx = Ctx {
                    socket: socket.clone(),
                    io,
                    chat,
                };
                handler(ctx, request)
                    .await
                    .map_err(|e| e.into_answer(&socket, R::NAME))
            }
            Err(e) => Err(ChatError::InvalidPayload {
                event: R::NAME.to_owned(),
                detail: e.to_string(),
            }),
        };
        answer(&socket, R::NAME, ack, wants_ack, result);
    });
}

/// Answers `R` with `result`: the ack's type is `R`'s. A failure of the server's own is logged
/// here, once, and answered `unavailable`.
pub(crate) fn reply<R, T>(
    socket: &SocketRef,
    ack: AckSender,
    wants_ack: bool,
    result: Result<T, HandlerError>,
) where
    R: Request<Ack = Reply<T>>,
    T: Serialize,
{
    let result = result.map_err(|e| e.into_answer(socket, R::NAME));
    answer(socket, R::NAME, ack, wants_ack, result);
}

/// Whether the client expects an ack. socketioxide's `AckSender` silently drops a reply when
/// none is expected; we want to log rejected input in that case instead.
pub(crate) struct AckRequested(pub(crate) bool);

impl<A: socketioxide::adapter::Adapter> FromMessageParts<A> for AckRequested {
    type Error = Infallible;
    fn from_message_parts(
        _: &Arc<socketioxide::socket::Socket<A>>,
        _: &mut socketioxide_core::Value,
        ack_id: &Option<i64>,
    ) -> Result<Self, Infallible> {
        Ok(AckRequested(ack_id.is_some()))
    }
}

/// Sends the result in the ack, and logs an error (rate-limited per socket). An answer that
/// the socket's backlog cannot take is replaced by `overloaded`.
pub(crate) fn answer<T: Serialize>(
    socket: &SocketRef,
    event: &str,
    ack: AckSender,
    wants_ack: bool,
    result: Result<T, ChatError>,
) {
    if let Err(e) = &result {
        log_rejected(socket, event, e, wants_ack);
    }
    if !wants_ack {
        return;
    }
    let reply = Reply::from(result);
    let charged = match socket.extensions.get::<Arc<Backlog>>() {
        Some(backlog) => backlog.charge(wire_bytes(&reply)),
        None => Ok(()),
    };
    let sent = match charged {
        Ok(()) => ack.send(&reply),
        Err(refused) => {
            debug!(sid = %socket.id, event = %Escaped(event), %refused, "answer refused: the client is not reading");
            let busy = ChatError::Overloaded {
                retry_after_ms: OVERLOADED_RETRY_MS,
            };
            ack.send(&Reply::<()>::from(Err(busy)))
        }
    };
    if let Err(e) = sent {
        warn!(sid = %socket.id, event = %Escaped(event), error = %e, "ack not sent");
    }
}

/// Logs a rejected event, a few a minute per socket at most: a client sending nothing but bad
/// events must not fill the disk. What it quotes of the client is escaped.
fn log_rejected(socket: &SocketRef, event: &str, e: &ChatError, wants_ack: bool) {
    let (event, error) = (Escaped(event), Escaped(e));
    match logging::rejections(socket).judge(std::time::Instant::now()) {
        Verdict::Log { unlogged } => {
            if unlogged > 0 {
                warn!(sid = %socket.id, unlogged, "rejected events not logged");
            }
            warn!(sid = %socket.id, %event, %error, wants_ack, "rejected event");
        }
        Verdict::Quieten => warn!(
            sid = %socket.id,
            per_minute = logging::LOGGED_PER_MINUTE,
            "more rejected events from this socket; counting them, not logging them"
        ),
        Verdict::Quiet => {}
    }
}

/// How long a client whose answer was refused for its backlog is told to wait.
const OVERLOADED_RETRY_MS: u64 = 2_000;
