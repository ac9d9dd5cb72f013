//! Rooms whose counts or presence changed, waiting to be announced (`room update`,
//! `presence`; [`crate::socket::room_lists`] sends them).
//!
//! Counts and presence change with every connect and disconnect, so announcements are
//! coalesced: a room changed many times is announced once, with its state at that moment, at
//! most once per [`SETTLE`], and less often the more people it holds (see [`pace`]), since
//! announcing every arrival to everyone already there makes a crowd's arrival quadratic.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::conversation::Conversation;

/// The shortest time between two announcements of one room.
pub(crate) const SETTLE: Duration = Duration::from_millis(200);
/// The longest, however big the room.
const SLOWEST: Duration = Duration::from_secs(5);
/// People per [`SETTLE`] of pause: a room of 1,000 is announced at most every second, one
/// of 5,000 or more every 5 s; about 1,000 deliveries a second per room, however big.
const PEOPLE_PER_SETTLE: usize = 200;

/// How long to leave between two announcements of a room with `online` people: each costs
/// one delivery per member, so big rooms are announced less often.
pub(crate) fn pace(online: usize) -> Duration {
    let factor = u32::try_from(online / PEOPLE_PER_SETTLE)
        .unwrap_or(u32::MAX)
        .max(1);
    SETTLE.saturating_mul(factor).min(SLOWEST)
}

#[derive(Default)]
pub(crate) struct Announcements {
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
pub(crate) struct Due {
    pub(crate) changed: Vec<String>,
    pub(crate) created: Vec<String>,
}

impl Announcements {
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
    pub(crate) fn take_due(&self, now: Instant, pace_of: impl Fn(&str) -> Duration) -> Due {
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

    pub(crate) fn idle(&self) -> bool {
        let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.changed.is_empty()
    }

    /// Returns once a room has changed since the last [`Announcements::take_due`] emptied
    /// the list.
    pub(crate) async fn changed(&self) {
        if self.idle() {
            self.wake.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bigger_rooms_are_announced_less_often() {
        assert_eq!(pace(0), SETTLE);
        assert_eq!(pace(399), SETTLE);
        assert_eq!(pace(1_000), Duration::from_secs(1));
        assert_eq!(pace(5_000), SLOWEST);
        assert_eq!(pace(1_000_000), SLOWEST);
    }

    #[test]
    fn a_room_waits_out_its_pace_and_a_new_room_goes_to_everyone() {
        let d = Announcements::default();
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
