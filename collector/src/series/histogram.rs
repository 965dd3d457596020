//! Histogram steps: observations per bucket bound added up across a group, then `count`,
//! `rate` or a quantile interpolated as Prometheus' `histogram_quantile` does. Explicit and
//! exponential histograms alike become cumulative counts per upper bound (`le`), the last
//! bound `+Inf`; a step adds up what each series grew by per bound, as sums grow.

use std::collections::BTreeMap;

use super::{Agg, Steps};
use crate::model::{ExponentialValue, HistogramValue, PointValue, SeriesPoint, Temporality};

/// An upper bound, ordered as numbers (bounds are never NaN).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Le(f64);

impl Eq for Le {}

impl PartialOrd for Le {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Le {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Cumulative observations at or below each bound, bounds increasing, the last `+Inf`.
type Cumulative = Vec<(f64, f64)>;

fn explicit(h: &HistogramValue) -> Cumulative {
    let mut out = Vec::with_capacity(h.bucket_counts.len().max(1));
    let mut running = 0.0;
    for (i, count) in h.bucket_counts.iter().enumerate() {
        running += *count as f64;
        let le = h.explicit_bounds.get(i).copied().unwrap_or(f64::INFINITY);
        out.push((le, running));
    }
    if out.last().is_none_or(|(le, _)| le.is_finite()) {
        out.push((f64::INFINITY, h.count as f64));
    }
    out
}

/// Bucket `j` of the positive range holds `(base^j, base^(j+1)]`, `base = 2^(2^-scale)`; the
/// negative range mirrors it; the zero bucket's bound is taken as 0.
fn exponential(e: &ExponentialValue) -> Cumulative {
    let bound = |index: i64| (index as f64 * (-f64::from(e.scale)).exp2()).exp2();
    let mut out = Vec::new();
    let mut running = 0.0;
    // Most negative first: negative bucket j holds [-base^(j+1), -base^j).
    for (k, count) in e.negative_bucket_counts.iter().enumerate().rev() {
        running += *count as f64;
        out.push((-bound(i64::from(e.negative_offset) + k as i64), running));
    }
    running += e.zero_count as f64;
    out.push((0.0, running));
    for (k, count) in e.positive_bucket_counts.iter().enumerate() {
        running += *count as f64;
        out.push((bound(i64::from(e.positive_offset) + k as i64 + 1), running));
    }
    out.push((f64::INFINITY, e.count as f64));
    out
}

/// The cumulative count of `c` at `le`: that of its greatest bound not above `le`.
fn at(c: &Cumulative, le: f64) -> f64 {
    c.iter()
        .take_while(|(bound, _)| *bound <= le)
        .last()
        .map_or(0.0, |(_, count)| *count)
}

fn reading(point: &SeriesPoint) -> Option<(Cumulative, Temporality)> {
    match &point.value {
        PointValue::Histogram(h) => Some((explicit(h), h.temporality)),
        PointValue::ExponentialHistogram(e) => Some((exponential(e), e.temporality)),
        _ => None,
    }
}

/// What a series' observations grew by at each point, per bound, like sums grow
/// ([`super::counter::growth`]): a reset is a later start time or a lower total count.
fn growth(series: &[SeriesPoint], read_from: i64) -> Vec<(i64, Cumulative)> {
    let mut out = Vec::with_capacity(series.len());
    let mut previous: Option<(&SeriesPoint, Cumulative)> = None;
    for point in series {
        let Some((now, temporality)) = reading(point) else {
            continue;
        };
        if !point.has_value() {
            previous = None;
            continue;
        }
        let total = |c: &Cumulative| c.last().map_or(0.0, |(_, n)| *n);
        let grown = match (temporality, &previous) {
            (Temporality::Delta, _) => Some(now.clone()),
            (Temporality::Cumulative, Some((before, counts))) => {
                let reset =
                    point.start_time_ns > before.start_time_ns || total(&now) < total(counts);
                Some(if reset {
                    now.clone()
                } else {
                    now.iter()
                        .map(|(le, n)| (*le, (n - at(counts, *le)).max(0.0)))
                        .collect()
                })
            }
            (Temporality::Cumulative, None) => {
                (point.start_time_ns > 0 && point.start_time_ns >= read_from).then(|| now.clone())
            }
        };
        if let Some(grown) = grown {
            out.push((point.time_ns, grown));
        }
        previous = Some((point, now));
    }
    out
}

/// One value per step of `steps` for the group's `series` (each sorted by time).
pub(super) fn steps(
    series: &[&[SeriesPoint]],
    agg: Agg,
    steps: &Steps,
    read_from: i64,
) -> Vec<Option<f64>> {
    let mut merged: Vec<Option<BTreeMap<Le, f64>>> = vec![None; steps.count()];
    for s in series {
        for (time, grown) in growth(s, read_from) {
            if let Some(i) = steps.index(time) {
                let step = merged[i].get_or_insert_with(BTreeMap::new);
                for (le, n) in grown {
                    *step.entry(Le(le)).or_insert(0.0) += n;
                }
            }
        }
    }
    merged
        .into_iter()
        .map(|step| {
            let buckets: Vec<(f64, f64)> = step?.into_iter().map(|(le, n)| (le.0, n)).collect();
            let total = buckets.last().map_or(0.0, |(_, n)| *n);
            match agg {
                Agg::Count => Some(total),
                Agg::Rate => Some(total / steps.seconds()),
                Agg::Quantile(q) => quantile(q, buckets),
                _ => None,
            }
        })
        .collect()
}

/// Prometheus' `bucketQuantile`: the bucket that holds rank `q · total`, interpolated
/// linearly between its lower and upper bound (the lowest bucket starts at 0 when its bound is
/// positive); a rank in the `+Inf` bucket answers the highest finite bound. Counts are made
/// monotonic first. `None` without observations or with fewer than two buckets.
fn quantile(q: f64, mut buckets: Vec<(f64, f64)>) -> Option<f64> {
    if buckets.len() < 2 || buckets.last().is_none_or(|(le, _)| *le != f64::INFINITY) {
        return None;
    }
    for i in 1..buckets.len() {
        if buckets[i].1 < buckets[i - 1].1 {
            buckets[i].1 = buckets[i - 1].1;
        }
    }
    let total = buckets[buckets.len() - 1].1;
    if total <= 0.0 {
        return None;
    }
    let mut rank = q * total;
    let last = buckets.len() - 1;
    let b = buckets[..last]
        .iter()
        .position(|(_, n)| *n >= rank)
        .unwrap_or(last);
    if b == last {
        return Some(buckets[last - 1].0);
    }
    if b == 0 && buckets[0].0 <= 0.0 {
        return Some(buckets[0].0);
    }
    let (mut start, end, mut count) = (0.0, buckets[b].0, buckets[b].1);
    if b > 0 {
        start = buckets[b - 1].0;
        count -= buckets[b - 1].1;
        rank -= buckets[b - 1].1;
    }
    Some(start + (end - start) * (rank / count))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_interpolates_within_the_bucket_as_prometheus_does() {
        // 10 observations <= 1, 10 more <= 2, 0 more <= 4, none above.
        let buckets = vec![(1.0, 10.0), (2.0, 20.0), (4.0, 20.0), (f64::INFINITY, 20.0)];
        assert_eq!(quantile(0.5, buckets.clone()), Some(1.0));
        assert_eq!(quantile(0.25, buckets.clone()), Some(0.5));
        assert_eq!(quantile(0.75, buckets.clone()), Some(1.5));
        // A rank in +Inf answers the highest finite bound.
        let tail = vec![(1.0, 1.0), (f64::INFINITY, 10.0)];
        assert_eq!(quantile(0.99, tail), Some(1.0));
        assert_eq!(quantile(0.5, vec![(f64::INFINITY, 3.0)]), None);
        assert_eq!(quantile(0.5, vec![(1.0, 0.0), (f64::INFINITY, 0.0)]), None);
    }

    #[test]
    fn exponential_buckets_become_cumulative_bounds() {
        let e = ExponentialValue {
            count: 6,
            sum: 0.0,
            scale: 0,
            zero_count: 1,
            positive_offset: 1,
            positive_bucket_counts: vec![2, 3],
            negative_offset: 0,
            negative_bucket_counts: vec![0],
            min: 0.0,
            max: 0.0,
            temporality: Temporality::Delta,
        };
        // Scale 0: base 2; positive bucket 1 holds (2, 4], bucket 2 (4, 8].
        assert_eq!(
            exponential(&e),
            vec![
                (-1.0, 0.0),
                (0.0, 1.0),
                (4.0, 3.0),
                (8.0, 6.0),
                (f64::INFINITY, 6.0)
            ]
        );
    }

    #[test]
    fn explicit_buckets_end_at_inf_with_the_count() {
        let h = HistogramValue {
            count: 5,
            sum: 0.0,
            bucket_counts: vec![1, 2, 2],
            explicit_bounds: vec![10.0, 20.0],
            min: 0.0,
            max: 0.0,
            temporality: Temporality::Delta,
        };
        assert_eq!(
            explicit(&h),
            vec![(10.0, 1.0), (20.0, 3.0), (f64::INFINITY, 5.0)]
        );
    }
}
