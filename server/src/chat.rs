//! The main namespace `/`: who connected, `chat message`, and what happens to everything else
//! a client sends. Catch-up and `history` live in `catchup.rs`, rooms in `rooms.rs`.
//!
//! This module translates between the wire contract (`app::events`) and the store. It is the
//! only place that knows both.

use std::convert::Infallible;
use std::sync::Arc;

use app::events::{
    self, ADMIN_EVENTS, BrowseRooms, ChatError, ChatMessage, CreateRoom, Direction, Event as _,
    History, JoinRoom, LOBBY, LeaveRoom, MAX_CLIENT_OFFSET_CHARS, Main, MainAuth, MarkRead,
    MessageKind, MessageMeta, Namespace as _, OpenDm, Posted, RoomKind, SendMessage, Session,
    StartTyping, Sync,
};
use socketioxide::SocketIo;
use socketioxide::adapter::{Adapter, LocalAdapter};
use socketioxide::extract::{AckSender, Data, Event, SocketRef, State, TryData};
use socketioxide::handler::{ConnectHandler, FromMessageParts, MessageHandler};
use socketioxide::operators::BroadcastOperators;
use socketioxide::socket::{DisconnectReason, Socket};
use socketioxide_core::Value;
use tokio::sync::Mutex;
use tracing::{error, info, warn};

use crate::backlog::Backlogs;
use crate::catchup::{self, CatchUpError, Cursor, MAX_SYNC_ROOMS};
use crate::conversation::{Conversation, ConversationId, person_room};
use crate::delivery::Lagging;
use crate::directory::{self, Directory};
use crate::identity::{self, authenticate};
use crate::limits;
use crate::logging::Rejections;
use crate::metrics::Metrics;
use crate::notices::Notices;
use crate::peer::TrustedProxies;
use crate::presence;
use crate::recent::Recent;
use crate::request::{HandlerError, answer, emit, reply, serve};
use crate::rooms;
use crate::session::Keys;
use crate::store::{GUEST_SENDER, NewMessage, Store, StoredMessage};
use crate::turn::Turn;
use crate::writer::{self, Answer, OwnedMessage, Writer};

/// Shared state of the chat namespace. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Chat {
    pub(crate) store: Store,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) lagging: Arc<Lagging>,
    /// Held across "commit, then broadcast" and across "join, then replay", so that every
    /// client sees messages in id order and a connecting client neither misses nor repeats a
    /// message committed while it joins. SQLite serialises writers anyway, so this costs no
    /// write throughput.
    pub(crate) order: Arc<Mutex<()>>,
    /// Signs and checks session tokens.
    pub(crate) keys: Keys,
    /// What each person (or address) may do how often.
    pub(crate) limits: Arc<limits::Limits>,
    /// Whose `X-Forwarded-For` says where a client connects from.
    pub(crate) trusted_proxies: Arc<TrustedProxies>,
    /// Which "joined" and "left" notices are posted, held back, or left out.
    pub(crate) notices: Arc<Notices>,
    /// What `/admin` clients must present.
    pub(crate) admin_token: Arc<str>,
    /// Who is in which room, and who typed when.
    pub(crate) presence: Arc<presence::Rooms>,
    /// Rooms whose counts changed and must be announced.
    pub(crate) directory: Arc<Directory>,
    /// Stores and broadcasts every message, committing those that arrive together at once.
    pub(crate) writer: Writer,
    /// Each room's newest messages, for catch-ups that read without the order lock.
    pub(crate) recent: Arc<Recent>,
    /// What each socket has been sent and not yet read, in bytes.
    pub(crate) backlogs: Backlogs,
    /// Catch-ups under way: reading, or holding what they read until they send it.
    pub(crate) catchups: Arc<catchup::Gates>,
}

/// What guards the chat against floods, from the configuration.
pub(crate) struct Guards {
    pub(crate) limits: limits::Limits,
    pub(crate) trusted_proxies: TrustedProxies,
    pub(crate) notice_window: std::time::Duration,
}

impl Chat {
    /// The chat's state, and its writer (a thread of its own).
    pub(crate) fn new(
        store: Store,
        keys: Keys,
        guards: Guards,
        admin_token: &str,
        backlogs: Backlogs,
    ) -> Result<Chat, std::io::Error> {
        let metrics: Arc<Metrics> = Arc::default();
        let lagging: Arc<Lagging> = Arc::default();
        let order: Arc<Mutex<()>> = Arc::default();
        let recent: Arc<Recent> = Arc::default();
        let writer = Writer::start(writer::Shared {
            store: store.clone(),
            metrics: metrics.clone(),
            lagging: lagging.clone(),
            order: order.clone(),
            recent: recent.clone(),
        })?;
        Ok(Chat {
            store,
            keys,
            admin_token: admin_token.into(),
            presence: Arc::default(),
            directory: Arc::default(),
            limits: Arc::new(guards.limits),
            trusted_proxies: Arc::new(guards.trusted_proxies),
            notices: Arc::new(Notices::new(guards.notice_window)),
            metrics,
            lagging,
            order,
            writer,
            recent,
            backlogs,
            catchups: Arc::default(),
        })
    }
}

pub(crate) fn register(io: &SocketIo) {
    io.ns(Main::PATH, on_connect.with(authenticate));
}

async fn on_connect(
    socket: SocketRef,
    io: SocketIo,
    Data(auth): Data<MainAuth>,
    State(chat): State<Chat>,
) {
    let who = identity::of(&socket);
    let from = who.source.map(|s| s.to_string()).unwrap_or_default();
    info!(sid = %socket.id, ns = socket.ns(), name = %who.name, %from, "socket connected");
    // First, so the client stores its new token before anything else can go wrong.
    if let Some(session) = socket.extensions.remove::<Session>()
        && let Err(e) = emit(&socket, &session)
    {
        warn!(sid = %socket.id, error = %e, "session not sent");
    }

    // The person's conversations: their list, and the public rooms among them (lobby
    // included) to join the socket to; a guest is in the lobby only.
    let rows = chat.store.room_list(who.person.as_deref()).await;
    let mut joined: Vec<String> = match &rows {
        Ok(rows) => rows
            .iter()
            .filter(|r| r.joined && r.kind == RoomKind::Room)
            .map(|r| r.name.clone())
            .collect(),
        Err(e) => {
            error!(sid = %socket.id, error = %e, "room list query failed");
            Vec::new()
        }
    };
    if !joined.iter().any(|r| r == LOBBY) {
        joined.insert(0, LOBBY.to_owned());
    }

    // The catch-up's reads run before the order lock, so that a crowd connecting at once
    // neither holds up posting nor waits on one another's queries.
    let reading = chat.catchups.read().await;
    let mut read = Vec::new();
    for (room, cursor) in replay_plan(&socket, &auth, &joined) {
        match catchup::prepare(&chat, room, cursor).await {
            Ok(prepared) => read.push(prepared),
            Err(e) => {
                catchup::drop_behind(&socket, e.into());
                break;
            }
        }
    }
    let sending = chat.catchups.send().await;
    let order = chat.order.lock().await;
    if let Some(person) = &who.person {
        socket.join(person_room(person));
    }
    let mut arrived = Vec::with_capacity(joined.len());
    for room in &joined {
        socket.join(room.clone());
        arrived.push(chat.presence.enter(room, &who));
    }
    for prepared in read {
        let sent = catchup::finish(&socket, &chat, prepared)
            .await
            .and_then(|synced| match auth.since {
                // The tutorial's client knows no `synced`.
                None => Ok(()),
                Some(_) => emit(&socket, &synced).map_err(|e| CatchUpError::Emit(e.to_string())),
            });
        if let Err(e) = sent {
            catchup::drop_behind(&socket, e);
            break;
        }
    }
    drop(order);
    drop((sending, reading));
    if !socket.connected() {
        // Gone already: its disconnect handler may have run before it was counted in.
        for room in &joined {
            chat.presence.leave(room, &who);
        }
        return;
    }
    // Counted online now that this socket is.
    let list = rows.map(|rows| directory::list_of(&chat, &io, &who, rows));
    if let Ok(list) = &list {
        let _ = emit(&socket, list);
    }
    for change in arrived {
        presence::announce(&chat, change);
    }
    if let Ok(list) = &list {
        presence::tell_dms(&io, &who, list).await;
    }
}

/// Registers the namespace's handlers. Called by the connect middleware once it lets the
/// socket in: socketioxide sends CONNECT before it spawns the connect handler, so a client's
/// first event can arrive before that handler runs, and without a handler it would be dropped
/// unanswered.
pub(crate) fn register_handlers(socket: &SocketRef) {
    socket.on_fallback(Events);
    socket.on_disconnect(on_disconnect);
}

/// Every event of the namespace, handed to its handler by name. socketioxide keeps each
/// handler registered with `on` in a map of its own on every socket, for as long as the socket
/// is open; its one fallback slot holds this dispatcher, which takes no memory.
struct Events;

impl MessageHandler<LocalAdapter, Events> for Events {
    fn call(&self, socket: Arc<Socket<LocalAdapter>>, mut data: Value, ack: Option<i64>) {
        // socketioxide read the name before choosing a handler, so this does not fail; if it
        // did, the event would get the answer of one without a handler.
        let event = Event::from_message_parts(&socket, &mut data, &ack).map(|Event(e)| e);
        match event.as_deref().unwrap_or_default() {
            SendMessage::NAME => MessageHandler::call(&on_send, socket, data, ack),
            Sync::NAME => serve(socket, data, ack, catchup::sync),
            History::NAME => serve(socket, data, ack, catchup::history),
            StartTyping::NAME => MessageHandler::call(&presence::on_typing, socket, data, ack),
            CreateRoom::NAME => serve(socket, data, ack, rooms::create),
            JoinRoom::NAME => serve(socket, data, ack, rooms::join),
            LeaveRoom::NAME => serve(socket, data, ack, rooms::leave),
            OpenDm::NAME => serve(socket, data, ack, rooms::open_dm),
            BrowseRooms::NAME => serve(socket, data, ack, rooms::browse),
            MarkRead::NAME => serve(socket, data, ack, rooms::mark_read),
            _ => MessageHandler::call(&on_unknown_event, socket, data, ack),
        }
    }
}

/// The catch-up on connect. A client that sends `since` gets the bounded catch-up of the lobby
/// and of every other conversation it names that it may read, each ended by `synced`; the
/// tutorial's client, which only knows `serverOffset`, gets the newest lobby messages after it.
fn replay_plan(
    socket: &SocketRef,
    auth: &MainAuth,
    joined: &[String],
) -> Vec<(ConversationId, Cursor)> {
    let Some(since) = &auth.since else {
        return vec![(
            ConversationId::lobby(),
            Cursor::Tutorial(auth.server_offset),
        )];
    };
    let person = identity::of(socket).person;
    let mut plan = vec![(
        ConversationId::lobby(),
        Cursor::Since(since.get(LOBBY).copied().unwrap_or(0)),
    )];
    // Conversations left meanwhile, or never ours, are skipped: `rooms` tells the client
    // which it has.
    plan.extend(
        since
            .iter()
            .filter(|(room, _)| room.as_str() != LOBBY)
            .filter_map(|(room, after)| {
                let room = ConversationId::parse(room).ok()?;
                let ours = match room.conversation() {
                    c @ Conversation::Dm { .. } => person.as_deref().is_some_and(|p| c.is_party(p)),
                    Conversation::Room(name) => joined.iter().any(|j| j == name),
                };
                ours.then_some((room, Cursor::Since(*after)))
            })
            .take(MAX_SYNC_ROOMS),
    );
    plan
}

async fn on_send(
    socket: SocketRef,
    mut turn: Turn,
    TryData(message): TryData<SendMessage>,
    ack: AckSender,
    AckRequested(wants_ack): AckRequested,
    State(chat): State<Chat>,
) {
    // First of all: a turn dropped before its wait would let the next post pass an earlier one.
    turn.wait().await;
    let checked = async { check(&socket, &chat, parsed::<SendMessage>(message)?).await }.await;
    let (message, to) = match checked {
        Ok(post) => post,
        // Refused: the turn passes on as this returns.
        Err(e) => return reply::<SendMessage, Posted>(&socket, ack, wants_ack, Err(e)),
    };
    let poster = socket.clone();
    let answer = move |outcome: Result<Posted, ChatError>| {
        reply::<SendMessage, _>(&poster, ack, wants_ack, outcome.map_err(HandlerError::from))
    };
    chat.writer.enqueue(message, to, Answer::new(answer)).await;
    // Queued: the writer keeps the order from here.
    drop(turn);
}

/// The payload of `E`, or the `invalid_payload` error that answers it.
pub(crate) fn parsed<E: events::Event>(
    payload: Result<E, socketioxide::ParserError>,
) -> Result<E, ChatError> {
    payload.map_err(|e| ChatError::InvalidPayload {
        event: E::NAME.to_owned(),
        detail: e.to_string(),
    })
}

/// Validates one message and says where it goes; the writer then stores it (idempotently
/// by client offset) and broadcasts it.
async fn check(
    socket: &SocketRef,
    chat: &Chat,
    m: SendMessage,
) -> Result<(OwnedMessage, BroadcastOperators<LocalAdapter>), HandlerError> {
    let text = events::validate_text(&m.text)?;
    let offset = m.client_offset.as_deref();
    if offset.is_some_and(|o| o.chars().count() > MAX_CLIENT_OFFSET_CHARS) {
        return Err(ChatError::OffsetTooLong {
            max: MAX_CLIENT_OFFSET_CHARS,
        }
        .into());
    }
    let room = match m.room {
        Some(room) => ConversationId::parse(room)?,
        None => ConversationId::lobby(),
    };
    rooms::accessible(socket, chat, &room).await?;
    let identity = identity::of(socket);
    // Per person, so tabs share one budget; guests per address.
    limits::send(socket, chat)?;
    let author = identity.name;
    let message = NewMessage {
        room: room.as_str(),
        author: &author,
        text: &text,
        client_offset: offset,
        sender: Some(identity.person.as_deref().unwrap_or(GUEST_SENDER)),
        kind: None,
    };
    Ok((OwnedMessage::from(&message), socket.within(room.audience())))
}

/// Stores a message (idempotently by client offset) and broadcasts it with `to`, in id
/// order, through the writer. Shared by people's messages, notices and `/admin`'s
/// announcements.
pub(crate) async fn publish(
    chat: &Chat,
    to: BroadcastOperators<LocalAdapter>,
    message: NewMessage<'_>,
) -> Result<Posted, ChatError> {
    chat.writer.post(OwnedMessage::from(&message), to).await
}

/// Anything without a handler: answered with `unknown_event` when an ack is expected.
pub(crate) async fn on_unknown_event(
    socket: SocketRef,
    Event(event): Event,
    ack: AckSender,
    AckRequested(wants_ack): AckRequested,
) {
    // Moderators' requests have their own namespace; say so rather than "unknown".
    let for_admins = ADMIN_EVENTS
        .iter()
        .any(|(name, dir)| *name == event && *dir == Direction::ClientToServer);
    let error = if for_admins && socket.ns() == Main::PATH {
        ChatError::AdminOnly {
            event: event.clone(),
        }
    } else {
        ChatError::UnknownEvent {
            event: event.clone(),
        }
    };
    answer::<()>(&socket, &event, ack, wants_ack, Err(error));
}

async fn on_disconnect(
    socket: SocketRef,
    io: SocketIo,
    reason: DisconnectReason,
    State(chat): State<Chat>,
) {
    info!(sid = %socket.id, ns = socket.ns(), ?reason, "socket disconnected");
    log_unlogged(&socket);
    let who = identity::of(&socket);
    // The disconnect handler runs before socketioxide takes the socket out of its rooms
    // (Socket.IO's `disconnecting`), so its rooms are still known here.
    let mut gone = false;
    for room in socket.rooms() {
        let change = chat.presence.leave(&room, &who);
        // Everyone online is in the lobby: leaving it means their last tab closed.
        gone |= room == LOBBY && change.is_some();
        presence::announce(&chat, change);
    }
    if let (true, Some(person)) = (gone, &who.person) {
        presence::tell_dms_leaving(&chat, &io, person).await;
    }
    identity::seen_leaving(&chat, &who).await;
    chat.backlogs.close(socket.id);
}

/// Logs how many of a leaving socket's rejected events were not logged.
pub(crate) fn log_unlogged(socket: &SocketRef) {
    if let Some(r) = socket.extensions.get::<Arc<Rejections>>() {
        let unlogged = r.take_unlogged();
        if unlogged > 0 {
            warn!(sid = %socket.id, unlogged, "rejected events not logged");
        }
    }
}

pub(crate) fn to_event(m: StoredMessage) -> ChatMessage {
    let kind = m.kind;
    let deleted = kind == Some(MessageKind::Deleted);
    ChatMessage {
        text: m.text,
        id: m.id,
        meta: MessageMeta {
            room: m.room,
            // A tombstone says nothing of what it was, nor whose.
            author: if deleted { String::new() } else { m.author },
            ts: m.created_at,
            seq: m.seq,
            client_offset: if deleted { None } else { m.client_offset },
            kind,
        },
    }
}

/// Whether the client expects an ack. socketioxide's `AckSender` silently drops a reply when
/// none is expected; we want to log rejected input in that case instead.
pub(crate) struct AckRequested(pub(crate) bool);

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
