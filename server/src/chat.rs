//! The main namespace `/`: who connected, `chat message`, the replay on connect, and what
//! happens to everything else a client sends.
//!
//! This module translates between the wire contract (`app::events`) and the store. It is the
//! only place that knows both.

use std::convert::Infallible;
use std::sync::Arc;

use app::events::{
    self, ChatError, ChatMessage, Event as _, LOBBY, MAX_CLIENT_OFFSET_CHARS, MAX_REPLAY, Main,
    MainAuth, MessageMeta, Namespace as _, Posted, Reply, SendMessage,
};
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Data, Event, SocketRef, State, TryData};
use socketioxide::handler::{ConnectHandler, FromMessageParts};
use socketioxide::socket::{DisconnectReason, Socket};
use tokio::sync::Mutex;
use tracing::{error, info, warn};

use crate::store::{NewMessage, Store, StoredMessage};

/// Shared state of the chat namespace. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Chat {
    store: Store,
    /// Held across "commit, then broadcast" and across "join, then replay", so that every
    /// client sees messages in id order and a connecting client neither misses nor repeats a
    /// message committed while it joins. SQLite serialises writers anyway, so this costs no
    /// write throughput.
    order: Arc<Mutex<()>>,
}

impl Chat {
    pub(crate) fn new(store: Store) -> Chat {
        Chat {
            store,
            order: Arc::default(),
        }
    }
}

/// Who a socket is. Set once by the connect middleware; never taken from event payloads.
#[derive(Clone, Debug)]
pub(crate) struct Identity {
    pub(crate) name: String,
}

/// Why a connection to `/` is refused; sent to the client as `connect_error`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectRefused {
    #[error("invalid auth payload: {0}")]
    InvalidAuth(String),
}

pub(crate) fn register(io: &SocketIo) {
    io.ns(Main::PATH, on_connect.with(authenticate));
}

async fn authenticate(
    socket: SocketRef,
    TryData(auth): TryData<MainAuth>,
) -> Result<(), ConnectRefused> {
    let auth = auth.map_err(|e| ConnectRefused::InvalidAuth(e.to_string()))?;
    socket.extensions.insert(Identity {
        name: events::clean_name(auth.name.as_deref()),
    });
    Ok(())
}

async fn on_connect(socket: SocketRef, Data(auth): Data<MainAuth>, State(chat): State<Chat>) {
    let name = identity(&socket).name;
    info!(sid = %socket.id, ns = socket.ns(), %name, "socket connected");

    socket.on(SendMessage::NAME, on_send);
    socket.on_fallback(on_unknown_event);
    socket.on_disconnect(on_disconnect);

    let _order = chat.order.lock().await;
    socket.join(LOBBY);
    match chat
        .store
        .newest_after(LOBBY, auth.server_offset, MAX_REPLAY)
        .await
    {
        Ok(missed) => {
            for m in missed {
                if let Err(e) = socket.emit(ChatMessage::NAME, &to_event(m)) {
                    warn!(sid = %socket.id, error = %e, "replay emit failed");
                    break;
                }
            }
        }
        Err(e) => error!(sid = %socket.id, error = %e, "replay query failed"),
    }
}

async fn on_send(
    socket: SocketRef,
    TryData(message): TryData<SendMessage>,
    ack: AckSender,
    AckRequested(wants_ack): AckRequested,
    State(chat): State<Chat>,
) {
    let result = match message {
        Ok(m) => post(&socket, &chat, m).await,
        Err(e) => Err(ChatError::InvalidPayload {
            event: SendMessage::NAME.to_owned(),
            detail: e.to_string(),
        }),
    };
    answer(&socket, SendMessage::NAME, ack, wants_ack, result);
}

/// Validates, stores (idempotently by client offset) and broadcasts one message.
async fn post(socket: &SocketRef, chat: &Chat, m: SendMessage) -> Result<Posted, ChatError> {
    let text = events::validate_text(&m.text)?;
    let offset = m.client_offset.as_deref();
    if offset.is_some_and(|o| o.chars().count() > MAX_CLIENT_OFFSET_CHARS) {
        return Err(ChatError::OffsetTooLong {
            max: MAX_CLIENT_OFFSET_CHARS,
        });
    }
    let author = identity(socket).name;

    let _order = chat.order.lock().await;
    let inserted = chat
        .store
        .insert(NewMessage {
            room: LOBBY,
            author: &author,
            text,
            client_offset: offset,
        })
        .await
        .map_err(|e| {
            error!(sid = %socket.id, error = %e, "storing a message failed");
            ChatError::Unavailable
        })?;
    let stored = inserted.message;
    let posted = Posted {
        id: stored.id,
        ts: stored.created_at,
    };
    // A repeated offset was broadcast when it was first stored; only the ack repeats.
    if inserted.created {
        let event = to_event(stored);
        if let Err(e) = socket.within(LOBBY).emit(ChatMessage::NAME, &event).await {
            warn!(id = posted.id, error = %e, "broadcast failed");
        }
    }
    Ok(posted)
}

/// Anything without a handler: answered with `unknown_event` when an ack is expected.
async fn on_unknown_event(
    socket: SocketRef,
    Event(event): Event,
    ack: AckSender,
    AckRequested(wants_ack): AckRequested,
) {
    answer::<()>(
        &socket,
        &event,
        ack,
        wants_ack,
        Err(ChatError::UnknownEvent {
            event: event.clone(),
        }),
    );
}

async fn on_disconnect(socket: SocketRef, reason: DisconnectReason) {
    info!(sid = %socket.id, ns = socket.ns(), ?reason, "socket disconnected");
}

/// Sends the result in the ack, or logs the error when the client asked for no ack.
fn answer<T: serde::Serialize>(
    socket: &SocketRef,
    event: &str,
    ack: AckSender,
    wants_ack: bool,
    result: Result<T, ChatError>,
) {
    if !wants_ack {
        if let Err(e) = &result {
            warn!(sid = %socket.id, event, error = %e, "rejected event without ack");
        }
        return;
    }
    if let Err(e) = &result {
        warn!(sid = %socket.id, event, error = %e, "rejected event");
    }
    if let Err(e) = ack.send(&Reply::from(result)) {
        warn!(sid = %socket.id, event, error = %e, "ack not sent");
    }
}

fn identity(socket: &SocketRef) -> Identity {
    // The middleware always sets it; the fallback only guards against a future code path.
    socket.extensions.get::<Identity>().unwrap_or(Identity {
        name: events::ANONYMOUS.to_owned(),
    })
}

pub(crate) fn to_event(m: StoredMessage) -> ChatMessage {
    ChatMessage {
        text: m.text,
        id: m.id,
        meta: MessageMeta {
            author: m.author,
            ts: m.created_at,
            client_offset: m.client_offset,
        },
    }
}

/// Whether the client expects an ack. socketioxide's `AckSender` silently drops a reply when
/// none is expected; we want to log rejected input in that case instead.
struct AckRequested(bool);

impl<A: Adapter> FromMessageParts<A> for AckRequested {
    type Error = Infallible;
    fn from_message_parts(
        _: &Arc<Socket<A>>,
        _: &mut socketioxide_core::Value,
        ack_id: &Option<i64>,
    ) -> Result<Self, Infallible> {
        Ok(AckRequested(ack_id.is_some()))
    }
}
