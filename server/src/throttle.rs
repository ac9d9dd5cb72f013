//! Flood control: a token bucket per sender. Each sender may post `rate` messages per second
//! on average, and `burst` at once after a quiet spell. A sender over the limit gets
//! `rate_limited` with the time to wait, and nobody else is slowed down.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Above this many tracked senders, buckets that have refilled (and so hold no state worth
/// keeping) are forgotten, which bounds the memory a crowd of one-off senders can take.
const PRUNE_ABOVE: usize = 10_000;

#[derive(Debug)]
pub(crate) struct Throttle {
    /// Tokens added per second; 0 turns the throttle off.
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Throttle {
    pub(crate) fn new(rate: f64, burst: u32) -> Throttle {
        Throttle {
            rate,
            burst: f64::from(burst.max(1)),
            buckets: Mutex::default(),
        }
    }

    /// Takes one token from `sender`'s bucket, or says how long until one is there.
    pub(crate) fn take(&self, sender: &str, now: Instant) -> Result<(), Duration> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, b| self.refilled(*b, now) < self.burst);
        }
        let bucket = buckets.entry(sender.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let tokens = self.refilled(*bucket, now);
        if tokens >= 1.0 {
            *bucket = Bucket {
                tokens: tokens - 1.0,
                at: now,
            };
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - tokens) / self.rate))
        }
    }

    fn refilled(&self, b: Bucket, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        (b.tokens + elapsed * self.rate).min(self.burst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let t = Throttle::new(10.0, 5);
        let start = Instant::now();
        for _ in 0..5 {
            assert_eq!(t.take("ann", start), Ok(()));
        }
        let wait = t.take("ann", start).unwrap_err();
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-6, "{wait:?}");
        // Someone else is not affected.
        assert_eq!(t.take("bob", start), Ok(()));
        // 100 ms later, one more token; a second later, a full burst again but no more.
        assert_eq!(t.take("ann", start + Duration::from_millis(100)), Ok(()));
        assert!(t.take("ann", start + Duration::from_millis(100)).is_err());
        let later = start + Duration::from_secs(5);
        for _ in 0..5 {
            assert_eq!(t.take("ann", later), Ok(()));
        }
        assert!(t.take("ann", later).is_err());
    }

    #[test]
    fn a_rate_of_zero_is_off() {
        let t = Throttle::new(0.0, 1);
        let now = Instant::now();
        for _ in 0..100 {
            assert_eq!(t.take("ann", now), Ok(()));
        }
    }

    #[test]
    fn refilled_buckets_are_forgotten_in_a_crowd() {
        let t = Throttle::new(10.0, 2);
        let start = Instant::now();
        for i in 0..=PRUNE_ABOVE {
            t.take(&format!("s{i}"), start).unwrap();
        }
        t.take("late", start + Duration::from_secs(1)).unwrap();
        assert_eq!(t.buckets.lock().unwrap().len(), 1);
    }
}
