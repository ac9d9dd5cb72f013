//! Socket.IO: the main namespace `/` (here: who connects, and which handler each event goes
//! to), one module per feature, and `/admin` (`admin.rs`). Each feature translates between the
//! wire contract (`app::events`) and the store.

pub(crate) mod access;
pub(crate) mod admin;
pub(crate) mod backlog;
pub(crate) mod catchup;
pub(crate) mod changes;
pub mod emit;
pub(crate) mod files;
pub(crate) mod identity;
pub(crate) mod jobs;
pub(crate) mod lagging;
pub(crate) mod limits;
pub(crate) mod mentions;
pub(crate) mod messages;
pub(crate) mod notices;
pub(crate) mod peers;
pub(crate) mod post_order;
pub(crate) mod presence;
pub(crate) mod profiles;
pub(crate) mod recent;
pub mod request;
pub(crate) mod room_lists;
pub(crate) mod rooms;
pub(crate) mod search;
pub(crate) mod sessions;
pub(crate) mod sign_in;
pub(crate) mod writer;

use crate::cluster::{AckSender, Adapter, Socket, SocketIo, SocketRef};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use app::events::{
    ADMIN_EVENTS, Account, AddMember, BrowseRooms, ChatError, CreateRoom, Direction, EditMessage,
    EndSession, Event as _, History, JoinRoom, LOBBY, LeaveRoom, ListJobs, ListMembers,
    ListMentions, ListProfiles, ListSessions, Main, MainAuth, MarkRead, Namespace as _,
    NotifyLevels, OpenDm, React, RemoveMember, RemoveMessage, RoomKind, RoomSettings, SendMessage,
    Session, SetNotify, SetProfile, StartExport, StartTyping, Sync,
};
use socketioxide::extract::{Data, Event, State};
use socketioxide::handler::{ConnectHandler, FromMessageParts, MessageHandler};
use socketioxide::socket::DisconnectReason;
use socketioxide_core::Value;
use tracing::{error, info, warn};

use crate::conversation::{Conversation, ConversationId, person_room};
use crate::logging::Rejections;
use crate::socket::emit::emit;
use crate::socket::request::{AckRequested, answer, serve};
use crate::state::Chat;
use crate::state::arrivals::{Arrival, Turn};
use catchup::{CatchUpError, Cursor, MAX_SYNC_ROOMS};
use sign_in::authenticate;

/// Serves the chat's namespace; on several nodes, once its adapter has subscribed to the
/// other nodes' requests.
pub(crate) async fn register(io: &SocketIo) -> Result<(), crate::cluster::AdapterError> {
    io.ns(Main::PATH, on_connect.with(authenticate)).await
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
    if let Some(account) = socket.extensions.remove::<Account>()
        && let Err(e) = emit(&socket, &account)
    {
        warn!(sid = %socket.id, error = %e, "account not sent");
    }
    if let Some(renamed) = socket.extensions.remove::<sign_in::Renamed>()
        && let Some(person) = who.person.clone()
    {
        tokio::spawn(profiles::carry_rename(
            io.clone(),
            chat.clone(),
            person,
            renamed.from,
            renamed.to,
        ));
    }
    if let Some(turn) = chat.arrivals.admit(Arrival { socket, auth }) {
        tokio::spawn(welcome_in_turn(turn, io, chat));
    }
}

/// Welcomes sockets one after another, in one of a few places ([`crate::state::arrivals`]).
async fn welcome_in_turn(mut turn: Turn, io: SocketIo, chat: Chat) {
    while let Some(Arrival { socket, auth }) = turn.next() {
        if socket.connected() {
            welcome(socket, io.clone(), auth, &chat).await;
        } else {
            // Closed while it waited: its catch-up is one that could not be finished, as when
            // a socket closes during its catch-up (`catchup::drop_behind`).
            chat.metrics.catchups_failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The rest of a connect, run in a [`Turn`]: the person's conversations, their catch-up, and
/// presence.
async fn welcome(socket: SocketRef, io: SocketIo, auth: MainAuth, chat: &Chat) {
    let who = identity::of(&socket);
    // The person's conversations: their list, and the public rooms among them (lobby
    // included) to join the socket to; a guest is in the lobby only.
    let entries = chat.entries.load(Ordering::SeqCst);
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
        let changes = auth
            .changes
            .as_ref()
            .and_then(|c| c.get(room.as_str()))
            .copied();
        match catchup::prepare(chat, room, cursor, changes).await {
            Ok(prepared) => read.push(prepared),
            Err(e) => {
                catchup::drop_behind(&socket, chat, e.into());
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
        arrived.push(chat.presence.join(&socket, room, &who));
    }
    let mut synced = Vec::with_capacity(read.len());
    for prepared in read {
        let sent = catchup::finish(&socket, chat, prepared)
            .await
            .and_then(|s| match auth.since {
                // The tutorial's client knows no `synced`.
                None => Ok(()),
                Some(_) => {
                    let sent = emit(&socket, &s).map_err(|e| CatchUpError::Emit(e.to_string()));
                    synced.push(s);
                    sent
                }
            });
        if let Err(e) = sent {
            catchup::drop_behind(&socket, chat, e);
            break;
        }
    }
    drop(order);
    drop((sending, reading));
    if !socket.connected() {
        // Gone already: its disconnect handler counted it out of what it had joined, and
        // `Rooms::join` counts a closed socket in nowhere.
        return;
    }
    if chat.bus.linked() {
        catchup::heads_since_joining(&socket, chat, synced).await;
    }
    // A join committed after the first read, before the socket was in its person's room,
    // could not find it (`rooms::enter` looks for a person's sockets there); if any join put
    // sockets into a room meanwhile, the list is read again and the socket joins what it
    // missed.
    let rows = match &who.person {
        // A read-modify-write, not a load: it orders the socket's joining its person's room
        // before it, against the join's own increment (a load could be reordered first).
        Some(person) if chat.entries.fetch_add(0, Ordering::SeqCst) != entries => {
            chat.store.room_list(Some(person)).await
        }
        _ => rows,
    };
    if let Ok(rows) = &rows {
        let late = rows
            .iter()
            .filter(|r| r.joined && r.kind == RoomKind::Room && !joined.contains(&r.name));
        for r in late {
            arrived.push(chat.presence.join(&socket, &r.name, &who));
        }
    }
    // Counted online now that this socket is.
    let list = rows.map(|rows| room_lists::list_of(chat, &io, &who, rows));
    if let Ok(list) = &list {
        let _ = emit(&socket, list);
    }
    for change in arrived {
        presence::announce(chat, change);
    }
    if let Ok(list) = &list {
        presence::tell_dms(chat, &io, &who, list).await;
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

impl MessageHandler<Adapter, Events> for Events {
    fn call(&self, socket: Arc<Socket>, mut data: Value, ack: Option<i64>) {
        // socketioxide read the name before choosing a handler, so this does not fail; if it
        // did, the event would get the answer of one without a handler.
        let event = Event::from_message_parts(&socket, &mut data, &ack).map(|Event(e)| e);
        match event.as_deref().unwrap_or_default() {
            SendMessage::NAME => MessageHandler::call(&messages::on_send, socket, data, ack),
            Sync::NAME => serve(socket, data, ack, catchup::sync),
            History::NAME => serve(socket, data, ack, catchup::history),
            StartTyping::NAME => MessageHandler::call(&presence::on_typing, socket, data, ack),
            CreateRoom::NAME => serve(socket, data, ack, rooms::create),
            JoinRoom::NAME => serve(socket, data, ack, rooms::join),
            LeaveRoom::NAME => serve(socket, data, ack, rooms::leave),
            OpenDm::NAME => serve(socket, data, ack, rooms::open_dm),
            BrowseRooms::NAME => serve(socket, data, ack, rooms::browse),
            MarkRead::NAME => serve(socket, data, ack, rooms::mark_read),
            ListJobs::NAME => serve(socket, data, ack, jobs::list),
            StartExport::NAME => serve(socket, data, ack, jobs::start_export),
            ListSessions::NAME => serve(socket, data, ack, sessions::list),
            EndSession::NAME => serve(socket, data, ack, sessions::end),
            RoomSettings::NAME => serve(socket, data, ack, rooms::settings),
            AddMember::NAME => serve(socket, data, ack, rooms::add_member),
            RemoveMember::NAME => serve(socket, data, ack, rooms::remove_member),
            SetProfile::NAME => serve(socket, data, ack, profiles::set),
            ListProfiles::NAME => serve(socket, data, ack, profiles::list),
            app::events::Search::NAME => serve(socket, data, ack, search::search),
            EditMessage::NAME => serve(socket, data, ack, changes::edit),
            RemoveMessage::NAME => serve(socket, data, ack, changes::remove),
            React::NAME => serve(socket, data, ack, changes::react),
            ListMentions::NAME => serve(socket, data, ack, mentions::list),
            ListMembers::NAME => serve(socket, data, ack, mentions::members),
            SetNotify::NAME => serve(socket, data, ack, mentions::set_level),
            NotifyLevels::NAME => serve(socket, data, ack, mentions::levels),
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
    for (room, change) in chat.presence.part_all(&socket, &who) {
        // Everyone online is in the lobby: leaving it means their last tab closed.
        gone |= room == LOBBY && change.is_some();
        presence::announce(&chat, change);
    }
    if let (true, Some(person)) = (gone, &who.person) {
        presence::tell_dms_leaving(&chat, &io, person).await;
    }
    sign_in::seen_leaving(&chat, &who).await;
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
