//! Counters for `/metrics`, in the Prometheus text format.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

#[derive(Default, Debug)]
pub(crate) struct Metrics {
    pub(crate) messages_stored: AtomicU64,
    /// Emits socketioxide dropped because a socket's buffer was full.
    pub(crate) emits_dropped: AtomicU64,
    /// Catch-ups run, on connect or by `sync`, one per room.
    pub(crate) catchups: AtomicU64,
    /// Catch-ups that found more missing than the window and replayed nothing.
    pub(crate) catchup_gaps: AtomicU64,
    /// Catch-ups that could not be finished (the socket was closed, or a read failed).
    pub(crate) catchups_failed: AtomicU64,
    pub(crate) messages_replayed: AtomicU64,
    /// Messages refused because their sender was over the rate limit.
    pub(crate) messages_throttled: AtomicU64,
    /// Other requests (joins, rooms, direct conversations, pages) refused over their limits.
    pub(crate) requests_throttled: AtomicU64,
    /// Connects refused because their address claimed too many new names.
    pub(crate) names_throttled: AtomicU64,
    /// Messages stored per second over the last minute, for `/admin`'s messages per minute.
    last_minute: Mutex<Vec<(u64, u64)>>,
}

impl Metrics {
    /// Counts a stored message (not a repeat).
    pub(crate) fn record_stored(&self) {
        self.messages_stored.fetch_add(1, Ordering::Relaxed);
        let second = unix_seconds();
        let mut minute = self.last_minute.lock().unwrap_or_else(|e| e.into_inner());
        if minute.is_empty() {
            minute.resize(60, (0, 0));
        }
        let slot = &mut minute[(second % 60) as usize];
        if slot.0 != second {
            *slot = (second, 0);
        }
        slot.1 += 1;
    }

    /// Messages stored in the last 60 seconds.
    pub(crate) fn messages_per_minute(&self) -> u64 {
        let now = unix_seconds();
        let minute = self.last_minute.lock().unwrap_or_else(|e| e.into_inner());
        minute
            .iter()
            .filter(|(second, _)| now.saturating_sub(*second) < 60)
            .map(|(_, n)| n)
            .sum()
    }

    pub(crate) fn render(&self) -> String {
        let counters = [
            (
                "palaver_messages_stored_total",
                "Messages stored (not counting repeats).",
                &self.messages_stored,
            ),
            (
                "palaver_emits_dropped_total",
                "Deliveries dropped because a socket's buffer was full.",
                &self.emits_dropped,
            ),
            (
                "palaver_catchups_total",
                "Per-room catch-ups run on connect or sync.",
                &self.catchups,
            ),
            (
                "palaver_catchup_gaps_total",
                "Catch-ups further behind than the replay window.",
                &self.catchup_gaps,
            ),
            (
                "palaver_catchups_failed_total",
                "Catch-ups not finished: the socket was closed first, or a read failed.",
                &self.catchups_failed,
            ),
            (
                "palaver_messages_replayed_total",
                "Messages replayed by catch-ups.",
                &self.messages_replayed,
            ),
            (
                "palaver_messages_throttled_total",
                "Messages refused because the sender was over the rate limit.",
                &self.messages_throttled,
            ),
            (
                "palaver_requests_throttled_total",
                "Joins, leaves, new rooms, direct conversations and pages refused over their limits.",
                &self.requests_throttled,
            ),
            (
                "palaver_names_throttled_total",
                "Connects refused because their address claimed too many new names.",
                &self.names_throttled,
            ),
        ];
        let mut out = String::new();
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_counter() {
        let m = Metrics::default();
        m.emits_dropped.fetch_add(3, Ordering::Relaxed);
        let text = m.render();
        assert!(text.contains("\npalaver_emits_dropped_total 3\n"), "{text}");
        assert!(text.contains("# TYPE palaver_messages_stored_total counter"));
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 9);
        assert!(
            text.contains("\npalaver_catchups_failed_total 0\n"),
            "{text}"
        );
        assert_eq!(m.messages_per_minute(), 0);
        m.record_stored();
        m.record_stored();
        assert_eq!(m.messages_per_minute(), 2);
        assert!(m.render().contains("\npalaver_messages_stored_total 2\n"));
    }
}
