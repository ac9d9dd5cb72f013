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
//!
//! A crowd is told together: a room posts at most one "joined" every `E`
//! (`PALAVER_JOINED_NOTICES_EVERY`, 3 s). The first joiner's is posted at once; those who join
//! within `E` of it are gathered, and named in one notice at the end of `E` ("ann, bob, cy and
//! 7 others joined"). Otherwise each joiner's notice would go to everyone already in the room,
//! and a crowd of `n` would cost `n²/2` deliveries. Gathered names are lost if the server stops
//! before the notice is posted.

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
    /// How often a room posts a "joined" at most.
    every: Duration,
    /// By room: its last "joined", and who joined since.
    crowds: Mutex<HashMap<String, Crowd>>,
}

/// Names shown in a gathered notice; the rest are counted.
const NAMES_SHOWN: usize = 3;

#[derive(Debug)]
struct Crowd {
    /// When the room's last "joined" was posted.
    last: Instant,
    /// The first few names of those gathered since, and how many they are.
    names: Vec<String>,
    count: usize,
    /// A task will call [`Notices::gathered`] at the end of `every`.
    armed: bool,
}

/// When to post someone's "joined".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnJoined {
    Post,
    /// Gathered: call [`Notices::gathered`] at this instant and post what it gives.
    GatherUntil(Instant),
    /// Gathered; a call to [`Notices::gathered`] is on its way.
    Gathered,
}

/// The people of one "joined" notice: whom it is by, and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Joiners {
    pub(crate) author: String,
    pub(crate) text: String,
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
    /// A window of zero posts every "left" at once, and `every` of zero every "joined".
    pub(crate) fn new(window: Duration, every: Duration) -> Notices {
        Notices {
            window,
            joined: Mutex::default(),
            every,
            crowds: Mutex::default(),
        }
    }

    /// `name`'s "joined" in `room` is to be told (see [`Notices::join`]): at once, or
    /// gathered with others'.
    pub(crate) fn joined(&self, room: &str, name: &str, now: Instant) -> OnJoined {
        if self.every.is_zero() {
            return OnJoined::Post;
        }
        let mut crowds = self.crowds.lock().unwrap_or_else(|e| e.into_inner());
        if crowds.len() > PRUNE_ABOVE {
            let every = self.every;
            crowds.retain(|_, c| c.armed || now.saturating_duration_since(c.last) < every);
        }
        match crowds.get_mut(room) {
            Some(c) if c.armed || now.saturating_duration_since(c.last) < self.every => {
                if c.names.len() < NAMES_SHOWN {
                    c.names.push(name.to_owned());
                }
                c.count += 1;
                if c.armed {
                    OnJoined::Gathered
                } else {
                    c.armed = true;
                    OnJoined::GatherUntil(c.last + self.every)
                }
            }
            _ => {
                let crowd = Crowd {
                    last: now,
                    names: Vec::new(),
                    count: 0,
                    armed: false,
                };
                crowds.insert(room.to_owned(), crowd);
                OnJoined::Post
            }
        }
    }

    /// The end of a gathering in `room`: the notice to post for those gathered, if any.
    pub(crate) fn gathered(&self, room: &str, now: Instant) -> Option<Joiners> {
        let mut crowds = self.crowds.lock().unwrap_or_else(|e| e.into_inner());
        let c = crowds.get_mut(room)?;
        c.armed = false;
        let (names, count) = (std::mem::take(&mut c.names), std::mem::take(&mut c.count));
        let author = names.first()?.clone();
        c.last = now;
        Some(Joiners {
            author,
            text: joined_text(&names, count),
        })
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

/// "joined" for one person (the notice's author names them); for several, the sentence
/// naming the first few and counting the rest, so that a client shows the text as it is.
fn joined_text(names: &[String], count: usize) -> String {
    match (names, count.saturating_sub(names.len())) {
        ([_], 0) | ([], _) => "joined".to_owned(),
        ([first @ .., last], 0) => format!("{} and {last} joined", first.join(", ")),
        (names, 1) => format!("{} and 1 other joined", names.join(", ")),
        (names, more) => format!("{} and {more} others joined", names.join(", ")),
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
        let n = Notices::new(W, Duration::ZERO);
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
        let n = Notices::new(W, Duration::ZERO);
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
        let n = Notices::new(W, Duration::ZERO);
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
        let n = Notices::new(Duration::ZERO, Duration::ZERO);
        let t = Instant::now();
        for _ in 0..3 {
            assert!(n.join("rust", "ann", t));
            assert_eq!(n.leave("rust", "ann", t), OnLeave::Post);
        }
    }

    #[test]
    fn spent_windows_are_forgotten_in_a_crowd() {
        let n = Notices::new(W, Duration::ZERO);
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

    const E: Duration = Duration::from_secs(3);

    fn gathered_text(n: &Notices, room: &str, at: Instant) -> Option<(String, String)> {
        n.gathered(room, at).map(|j| (j.author, j.text))
    }

    #[test]
    fn a_crowd_gets_one_notice_at_once_then_one_for_the_rest() {
        let n = Notices::new(W, E);
        let t = Instant::now();
        assert_eq!(n.joined("rust", "ann", t), OnJoined::Post);
        assert_eq!(
            n.joined("rust", "bob", secs(t, 1)),
            OnJoined::GatherUntil(secs(t, 3))
        );
        for (i, name) in ["cy", "dee", "eve", "fay"].into_iter().enumerate() {
            assert_eq!(
                n.joined("rust", name, secs(t, 1 + i as u64 / 2)),
                OnJoined::Gathered
            );
        }
        // Another room is its own.
        assert_eq!(n.joined("go", "bob", secs(t, 1)), OnJoined::Post);
        assert_eq!(
            gathered_text(&n, "rust", secs(t, 3)),
            Some(("bob".into(), "bob, cy, dee and 2 others joined".into()))
        );
        assert_eq!(gathered_text(&n, "rust", secs(t, 3)), None, "told once");
        // The gathered notice starts the next period: a joiner within it waits for its end.
        assert_eq!(
            n.joined("rust", "gus", secs(t, 4)),
            OnJoined::GatherUntil(secs(t, 6))
        );
        assert_eq!(
            gathered_text(&n, "rust", secs(t, 6)),
            Some(("gus".into(), "joined".into()))
        );
        // A quiet room tells the next one at once.
        assert_eq!(n.joined("rust", "hal", secs(t, 10)), OnJoined::Post);
    }

    #[test]
    fn gathered_names_read_as_a_sentence() {
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(joined_text(&names(&["ann"]), 1), "joined");
        assert_eq!(
            joined_text(&names(&["ann", "bob"]), 2),
            "ann and bob joined"
        );
        assert_eq!(
            joined_text(&names(&["ann", "bob", "cy"]), 3),
            "ann, bob and cy joined"
        );
        assert_eq!(
            joined_text(&names(&["ann", "bob", "cy"]), 4),
            "ann, bob, cy and 1 other joined"
        );
        assert_eq!(
            joined_text(&names(&["ann", "bob", "cy"]), 1000),
            "ann, bob, cy and 997 others joined"
        );
    }

    #[test]
    fn every_of_zero_posts_each_joined_at_once() {
        let n = Notices::new(W, Duration::ZERO);
        let t = Instant::now();
        for name in ["ann", "bob", "cy"] {
            assert_eq!(n.joined("rust", name, t), OnJoined::Post);
        }
    }
}
