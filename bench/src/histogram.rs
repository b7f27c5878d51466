//! A log-linear latency histogram (the HDR idea, in a few lines): values
//! below 64 ns get a bucket each; above, every power of two is split into
//! 64 equal buckets, so a percentile read back is within 1/64 (1.6%) of the
//! value recorded. Fixed size, no allocation while recording.

/// Sub-buckets per power of two (and the width of the exact range).
const SUB: u64 = 64;
const SUB_BITS: u32 = 6;
/// Enough buckets for values up to 2^40 ns (about 18 minutes).
const BUCKETS: usize = ((40 - SUB_BITS as usize) + 1) * SUB as usize;

/// Counts of nanosecond latencies.
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            total: 0,
            max: 0,
        }
    }
}

fn index(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let exp = 63 - v.leading_zeros(); // >= SUB_BITS
    let sub = (v >> (exp - SUB_BITS)) & (SUB - 1);
    let i = ((exp - SUB_BITS + 1) as u64 * SUB + sub) as usize;
    i.min(BUCKETS - 1)
}

/// The midpoint of bucket `i`'s range.
fn value(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i;
    }
    let exp = (i / SUB) as u32 + SUB_BITS - 1;
    let sub = i % SUB;
    let low = (1 << exp) | (sub << (exp - SUB_BITS));
    low + (1 << (exp - SUB_BITS)) / 2
}

impl Histogram {
    /// Records one latency of `ns` nanoseconds.
    pub fn record(&mut self, ns: u64) {
        self.counts[index(ns)] += 1;
        self.total += 1;
        self.max = self.max.max(ns);
    }

    /// Values recorded.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Largest value recorded (exact).
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The value at quantile `q` (0.0–1.0), in nanoseconds; 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return value(i).min(self.max);
            }
        }
        self.max
    }

    /// Non-empty buckets as `(midpoint ns, count)`, smallest first.
    pub fn buckets(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|&(_, &c)| c > 0)
            .map(|(i, &c)| (value(i), c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_the_bucket_precision() {
        let mut h = Histogram::default();
        for v in 1..=100_000u64 {
            h.record(v * 1000);
        }
        for (q, want) in [
            (0.5, 50_000_000.0),
            (0.99, 99_000_000.0),
            (0.999, 99_900_000.0),
        ] {
            let got = h.quantile(q) as f64;
            assert!((got - want).abs() / want < 0.02, "q{q}: {got} vs {want}");
        }
        assert_eq!(h.max(), 100_000_000);
        assert_eq!(h.len(), 100_000);
    }

    #[test]
    fn index_and_value_agree() {
        for v in [0u64, 1, 63, 64, 65, 127, 128, 1000, 123_456_789] {
            let mid = value(index(v));
            assert!(
                mid.abs_diff(v) as f64 <= v as f64 / 64.0 + 1.0,
                "{v} -> {mid}"
            );
        }
    }
}
