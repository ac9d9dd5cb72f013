//! Flood control: token buckets, one per key (a person, or a source address). Each key may act
//! `burst` times at once after a quiet spell, and then at the bucket's rate. A key over its
//! limit is told how long to wait, and nobody else is slowed down.
//!
//! One [`Throttle`] holds the buckets of one kind of action; `limits.rs` holds one per action
//! and chooses the keys. Hand-written rather than `governor`: the whole thing is a map and a
//! few lines of arithmetic, tested with explicit instants, and `governor`'s keyed limiter would
//! bring its own clock (quanta) and a concurrent map for no gain at this size.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Above this many tracked keys, buckets that have refilled (and so hold no state worth
/// keeping) are forgotten, which bounds the memory a crowd of one-off keys can take.
const PRUNE_ABOVE: usize = 10_000;

/// How often something may happen, as a setting: `N/PERIOD` lets `N` happen at once and then
/// `N` per `PERIOD` (`30/1m`, `20/10m`, `200/10s`, `5/h`); `off` lets everything through.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    Off,
    Every { burst: u32, per: Duration },
}

impl Limit {
    /// `burst` at once, then `burst` per `per`.
    pub const fn every(burst: u32, per: Duration) -> Limit {
        Limit::Every { burst, per }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("expected `off` or `N/PERIOD` with N ≥ 1 and a period like 10s, 1m or 1h, not `{0}`")]
pub struct LimitError(String);

impl FromStr for Limit {
    type Err = LimitError;

    fn from_str(s: &str) -> Result<Limit, LimitError> {
        let bad = || LimitError(s.to_owned());
        let s = s.trim();
        if s.eq_ignore_ascii_case("off") {
            return Ok(Limit::Off);
        }
        let (count, period) = s.split_once('/').ok_or_else(bad)?;
        let burst: u32 = count.trim().parse().map_err(|_| bad())?;
        let per = parse_duration(period.trim()).ok_or_else(bad)?;
        if burst == 0 || per.is_zero() {
            return Err(bad());
        }
        Ok(Limit::every(burst, per))
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::Off => f.write_str("off"),
            Limit::Every { burst, per } => {
                let secs = per.as_secs();
                if per.subsec_nanos() != 0 {
                    write!(f, "{burst}/{}ms", per.as_millis())
                } else if secs % 3600 == 0 {
                    write!(f, "{burst}/{}h", secs / 3600)
                } else if secs % 60 == 0 {
                    write!(f, "{burst}/{}m", secs / 60)
                } else {
                    write!(f, "{burst}/{secs}s")
                }
            }
        }
    }
}

/// `10s`, `1m`, `2h`, `500ms`; a unit alone means one of it (`m` is a minute); a bare number
/// is seconds.
pub(crate) fn parse_duration(s: &str) -> Option<Duration> {
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(digits);
    let n: u64 = if number.is_empty() {
        1
    } else {
        number.parse().ok()?
    };
    let unit_ms: u64 = match unit {
        "" | "s" => 1_000,
        "ms" => 1,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    if unit.is_empty() && number.is_empty() {
        return None;
    }
    Some(Duration::from_millis(n.checked_mul(unit_ms)?))
}

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
    /// `rate` a second on average, `burst` at once; a rate of 0 (or less) is off.
    pub(crate) fn per_second(rate: f64, burst: u32) -> Throttle {
        Throttle {
            rate: if rate.is_finite() { rate.max(0.0) } else { 0.0 },
            burst: f64::from(burst.max(1)),
            buckets: Mutex::default(),
        }
    }

    pub(crate) fn new(limit: Limit) -> Throttle {
        match limit {
            Limit::Off => Throttle::per_second(0.0, 1),
            Limit::Every { burst, per } => {
                Throttle::per_second(f64::from(burst) / per.as_secs_f64(), burst)
            }
        }
    }

    /// Takes one token from `key`'s bucket, or says how long until one is there.
    pub(crate) fn take(&self, key: &str, now: Instant) -> Result<(), Duration> {
        self.take_n(key, 1, now)
    }

    /// Takes `n` tokens (at most a full bucket's worth, so that a large request can pass after
    /// a quiet spell) from `key`'s bucket, or none and says how long until there are enough.
    pub(crate) fn take_n(&self, key: &str, n: u32, now: Instant) -> Result<(), Duration> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let cost = f64::from(n.max(1)).min(self.burst);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, b| self.refilled(*b, now) < self.burst);
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let tokens = self.refilled(*bucket, now);
        if tokens >= cost {
            *bucket = Bucket {
                tokens: tokens - cost,
                at: now,
            };
            Ok(())
        } else {
            Err(Duration::from_secs_f64((cost - tokens) / self.rate))
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
        let t = Throttle::per_second(10.0, 5);
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
        for t in [Throttle::per_second(0.0, 1), Throttle::new(Limit::Off)] {
            let now = Instant::now();
            for _ in 0..100 {
                assert_eq!(t.take("ann", now), Ok(()));
            }
        }
    }

    #[test]
    fn a_limit_per_period_refills_its_burst_over_the_period() {
        // 20 new names per 10 minutes: 20 at once, then one every 30 s.
        let t = Throttle::new("20/10m".parse().unwrap());
        let start = Instant::now();
        for _ in 0..20 {
            t.take("203.0.113.7", start).unwrap();
        }
        let wait = t.take("203.0.113.7", start).unwrap_err();
        assert_eq!(wait.as_secs(), 30, "{wait:?}");
        assert!(
            t.take("203.0.113.7", start + Duration::from_secs(29))
                .is_err()
        );
        t.take("203.0.113.7", start + Duration::from_secs(30))
            .unwrap();
        assert!(
            t.take("203.0.113.7", start + Duration::from_secs(30))
                .is_err()
        );
    }

    #[test]
    fn a_request_can_cost_several_tokens_but_never_more_than_a_burst() {
        let t = Throttle::new(Limit::every(10, Duration::from_secs(10)));
        let start = Instant::now();
        t.take_n("ann", 8, start).unwrap();
        let wait = t.take_n("ann", 3, start).unwrap_err();
        assert_eq!(
            wait,
            Duration::from_secs(1),
            "one token short, one a second"
        );
        t.take_n("ann", 2, start).unwrap();
        // A request larger than the burst costs the burst: it passes once the bucket is full.
        assert!(t.take_n("ann", 64, start + Duration::from_secs(9)).is_err());
        t.take_n("ann", 64, start + Duration::from_secs(10))
            .unwrap();
        assert!(t.take("ann", start + Duration::from_secs(10)).is_err());
    }

    #[test]
    fn refilled_buckets_are_forgotten_in_a_crowd() {
        let t = Throttle::per_second(10.0, 2);
        let start = Instant::now();
        for i in 0..=PRUNE_ABOVE {
            t.take(&format!("s{i}"), start).unwrap();
        }
        t.take("late", start + Duration::from_secs(1)).unwrap();
        assert_eq!(t.buckets.lock().unwrap().len(), 1);
    }

    #[test]
    fn limits_read_and_print_as_settings() {
        let cases = [
            ("30/1m", Limit::every(30, Duration::from_secs(60))),
            ("20/10m", Limit::every(20, Duration::from_secs(600))),
            ("200/10s", Limit::every(200, Duration::from_secs(10))),
            ("5/h", Limit::every(5, Duration::from_secs(3600))),
            ("3/500ms", Limit::every(3, Duration::from_millis(500))),
            ("OFF", Limit::Off),
        ];
        for (text, limit) in cases {
            assert_eq!(text.parse::<Limit>(), Ok(limit), "{text}");
            assert_eq!(limit.to_string().parse::<Limit>(), Ok(limit), "{limit}");
        }
        assert_eq!(
            Limit::every(5, Duration::from_secs(3600)).to_string(),
            "5/1h"
        );
        for bad in [
            "", "30", "0/1m", "30/0s", "30/1w", "x/1m", "30/m1", "-1/1m", "30/",
        ] {
            assert!(bad.parse::<Limit>().is_err(), "{bad}");
        }
    }
}
