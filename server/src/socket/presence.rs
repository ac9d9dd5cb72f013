//! Presence told: who is in a room (through the announcements), in a direct conversation, and
//! who is typing. Who is where is [`crate::state::presence`]'s.

use crate::cluster::{SocketIo, SocketRef};
use std::time::Instant;

use app::events::{Main, Namespace as _, Presence, RoomInfo, RoomList, StartTyping, Typing};

use crate::socket::access::accessible;
use crate::socket::emit::broadcast;
use socketioxide::extract::{State, TryData};
use tracing::{debug, warn};

use crate::conversation::{Conversation, ConversationId, person_room};
use crate::socket::identity::{self, Identity};
use crate::socket::room_lists;
use crate::state::Chat;
use crate::store::DmPeople;

/// Has the room told who is in it, when that changed: soon, coalesced with other changes, by
/// the announcements (see `room_lists.rs`), along with its counts.
pub(crate) fn announce(chat: &Chat, change: Option<Presence>) {
    if let Some(p) = change {
        chat.announcements.touch(&p.room);
    }
}

/// Tells a direct conversation's two people which of them are online, as a `presence` of
/// the conversation: the lobby's `presence` names at most 20 people, so it cannot tell whether
/// one particular person is there. `leaving`: a person whose last socket is going; the
/// disconnect handler runs while it still counts as connected.
pub(crate) async fn tell_dm(chat: &Chat, io: &SocketIo, dm: &DmPeople, leaving: Option<&str>) {
    let Some(main) = io.of(Main::PATH) else {
        return;
    };
    let mut online: Vec<String> = dm
        .people
        .iter()
        .filter(|(p, _)| {
            let here = leaving != Some(p.as_str()) && room_lists::is_here(io, p);
            here || chat.presence.elsewhere(p)
        })
        .map(|(_, name)| name.clone())
        .collect();
    // Sorted, as every `presence` is.
    online.sort();
    let presence = Presence {
        room: dm.room.clone(),
        online,
        more: 0,
        guests: 0,
    };
    // Not to someone who has not heard of it yet (opened with them, no message so far).
    let audience: Vec<String> = dm
        .people
        .iter()
        .filter(|(p, _)| dm.unaware.as_ref() != Some(p))
        .map(|(p, _)| person_room(p))
        .collect();
    let _ = broadcast(main.to(audience), &presence).await;
}

/// The direct conversation `info` of `who`'s room list, with its people; `None` for a room.
/// While it has no message, the other person may not have heard of it (it was opened with
/// them), so only `who` is told of it; if they did open it too, they learn who is online with
/// their next `rooms`.
pub(crate) fn dm_of(who: &Identity, info: &RoomInfo) -> Option<DmPeople> {
    let me = who.person.as_ref()?;
    let Some(Conversation::Dm { a, b }) = Conversation::of(&info.room) else {
        return None;
    };
    let mut people = vec![(me.clone(), who.name.clone())];
    // A note to oneself has one person; otherwise the list titles it with the other's name.
    let other = if a == me { b } else { a };
    let mut unaware = None;
    if other != me {
        if info.last_seq == 0 {
            unaware = Some(other.to_owned());
        }
        people.push((other.to_owned(), info.title.clone()));
    }
    Some(DmPeople {
        room: info.room.clone(),
        people,
        unaware,
    })
}

/// [`tell_dm`] for each direct conversation of `who`'s room list.
pub(crate) async fn tell_dms(chat: &Chat, io: &SocketIo, who: &Identity, list: &RoomList) {
    for dm in list.rooms.iter().filter_map(|info| dm_of(who, info)) {
        tell_dm(chat, io, &dm, None).await;
    }
}

/// [`tell_dm`] for each direct conversation of `person`, whose last socket is going.
pub(crate) async fn tell_dms_leaving(chat: &Chat, io: &SocketIo, person: &str) {
    match chat.store.dms_of(person).await {
        Ok(dms) => {
            for dm in &dms {
                tell_dm(chat, io, dm, Some(person)).await;
            }
        }
        Err(e) => warn!(person, error = %e, "direct conversations query failed"),
    }
}

/// `typing`: passed on to the room's other sockets, volatile and throttled per person.
pub(crate) async fn on_typing(
    socket: SocketRef,
    TryData(request): TryData<StartTyping>,
    State(chat): State<Chat>,
) {
    let Ok(StartTyping { room }) = request else {
        debug!(sid = %socket.id, "ignored a malformed typing");
        return;
    };
    let who = identity::of(&socket);
    let Some(person) = &who.person else { return };
    // Throttled before the access check, so a stream of bad ones cannot make the store work.
    if !chat.presence.may_type(person, Instant::now()) {
        return;
    }
    let Ok(room) = ConversationId::parse(room) else {
        return;
    };
    if accessible(&socket, &chat, &room).await.is_err() {
        return;
    }
    let audience = room.audience();
    let typing = Typing {
        room: room.into(),
        name: who.name,
    };
    // Everyone in the conversation but this socket (for a direct one: both people's sockets).
    // Volatile: a socket that cannot take it now does not need it later.
    let _ = broadcast(socket.to(audience), &typing).await;
}
