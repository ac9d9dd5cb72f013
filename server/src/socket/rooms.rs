//! Rooms and direct conversations: creating, joining and leaving rooms, opening a direct
//! conversation, read markers, and the one check that decides whether a socket may read or
//! write a conversation.
//!
//! Memberships belong to people, not sockets: when a person joins or leaves a room, every one
//! of their sockets (found through their personal room) joins or leaves it.

use crate::cluster::{SocketIo, SocketRef};
use std::sync::atomic::Ordering;
use std::time::Instant;

use app::events::{
    self, AddMember, BROWSE_PAGE, BrowseRooms, ChatError, CreateRoom, JoinRoom, LOBBY, LeaveRoom,
    Left, MAX_BROWSE_LIMIT, Main, MarkRead, MessageKind, Namespace as _, OpenDm, RemoveMember,
    RoomInfo, RoomPage, RoomSettings, RoomUpdate,
};
use tracing::{error, info, warn};

use crate::conversation::{Conversation, ConversationId, person_room};
use crate::socket::access::accessible;
use crate::socket::emit::broadcast;
use crate::socket::identity::{self, Identity};
use crate::socket::limits::{self, Action};
use crate::socket::messages::publish;
use crate::socket::notices::{OnJoined, OnLeave};
use crate::socket::request::{Ctx, HandlerError};
use crate::socket::room_lists::{self, send_to_person};
use crate::socket::{peers, presence};
use crate::state::Chat;
use crate::store::write::Joining;
use crate::store::{NewMessage, now_ms};

fn person(who: &Identity) -> Result<&str, ChatError> {
    who.person.as_deref().ok_or(ChatError::NameRequired)
}

/// `browse rooms`: a page of the rooms the person could join. Guests may look too.
pub(crate) async fn browse(ctx: Ctx, request: BrowseRooms) -> Result<RoomPage, HandlerError> {
    let Ctx { socket, io, chat } = &ctx;
    limits::charge(socket, chat, Action::Read, 1)?;
    let matching = events::browse_matching(request.matching.as_deref().unwrap_or_default())?;
    let limit = request
        .limit
        .unwrap_or(BROWSE_PAGE)
        .clamp(1, MAX_BROWSE_LIMIT);
    let who = identity::of(socket);
    room_lists::browse(
        chat,
        io,
        &who,
        request.after.as_deref(),
        matching.as_deref(),
        limit,
    )
    .await
    .map_err(HandlerError::store("browsing rooms"))
}

/// `create room`: a room, public or private, with its creator in it.
pub(crate) async fn create(ctx: Ctx, request: CreateRoom) -> Result<RoomInfo, HandlerError> {
    let Ctx { socket, io, chat } = &ctx;
    let who = identity::of(socket);
    let person = person(&who)?;
    let name = events::validate_room_name(&request.name)?;
    limits::charge(socket, chat, Action::CreateRoom, 1)?;
    let created = chat
        .writer
        .create_room(&name, person, now_ms(), request.private)
        .await
        .map_err(HandlerError::store("creating a room"))?;
    if !created {
        return Err(ChatError::RoomExists { room: name }.into());
    }
    info!(room = %name, by = %who.name, private = request.private, "room created");
    // Everyone hears of a new public room; of a private one, only its members.
    if !request.private {
        chat.announcements.created(&name);
    }
    enter(io, chat, &who, &name, Some(socket)).await;
    after_membership_change(io, chat, &who, &name).await
}

/// `join room`: every socket of the person joins it, and the room is told.
pub(crate) async fn join(ctx: Ctx, request: JoinRoom) -> Result<RoomInfo, HandlerError> {
    let Ctx { socket, io, chat } = &ctx;
    let who = identity::of(socket);
    let person = person(&who)?;
    limits::charge(socket, chat, Action::JoinOrLeave, 1)?;
    let room = ConversationId::parse(request.room)?;
    let unknown = || ChatError::UnknownRoom {
        room: room.to_string(),
    };
    let Conversation::Room(name) = room.conversation() else {
        return Err(unknown().into());
    };
    let entry = match chat
        .writer
        .join_public(name, person, now_ms())
        .await
        .map_err(HandlerError::store("joining a room"))?
    {
        Joining::NoRoom => return Err(unknown().into()),
        Joining::AlreadyIn => None,
        Joining::Joined(entry) => Some(entry),
    };
    // A new member's asking socket joins now, even if its connect handler has not put it in
    // its person's room yet: the ack promises the room's messages from here on.
    let others = enter(io, chat, &who, name, entry.is_some().then_some(socket)).await;
    if entry.is_some() && chat.notices.join(name, person, Instant::now()) {
        tell_joined(io, chat, &who, name).await;
    }
    match entry {
        // The asker is the person's only socket (one connecting meanwhile reads its list
        // again: see `enter_here`), so the ack is all the news: no list to read and send.
        Some(entry) if others == 0 && !chat.bus.linked() => {
            Ok(room_lists::entry(chat, io, &who, *entry))
        }
        _ => after_membership_change(io, chat, &who, name).await,
    }
}

/// `leave room`: every socket of the person leaves it, and the room is told first.
pub(crate) async fn leave(ctx: Ctx, request: LeaveRoom) -> Result<Left, HandlerError> {
    let Ctx { socket, io, chat } = &ctx;
    let who = identity::of(socket);
    let person = person(&who)?;
    limits::charge(socket, chat, Action::JoinOrLeave, 1)?;
    let room = ConversationId::parse(request.room)?;
    let name = match room.conversation() {
        Conversation::Room(name) if name != LOBBY => name.to_owned(),
        _ => return Err(ChatError::CannotLeave { room: room.into() }.into()),
    };
    // Told to the room while the leaver is still in it, so their other tabs see it too.
    let member = chat
        .store
        .is_member(&name, person)
        .await
        .map_err(HandlerError::store("the membership query"))?;
    if !member {
        return Err(ChatError::NotMember { room: name }.into());
    }
    match chat.notices.leave(&name, person, Instant::now()) {
        OnLeave::Post => notice(io, chat, &who.name, &name, Notice::Left).await,
        OnLeave::HoldUntil(at) => hold_back_left(io, chat, &who, &name, at),
        OnLeave::Held => {}
    }
    take_out(io, chat, &who, &name).await?;
    info!(room = %name, by = %who.name, "left a room");
    Ok(Left { room: name })
}

/// The room a members' request names: a room (not a direct conversation), not the lobby.
fn member_room(room: String) -> Result<String, ChatError> {
    let room = ConversationId::parse(room)?;
    match room.conversation() {
        Conversation::Room(name) if name != LOBBY => Ok(name.to_owned()),
        _ => Err(ChatError::CannotLeave { room: room.into() }),
    }
}

/// Whether `who` manages `room` (its settings and members): its owner, and the server's
/// moderators and administrators. Answered as a room that does not exist when `who` may not
/// see it.
async fn managed(
    socket: &SocketRef,
    chat: &Chat,
    who: &Identity,
    room: &str,
) -> Result<(), HandlerError> {
    accessible(socket, chat, &ConversationId::parse(room.to_owned())?).await?;
    let rules = chat
        .store
        .room_rules(room)
        .await
        .map_err(HandlerError::store("the room's settings"))?
        .ok_or_else(|| ChatError::UnknownRoom {
            room: room.to_owned(),
        })?;
    let owner = rules.owner.is_some() && rules.owner == who.person;
    if owner || who.role.moderates() {
        Ok(())
    } else {
        Err(ChatError::NotManager {
            room: room.to_owned(),
        }
        .into())
    }
}

/// The person called `name`, as an identity to act for.
async fn someone(chat: &Chat, name: &str) -> Result<Identity, HandlerError> {
    let (person, name) = chat
        .store
        .person_named(&events::name_key(name))
        .await
        .map_err(HandlerError::store("the people query"))?
        .ok_or_else(|| ChatError::UnknownPerson {
            name: name.to_owned(),
        })?;
    Ok(Identity {
        name,
        person: Some(person),
        ..Identity::guest()
    })
}

/// `room settings`: whether a room is listed, and who may post in it.
pub(crate) async fn settings(ctx: Ctx, request: RoomSettings) -> Result<RoomInfo, HandlerError> {
    let Ctx { socket, io, chat } = &ctx;
    let who = identity::of(socket);
    person(&who)?;
    let room = ConversationId::parse(request.room)?;
    let Conversation::Room(name) = room.conversation() else {
        return Err(ChatError::UnknownRoom { room: room.into() }.into());
    };
    managed(socket, chat, &who, name).await?;
    chat.store
        .set_room_rules(name, request.listed, request.posting)
        .await
        .map_err(HandlerError::store("changing a room's settings"))?;
    chat.rules.forget(name);
    info!(room = %name, by = %who.name, listed = ?request.listed, posting = ?request.posting, "room settings changed");
    // Its members hear of it, on every node.
    if let Ok(Some(rules)) = chat.store.room_rules(name).await
        && let Ok((members, _)) = chat.store.member_count(name).await
        && let Some(main) = io.of(Main::PATH)
    {
        let update = RoomUpdate {
            room: name.to_owned(),
            members,
            online: chat.presence.online(name),
            listed: Some(rules.listed),
            posting: Some(rules.posting),
        };
        if let Err(e) = broadcast(main.within(name.to_owned()), &update).await {
            warn!(room = %name, error = %e, "the room's new settings were not told to everyone in it");
        }
    }
    after_membership_change(io, chat, &who, name).await
}

/// `add member`: a member puts someone else in the room.
pub(crate) async fn add_member(ctx: Ctx, request: AddMember) -> Result<(), HandlerError> {
    let Ctx { socket, io, chat } = &ctx;
    let who = identity::of(socket);
    person(&who)?;
    limits::charge(socket, chat, Action::JoinOrLeave, 1)?;
    let name = member_room(request.room)?;
    accessible(socket, chat, &ConversationId::parse(name.clone())?).await?;
    let them = someone(chat, &request.name).await?;
    let Some(person) = them.person.as_deref() else {
        return Err(ChatError::UnknownPerson { name: request.name }.into());
    };
    let added = chat
        .writer
        .add_member(&name, person, now_ms())
        .await
        .map_err(HandlerError::store("adding a member"))?;
    if added {
        enter(io, chat, &them, &name, None).await;
        if chat.notices.join(&name, person, Instant::now()) {
            tell_joined(io, chat, &them, &name).await;
        }
        if let Err(e) = send_to_person(chat, io, &them).await {
            warn!(error = %e, "room list query failed");
        }
        info!(room = %name, by = %who.name, added = %them.name, "member added");
    }
    Ok(())
}

/// `remove member`: the room's owner or a moderator takes someone out of it.
pub(crate) async fn remove_member(ctx: Ctx, request: RemoveMember) -> Result<(), HandlerError> {
    let Ctx { socket, io, chat } = &ctx;
    let who = identity::of(socket);
    person(&who)?;
    let name = member_room(request.room)?;
    managed(socket, chat, &who, &name).await?;
    let them = someone(chat, &request.name).await?;
    let Some(person) = them.person.as_deref() else {
        return Err(ChatError::UnknownPerson { name: request.name }.into());
    };
    let member = chat
        .store
        .is_member(&name, person)
        .await
        .map_err(HandlerError::store("the membership query"))?;
    if !member {
        return Ok(());
    }
    // Told to the room while they are still in it, as when they leave.
    notice(io, chat, &them.name, &name, Notice::Left).await;
    take_out(io, chat, &them, &name).await?;
    info!(room = %name, by = %who.name, removed = %them.name, "member removed");
    Ok(())
}

/// Takes `who` out of `room`: the membership, every socket of theirs on every node, and their
/// list.
async fn take_out(
    io: &SocketIo,
    chat: &Chat,
    who: &Identity,
    room: &str,
) -> Result<(), HandlerError> {
    let Some(person) = who.person.as_deref() else {
        return Ok(());
    };
    chat.writer
        .leave(room, person)
        .await
        .map_err(HandlerError::store("leaving a room"))?;
    part_here(io, chat, person, room);
    peers::tell_membership(chat, peers::Membership::Left, person, room).await;
    if let Err(e) = send_to_person(chat, io, who).await {
        warn!(error = %e, "room list query failed");
    }
    Ok(())
}

/// `open dm`: the direct conversation with the person of that name. The other person is not
/// told: they hear of it with its first message.
pub(crate) async fn open_dm(ctx: Ctx, request: OpenDm) -> Result<RoomInfo, HandlerError> {
    let Ctx { socket, io, chat } = &ctx;
    let who = identity::of(socket);
    let me = person(&who)?;
    let name = request.name;
    limits::charge(socket, chat, Action::OpenDm, 1)?;
    let (them, _) = chat
        .store
        .person_named(&events::name_key(&name))
        .await
        .map_err(HandlerError::store("the people query"))?
        .ok_or(ChatError::UnknownPerson { name })?;
    let dm = String::from(ConversationId::dm(me, &them));
    chat.writer
        .open_dm(&dm, me, &them, now_ms())
        .await
        .map_err(HandlerError::store("opening a direct conversation"))?;
    let info = after_membership_change(io, chat, &who, &dm).await?;
    if let Some(dm) = presence::dm_of(&who, &info) {
        presence::tell_dm(chat, io, &dm, None).await;
    }
    Ok(info)
}

/// `read`: moves the person's read marker in a conversation of theirs.
pub(crate) async fn mark_read(ctx: Ctx, request: MarkRead) -> Result<(), HandlerError> {
    let Ctx { socket, chat, .. } = &ctx;
    let Some(person) = identity::of(socket).person else {
        // Guests have no marker to move.
        return Ok(());
    };
    limits::charge(socket, chat, Action::MarkRead, 1)?;
    let room = ConversationId::parse(request.room)?;
    accessible(socket, chat, &room).await?;
    chat.writer
        .mark_read(room.as_str(), &person, request.seq)
        .await
        .map_err(HandlerError::store("moving a read marker"))
}

/// Puts every socket of `who`, on every node, into `room` and counts them in.
async fn enter(
    io: &SocketIo,
    chat: &Chat,
    who: &Identity,
    room: &str,
    asker: Option<&SocketRef>,
) -> usize {
    let Some(person) = &who.person else {
        return 0;
    };
    let others = enter_here(io, chat, person, room, asker);
    peers::tell_membership(chat, peers::Membership::Entered, person, room).await;
    others
}

/// Puts every socket of `person` on this node (and `asker`) into `room` and counts them in:
/// how many of them are not `asker`.
pub(crate) fn enter_here(
    io: &SocketIo,
    chat: &Chat,
    person: &str,
    room: &str,
    asker: Option<&SocketRef>,
) -> usize {
    let Some(main) = io.of(Main::PATH) else {
        return 0;
    };
    // Before looking for the person's sockets: a socket connecting meanwhile either is found
    // here or sees the count move (see the connect handler).
    chat.entries.fetch_add(1, Ordering::SeqCst);
    let sockets = main.within(person_room(person)).sockets();
    for s in sockets.iter().chain(asker) {
        let change = chat.presence.join(s, room, &identity::of(s));
        presence::announce(chat, change);
    }
    chat.announcements.touch(room);
    sockets
        .iter()
        .filter(|s| asker.is_none_or(|a| a.id != s.id))
        .count()
}

/// Takes every socket of `person` on this node out of `room` and counts them out.
pub(crate) fn part_here(io: &SocketIo, chat: &Chat, person: &str, room: &str) {
    if let Some(main) = io.of(Main::PATH) {
        let sockets = main.within(person_room(person)).sockets();
        for s in &sockets {
            let change = chat.presence.part(s, room, &identity::of(s));
            presence::announce(chat, change);
        }
    }
    chat.announcements.touch(room);
}

/// Tells `room` that `who` joined: at once, or gathered with others who join about now (see
/// `notices.rs`).
async fn tell_joined(io: &SocketIo, chat: &Chat, who: &Identity, room: &str) {
    match chat.notices.joined(room, &who.name, Instant::now()) {
        OnJoined::Post => notice(io, chat, &who.name, room, Notice::Joined).await,
        OnJoined::GatherUntil(at) => gather_joined(io, chat, room, at),
        OnJoined::Gathered => {}
    }
}

/// Posts the "joined" of those gathered in `room` at `at`.
fn gather_joined(io: &SocketIo, chat: &Chat, room: &str, at: Instant) {
    let (io, chat, room) = (io.clone(), chat.clone(), room.to_owned());
    tokio::spawn(async move {
        tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
        if let Some(joiners) = chat.notices.gathered(&room, Instant::now()) {
            let text = Notice::Gathered(&joiners.text);
            notice(&io, &chat, &joiners.author, &room, text).await;
        }
    });
}

/// What a membership change posts to its room.
#[derive(Debug, Clone, Copy)]
enum Notice<'a> {
    Joined,
    /// Several people's "joined", its text naming them.
    Gathered(&'a str),
    Left,
}

/// Posts "joined" or "left" to the room, by `author`.
async fn notice(io: &SocketIo, chat: &Chat, author: &str, room: &str, notice: Notice<'_>) {
    let (text, kind) = match notice {
        Notice::Joined => ("joined", MessageKind::Joined),
        Notice::Gathered(text) => (text, MessageKind::Joined),
        Notice::Left => ("left", MessageKind::Left),
    };
    let Some(main) = io.of(Main::PATH) else {
        return;
    };
    let message = NewMessage {
        room,
        author,
        text,
        client_offset: None,
        sender: None,
        kind: Some(kind),
        ..Default::default()
    };
    // The membership has changed whatever happens to the notice; a failure is only logged.
    if let Err(e) = publish(chat, main.within(room.to_owned()), message).await {
        error!(room, error = %e, "posting a notice failed");
    }
}

/// Posts `who`'s "left" at `at`, if they have not come back by then (see `notices.rs`).
fn hold_back_left(io: &SocketIo, chat: &Chat, who: &Identity, room: &str, at: Instant) {
    let (io, chat, who, room) = (io.clone(), chat.clone(), who.clone(), room.to_owned());
    tokio::spawn(async move {
        tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
        let Some(person) = who.person.as_deref() else {
            return;
        };
        if chat.notices.due(&room, person) {
            notice(&io, &chat, &who.name, &room, Notice::Left).await;
        }
    });
}

/// After a change of `who`'s memberships: their sockets get the new list; the ack gets the
/// conversation's entry.
async fn after_membership_change(
    io: &SocketIo,
    chat: &Chat,
    who: &Identity,
    room: &str,
) -> Result<RoomInfo, HandlerError> {
    // One query serves both: the list the person's sockets get holds the ack's entry.
    let list = send_to_person(chat, io, who)
        .await
        .map_err(HandlerError::store("the room list query"))?;
    list.and_then(|list| list.rooms.into_iter().find(|r| r.room == room))
        .ok_or(HandlerError::Client(ChatError::Unavailable))
}
