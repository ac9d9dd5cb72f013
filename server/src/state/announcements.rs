//! Rooms whose counts or presence changed, waiting to be announced (`room update`,
//! `presence`; [`crate::socket::room_lists`] sends them).
//!
//! Counts and presence change with every connect and disconnect, so announcements are
//! coalesced: a room changed many times is announced once, with its state at that moment, at
//! most once per [`SETTLE`], and less often the more people it holds (see [`pace`]), since
//! announcing every arrival to everyone already there makes a crowd's arrival quadratic.
//!
//! All rooms together spend at most [`DELIVERIES_PER_SETTLE`] deliveries per [`SETTLE`]: when a
//! crowd arrives in many small rooms at once, the rooms wait their turn, oldest change first,
//! instead of taking the server's time from the arrivals themselves (each delivery is a write
//! to a socket). Counts sent beyond a room's own members are spent only from credit that is
//! left over (see [`Announcements::spend`]).

use std::collections::{HashMap, HashSet, VecDeque};
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
/// Deliveries per [`SETTLE`] for every room's announcements together: 10,000 a second.
pub(crate) const DELIVERIES_PER_SETTLE: u64 = 2_000;

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
    /// Rooms whose counts or presence changed since they were last announced, in the order
    /// they first changed; `waiting` holds the same names, to find them.
    changed: VecDeque<String>,
    waiting: HashSet<String>,
    /// Rooms created since: their counts go to everyone.
    created: HashSet<String>,
    /// When each room was last announced; forgotten once it is [`SLOWEST`] old.
    announced: HashMap<String, Instant>,
    /// Deliveries that may still be made; below zero after a big room's announcement, until
    /// time pays it back.
    credit: i64,
    /// When `credit` was last topped up.
    topped_up: Option<Instant>,
}

impl Pending {
    fn wait(&mut self, room: &str) -> bool {
        let new = self.waiting.insert(room.to_owned());
        if new {
            self.changed.push_back(room.to_owned());
        }
        new
    }

    /// Adds the credit earned since it was last topped up, up to one [`SETTLE`]'s worth.
    fn top_up(&mut self, now: Instant) {
        let full = DELIVERIES_PER_SETTLE as i64;
        let earned = match self.topped_up {
            None => full,
            Some(at) => {
                let elapsed = now.saturating_duration_since(at).as_micros();
                let per = SETTLE.as_micros().max(1);
                i64::try_from(elapsed * u128::from(DELIVERIES_PER_SETTLE) / per).unwrap_or(full)
            }
        };
        self.credit = self.credit.saturating_add(earned).min(full);
        self.topped_up = Some(now);
    }
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
        if pending.wait(room) {
            self.wake.notify_one();
        }
    }

    /// Notes that `room` was created: everyone hears of it.
    pub(crate) fn created(&self, room: &str) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.created.insert(room.to_owned());
        pending.wait(room);
        self.wake.notify_one();
    }

    /// Takes the rooms whose pause is over, given each room's pace, oldest change first, for
    /// as long as the credit lasts; `cost` is what announcing a room to its own members takes,
    /// in deliveries. The first room due is taken whatever it costs, when there is credit at
    /// all. The rest wait.
    pub(crate) fn take_due(
        &self,
        now: Instant,
        pace_of: impl Fn(&str) -> Duration,
        cost: impl Fn(&str) -> u64,
    ) -> Due {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.top_up(now);
        let Pending {
            changed,
            waiting,
            created,
            announced,
            credit,
            ..
        } = &mut *pending;
        announced.retain(|_, at| now.saturating_duration_since(*at) < SLOWEST);
        let mut due = Vec::new();
        changed.retain(|room| {
            let rested = announced
                .get(room)
                .is_none_or(|at| now.saturating_duration_since(*at) >= pace_of(room));
            if !rested || *credit <= 0 {
                return true;
            }
            *credit = credit.saturating_sub(i64::try_from(cost(room)).unwrap_or(i64::MAX));
            due.push(room.clone());
            false
        });
        for room in &due {
            waiting.remove(room);
            announced.insert(room.clone(), now);
        }
        let created = due.iter().filter(|r| created.remove(*r)).cloned().collect();
        Due {
            changed: due,
            created,
        }
    }

    /// Spends `deliveries` from what is left of the credit, if it covers them; otherwise
    /// spends nothing and says no.
    pub(crate) fn spend(&self, deliveries: u64) -> bool {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let cost = i64::try_from(deliveries).unwrap_or(i64::MAX);
        if pending.credit >= cost {
            pending.credit -= cost;
            true
        } else {
            false
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

    const FREE: fn(&str) -> u64 = |_| 1;

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
        let due = d.take_due(start, second, FREE);
        assert_eq!(
            due.changed,
            ["rust", "lobby"],
            "direct conversations have no counts; the rest in the order they changed"
        );
        assert_eq!(due.created, ["rust"]);
        // Changed again within its pace: held back, then announced once, as a change only.
        d.touch("rust");
        d.touch("rust");
        assert!(
            d.take_due(start + Duration::from_millis(500), second, FREE)
                .changed
                .is_empty()
        );
        assert!(!d.idle(), "still pending");
        let due = d.take_due(start + Duration::from_secs(1), second, FREE);
        assert_eq!(
            (due.changed, due.created),
            (vec!["rust".to_owned()], vec![])
        );
        assert!(d.idle());
    }

    #[test]
    fn many_rooms_changing_at_once_take_turns_within_the_budget() {
        let d = Announcements::default();
        let start = Instant::now();
        let settle = |_: &str| SETTLE;
        for r in 0..20 {
            d.touch(&format!("r{r:02}"));
        }
        // Each costs a tenth of a pause's budget: ten now, then ten per pause, oldest first.
        let tenth = |_: &str| DELIVERIES_PER_SETTLE / 10;
        let first = d.take_due(start, settle, tenth).changed;
        assert_eq!(first.len(), 10);
        assert_eq!(first[0], "r00");
        d.touch("r00");
        assert!(
            d.take_due(start, settle, tenth).changed.is_empty(),
            "no credit left"
        );
        let second = d.take_due(start + SETTLE, settle, tenth).changed;
        assert_eq!(second.len(), 10);
        assert_eq!(second[0], "r10");
        assert!(
            !second.contains(&"r00".to_owned()),
            "changed again after the others: its turn comes after theirs"
        );
        assert_eq!(
            d.take_due(start + SETTLE * 2, settle, tenth).changed,
            ["r00"]
        );
        assert!(d.idle());
    }

    #[test]
    fn a_big_room_goes_first_and_the_others_wait_until_its_cost_is_paid_back() {
        let d = Announcements::default();
        let start = Instant::now();
        d.touch("lobby");
        d.touch("small");
        let settle = |_: &str| SETTLE;
        let huge = |r: &str| {
            if r == "lobby" {
                3 * DELIVERIES_PER_SETTLE
            } else {
                1
            }
        };
        assert_eq!(d.take_due(start, settle, huge).changed, ["lobby"]);
        assert!(!d.spend(1), "nothing left to send beyond a room's members");
        assert!(d.take_due(start + SETTLE, settle, huge).changed.is_empty());
        assert!(
            d.take_due(start + SETTLE * 2, settle, huge)
                .changed
                .is_empty()
        );
        assert_eq!(
            d.take_due(start + SETTLE * 3 + SETTLE / 2, settle, huge)
                .changed,
            ["small"]
        );
        assert!(d.spend(DELIVERIES_PER_SETTLE / 4));
        assert!(
            !d.spend(DELIVERIES_PER_SETTLE),
            "what is left does not cover it"
        );
    }
}
