//! Reconnection delays: exponential, capped, with jitter so that clients dropped together do
//! not all come back in the same instant (socket.io-client's `randomizationFactor`). Public so
//! that the benchmark's reconnecting clients back off exactly as the browser does.

#[derive(Debug, Clone)]
pub struct Backoff {
    initial_ms: f64,
    max_ms: f64,
    factor: f64,
    /// ± fraction of the delay drawn at random.
    jitter: f64,
    attempt: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial_ms: 500.0,
            max_ms: 5_000.0,
            factor: 2.0,
            jitter: 0.5,
            attempt: 0,
        }
    }
}

impl Backoff {
    /// Attempts made since the last success.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The delay before the next attempt, in ms. `random` is uniform in `[0, 1)`; it is a
    /// parameter so tests are deterministic.
    pub fn next_delay(&mut self, random: f64) -> u64 {
        let base =
            (self.initial_ms * self.factor.powi(self.attempt.min(30) as i32)).min(self.max_ms);
        self.attempt = self.attempt.saturating_add(1);
        let spread = base * self.jitter;
        let delay = base - spread + 2.0 * spread * random.clamp(0.0, 1.0);
        delay.min(self.max_ms).max(0.0).round() as u64
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_then_caps() {
        let mut b = Backoff::default();
        let mids: Vec<u64> = (0..6).map(|_| b.next_delay(0.5)).collect();
        assert_eq!(mids, [500, 1000, 2000, 4000, 5000, 5000]);
        assert_eq!(b.attempt(), 6);
    }

    #[test]
    fn jitter_stays_within_bounds() {
        let mut low = Backoff::default();
        let mut high = Backoff::default();
        assert_eq!(low.next_delay(0.0), 250);
        assert_eq!(high.next_delay(0.999_999), 750);
        for _ in 0..10 {
            low.next_delay(0.0);
            high.next_delay(1.0);
        }
        assert_eq!(low.next_delay(0.0), 2500);
        assert_eq!(high.next_delay(1.0), 5000, "never above the cap");
    }

    #[test]
    fn every_delay_is_within_half_to_one_and_a_half_of_its_base() {
        for step in 0..=20 {
            let random = f64::from(step) / 20.0;
            let mut b = Backoff::default();
            for attempt in 0..10 {
                let base = (500.0 * 2f64.powi(attempt)).min(5_000.0);
                let delay = b.next_delay(random) as f64;
                assert!(
                    delay >= base * 0.5 && delay <= (base * 1.5).min(5_000.0),
                    "attempt {attempt}, random {random}: {delay}"
                );
            }
        }
        // A broken random source cannot escape the bounds either.
        assert_eq!(Backoff::default().next_delay(-3.0), 250);
        assert_eq!(Backoff::default().next_delay(f64::INFINITY), 750);
    }

    #[test]
    fn reset_starts_over() {
        let mut b = Backoff::default();
        b.next_delay(0.5);
        b.next_delay(0.5);
        b.reset();
        assert_eq!(b.attempt(), 0);
        assert_eq!(b.next_delay(0.5), 500);
    }
}
