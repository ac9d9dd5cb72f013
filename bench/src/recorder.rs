//! What the clients observed during one measured step, shared by all clients of a process.
//! Clients record straight into it; the scenario takes a snapshot and starts a fresh one
//! between steps.

use std::sync::Mutex;

use crate::histogram::Histogram;

/// Counts of one step. Deliveries are counted per receiving client.
#[derive(Default, Clone)]
pub(crate) struct Tally {
    /// Scheduled send time to arrival, per delivery.
    pub(crate) latency: Histogram,
    /// Scheduled send time to the ack, per acknowledged send.
    pub(crate) ack: Histogram,
    pub(crate) sent: u64,
    pub(crate) acked: u64,
    /// Sends the server answered with an error, or that the connection lost.
    pub(crate) failed: u64,
    pub(crate) received: u64,
    /// A publisher's message that arrived at a receiver twice in a row.
    pub(crate) duplicates: u64,
    /// A publisher's message that arrived after a later one of the same publisher.
    pub(crate) reordered: u64,
    /// Connections the server closed while they should have stayed open.
    pub(crate) dropped: u64,
    /// Text frames not read as a delivery at a glance: acks, announcements, heartbeats (and
    /// the rare delivery that needs decoding).
    pub(crate) other_frames: u64,
    /// The longest text frame received, in bytes.
    pub(crate) largest_frame: usize,
    /// Why the first failed send failed (the server's error, or the ack's).
    pub(crate) first_failure: Option<String>,
}

impl Tally {
    /// Adds `other`'s counts to this one's: what several groups of clients saw together.
    pub(crate) fn merge(&mut self, other: &Tally) {
        self.latency.merge(&other.latency);
        self.ack.merge(&other.ack);
        self.sent += other.sent;
        self.acked += other.acked;
        self.failed += other.failed;
        self.received += other.received;
        self.duplicates += other.duplicates;
        self.reordered += other.reordered;
        self.dropped += other.dropped;
        self.other_frames += other.other_frames;
        self.largest_frame = self.largest_frame.max(other.largest_frame);
        if self.first_failure.is_none() {
            self.first_failure.clone_from(&other.first_failure);
        }
    }
}

#[derive(Default)]
pub(crate) struct Recorder {
    tally: Mutex<Tally>,
}

impl Recorder {
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut Tally) -> R) -> R {
        f(&mut self.tally.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Ends the step: what it recorded, and a fresh tally for the next.
    pub(crate) fn take(&self) -> Tally {
        self.with(std::mem::take)
    }

    pub(crate) fn snapshot(&self) -> Tally {
        self.with(|t| t.clone())
    }
}

/// One receiver's view of each publisher's sequence: the newest number seen.
#[derive(Default)]
pub(crate) struct Order {
    newest: std::collections::HashMap<u32, u64>,
}

/// What a delivery was, in its publisher's sequence.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Arrival {
    InOrder,
    Duplicate,
    Reordered,
}

impl Order {
    pub(crate) fn arrive(&mut self, publisher: u32, seq: u64) -> Arrival {
        let newest = self.newest.entry(publisher).or_insert(0);
        match seq.cmp(newest) {
            std::cmp::Ordering::Greater => {
                *newest = seq;
                Arrival::InOrder
            }
            std::cmp::Ordering::Equal => Arrival::Duplicate,
            std::cmp::Ordering::Less => Arrival::Reordered,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_duplicates_and_reordering_apart() {
        let mut o = Order::default();
        assert_eq!(o.arrive(1, 1), Arrival::InOrder);
        assert_eq!(
            o.arrive(1, 3),
            Arrival::InOrder,
            "a gap is not an error yet"
        );
        assert_eq!(o.arrive(1, 3), Arrival::Duplicate);
        assert_eq!(o.arrive(1, 2), Arrival::Reordered);
        assert_eq!(
            o.arrive(2, 1),
            Arrival::InOrder,
            "publishers are independent"
        );
    }
}
