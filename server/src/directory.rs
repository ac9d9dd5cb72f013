//! The room directory: every person's list of rooms (`rooms`), and the namespace-wide
//! `room update` when a room's member or online count changes.
//!
//! Counts change with every connect and disconnect, so updates are coalesced: a room changed
//! several times within [`SETTLE`] is announced once, with its counts at that moment.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use app::events::{Event as _, Main, Namespace as _, RoomInfo, RoomKind, RoomList, RoomUpdate};
use socketioxide::SocketIo;
use tokio::sync::Notify;
use tracing::warn;

use crate::chat::Chat;
use crate::conversation::{Conversation, person_room};
use crate::identity::Identity;
use crate::store::{RoomRow, StoreError};

/// How long changes gather before a room's counts are announced.
const SETTLE: Duration = Duration::from_millis(200);

/// Rooms whose counts changed since they were last announced.
#[derive(Default)]
pub(crate) struct Directory {
    changed: Mutex<BTreeSet<String>>,
    wake: Notify,
}

impl Directory {
    /// Notes that `room`'s counts (or existence) changed. Direct conversations are private and
    /// never announced.
    pub(crate) fn touch(&self, room: &str) {
        if !matches!(Conversation::parse(room), Ok(Conversation::Room(_))) {
            return;
        }
        let mut changed = self.changed.lock().unwrap_or_else(|p| p.into_inner());
        if changed.insert(room.to_owned()) {
            self.wake.notify_one();
        }
    }

    fn take(&self) -> BTreeSet<String> {
        std::mem::take(&mut *self.changed.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Announces changed rooms to the whole namespace, forever.
    pub(crate) async fn announce(&self, io: SocketIo, chat: Chat) {
        loop {
            self.wake.notified().await;
            tokio::time::sleep(SETTLE).await;
            let Some(main) = io.of(Main::PATH) else {
                continue;
            };
            for room in self.take() {
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
                // Best effort: the next change, or the next connect's `rooms`, says it again.
                let _ = main.clone().emit(RoomUpdate::NAME, &update).await;
            }
        }
    }
}

/// Every room and `who`'s direct conversations, as `who` sees them.
pub(crate) async fn room_list(
    chat: &Chat,
    io: &SocketIo,
    who: &Identity,
) -> Result<RoomList, StoreError> {
    let rows = chat.store.room_list(who.person.as_deref()).await?;
    Ok(RoomList {
        rooms: rows.into_iter().map(|r| info(chat, io, who, r)).collect(),
    })
}

fn info(chat: &Chat, io: &SocketIo, who: &Identity, r: RoomRow) -> RoomInfo {
    let dm = r.kind == "dm";
    let online = if dm {
        // The two people, each counted when any of their sockets is here.
        match Conversation::parse(&r.name) {
            Ok(Conversation::Dm { a, b }) => {
                let here = |p: &str| {
                    io.of(Main::PATH)
                        .is_some_and(|ns| !ns.within(person_room(p)).sockets().is_empty())
                };
                usize::from(here(&a)) + usize::from(a != b && here(&b))
            }
            _ => 0,
        }
    } else {
        chat.presence.online(&r.name)
    };
    RoomInfo {
        kind: if dm { RoomKind::Dm } else { RoomKind::Room },
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
pub(crate) async fn send_to_person(chat: &Chat, io: &SocketIo, who: &Identity) -> Option<RoomList> {
    let person = who.person.as_ref()?;
    let list = room_list(chat, io, who)
        .await
        .inspect_err(|e| warn!(error = %e, "room list query failed"))
        .ok()?;
    if let Some(main) = io.of(Main::PATH) {
        let _ = main
            .within(person_room(person))
            .emit(RoomList::NAME, &list)
            .await;
    }
    Some(list)
}
