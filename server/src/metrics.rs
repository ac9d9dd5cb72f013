//! Counters for `/metrics`, in the Prometheus text format.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default, Debug)]
pub(crate) struct Metrics {
    pub(crate) messages_stored: AtomicU64,
    /// Emits socketioxide dropped because a socket's buffer was full.
    pub(crate) emits_dropped: AtomicU64,
    /// Catch-ups run, on connect or by `sync`, one per room.
    pub(crate) catchups: AtomicU64,
    /// Catch-ups that found more missing than the window and replayed nothing.
    pub(crate) catchup_gaps: AtomicU64,
    pub(crate) messages_replayed: AtomicU64,
    /// Messages refused because their sender was over the rate limit.
    pub(crate) messages_throttled: AtomicU64,
}

impl Metrics {
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
                "palaver_messages_replayed_total",
                "Messages replayed by catch-ups.",
                &self.messages_replayed,
            ),
            (
                "palaver_messages_throttled_total",
                "Messages refused because the sender was over the rate limit.",
                &self.messages_throttled,
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
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 6);
    }
}
