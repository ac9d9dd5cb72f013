//! A latency histogram in microseconds: log-linear buckets (64 per power of two, so any value
//! is reported within 1.6% above its true value), cheap to record into.

const SUB: u64 = 64;
const SUB_BITS: u32 = 6;
const BUCKETS: usize = ((64 - SUB_BITS as usize) + 1) * SUB as usize;

#[derive(Clone)]
pub(crate) struct Histogram {
    counts: Vec<u64>,
    count: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            count: 0,
            max: 0,
        }
    }
}

fn index(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let msb = 63 - v.leading_zeros();
    let shift = msb - SUB_BITS;
    (((msb - SUB_BITS + 1) as u64) * SUB + ((v >> shift) - SUB)) as usize
}

/// The highest value that falls in bucket `i`: percentiles err on the side of slower.
fn highest(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i;
    }
    let block = i / SUB;
    let shift = block - 1;
    let low = (SUB + i % SUB) << shift;
    // Add (width - 1), not width then -1: the top bucket ends at u64::MAX, where low + width overflows.
    low + ((1u64 << shift) - 1)
}

impl Histogram {
    pub(crate) fn record(&mut self, micros: u64) {
        self.counts[index(micros)] += 1;
        self.count += 1;
        self.max = self.max.max(micros);
    }

    /// Adds `other`'s values to this one's.
    pub(crate) fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.count += other.count;
        self.max = self.max.max(other.max);
    }

    #[cfg(test)]
    fn count(&self) -> u64 {
        self.count
    }

    pub(crate) fn max(&self) -> u64 {
        self.max
    }

    /// The value at quantile `q` (0 to 1), in microseconds; 0 when empty.
    pub(crate) fn quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return highest(i).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_in_order() {
        let mut last = 0;
        for v in (0..5_000_000u64)
            .step_by(37)
            .chain([u64::MAX / 2, u64::MAX])
        {
            let i = index(v);
            assert!(i < BUCKETS, "{v}");
            assert!(i >= last, "{v}");
            assert!(highest(i) >= v, "{v} above its bucket's top {}", highest(i));
            assert!(highest(i) - v <= v / 64 + 1, "{v}: bucket too wide");
            last = i;
        }
    }

    #[test]
    fn quantiles_of_a_uniform_run() {
        let mut h = Histogram::default();
        for v in 1..=10_000 {
            h.record(v);
        }
        let p50 = h.quantile(0.5);
        let p99 = h.quantile(0.99);
        assert!((5_000..=5_080).contains(&p50), "{p50}");
        assert!((9_900..=10_000).contains(&p99), "{p99}");
        assert_eq!(h.quantile(1.0), 10_000);
        h.record(1_000_000);
        assert_eq!((h.count(), h.max()), (10_001, 1_000_000));
        assert_eq!(Histogram::default().quantile(0.99), 0);
    }

    #[test]
    fn merged_histograms_hold_both_halves() {
        let (mut low, mut high) = (Histogram::default(), Histogram::default());
        for v in 1..=5_000 {
            low.record(v);
            high.record(v + 5_000);
        }
        low.merge(&high);
        assert_eq!((low.count(), low.max()), (10_000, 10_000));
        let p50 = low.quantile(0.5);
        assert!((5_000..=5_080).contains(&p50), "{p50}");
    }
}
