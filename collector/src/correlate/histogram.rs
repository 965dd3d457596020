//! Latency histograms: counts of durations in logarithmic bins. Histograms add up (minutes into
//! hours, message types into all), so the dashboard's percentiles can come from stored
//! per-minute rollups instead of every round trip, and any percentile is within 1% of the exact
//! nearest-rank value.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Serialize;

use tracewire_semconv::latency::{self, FLOOR_NS, GAMMA};

/// p50, p95 and p99 of a set of durations, nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: i64,
    /// 95th percentile.
    pub p95: i64,
    /// 99th percentile.
    pub p99: i64,
}

/// Durations counted per bin. Bin `k > 0` holds `[FLOOR·γ^(k−1), FLOOR·γ^k)`, each bound
/// rounded up to a whole nanosecond ([`bin_bounds`]), bin `−k` the same negated, so bins sort
/// as their values do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    bins: BTreeMap<i32, u64>,
}

/// A stored histogram that cannot be read back.
#[derive(Debug, thiserror::Error)]
#[error("damaged latency histogram: {0}")]
pub struct DecodeError(&'static str);

/// A bin index that no duration falls in: its magnitude is beyond the last bin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("latency histogram bin {0} out of range (the bins go from -{max} to {max})", max = bin_bounds().len())]
pub struct BinError(pub i64);

/// The lower bound of each bin `k > 0`, at index `k − 1` ([`latency::bin_lower_bounds`], which
/// the browser SDK's counts use too), up to the largest magnitude of an `i64`. A duration's bin
/// is the number of bounds at or below its magnitude, compared as integers, so any engine that
/// is given these bounds puts a duration in the same bin: a logarithm alone does not, as
/// engines' `ln` differ in the last bit and a value near a bound then lands on either side.
pub fn bin_bounds() -> &'static [u64] {
    static BOUNDS: LazyLock<Vec<u64>> = LazyLock::new(|| {
        let mut bounds = Vec::new();
        latency::bin_lower_bounds(|b| bounds.push(b));
        bounds
    });
    &BOUNDS
}

fn bin(value_ns: i64) -> i32 {
    // About 1,860 bounds up to i64::MAX: fits.
    let k = bin_bounds().partition_point(|&low| low <= value_ns.unsigned_abs()) as i32;
    if value_ns < 0 { -k } else { k }
}

fn midpoint(bin: i32) -> i64 {
    if bin == 0 {
        return 0;
    }
    let low = FLOOR_NS * GAMMA.powi(bin.abs() - 1);
    let value = (low * (1.0 + GAMMA) / 2.0).round() as i64;
    if bin < 0 { -value } else { value }
}

impl Histogram {
    /// Counts one duration.
    pub fn add(&mut self, value_ns: i64) {
        *self.bins.entry(bin(value_ns)).or_default() += 1;
    }

    /// A histogram with these counts per bin (as [`Histogram::add`] numbers bins, e.g. counted
    /// by a database given [`bin_bounds`]); counts of the same bin add up.
    pub fn from_bins(bins: impl IntoIterator<Item = (i32, u64)>) -> Self {
        let mut out = Self::default();
        for (bin, count) in bins.into_iter().filter(|&(_, count)| count > 0) {
            *out.bins.entry(bin).or_default() += count;
        }
        out
    }

    /// Counts `count` durations in bin `bin` (numbered as [`Histogram::add`] numbers them, e.g.
    /// counted elsewhere with the same bins); a bin no duration falls in is an error and
    /// changes nothing. Counts saturate at `u64::MAX`.
    pub fn add_to_bin(&mut self, bin: i64, count: u64) -> Result<(), BinError> {
        let max = bin_bounds().len() as u64;
        let index = i32::try_from(bin)
            .ok()
            .filter(|b| u64::from(b.unsigned_abs()) <= max)
            .ok_or(BinError(bin))?;
        if count > 0 {
            let slot = self.bins.entry(index).or_default();
            *slot = slot.saturating_add(count);
        }
        Ok(())
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (&bin, &count) in &other.bins {
            *self.bins.entry(bin).or_default() += count;
        }
    }

    /// How many durations were counted.
    pub fn count(&self) -> u64 {
        self.bins.values().sum()
    }

    /// Nearest-rank percentiles, each the midpoint of its bin; `None` when empty.
    pub fn percentiles(&self) -> Option<Percentiles> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let ranks = [0.50, 0.95, 0.99].map(|p: f64| ((p * n as f64).ceil() as u64).clamp(1, n));
        let mut values = [0i64; 3];
        let mut next = 0;
        let mut seen = 0;
        for (&bin, &count) in &self.bins {
            seen += count;
            while next < ranks.len() && seen >= ranks[next] {
                values[next] = midpoint(bin);
                next += 1;
            }
        }
        Some(Percentiles {
            p50: values[0],
            p95: values[1],
            p99: values[2],
        })
    }

    /// The bins as bytes: per non-empty bin, its index (zigzag) and count, as LEB128 varints.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.bins.len() * 3);
        for (&bin, &count) in &self.bins {
            put_varint(&mut out, u64::from(((bin << 1) ^ (bin >> 31)) as u32));
            put_varint(&mut out, count);
        }
        out
    }

    /// Reads back what [`Histogram::encode`] wrote.
    pub fn decode(mut bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut bins = BTreeMap::new();
        while !bytes.is_empty() {
            let zigzag = u32::try_from(take_varint(&mut bytes)?)
                .map_err(|_| DecodeError("bin index out of range"))?;
            let bin = ((zigzag >> 1) as i32) ^ -((zigzag & 1) as i32);
            let count = take_varint(&mut bytes)?;
            *bins.entry(bin).or_default() += count;
        }
        Ok(Self { bins })
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn take_varint(bytes: &mut &[u8]) -> Result<u64, DecodeError> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes.split_first().ok_or(DecodeError("truncated varint"))?;
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(DecodeError("varint longer than 64 bits"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 1_000_000;

    fn of(values: impl IntoIterator<Item = i64>) -> Histogram {
        let mut h = Histogram::default();
        values.into_iter().for_each(|v| h.add(v));
        h
    }

    /// Exact nearest-rank percentile of sorted values.
    fn exact(sorted: &[i64], p: f64) -> i64 {
        let index = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
        sorted[index]
    }

    #[test]
    fn percentiles_are_within_one_percent_of_the_exact_ones() {
        // A long-tailed spread from 50 µs to about 20 s.
        let mut values: Vec<i64> = (0..5_000i64)
            .map(|i| 50_000 + (i * i * i) % 20_000_000_000 + i * 7_919)
            .collect();
        let p = of(values.iter().copied()).percentiles().expect("counted");
        values.sort_unstable();
        for (got, q) in [(p.p50, 0.50), (p.p95, 0.95), (p.p99, 0.99)] {
            let want = exact(&values, q);
            let error = (got - want).abs() as f64 / want as f64;
            assert!(error <= 0.01, "p{q}: {got} against {want} ({error})");
        }
    }

    #[test]
    fn nearest_rank_over_bins() {
        // 100 values 1..=100 ms: p50 is 50 ms, p95 95 ms, p99 99 ms, each within 1%.
        let p = of((1..=100).map(|i| i * MS))
            .percentiles()
            .expect("counted");
        for (got, want) in [(p.p50, 50 * MS), (p.p95, 95 * MS), (p.p99, 99 * MS)] {
            assert!((got - want).abs() * 100 <= want, "{got} against {want}");
        }
        assert_eq!(Histogram::default().percentiles(), None);
        let one = of([7 * MS]).percentiles().expect("counted");
        assert_eq!((one.p50, one.p95, one.p99), (one.p50, one.p50, one.p50));
    }

    #[test]
    fn negative_and_tiny_durations_sort_below_positive_ones() {
        let p = of([-5 * MS, -5 * MS, 300, 2 * MS])
            .percentiles()
            .expect("counted");
        assert!((p.p50 + 5 * MS).abs() * 100 <= 5 * MS, "{}", p.p50);
        assert_eq!(of([300, 300, 900]).percentiles().expect("counted").p99, 0);
        assert!(bin(-2 * MS) < bin(-MS) && bin(-MS) < bin(0) && bin(0) < bin(MS));
        assert!(bin(i64::MAX) > 0 && bin(i64::MIN) < 0);
    }

    #[test]
    fn bins_split_at_whole_nanosecond_bounds_that_follow_the_logarithm() {
        let bounds = bin_bounds();
        assert_eq!(bounds[..3], [1_000, 1_020, 1_041]);
        assert!(bounds.windows(2).all(|w| w[0] < w[1]));
        for (index, &low) in bounds.iter().enumerate() {
            let k = index as i32 + 1;
            let low = i64::try_from(low).unwrap_or(i64::MAX);
            assert_eq!((bin(low), bin(low - 1)), (k, k - 1), "bound {low}");
            assert_eq!((bin(-low), bin(1 - low)), (-k, 1 - k), "bound -{low}");
            let exact = FLOOR_NS * GAMMA.powf(f64::from(k - 1));
            assert!(
                (low as f64 - exact).abs() <= 1.0 + exact * 1e-12,
                "{low} {exact}"
            );
            // Away from the bounds, the bin is the logarithm's.
            let middle = low as f64 * (1.0 + GAMMA) / 2.0;
            let by_ln = 1 + ((middle / FLOOR_NS).ln() / GAMMA.ln()).floor() as i32;
            assert_eq!(bin(middle as i64), by_ln, "{middle}");
        }
        assert_eq!(bin(i64::MIN), -(bounds.len() as i32));
        assert_eq!(bin(999), 0);
    }

    #[test]
    fn histogram_from_bins_equals_one_that_counted_the_values() {
        let h = of([-3 * MS, 0, 500, 1_500, 1_500, 7 * MS]);
        let mut pairs: Vec<(i32, u64)> = h.bins.iter().map(|(&b, &c)| (b, c)).collect();
        assert_eq!(Histogram::from_bins(pairs.clone()), h);
        // Split counts add up; empty bins are not kept.
        let (bin, count) = pairs.pop().expect("non-empty");
        pairs.extend([(bin, count - 1), (bin, 1), (bin + 5, 0)]);
        assert_eq!(Histogram::from_bins(pairs), h);
    }

    #[test]
    fn counts_added_to_a_bin_equal_the_durations_counted_there() {
        let values = [0, 700, 1_500, 1_500, 12 * MS, 12 * MS, 12 * MS, i64::MAX];
        let mut added = Histogram::default();
        for v in values {
            added.add_to_bin(i64::from(bin(v)), 1).expect("a bin");
        }
        assert_eq!(added, of(values));
        let mut at_once = Histogram::default();
        at_once
            .add_to_bin(i64::from(bin(12 * MS)), 3)
            .expect("a bin");
        assert_eq!(at_once, of([12 * MS; 3]));
        at_once.add_to_bin(7, 0).expect("a bin");
        assert_eq!(at_once, of([12 * MS; 3]), "no empty bins kept");
        let last = bin_bounds().len() as i64;
        assert!(at_once.add_to_bin(last, 1).is_ok() && at_once.add_to_bin(-last, 1).is_ok());
        for beyond in [last + 1, -last - 1, i64::from(i32::MAX) + 1, i64::MIN] {
            let before = at_once.clone();
            assert_eq!(at_once.add_to_bin(beyond, 1), Err(BinError(beyond)));
            assert_eq!(at_once, before, "unchanged");
        }
    }

    #[test]
    fn merged_histograms_equal_one_over_all_values() {
        let (a, b): (Vec<i64>, Vec<i64>) =
            (1..2_000).map(|i| (i * 3_731 * MS / 1000, i * MS)).unzip();
        let mut merged = of(a.iter().copied());
        merged.merge(&of(b.iter().copied()));
        assert_eq!(merged, of(a.into_iter().chain(b)));
        assert_eq!(merged.count(), 3_998);
    }

    #[test]
    fn encoding_round_trips_and_damage_is_an_error() {
        let h = of([-40 * MS, 0, 1_500, 12 * MS, 12 * MS, 9_000 * MS, i64::MAX]);
        assert_eq!(Histogram::decode(&h.encode()).expect("decodes"), h);
        assert_eq!(
            Histogram::decode(&[]).expect("decodes"),
            Histogram::default()
        );
        let mut cut = h.encode();
        cut.pop();
        assert!(Histogram::decode(&cut).is_err());
        assert!(Histogram::decode(&[0xff; 11]).is_err());
    }
}
