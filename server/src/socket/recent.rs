//! The newest messages of each room, as the writer broadcast them, so that a catch-up can
//! read its history without the order lock and then, under the lock, add only what was
//! committed meanwhile from memory, without a query.
//!
//! Every change to a room other than an append (a deletion) bumps the room's `edits`: a
//! catch-up that read the room before such a change reads it again under the lock.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use app::events::ChatMessage;

/// Messages kept per room. A catch-up whose read is older than these falls back to a query.
/// The window between a catch-up's read and its turn at the lock is short, so a few suffice.
const PER_ROOM: usize = 16;
/// Rooms kept; past it, the least recently written are forgotten (they fall back to queries).
/// With the longest messages, this memory is bounded to about 1,024 × 16 × 4 KiB.
const ROOMS: usize = 1_024;

#[derive(Default)]
pub(crate) struct Recent {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    rooms: HashMap<String, Room>,
    /// Counts writes, to find the least recently written room.
    tick: u64,
    /// Bumped when a room is forgotten: a catch-up that read before cannot trust memory.
    forgotten: u64,
}

#[derive(Default)]
struct Room {
    /// Oldest first; consecutive `seq`s.
    messages: VecDeque<ChatMessage>,
    edits: u64,
    /// A tick of [`Recent`]'s writes, to forget the least recently written rooms.
    written: u64,
}

/// What a catch-up saw of a room before it took the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Seen {
    edits: u64,
    forgotten: u64,
}

/// What was committed to a room after a catch-up's read.
#[derive(Debug, PartialEq)]
pub(crate) enum Delta {
    /// These messages, oldest first (maybe none).
    Appended(Vec<ChatMessage>),
    /// More than is kept, or an edit: read the room again.
    Unknown,
}

impl Recent {
    /// Called by the writer, under the order lock, for each message it broadcasts.
    pub(crate) fn appended(&self, message: &ChatMessage) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.tick += 1;
        let tick = state.tick;
        if state.rooms.len() >= ROOMS && !state.rooms.contains_key(&message.meta.room) {
            let oldest = state
                .rooms
                .iter()
                .min_by_key(|(_, r)| r.written)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                state.rooms.remove(&oldest);
                state.forgotten += 1;
            }
        }
        let room = state.rooms.entry(message.meta.room.clone()).or_default();
        let follows = room
            .messages
            .back()
            .is_none_or(|last| last.meta.seq + 1 == message.meta.seq);
        if !follows {
            room.messages.clear();
        }
        room.messages.push_back(message.clone());
        if room.messages.len() > PER_ROOM {
            room.messages.pop_front();
        }
        room.written = tick;
    }

    /// Called, under the order lock, when a message of `room` changes other than by an append.
    pub(crate) fn edited(&self, room: &str) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let room = state.rooms.entry(room.to_owned()).or_default();
        room.edits += 1;
        room.messages.clear();
    }

    /// Taken before a catch-up reads `room`.
    pub(crate) fn seen(&self, room: &str) -> Seen {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        Seen {
            edits: state.rooms.get(room).map_or(0, |r| r.edits),
            forgotten: state.forgotten,
        }
    }

    /// Under the order lock: what `room` gained after `seq`, given what was seen before the
    /// read that ended at `seq`.
    pub(crate) fn since(&self, room: &str, seen: Seen, seq: i64) -> Delta {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.forgotten != seen.forgotten {
            return Delta::Unknown;
        }
        let Some(r) = state.rooms.get(room) else {
            // Neither written nor edited since the start: nothing new.
            return if seen.edits == 0 {
                Delta::Appended(Vec::new())
            } else {
                Delta::Unknown
            };
        };
        if r.edits != seen.edits {
            return Delta::Unknown;
        }
        let newest = r.messages.back().map_or(0, |m| m.meta.seq);
        if newest <= seq {
            return Delta::Appended(Vec::new());
        }
        match r.messages.front() {
            Some(oldest) if oldest.meta.seq <= seq + 1 => Delta::Appended(
                r.messages
                    .iter()
                    .filter(|m| m.meta.seq > seq)
                    .cloned()
                    .collect(),
            ),
            _ => Delta::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::events::MessageMeta;

    fn message(room: &str, seq: i64) -> ChatMessage {
        ChatMessage {
            text: format!("m{seq}"),
            id: seq * 10,
            meta: MessageMeta {
                room: room.into(),
                author: "ann".into(),
                ts: 0,
                seq,
                client_offset: None,
                kind: None,
                ..Default::default()
            },
        }
    }

    fn seqs(since: Delta) -> Vec<i64> {
        match since {
            Delta::Appended(m) => m.iter().map(|m| m.meta.seq).collect(),
            Delta::Unknown => panic!("unknown"),
        }
    }

    #[test]
    fn what_came_after_a_read_comes_from_memory() {
        let r = Recent::default();
        let seen = r.seen("lobby");
        assert_eq!(seqs(r.since("lobby", seen, 0)), Vec::<i64>::new());
        for seq in 1..=5 {
            r.appended(&message("lobby", seq));
        }
        assert_eq!(seqs(r.since("lobby", seen, 3)), vec![4, 5]);
        assert_eq!(seqs(r.since("lobby", seen, 5)), Vec::<i64>::new());
        assert_eq!(
            seqs(r.since("other", r.seen("other"), 9)),
            Vec::<i64>::new()
        );
    }

    #[test]
    fn a_read_older_than_memory_or_an_edit_means_read_again() {
        let r = Recent::default();
        let seen = r.seen("lobby");
        for seq in 1..=(PER_ROOM as i64 + 10) {
            r.appended(&message("lobby", seq));
        }
        assert_eq!(r.since("lobby", seen, 2), Delta::Unknown);
        assert_eq!(
            seqs(r.since("lobby", seen, PER_ROOM as i64 + 8)),
            vec![PER_ROOM as i64 + 9, PER_ROOM as i64 + 10]
        );
        r.edited("lobby");
        assert_eq!(r.since("lobby", seen, PER_ROOM as i64 + 10), Delta::Unknown);
        let again = r.seen("lobby");
        assert_eq!(
            seqs(r.since("lobby", again, PER_ROOM as i64 + 10)),
            Vec::<i64>::new()
        );
    }

    #[test]
    fn a_hole_in_memory_is_never_passed_off_as_complete() {
        let r = Recent::default();
        let seen = r.seen("lobby");
        r.appended(&message("lobby", 1));
        r.appended(&message("lobby", 3));
        assert_eq!(r.since("lobby", seen, 1), Delta::Unknown);
        assert_eq!(seqs(r.since("lobby", seen, 2)), vec![3]);
    }
}
