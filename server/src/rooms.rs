//! Rooms and direct conversations: creating, joining and leaving rooms, opening a direct
//! conversation, read markers, and the one check that decides whether a socket may read or
//! write a conversation.
//!
//! Memberships belong to people, not sockets: when a person joins or leaves a room, every one
//! of their sockets (found through their personal room) joins or leaves it.

use std::time::Instant;

use app::events::{
    self, BROWSE_PAGE, BrowseRooms, ChatError, CreateRoom, Event as _, JoinRoom, LOBBY, LeaveRoom,
    Left, MAX_BROWSE_LIMIT, Main, MarkRead, MessageKind, Namespace as _, OpenDm, RoomInfo,
    RoomKind,
};
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, SocketRef, State, TryData};
use tracing::{error, info};

use crate::chat::{AckRequested, Chat, answer, parsed, publish};
use crate::conversation::{Conversation, ConversationId, person_room};
use crate::directory::{self, send_to_person};
use crate::identity::{self, Identity};
use crate::limits::{self, Action};
use crate::notices::OnLeave;
use crate::presence;
use crate::store::{NewMessage, StoreError, now_ms};

/// Whether `socket` may read and write the conversation `room`: a room its person belongs to
/// (the lobby for guests), or a direct conversation of theirs. Checked for every send, history
/// page, sync and read marker.
pub(crate) async fn accessible(
    socket: &SocketRef,
    chat: &Chat,
    room: &ConversationId,
) -> Result<(), ChatError> {
    match room.conversation() {
        Conversation::Dm { .. } => {
            // Someone else's conversation is reported exactly like one that does not exist.
            let party = identity::of(socket)
                .person
                .is_some_and(|p| room.is_party(&p));
            let stored = chat.store.room_kind(room.as_str()).await;
            if party && stored.map_err(unavailable)? == Some(RoomKind::Dm) {
                Ok(())
            } else {
                Err(ChatError::UnknownRoom {
                    room: room.to_string(),
                })
            }
        }
        Conversation::Room(name) => {
            // Everyone is in the lobby. A socket is put into its rooms by the connect handler,
            // which the client does not wait for: a request that races it is judged by the
            // stored membership, and what it posts is replayed by the catch-up that follows.
            if name == LOBBY || socket.rooms().iter().any(|r| r == name) {
                return Ok(());
            }
            if let Some(person) = identity::of(socket).person
                && chat
                    .store
                    .is_member(name, &person)
                    .await
                    .map_err(unavailable)?
            {
                return Ok(());
            }
            let room = name.to_owned();
            match chat.store.room_kind(name).await.map_err(unavailable)? {
                Some(RoomKind::Room) => Err(ChatError::NotMember { room }),
                _ => Err(ChatError::UnknownRoom { room }),
            }
        }
    }
}

pub(crate) fn unavailable(e: StoreError) -> ChatError {
    error!(error = %e, "room query failed");
    ChatError::Unavailable
}

fn person(who: &Identity) -> Result<&str, ChatError> {
    who.person.as_deref().ok_or(ChatError::NameRequired)
}

/// `browse rooms`: a page of the rooms the person could join. Guests may look too.
pub(crate) async fn on_browse(
    socket: SocketRef,
    io: SocketIo,
    TryData(request): TryData<BrowseRooms>,
    ack: AckSender,
    AckRequested(wants_ack): AckRequested,
    State(chat): State<Chat>,
) {
    let result = async {
        let request = parsed::<BrowseRooms>(request)?;
        limits::charge(&socket, &chat, Action::Read, 1)?;
        let matching = events::browse_matching(request.matching.as_deref().unwrap_or_default())?;
        let limit = request
            .limit
            .unwrap_or(BROWSE_PAGE)
            .clamp(1, MAX_BROWSE_LIMIT);
        let who = identity::of(&socket);
        directory::browse(
            &chat,
            &io,
            &who,
            request.after.as_deref(),
            matching.as_deref(),
            limit,
        )
        .await
        .map_err(unavailable)
    }
    .await;
    answer(&socket, BrowseRooms::NAME, ack, wants_ack, result);
}

pub(crate) async fn on_create(
    socket: SocketRef,
    io: SocketIo,
    TryData(request): TryData<CreateRoom>,
    ack: AckSender,
    AckRequested(wants_ack): AckRequested,
    State(chat): State<Chat>,
) {
    let result = async {
        let who = identity::of(&socket);
        let person = person(&who)?;
        let name = events::validate_room_name(&parsed::<CreateRoom>(request)?.name)?;
        limits::charge(&socket, &chat, Action::CreateRoom, 1)?;
        let created = chat
            .writer
            .create_room(&name, person, now_ms())
            .await
            .map_err(unavailable)?;
        if !created {
            return Err(ChatError::RoomExists { room: name });
        }
        info!(room = %name, by = %who.name, "room created");
        chat.directory.created(&name);
        enter(&io, &chat, &who, &name).await;
        settled(&io, &chat, &who, &name).await
    }
    .await;
    answer(&socket, CreateRoom::NAME, ack, wants_ack, result);
}

pub(crate) async fn on_join(
    socket: SocketRef,
    io: SocketIo,
    TryData(request): TryData<JoinRoom>,
    ack: AckSender,
    AckRequested(wants_ack): AckRequested,
    State(chat): State<Chat>,
) {
    let result = async {
        let who = identity::of(&socket);
        let person = person(&who)?;
        let room = parsed::<JoinRoom>(request)?.room;
        limits::charge(&socket, &chat, Action::JoinOrLeave, 1)?;
        let room = ConversationId::parse(room)?;
        let unknown = || ChatError::UnknownRoom {
            room: room.to_string(),
        };
        let Conversation::Room(name) = room.conversation() else {
            return Err(unknown());
        };
        let name = name.to_owned();
        let joined = chat
            .writer
            .join_public(&name, person, now_ms())
            .await
            .map_err(unavailable)?
            .ok_or_else(unknown)?;
        enter(&io, &chat, &who, &name).await;
        if joined && chat.notices.join(&name, person, Instant::now()) {
            notice(&io, &chat, &who, &name, Notice::Joined).await;
        }
        settled(&io, &chat, &who, &name).await
    }
    .await;
    answer(&socket, JoinRoom::NAME, ack, wants_ack, result);
}

pub(crate) async fn on_leave(
    socket: SocketRef,
    io: SocketIo,
    TryData(request): TryData<LeaveRoom>,
    ack: AckSender,
    AckRequested(wants_ack): AckRequested,
    State(chat): State<Chat>,
) {
    let result = async {
        let who = identity::of(&socket);
        let person = person(&who)?;
        let room = parsed::<LeaveRoom>(request)?.room;
        limits::charge(&socket, &chat, Action::JoinOrLeave, 1)?;
        let room = ConversationId::parse(room)?;
        let name = match room.conversation() {
            Conversation::Room(name) if name != LOBBY => name.to_owned(),
            _ => return Err(ChatError::CannotLeave { room: room.into() }),
        };
        // Told to the room while the leaver is still in it, so their other tabs see it too.
        if !chat
            .store
            .is_member(&name, person)
            .await
            .map_err(unavailable)?
        {
            return Err(ChatError::NotMember { room: name });
        }
        match chat.notices.leave(&name, person, Instant::now()) {
            OnLeave::Post => notice(&io, &chat, &who, &name, Notice::Left).await,
            OnLeave::HoldUntil(at) => hold_back_left(&io, &chat, &who, &name, at),
            OnLeave::Held => {}
        }
        chat.writer
            .leave(&name, person)
            .await
            .map_err(unavailable)?;
        if let Some(main) = io.of(Main::PATH) {
            let sockets = main.within(person_room(person)).sockets();
            for s in &sockets {
                let change = chat.presence.leave(&name, &identity::of(s));
                presence::announce(&chat, change);
                s.leave(name.clone());
            }
        }
        chat.directory.touch(&name);
        send_to_person(&chat, &io, &who).await;
        info!(room = %name, by = %who.name, "left a room");
        Ok(Left { room: name })
    }
    .await;
    answer(&socket, LeaveRoom::NAME, ack, wants_ack, result);
}

pub(crate) async fn on_open_dm(
    socket: SocketRef,
    io: SocketIo,
    TryData(request): TryData<OpenDm>,
    ack: AckSender,
    AckRequested(wants_ack): AckRequested,
    State(chat): State<Chat>,
) {
    let result = async {
        let who = identity::of(&socket);
        let me = person(&who)?;
        let name = parsed::<OpenDm>(request)?.name;
        limits::charge(&socket, &chat, Action::OpenDm, 1)?;
        let unknown = || ChatError::UnknownPerson { name: name.clone() };
        let (them, _) = chat
            .store
            .person_named(&events::name_key(&name))
            .await
            .map_err(unavailable)?
            .ok_or_else(unknown)?;
        let dm = String::from(ConversationId::dm(me, &them));
        // The other person is not told: they hear of it with its first message.
        chat.writer
            .open_dm(&dm, me, &them, now_ms())
            .await
            .map_err(unavailable)?;
        let info = settled(&io, &chat, &who, &dm).await?;
        if let Some(dm) = presence::dm_of(&who, &info) {
            presence::tell_dm(&io, &dm, None).await;
        }
        Ok(info)
    }
    .await;
    answer(&socket, OpenDm::NAME, ack, wants_ack, result);
}

pub(crate) async fn on_read(
    socket: SocketRef,
    TryData(request): TryData<MarkRead>,
    ack: AckSender,
    AckRequested(wants_ack): AckRequested,
    State(chat): State<Chat>,
) {
    let result = async {
        let r = parsed::<MarkRead>(request)?;
        let Some(person) = identity::of(&socket).person else {
            // Guests have no marker to move.
            return Ok(());
        };
        limits::charge(&socket, &chat, Action::MarkRead, 1)?;
        let room = ConversationId::parse(r.room)?;
        accessible(&socket, &chat, &room).await?;
        chat.writer
            .mark_read(room.as_str(), &person, r.seq)
            .await
            .map_err(unavailable)
    }
    .await;
    answer(&socket, MarkRead::NAME, ack, wants_ack, result);
}

/// Puts every socket of `who` into `room` and counts them in.
async fn enter(io: &SocketIo, chat: &Chat, who: &Identity, room: &str) {
    let (Some(person), Some(main)) = (&who.person, io.of(Main::PATH)) else {
        return;
    };
    for s in main.within(person_room(person)).sockets() {
        if s.rooms().iter().any(|r| r == room) {
            continue;
        }
        s.join(room.to_owned());
        let change = chat.presence.enter(room, &identity::of(&s));
        presence::announce(chat, change);
    }
    chat.directory.touch(room);
}

/// What a membership change posts to its room.
#[derive(Debug, Clone, Copy)]
enum Notice {
    Joined,
    Left,
}

/// Posts "joined" or "left" to the room, from `who`.
async fn notice(io: &SocketIo, chat: &Chat, who: &Identity, room: &str, notice: Notice) {
    let (text, kind) = match notice {
        Notice::Joined => ("joined", MessageKind::Joined),
        Notice::Left => ("left", MessageKind::Left),
    };
    let Some(main) = io.of(Main::PATH) else {
        return;
    };
    let message = NewMessage {
        room,
        author: &who.name,
        text,
        client_offset: None,
        sender: None,
        kind: Some(kind),
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
            notice(&io, &chat, &who, &room, Notice::Left).await;
        }
    });
}

/// After a change of `who`'s memberships: their sockets get the new list; the ack gets the
/// conversation's entry.
async fn settled(
    io: &SocketIo,
    chat: &Chat,
    who: &Identity,
    room: &str,
) -> Result<RoomInfo, ChatError> {
    // One query serves both: the list the person's sockets get holds the ack's entry.
    send_to_person(chat, io, who)
        .await
        .and_then(|list| list.rooms.into_iter().find(|r| r.room == room))
        .ok_or(ChatError::Unavailable)
}
