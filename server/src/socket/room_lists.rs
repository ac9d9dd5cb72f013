//! Every person's list of their own conversations (`rooms`), the pages of rooms they could
//! join (`browse rooms`), and the live announcements of what changed (`room update`: member
//! and online counts; `presence`: who is in), paced by [`crate::state::announcements`].
//!
//! A room's counts go to everyone while at most `counts_to_everyone_up_to` (1,000 by default)
//! are online (people, each once, and guests), and to its members beyond, so that many rooms
//! changing at once cost their members' deliveries, not rooms × everyone; a new room's go to
//! everyone, so that people discover it live. Either way only while the announcements' budget
//! lasts (see [`crate::state::announcements`]). On a big server, others see fresh counts of
//! rooms they are not in with their next `browse rooms` page.

use crate::cluster::SocketIo;
use app::events::{
    LOBBY, Main, Namespace as _, Posting, RoomInfo, RoomKind, RoomList, RoomPage, RoomUpdate,
};
use tokio::time::Instant;
use tracing::warn;

use crate::conversation::{Conversation, person_room};
use crate::socket::emit::broadcast;
use crate::socket::identity::Identity;
use crate::state::Chat;
use crate::state::announcements::{SETTLE, pace};
use crate::store::{RoomRow, StoreError};

/// Announces changed rooms, forever; counts to everyone while at most `everyone_up_to`
/// are online and the announcements' budget allows it.
pub(crate) async fn announce(io: SocketIo, chat: Chat, everyone_up_to: usize) {
    loop {
        chat.announcements.changed().await;
        tokio::time::sleep(SETTLE).await;
        let Some(main) = io.of(Main::PATH) else {
            continue;
        };
        // A room's announcement is a `presence` and a `room update` to each member online.
        let due = chat.announcements.take_due(
            Instant::now(),
            |room| pace(chat.presence.online(room)),
            |room| 2 * chat.presence.online(room) as u64,
        );
        if due.changed.is_empty() {
            continue;
        }
        // Everyone online is in the lobby, so its count is the server's, without listing
        // every socket.
        let everyone_online = chat.presence.online(LOBBY);
        let to_everyone = everyone_online <= everyone_up_to;
        let counts = chat.store.member_counts(&due.changed).await;
        if let Err(e) = &counts {
            warn!(error = %e, "room count query failed");
        }
        for room in due.changed {
            // Each node tells its own sockets, what it knows of every node's.
            if let Some(presence) = chat.presence.snapshot(&room) {
                let _ = broadcast(main.clone().local().within(room.clone()), &presence).await;
            }
            let Ok(counts) = &counts else {
                continue;
            };
            let (members, private) = counts.get(&room).copied().unwrap_or((0, false));
            let online = chat.presence.online(&room);
            // A private room's counts are its members' business alone; others hear of a
            // public room's while that stays cheap, and of a new one while the budget lasts.
            let wanted = (to_everyone || due.created.contains(&room)) && !private;
            let everyone = wanted
                && chat
                    .announcements
                    .spend(everyone_online.saturating_sub(online) as u64);
            let update = RoomUpdate {
                online,
                room,
                members,
                ..RoomUpdate::default()
            };
            let to = if everyone {
                main.clone().local()
            } else {
                main.clone().local().within(update.room.clone())
            };
            let _ = broadcast(to, &update).await;
        }
    }
}

/// `who`'s own conversations (the lobby alone for a guest), as `who` sees them.
pub(crate) async fn room_list(
    chat: &Chat,
    io: &SocketIo,
    who: &Identity,
) -> Result<RoomList, StoreError> {
    let rows = chat.store.room_list(who.person.as_deref()).await?;
    Ok(list_of(chat, io, who, rows))
}

/// `who`'s list from their rows of [`crate::store::Store::room_list`], with who is online now.
pub(crate) fn list_of(chat: &Chat, io: &SocketIo, who: &Identity, rows: Vec<RoomRow>) -> RoomList {
    RoomList {
        rooms: rows.into_iter().map(|r| entry(chat, io, who, r)).collect(),
    }
}

/// A page of the public rooms `who` could join; `matching` is already lowercased and
/// checked. One more row than the page is read to learn whether more follow.
pub(crate) async fn browse(
    chat: &Chat,
    io: &SocketIo,
    who: &Identity,
    after: Option<&str>,
    matching: Option<&str>,
    limit: usize,
) -> Result<RoomPage, StoreError> {
    let mut rows = chat
        .store
        .browse(who.person.as_deref(), after, matching, limit + 1)
        .await?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    Ok(RoomPage {
        rooms: rows.into_iter().map(|r| entry(chat, io, who, r)).collect(),
        more,
    })
}

/// Whether any socket of `person` is connected to this node.
pub(crate) fn is_here(io: &SocketIo, person: &str) -> bool {
    io.of(Main::PATH)
        .is_some_and(|ns| !ns.within(person_room(person)).sockets().is_empty())
}

/// Whether any socket of `person` is connected, to this node or another.
pub(crate) fn is_online(chat: &Chat, io: &SocketIo, person: &str) -> bool {
    is_here(io, person) || chat.presence.elsewhere(person)
}

/// `r` as `who`'s list shows it.
pub(crate) fn entry(chat: &Chat, io: &SocketIo, who: &Identity, r: RoomRow) -> RoomInfo {
    let dm = r.kind == RoomKind::Dm;
    let online = if dm {
        // The two people, each counted when any of their sockets is here.
        match Conversation::of(&r.name) {
            Some(Conversation::Dm { a, b }) => {
                usize::from(is_online(chat, io, a)) + usize::from(a != b && is_online(chat, io, b))
            }
            _ => 0,
        }
    } else {
        chat.presence.online(&r.name)
    };
    RoomInfo {
        kind: r.kind,
        // A note to oneself has no other person: it is titled with one's own name.
        title: if dm {
            r.peer.unwrap_or_else(|| who.name.clone())
        } else {
            r.name.clone()
        },
        room: r.name,
        members: r.members as usize,
        online,
        joined: r.joined,
        unread: r.unread as u64,
        last_seq: r.last_seq,
        private: r.private,
        listed: r.listed,
        posting: Posting::parse(&r.posting).unwrap_or(Posting::Managers),
        manage: !dm && (who.role.moderates() || (r.owner.is_some() && r.owner == who.person)),
    }
}

/// Sends `who` (each of their sockets) their room list, after their memberships changed, and
/// returns it; `None` for a guest or when the query failed (logged).
pub(crate) async fn send_to_person(
    chat: &Chat,
    io: &SocketIo,
    who: &Identity,
) -> Result<Option<RoomList>, StoreError> {
    let Some(person) = who.person.as_ref() else {
        return Ok(None);
    };
    let list = room_list(chat, io, who).await?;
    if let Some(main) = io.of(Main::PATH) {
        let _ = broadcast(main.within(person_room(person)), &list).await;
    }
    Ok(Some(list))
}
