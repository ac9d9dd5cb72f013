//! What a benchmark message says about itself: who published it, its number in that
//! publisher's run, and when it was *scheduled* to be sent. Receivers measure latency from the
//! scheduled time, so a publisher that falls behind shows up as latency rather than hiding it
//! (coordinated omission).

use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch. Every generator process runs on the same machine, so
/// their clocks agree; the wall clock is used because `Instant`s cannot cross processes.
pub(crate) fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// The identity of one published message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Probe {
    pub(crate) publisher: u32,
    pub(crate) seq: u64,
    pub(crate) scheduled_us: u64,
}

/// Padding to bring a message to the size of a typical chat line (about 100 bytes of text).
const PAD: &str = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor";

impl Probe {
    pub(crate) fn encode(&self) -> String {
        format!(
            "{} {} {} {PAD}",
            self.publisher, self.seq, self.scheduled_us
        )
    }

    /// [`Probe::encode`], padded with more of the same to `chars` characters (at least the
    /// probe itself): the long messages of the hostile-load scenarios.
    pub(crate) fn encode_padded(&self, chars: usize) -> String {
        let mut text = self.encode();
        while text.len() < chars {
            text.push(' ');
            text.push_str(PAD);
        }
        text.truncate(chars.max(self.encode().len()));
        text
    }

    /// The probe in a message's text; `None` for anything else (other traffic, notices).
    pub(crate) fn parse(text: &str) -> Option<Probe> {
        let mut fields = text.splitn(4, ' ');
        Some(Probe {
            publisher: fields.next()?.parse().ok()?,
            seq: fields.next()?.parse().ok()?,
            scheduled_us: fields.next()?.parse().ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_other_text() {
        let p = Probe {
            publisher: 7,
            seq: 123_456,
            scheduled_us: 1_700_000_000_000_000,
        };
        let text = p.encode();
        assert!(text.len() > 90 && text.len() < 130, "{}", text.len());
        assert_eq!(Probe::parse(&text), Some(p));
        let long = p.encode_padded(4000);
        assert_eq!(long.chars().count(), 4000);
        assert_eq!(Probe::parse(&long), Some(p));
        assert_eq!(Probe::parse("hello there"), None);
        assert_eq!(Probe::parse("1 2"), None);
    }
}
