//! What the server logs of its clients' input, and how much of it.
//!
//! Client-supplied text (event names, room names, names, what an error quotes of a payload)
//! is logged through [`Escaped`], so that a `\n` in it cannot forge a log line, nor an escape
//! sequence rewrite the operator's terminal. Rejected events are logged per socket through
//! [`Rejections`], so that a client sending nothing but bad events cannot fill the disk.

use crate::cluster::SocketRef;
use std::fmt::{self, Display, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Shows `T` as its `Display` does, with control characters (and the characters that move
/// text around without showing: line and paragraph separators, direction overrides) written
/// as Rust escapes, `\n` or `\u{1b}`.
pub(crate) struct Escaped<T>(pub(crate) T);

impl<T: Display> Display for Escaped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(EscapingWriter(f), "{}", self.0)
    }
}

struct EscapingWriter<'a, 'b>(&'a mut fmt::Formatter<'b>);

impl fmt::Write for EscapingWriter<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            if needs_escape(c) {
                write!(self.0, "{}", c.escape_default())?;
            } else {
                self.0.write_char(c)?;
            }
        }
        Ok(())
    }
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Rejected events logged per socket in a minute, at most; the rest are counted, and the count
/// is logged when logging resumes (or when the socket disconnects).
pub(crate) const LOGGED_PER_MINUTE: u32 = 10;
const WINDOW: Duration = Duration::from_secs(60);

/// One socket's rejected events, for rate-limiting their log lines.
#[derive(Debug, Default)]
pub(crate) struct Rejections(Mutex<Window>);

#[derive(Debug, Default)]
struct Window {
    started: Option<Instant>,
    logged: u32,
    unlogged: u32,
}

/// Whether to log a rejected event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Log it; `unlogged` events before it were not.
    Log { unlogged: u32 },
    /// The minute's allowance is spent: say once that the rest will be counted, not logged.
    Quieten,
    /// Count it only.
    Quiet,
}

impl Rejections {
    pub(crate) fn judge(&self, now: Instant) -> Verdict {
        let mut w = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let expired = w.started.is_none_or(|s| now.duration_since(s) >= WINDOW);
        if expired {
            w.started = Some(now);
            w.logged = 0;
        }
        if w.logged < LOGGED_PER_MINUTE {
            w.logged += 1;
            return Verdict::Log {
                unlogged: std::mem::take(&mut w.unlogged),
            };
        }
        w.unlogged += 1;
        if w.unlogged == 1 {
            Verdict::Quieten
        } else {
            Verdict::Quiet
        }
    }

    /// Events counted but not logged since the last one logged; the count starts afresh.
    pub(crate) fn take_unlogged(&self) -> u32 {
        let mut w = self.0.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut w.unlogged)
    }
}

/// `socket`'s [`Rejections`], made on its first rejected event.
pub(crate) fn rejections(socket: &SocketRef) -> Arc<Rejections> {
    if let Some(r) = socket.extensions.get::<Arc<Rejections>>() {
        return r;
    }
    // Two events rejected at once on a new socket may each make one; one of them is kept, and
    // the other's single count is lost.
    let made: Arc<Rejections> = Arc::default();
    socket.extensions.insert(made.clone());
    made
}

/// Lets a repeated log line through at most once per period, counting the ones held back, so
/// that a flood of the same event cannot fill the disk. Shared freely: it takes `&self`.
#[derive(Debug)]
pub(crate) struct Hush {
    every: Duration,
    start: Instant,
    /// Milliseconds after `start` from which the next line may be logged.
    next: AtomicU64,
    held_back: AtomicU64,
}

impl Hush {
    pub(crate) fn new(every: Duration) -> Hush {
        Hush {
            every,
            start: Instant::now(),
            next: AtomicU64::new(0),
            held_back: AtomicU64::new(0),
        }
    }

    /// `Some(how many were held back since the last line)` when a line may be logged now.
    pub(crate) fn speak(&self) -> Option<u64> {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        let next = self.next.load(Ordering::Relaxed);
        let every = u64::try_from(self.every.as_millis()).unwrap_or(u64::MAX);
        let turn = now >= next
            && self
                .next
                .compare_exchange(
                    next,
                    now.saturating_add(every),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok();
        if turn {
            Some(self.held_back.swap(0, Ordering::Relaxed))
        } else {
            self.held_back.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_the_rest_kept() {
        let forged = "room\n2025-01-01T00:00:00Z  INFO palaver: admin logged in\r\u{1b}[2J\u{0}";
        let shown = Escaped(forged).to_string();
        assert!(!shown.chars().any(needs_escape), "{shown}");
        assert_eq!(
            shown,
            "room\\n2025-01-01T00:00:00Z  INFO palaver: admin logged in\\r\\u{1b}[2J\\u{0}"
        );
        assert_eq!(
            Escaped("a\u{2028}b\u{202E}c\u{85}").to_string(),
            "a\\u{2028}b\\u{202e}c\\u{85}"
        );
        // Everything else, quotes and non-ASCII included, as it was.
        assert_eq!(Escaped("ann's «café» 🎉").to_string(), "ann's «café» 🎉");
        // Through any Display, such as an error quoting a client's event name.
        let error = app::events::ChatError::UnknownEvent {
            event: "x\ny".into(),
        };
        assert_eq!(Escaped(&error).to_string(), "unknown event `x\\ny`");
    }

    #[test]
    fn a_flood_of_rejections_is_logged_ten_a_minute_then_counted() {
        let r = Rejections::default();
        let t0 = Instant::now();
        for _ in 0..LOGGED_PER_MINUTE {
            assert_eq!(r.judge(t0), Verdict::Log { unlogged: 0 });
        }
        assert_eq!(r.judge(t0), Verdict::Quieten);
        for _ in 0..1_000 {
            assert_eq!(r.judge(t0 + Duration::from_secs(59)), Verdict::Quiet);
        }
        // A minute after the first: logging resumes, with what was not logged.
        let later = t0 + WINDOW;
        assert_eq!(r.judge(later), Verdict::Log { unlogged: 1_001 });
        assert_eq!(r.judge(later), Verdict::Log { unlogged: 0 });
        for _ in 2..LOGGED_PER_MINUTE {
            r.judge(later);
        }
        assert_eq!(r.judge(later), Verdict::Quieten);
        assert_eq!(r.take_unlogged(), 1);
        assert_eq!(r.take_unlogged(), 0);
    }

    #[test]
    fn a_repeated_line_is_let_through_once_per_period() {
        let hush = Hush::new(Duration::from_secs(3600));
        assert_eq!(hush.speak(), Some(0));
        assert_eq!(hush.speak(), None);
        assert_eq!(hush.speak(), None);
        // As if the period were over.
        hush.next.store(0, Ordering::Relaxed);
        assert_eq!(hush.speak(), Some(2));
    }
}
