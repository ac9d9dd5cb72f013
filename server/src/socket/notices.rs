//! Which "joined" and "left" notices a room's record gets, so that joining and leaving in a
//! loop cannot fill it (and everyone's screen), while what it says stays true.
//!
//! The rule, per person and room, with a window `W` (`PALAVER_NOTICE_WINDOW`, 60 s):
//!
//! - "joined" is posted when a person joins, unless the record still says they joined: a
//!   "left" of theirs is being held back (next rule), and the two cancel out.
//! - "left" is posted when they leave, unless their "joined" was posted less than `W` ago:
//!   then it is held back until `W` after that "joined", and posted then only if they have
//!   not come back meanwhile.
//!
//! So each stored notice is true when stored (a "left" is checked again when it is finally
//! posted, and a held-back "left" means the "joined" before it is followed by one), a visit
//! shorter than `W` that ends in a return leaves no trace, and a person adds at most two
//! notices per room per `W`, however fast they loop. A held-back "left" is lost if the server
//! stops within the window: the record then says "joined" of someone who has left, which the
//! member counts and presence do not.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Above this many remembered notices, those that no longer matter are forgotten.
const PRUNE_ABOVE: usize = 10_000;

#[derive(Debug)]
pub(crate) struct Notices {
    window: Duration,
    /// The "joined" notices posted within the window, by (room, person).
    joined: Mutex<HashMap<(String, String), Joined>>,
}

#[derive(Debug, Clone, Copy)]
struct Joined {
    at: Instant,
    /// They left since; the "left" is held back.
    left: bool,
    /// A task will call [`Notices::due`] at the end of the window.
    armed: bool,
}

/// What to do with a "left".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnLeave {
    Post,
    /// Hold it back, and call [`Notices::due`] at this instant.
    HoldUntil(Instant),
    /// Held back already; a call to [`Notices::due`] is on its way.
    Held,
}

impl Notices {
    /// A window of zero posts every notice at once.
    pub(crate) fn new(window: Duration) -> Notices {
        Notices {
            window,
            joined: Mutex::default(),
        }
    }

    /// `person` joined `room`: whether to post "joined".
    pub(crate) fn join(&self, room: &str, person: &str, now: Instant) -> bool {
        if self.window.is_zero() {
            return true;
        }
        let mut joined = self.joined.lock().unwrap_or_else(|e| e.into_inner());
        self.prune(&mut joined, now);
        let key = (room.to_owned(), person.to_owned());
        if let Some(j) = joined.get_mut(&key)
            && j.left
        {
            // Back before their "left" was posted: the record's "joined" is true again.
            j.left = false;
            return false;
        }
        joined.insert(
            key,
            Joined {
                at: now,
                left: false,
                armed: false,
            },
        );
        true
    }

    /// `person` left `room`: whether to post "left" now, or hold it back.
    pub(crate) fn leave(&self, room: &str, person: &str, now: Instant) -> OnLeave {
        let mut joined = self.joined.lock().unwrap_or_else(|e| e.into_inner());
        let key = (room.to_owned(), person.to_owned());
        match joined.get_mut(&key) {
            Some(j) if now.saturating_duration_since(j.at) < self.window => {
                j.left = true;
                if j.armed {
                    OnLeave::Held
                } else {
                    j.armed = true;
                    OnLeave::HoldUntil(j.at + self.window)
                }
            }
            _ => {
                joined.remove(&key);
                OnLeave::Post
            }
        }
    }

    /// The window of a held-back "left" is over: whether to post it (they did not come back).
    pub(crate) fn due(&self, room: &str, person: &str) -> bool {
        let mut joined = self.joined.lock().unwrap_or_else(|e| e.into_inner());
        let key = (room.to_owned(), person.to_owned());
        match joined.get(&key) {
            Some(j) if j.left => {
                joined.remove(&key);
                true
            }
            Some(_) => {
                // They came back: their "joined" stands, and its window is over.
                joined.remove(&key);
                false
            }
            None => false,
        }
    }

    fn prune(&self, joined: &mut HashMap<(String, String), Joined>, now: Instant) {
        if joined.len() > PRUNE_ABOVE {
            let window = self.window;
            joined.retain(|_, j| j.armed || now.saturating_duration_since(j.at) < window);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Duration = Duration::from_secs(60);

    fn secs(start: Instant, s: u64) -> Instant {
        start + Duration::from_secs(s)
    }

    #[test]
    fn a_loop_within_the_window_leaves_one_joined_and_one_left_at_its_end() {
        let n = Notices::new(W);
        let t = Instant::now();
        assert!(n.join("rust", "ann", t));
        assert_eq!(
            n.leave("rust", "ann", secs(t, 1)),
            OnLeave::HoldUntil(secs(t, 60))
        );
        for s in 2..30 {
            assert!(!n.join("rust", "ann", secs(t, s)), "back: nothing to say");
            assert_eq!(n.leave("rust", "ann", secs(t, s)), OnLeave::Held);
        }
        // The window is over and she is out: "left", once.
        assert!(n.due("rust", "ann"));
        assert!(!n.due("rust", "ann"));
        // The next visit is told again.
        assert!(n.join("rust", "ann", secs(t, 61)));
    }

    #[test]
    fn a_return_within_the_window_cancels_the_held_back_left() {
        let n = Notices::new(W);
        let t = Instant::now();
        assert!(n.join("rust", "ann", t));
        assert!(matches!(
            n.leave("rust", "ann", secs(t, 5)),
            OnLeave::HoldUntil(_)
        ));
        assert!(!n.join("rust", "ann", secs(t, 6)));
        assert!(!n.due("rust", "ann"), "she is in: her joined stands");
        // After the window, leaving is told at once.
        assert_eq!(n.leave("rust", "ann", secs(t, 70)), OnLeave::Post);
    }

    #[test]
    fn after_the_window_notices_are_posted_at_once() {
        let n = Notices::new(W);
        let t = Instant::now();
        assert!(n.join("rust", "ann", t));
        assert_eq!(n.leave("rust", "ann", secs(t, 60)), OnLeave::Post);
        assert!(n.join("rust", "ann", secs(t, 61)));
        // Other people and rooms are their own.
        assert!(n.join("rust", "bob", secs(t, 61)));
        assert!(n.join("go", "ann", secs(t, 61)));
        assert_eq!(n.leave("ops", "ann", secs(t, 61)), OnLeave::Post);
    }

    #[test]
    fn a_window_of_zero_posts_everything() {
        let n = Notices::new(Duration::ZERO);
        let t = Instant::now();
        for _ in 0..3 {
            assert!(n.join("rust", "ann", t));
            assert_eq!(n.leave("rust", "ann", t), OnLeave::Post);
        }
    }

    #[test]
    fn spent_windows_are_forgotten_in_a_crowd() {
        let n = Notices::new(W);
        let t = Instant::now();
        for i in 0..=PRUNE_ABOVE {
            n.join("lobby", &format!("p{i}"), t);
        }
        n.join("rust", "held", t);
        n.leave("rust", "held", t);
        n.join("rust", "late", secs(t, 61));
        let kept = n.joined.lock().unwrap().len();
        assert_eq!(kept, 2, "the held-back one and the newest");
    }
}
