//! Deliveries that did not happen: counting emits socketioxide dropped, and telling the rooms
//! concerned so that their members catch up.
//!
//! socketioxide gives each socket a bounded buffer and drops an emit when it is full, without
//! saying to whom. A dropped `chat message` leaves a hole in that member's `seq` run. The member
//! notices the hole at its next message; for the newest messages, where no next message may
//! come, this module later broadcasts a `room head` to the room, and members behind it `sync`.

use crate::cluster::SocketIo;
use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::Duration;

use app::events::RoomHead;
use socketioxide::{BroadcastError, SocketError};
use tokio::sync::Notify;
use tokio::sync::watch;
use tracing::{debug, info, warn};

use crate::cluster::driver::{Link, Status};
use crate::conversation::PERSON_ROOM_PREFIX;

use crate::conversation::Conversation;
use crate::metrics::Metrics;
use crate::socket::emit::broadcast;
use crate::store::Store;

/// How long to let full buffers drain before announcing a room's head.
const SETTLE: Duration = Duration::from_millis(250);

/// Rooms that had a delivery dropped since their head was last announced.
#[derive(Default)]
pub(crate) struct Lagging {
    rooms: Mutex<BTreeSet<String>>,
    wake: Notify,
}

impl Lagging {
    /// Accounts for the outcome of a broadcast to `room`.
    pub(crate) fn record(&self, metrics: &Metrics, room: &str, result: Result<(), BroadcastError>) {
        let Err(e) = result else { return };
        match e {
            BroadcastError::Socket(errors) => {
                let full = errors
                    .iter()
                    .filter(|e| matches!(e, SocketError::InternalChannelFull))
                    .count();
                // `Closed` means the socket is going away; its next connection catches up.
                if full > 0 {
                    metrics
                        .emits_dropped
                        .fetch_add(full as u64, Ordering::Relaxed);
                    debug!(room, dropped = full, "deliveries dropped on full buffers");
                    self.mark(room);
                }
            }
            e => warn!(room, error = %e, "broadcast failed"),
        }
    }

    /// Marks every conversation of `rooms`, the socket rooms of this node's sockets, and of
    /// the public rooms: after the link to the other nodes was lost, this node dropped what it
    /// should have told them, or another node died, any of them may have missed messages.
    pub(crate) async fn mark_all(&self, rooms: Vec<std::borrow::Cow<'static, str>>, store: &Store) {
        match store.public_rooms().await {
            Ok(public) => public.iter().for_each(|r| self.mark(r)),
            Err(e) => warn!(error = %e, "listing the public rooms to catch up failed"),
        }
        for room in rooms {
            let Some(person) = room.strip_prefix(PERSON_ROOM_PREFIX) else {
                continue;
            };
            match store.dms_of(person).await {
                Ok(dms) => dms.iter().for_each(|dm| self.mark(&dm.room)),
                Err(e) => warn!(error = %e, "listing direct conversations to catch up failed"),
            }
        }
    }

    /// Catches the members of every conversation up after each outage of the link to the
    /// other nodes (and after this node dropped publishes), forever: their heads are
    /// announced, to every node's members, once the link is back.
    pub(crate) async fn after_outages(
        &self,
        mut link: watch::Receiver<Status>,
        io: SocketIo,
        store: Store,
    ) {
        let mut seen = *link.borrow_and_update();
        while link.changed().await.is_ok() {
            let now = *link.borrow_and_update();
            if now.link != Link::Up
                || (now.reconnects, now.dropped) == (seen.reconnects, seen.dropped)
            {
                continue;
            }
            seen = now;
            info!(
                reconnects = now.reconnects,
                dropped = now.dropped,
                "the link to the other nodes is back; announcing room heads to catch up"
            );
            let rooms = io.local().rooms().await.unwrap_or_default();
            self.mark_all(rooms, &store).await;
        }
    }

    /// Announces `room`'s head after the next pause, as for a dropped delivery.
    pub(crate) fn mark(&self, room: &str) {
        let mut rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
        if rooms.insert(room.to_owned()) {
            self.wake.notify_one();
        }
    }

    fn take(&self) -> BTreeSet<String> {
        std::mem::take(&mut *self.rooms.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Announces the head of every lagging room, forever. A room whose announcement is itself
    /// dropped stays lagging and is announced again after the next pause.
    pub(crate) async fn announce(&self, io: SocketIo, store: Store, metrics: &Metrics) {
        loop {
            self.wake.notified().await;
            tokio::time::sleep(SETTLE).await;
            for room in self.take() {
                let (last_id, last_seq) = match store.head(&room).await {
                    Ok(head) => head,
                    Err(e) => {
                        warn!(room, error = %e, "room head query failed");
                        self.mark(&room);
                        continue;
                    }
                };
                let head = RoomHead {
                    room: room.clone(),
                    last_id,
                    last_seq,
                };
                // A direct conversation's members are reached through their own rooms.
                let audience = Conversation::of(&room)
                    .map(|c| c.audience())
                    .unwrap_or_else(|| vec![room.clone()]);
                let result = broadcast(io.within(audience), &head).await;
                self.record(metrics, &room, result);
            }
        }
    }
}
