//! The `/admin` namespace: its own middleware (the admin token), handlers and events. It sees
//! the main namespace from outside, through the `SocketIo` handle: live statistics, kicking a
//! person, announcements, and deleting messages; webhooks and bots (`hooks.rs`); and imported
//! messages' authors (`imported.rs`).

mod hooks;
mod imported;
mod invites;
mod people;

use crate::cluster::{Adapter, Socket, SocketIo, SocketRef};
use std::time::Duration;

use app::events::{
    self, ADMIN_AUTHOR, Admin, AdminAuth, AdminIdentity, AdminJobs, Announce, Ban, ChatError,
    ChatMessage, ClaimAuthor, CreateBot, CreateInvite, CreateOutgoingWebhook, CreateWebhook,
    DeleteMessage, Event as _, HISTORY_PAGE, HistoryPage, ImportedAuthors, Kick, KickDone, Kicked,
    ListBots, ListDeadLetters, ListInvites, ListOutgoingWebhooks, ListPeople, ListWebhooks, Main,
    MakeResetLink, MessageDeleted, MessageKind, Namespace as _, NamespaceStats, RecentInRoom,
    Refusal, RemoveOutgoingWebhook, RevokeBot, RevokeInvite, RevokeWebhook, Role, RoomKind,
    RoomStats, SetRole, Stats, Unban, Unbanned,
};
use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use std::future::Future;
use std::sync::Arc;

use socketioxide::extract::{Event, State, TryData};
use socketioxide::handler::{ConnectHandler, FromMessageParts as _, MessageHandler};
use socketioxide_core::Value;
use subtle::ConstantTimeEq;
use tracing::{info, warn};

use crate::accounts;
use crate::conversation::{Conversation, ConversationId, person_room};
use crate::logging::Escaped;
use crate::socket::changes;
use crate::socket::emit::{broadcast, emit};
use crate::socket::messages::publish;
use crate::socket::on_unknown_event;
use crate::socket::request::{Ctx, HandlerError, serve};
use crate::state::Chat;
use crate::store::write::{Change, Scope};
use crate::store::{NewMessage, now_ms};

/// How often `/admin` sockets get fresh `stats`.
const STATS_EVERY: Duration = Duration::from_secs(1);

/// The admin token: configured, or generated on first start and printed once.
pub(crate) async fn register(io: &SocketIo) -> Result<(), crate::cluster::AdapterError> {
    io.ns(Admin::PATH, on_connect.with(authorize)).await
}

/// Who an `/admin` socket is: the admin token's holder, or a signed-in administrator or
/// moderator. Kept in the socket's extensions.
#[derive(Debug, Clone)]
pub(crate) struct AdminRole {
    pub(crate) role: Role,
    /// The account's name and person; `None` for the admin token.
    pub(crate) name: Option<String>,
    pub(crate) person: Option<String>,
}

impl AdminRole {
    pub(crate) fn of(socket: &SocketRef) -> AdminRole {
        // Set by the middleware before CONNECT; the fallback grants nothing beyond moderation.
        socket.extensions.get::<AdminRole>().unwrap_or(AdminRole {
            role: Role::Moderator,
            name: None,
            person: None,
        })
    }
}

/// Lets in the admin token, and the session cookie of an administrator or moderator; anyone
/// else gets `connect_error` "unauthorized", whatever they sent.
async fn authorize(
    socket: SocketRef,
    TryData(auth): TryData<AdminAuth>,
    State(chat): State<Chat>,
) -> Result<(), Refusal> {
    let given = auth.map(|a| a.token).unwrap_or_default();
    // Constant time: the comparison must not reveal how much of a guess was right.
    let by_token =
        !given.is_empty() && bool::from(given.as_bytes().ct_eq(chat.admin_token.as_bytes()));
    let role = if by_token {
        Some(AdminRole {
            role: Role::Admin,
            name: None,
            person: None,
        })
    } else {
        match accounts::presented(&socket.req_parts().headers).flatten() {
            Some(presented) => accounts::signed_in(&chat.store, &presented)
                .await
                .ok()
                .filter(|me| me.role.moderates())
                .map(|me| AdminRole {
                    role: me.role,
                    name: Some(me.name),
                    person: Some(me.person),
                }),
            None => None,
        }
    };
    let Some(role) = role else {
        warn!(sid = %socket.id, "refused an /admin connection without the admin token or a moderator's session");
        return Err(Refusal::Unauthorized);
    };
    socket.extensions.insert(role);
    // Before CONNECT goes out, so no request can beat them (see `socket::register_handlers`).
    socket.on_fallback(Requests);
    socket.extensions.insert(chat.backlogs.attach(&socket));
    socket.on_disconnect(on_disconnect);
    Ok(())
}

/// `handler`, for administrators (and the admin token) only: a moderator is answered
/// `role_required`.
fn admins<R, T, F, Fut>(
    handler: F,
) -> impl FnOnce(Ctx, R) -> BoxFuture<'static, Result<T, HandlerError>>
where
    R: Send + 'static,
    T: Send + 'static,
    F: FnOnce(Ctx, R) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, HandlerError>> + Send + 'static,
{
    move |ctx: Ctx, request: R| {
        async move {
            if AdminRole::of(&ctx.socket).role < Role::Admin {
                return Err(ChatError::RoleRequired {
                    role: "administrator".to_owned(),
                }
                .into());
            }
            handler(ctx, request).await
        }
        .boxed()
    }
}

/// A fresh id and token; the random source failing is the server's failure.
fn issue() -> Result<(String, crate::tokens::Issued), HandlerError> {
    crate::tokens::issue_with_id().map_err(|e| {
        tracing::error!(error = %e, "no randomness for a token");
        ChatError::Unavailable.into()
    })
}

/// Every request of `/admin`, handed to its handler by name.
struct Requests;

impl MessageHandler<Adapter, Requests> for Requests {
    fn call(&self, socket: Arc<Socket>, mut data: Value, ack: Option<i64>) {
        let event = Event::from_message_parts(&socket, &mut data, &ack).map(|Event(e)| e);
        match event.as_deref().unwrap_or_default() {
            // Moderation: moderators and administrators.
            Kick::NAME => serve(socket, data, ack, kick),
            Ban::NAME => serve(socket, data, ack, ban),
            Unban::NAME => serve(socket, data, ack, unban),
            Announce::NAME => serve(socket, data, ack, announce),
            DeleteMessage::NAME => serve(socket, data, ack, delete),
            RecentInRoom::NAME => serve(socket, data, ack, recent),
            // Running the server: administrators only.
            AdminJobs::NAME => serve(socket, data, ack, admins(crate::socket::jobs::list_all)),
            CreateWebhook::NAME => serve(socket, data, ack, admins(hooks::create_webhook)),
            RevokeWebhook::NAME => serve(socket, data, ack, admins(hooks::revoke_webhook)),
            ListWebhooks::NAME => serve(socket, data, ack, admins(hooks::list_webhooks)),
            CreateBot::NAME => serve(socket, data, ack, admins(hooks::create_bot)),
            RevokeBot::NAME => serve(socket, data, ack, admins(hooks::revoke_bot)),
            ListBots::NAME => serve(socket, data, ack, admins(hooks::list_bots)),
            CreateOutgoingWebhook::NAME => serve(socket, data, ack, admins(hooks::create_outgoing)),
            RemoveOutgoingWebhook::NAME => serve(socket, data, ack, admins(hooks::remove_outgoing)),
            ListOutgoingWebhooks::NAME => serve(socket, data, ack, admins(hooks::list_outgoing)),
            ListDeadLetters::NAME => serve(socket, data, ack, admins(hooks::dead_letters)),
            ImportedAuthors::NAME => serve(socket, data, ack, admins(imported::list)),
            ClaimAuthor::NAME => serve(socket, data, ack, admins(imported::claim)),
            ListPeople::NAME => serve(socket, data, ack, admins(people::list)),
            SetRole::NAME => serve(socket, data, ack, admins(people::set_role)),
            MakeResetLink::NAME => serve(socket, data, ack, admins(people::reset_link)),
            CreateInvite::NAME => serve(socket, data, ack, admins(invites::create)),
            ListInvites::NAME => serve(socket, data, ack, admins(invites::list)),
            RevokeInvite::NAME => serve(socket, data, ack, admins(invites::revoke)),
            _ => MessageHandler::call(&on_unknown_event, socket, data, ack),
        }
    }
}

async fn on_disconnect(socket: SocketRef, State(chat): State<Chat>) {
    chat.backlogs.close(socket.id);
}

async fn on_connect(socket: SocketRef, io: SocketIo, State(chat): State<Chat>) {
    let me = AdminRole::of(&socket);
    info!(sid = %socket.id, ns = socket.ns(), role = me.role.as_str(), "admin connected");
    let whoami = AdminIdentity {
        name: me.name,
        role: me.role,
    };
    if let Err(e) = emit(&socket, &whoami) {
        warn!(sid = %socket.id, error = %e, "whoami not sent");
    }
    if let Err(e) = emit(&socket, &stats(&io, &chat).await) {
        warn!(sid = %socket.id, error = %e, "stats not sent");
    }
}

/// Sends `stats` to every `/admin` socket every second while there are any.
pub(crate) async fn push_stats(io: SocketIo, chat: Chat) {
    let mut tick = tokio::time::interval(STATS_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(admins) = io.of(Admin::PATH) else {
            continue;
        };
        if admins.clone().sockets().is_empty() {
            continue;
        }
        let stats = stats(&io, &chat).await;
        // Each node tells its own admins, what it knows of every node's. Best effort: an
        // admin whose buffer is full gets the next second's.
        let _ = broadcast(admins.local(), &stats).await;
    }
}

async fn stats(io: &SocketIo, chat: &Chat) -> Stats {
    let peers = chat.presence.peers.lock().map(|p| {
        let sockets = [Main::PATH, Admin::PATH].map(|path| p.sockets(path));
        (sockets, p.messages_per_minute())
    });
    let (elsewhere, messages_elsewhere) = peers.unwrap_or_else(|e| {
        let p = e.into_inner();
        (
            [Main::PATH, Admin::PATH].map(|path| p.sockets(path)),
            p.messages_per_minute(),
        )
    });
    let namespaces = [Main::PATH, Admin::PATH]
        .into_iter()
        .zip(elsewhere)
        .map(|(path, elsewhere)| NamespaceStats {
            path: path.to_owned(),
            sockets: io.of(path).map_or(0, |ns| ns.sockets().len()) + elsewhere,
        })
        .collect();
    // Public rooms only: personal rooms hold one person's sockets, not a conversation, and
    // private rooms are their members' alone.
    let mut rooms = Vec::new();
    for room in chat.presence.room_names() {
        if !matches!(Conversation::of(&room), Some(Conversation::Room(_))) {
            continue;
        }
        match chat.rules.is_private(&chat.store, &room).await {
            Ok(false) => {}
            Ok(true) => continue,
            Err(e) => {
                warn!(room, error = %e, "reading a room's rules failed");
                continue;
            }
        }
        if let Some((members, sockets)) = chat.presence.who_and_sockets(&room) {
            rooms.push(RoomStats {
                room,
                members,
                sockets,
            });
        }
    }
    Stats {
        namespaces,
        rooms,
        messages_per_minute: chat.metrics.messages_per_minute() + messages_elsewhere,
    }
}

/// Tells every socket of the person why, then disconnects them.
async fn kick(ctx: Ctx, k: Kick) -> Result<KickDone, HandlerError> {
    let unknown = || ChatError::UnknownPerson {
        name: k.name.clone(),
    };
    // Guests share the name `anonymous` and are nobody in particular: they cannot be kicked.
    let (person, name) = ctx
        .chat
        .store
        .person_named(&events::name_key(&k.name))
        .await
        .map_err(HandlerError::store("finding whom to kick"))?
        .ok_or_else(unknown)?;
    let notice = Kicked {
        reason: k
            .reason
            .clone()
            .unwrap_or_else(|| "removed by a moderator".to_owned()),
    };
    let sockets = remove(&ctx.io, &person, &notice).await;
    if sockets == 0 {
        return Err(unknown().into());
    }
    info!(name = %Escaped(&name), sockets, "kicked");
    Ok(KickDone { sockets })
}

/// Tells each socket of `person`, on every node, why, then disconnects it: how many there
/// were. The notice is queued ahead of the DISCONNECT on each connection.
async fn remove(io: &SocketIo, person: &str, notice: &Kicked) -> usize {
    let Some(main) = io.of(Main::PATH) else {
        return 0;
    };
    let theirs = main.within(person_room(person));
    // Counting asks the other nodes, within the adapter's timeout; without them (Redis away),
    // this node's sockets are what it can count.
    let sockets = match theirs.clone().fetch_sockets().await {
        Ok(sockets) => sockets.len(),
        Err(e) => {
            warn!(error = %e, "counting a person's sockets on other nodes failed");
            theirs.clone().sockets().len()
        }
    };
    let _ = broadcast(theirs.clone(), notice).await;
    if let Err(e) = theirs.disconnect().await {
        warn!(error = %e, "disconnecting a person's sockets failed");
    }
    sockets
}

/// Marks the person banned (so the connect middleware refuses their tokens), then tells each
/// of their sockets why and disconnects it.
async fn ban(ctx: Ctx, b: Ban) -> Result<KickDone, HandlerError> {
    let Ctx { io, chat, .. } = &ctx;
    let (person, name) = chat
        .store
        .ban(&events::name_key(&b.name), now_ms())
        .await
        .map_err(HandlerError::store("banning"))?
        .ok_or_else(|| ChatError::UnknownPerson {
            name: b.name.clone(),
        })?;
    // Their devices are signed out for good: an unban lets them sign in again.
    let ended = chat
        .store
        .end_sessions_of(&person, None, now_ms())
        .await
        .map_err(HandlerError::store("ending a banned person's sessions"))?;
    let notice = Kicked {
        reason: b
            .reason
            .unwrap_or_else(|| "banned by a moderator".to_owned()),
    };
    let sockets = remove(io, &person, &notice).await;
    crate::socket::sessions::sign_out_sockets(io, &ended, "banned by a moderator").await;
    info!(name = %Escaped(&name), sockets, "banned");
    Ok(KickDone { sockets })
}

/// Lifts the ban of the person holding the name.
async fn unban(ctx: Ctx, u: Unban) -> Result<Unbanned, HandlerError> {
    let name = ctx
        .chat
        .store
        .unban(&events::name_key(&u.name), now_ms())
        .await
        .map_err(HandlerError::store("lifting a ban"))?
        .ok_or(ChatError::UnknownPerson { name: u.name })?;
    info!(name = %Escaped(&name), "unbanned");
    Ok(Unbanned { name })
}

/// Posts the announcement to its room, or to every room, as a stored message.
async fn announce(ctx: Ctx, a: Announce) -> Result<Vec<app::events::Posted>, HandlerError> {
    let Ctx { io, chat, .. } = &ctx;
    let text = events::validate_text(&a.text)?;
    let rooms = match a.room {
        None => chat
            .store
            .public_rooms()
            .await
            .map_err(HandlerError::store("the rooms query"))?,
        Some(room) => vec![public_room(chat, room).await?.into()],
    };
    let main = io.of(Main::PATH).ok_or(ChatError::Unavailable)?;
    let mut posted = Vec::with_capacity(rooms.len());
    for room in &rooms {
        let message = NewMessage {
            room,
            author: ADMIN_AUTHOR,
            text: &text,
            client_offset: None,
            sender: None,
            kind: Some(MessageKind::Announcement),
            ..Default::default()
        };
        posted.push(publish(chat, main.clone().within(room.clone()), message).await?);
    }
    Ok(posted)
}

/// `room` if it names an existing public room; direct conversations are not moderators'
/// to read or post in.
pub(crate) async fn public_room(chat: &Chat, room: String) -> Result<ConversationId, HandlerError> {
    let room = ConversationId::parse(room)?;
    let stored = match room.kind() {
        RoomKind::Room => chat
            .store
            .room_rules(room.as_str())
            .await
            .map_err(HandlerError::store("the rooms query"))?,
        RoomKind::Dm => None,
    };
    // A private room is its members' alone: to moderators and programs it does not exist.
    if stored.is_some_and(|rules| !rules.private) {
        Ok(room)
    } else {
        Err(ChatError::UnknownRoom { room: room.into() }.into())
    }
}

/// Replaces the message with a tombstone through the writer, which tells its conversation
/// (`message changed`, and `message deleted` for older clients).
async fn delete(ctx: Ctx, request: DeleteMessage) -> Result<MessageDeleted, HandlerError> {
    let Ctx { io, chat, .. } = &ctx;
    let id = request.id;
    let Some(main) = io.of(Main::PATH) else {
        return Err(ChatError::Unavailable.into());
    };
    // Its conversation is known once the writer finds it: the room's own sockets are found
    // among the public rooms' audiences, so the deletion goes to whoever holds it.
    let room = chat
        .store
        .room_of(id)
        .await
        .map_err(HandlerError::store("finding a message"))?
        .ok_or(ChatError::UnknownMessage { id })?;
    let audience = Conversation::of(&room)
        .map(|c| c.audience())
        .unwrap_or_else(|| vec![room.clone()]);
    let change = Change::DeleteMessage {
        id,
        scope: Scope::Rooms,
        author: None,
        now: now_ms(),
    };
    chat.writer
        .change_message(change, main.within(audience))
        .await
        .map_err(HandlerError::store("deleting a message"))?
        .map_err(|refused| changes::refusal(refused, id))?;
    info!(id, %room, "message deleted");
    Ok(MessageDeleted { room, id })
}

/// A public room's newest messages, for moderators.
async fn recent(ctx: Ctx, request: RecentInRoom) -> Result<HistoryPage, HandlerError> {
    let chat = &ctx.chat;
    let room = public_room(chat, request.room).await?;
    let (rows, more) = chat
        .store
        .page_before(room.as_str(), None, HISTORY_PAGE)
        .await
        .map_err(HandlerError::store("the history query"))?;
    Ok(HistoryPage {
        messages: rows.into_iter().map(ChatMessage::from).collect(),
        more,
        newer: false,
    })
}
