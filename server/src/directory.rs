//! The room directory: every person's list of their own conversations (`rooms`), the pages
//! of rooms they could join (`browse rooms`), and the live announcements of what changes:
//! `room update` (member and online counts) and `presence` (who is in).
//!
//! Counts and presence change with every connect and disconnect, so announcements are
//! coalesced: a room changed many times is announced once, with its state at that moment, at
//! most once per [`SETTLE`], and less often the more people it holds (see [`pace`]). Announcing
//! every arrival to everyone already there made a crowd's arrival quadratic: 19,000 people
//! connecting sent 180 million presence events. A room's counts go to everyone while at most
//! `counts_to_everyone_up_to` (1,000 by default) are online (people, each once, and guests),
//! and to its members beyond, so that many rooms changing at once cost their members'
//! deliveries, not rooms × everyone; a new room's go to everyone, so that people discover it
//! live. On a big server, others see fresh counts of rooms they are not in with their next
//! `browse rooms` page.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use app::events::{
    LOBBY, Main, Namespace as _, RoomInfo, RoomKind, RoomList, RoomPage, RoomUpdate,
};
use socketioxide::SocketIo;
use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::warn;

use crate::chat::Chat;
use crate::conversation::{Conversation, person_room};
use crate::identity::Identity;
use crate::request::broadcast;
use crate::store::{RoomRow, StoreError};

/// The shortest time between two announcements of one room.
const SETTLE: Duration = Duration::from_millis(200);
/// The longest, however big the room.
const SLOWEST: Duration = Duration::from_secs(5);
/// People per [`SETTLE`] of pause: a room of 10,000 is announced at most every 2 s.
const PEOPLE_PER_SETTLE: usize = 1_000;

/// How long to leave between two announcements of a room with `online` people: each costs
/// one delivery per member, so big rooms are announced less often.
pub(crate) fn pace(online: usize) -> Duration {
    let factor = u32::try_from(online / PEOPLE_PER_SETTLE)
        .unwrap_or(u32::MAX)
        .max(1);
    SETTLE.saturating_mul(factor).min(SLOWEST)
}

#[derive(Default)]
pub(crate) struct Directory {
    pending: Mutex<Pending>,
    wake: Notify,
}

#[derive(Default)]
struct Pending {
    /// Rooms whose counts or presence changed since they were last announced.
    changed: BTreeSet<String>,
    /// Rooms created since: their counts go to everyone.
    created: BTreeSet<String>,
    /// When each room was last announced; forgotten once it is [`SLOWEST`] old.
    announced: HashMap<String, Instant>,
}

/// What is due now.
struct Due {
    changed: Vec<String>,
    created: Vec<String>,
}

impl Directory {
    /// Notes that `room`'s counts or presence changed. Direct conversations have neither.
    pub(crate) fn touch(&self, room: &str) {
        if !matches!(Conversation::of(room), Some(Conversation::Room(_))) {
            return;
        }
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if pending.changed.insert(room.to_owned()) {
            self.wake.notify_one();
        }
    }

    /// Notes that `room` was created: everyone hears of it.
    pub(crate) fn created(&self, room: &str) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.created.insert(room.to_owned());
        pending.changed.insert(room.to_owned());
        self.wake.notify_one();
    }

    /// Takes the rooms whose pause is over, given each room's pace; the rest wait.
    fn take_due(&self, now: Instant, pace_of: impl Fn(&str) -> Duration) -> Due {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let Pending {
            changed,
            created,
            announced,
        } = &mut *pending;
        announced.retain(|_, at| now.saturating_duration_since(*at) < SLOWEST);
        let due: Vec<String> = changed
            .iter()
            .filter(|room| {
                announced
                    .get(*room)
                    .is_none_or(|at| now.saturating_duration_since(*at) >= pace_of(room))
            })
            .cloned()
            .collect();
        for room in &due {
            changed.remove(room);
            announced.insert(room.clone(), now);
        }
        let created = due.iter().filter(|r| created.remove(*r)).cloned().collect();
        Due {
            changed: due,
            created,
        }
    }

    fn idle(&self) -> bool {
        let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.changed.is_empty()
    }

    /// Announces changed rooms, forever; counts to everyone while at most `everyone_up_to`
    /// are online.
    pub(crate) async fn announce(&self, io: SocketIo, chat: Chat, everyone_up_to: usize) {
        loop {
            if self.idle() {
                self.wake.notified().await;
            }
            tokio::time::sleep(SETTLE).await;
            let Some(main) = io.of(Main::PATH) else {
                continue;
            };
            let due = self.take_due(Instant::now(), |room| pace(chat.presence.online(room)));
            if due.changed.is_empty() {
                continue;
            }
            // Everyone hears every room's counts while that stays cheap. Everyone online is
            // in the lobby, so its count is the server's, without listing every socket.
            let to_everyone = chat.presence.online(LOBBY) <= everyone_up_to;
            for room in due.changed {
                if let Some(presence) = chat.presence.snapshot(&room) {
                    let _ = broadcast(main.clone().within(room.clone()), &presence).await;
                }
                let members = match chat.store.member_count(&room).await {
                    Ok(n) => n,
                    Err(e) => {
                        warn!(room, error = %e, "room count query failed");
                        continue;
                    }
                };
                let update = RoomUpdate {
                    online: chat.presence.online(&room),
                    room,
                    members,
                };
                let to = if to_everyone || due.created.contains(&update.room) {
                    main.clone()
                } else {
                    main.clone().within(update.room.clone())
                };
                let _ = broadcast(to, &update).await;
            }
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
        rooms: rows.into_iter().map(|r| info(chat, io, who, r)).collect(),
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
        rooms: rows.into_iter().map(|r| info(chat, io, who, r)).collect(),
        more,
    })
}

/// Whether any socket of `person` is connected (to this node).
pub(crate) fn is_online(io: &SocketIo, person: &str) -> bool {
    io.of(Main::PATH)
        .is_some_and(|ns| !ns.within(person_room(person)).sockets().is_empty())
}

fn info(chat: &Chat, io: &SocketIo, who: &Identity, r: RoomRow) -> RoomInfo {
    let dm = r.kind == RoomKind::Dm;
    let online = if dm {
        // The two people, each counted when any of their sockets is here.
        match Conversation::of(&r.name) {
            Some(Conversation::Dm { a, b }) => {
                usize::from(is_online(io, a)) + usize::from(a != b && is_online(io, b))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bigger_rooms_are_announced_less_often() {
        assert_eq!(pace(0), SETTLE);
        assert_eq!(pace(1_999), SETTLE);
        assert_eq!(pace(10_000), Duration::from_secs(2));
        assert_eq!(pace(1_000_000), SLOWEST);
    }

    #[test]
    fn a_room_waits_out_its_pace_and_a_new_room_goes_to_everyone() {
        let d = Directory::default();
        let start = Instant::now();
        let second = |_: &str| Duration::from_secs(1);
        d.created("rust");
        d.touch("lobby");
        d.touch("dm:a:b");
        let due = d.take_due(start, second);
        assert_eq!(
            due.changed,
            ["lobby", "rust"],
            "direct conversations have no counts"
        );
        assert_eq!(due.created, ["rust"]);
        // Changed again within its pace: held back, then announced once, as a change only.
        d.touch("rust");
        d.touch("rust");
        assert!(
            d.take_due(start + Duration::from_millis(500), second)
                .changed
                .is_empty()
        );
        assert!(!d.idle(), "still pending");
        let due = d.take_due(start + Duration::from_secs(1), second);
        assert_eq!(
            (due.changed, due.created),
            (vec!["rust".to_owned()], vec![])
        );
        assert!(d.idle());
    }
}
