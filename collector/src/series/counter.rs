//! Growth of sums (and of summaries' observation counts) per step: `increase` and `rate`.

use super::{Agg, Steps};
use crate::model::{PointValue, SeriesPoint, Temporality};

/// A point as a counter: its value, whether it is cumulative and whether it only grows.
fn reading(point: &SeriesPoint) -> Option<(f64, Temporality, bool)> {
    match &point.value {
        PointValue::Sum {
            value,
            temporality,
            monotonic,
        } => Some((*value, *temporality, *monotonic)),
        // Summaries' counts are cumulative since the start time.
        PointValue::Summary(s) => Some((s.count as f64, Temporality::Cumulative, true)),
        _ => None,
    }
}

/// What a series grew by at each of its points, with the point's time: deltas as they are;
/// cumulative values less the previous value, or whole after a reset (a later start time, or
/// a lower value of a monotonic sum) and at a first point whose start is at or after
/// `read_from`. A point without a recorded value ends the run (the series went stale).
pub(super) fn growth(series: &[SeriesPoint], read_from: i64) -> Vec<(i64, f64)> {
    let mut out = Vec::with_capacity(series.len());
    let mut previous: Option<(&SeriesPoint, f64)> = None;
    for point in series {
        let Some((value, temporality, monotonic)) = reading(point) else {
            continue;
        };
        if !point.has_value() || value.is_nan() {
            previous = None;
            continue;
        }
        let grown = match (temporality, previous) {
            (Temporality::Delta, _) => Some(value),
            (Temporality::Cumulative, Some((before, before_value))) => {
                let reset = point.start_time_ns > before.start_time_ns
                    || (monotonic && value < before_value);
                Some(if reset { value } else { value - before_value })
            }
            (Temporality::Cumulative, None) => {
                (point.start_time_ns > 0 && point.start_time_ns >= read_from).then_some(value)
            }
        };
        if let Some(grown) = grown {
            out.push((point.time_ns, grown));
        }
        previous = Some((point, value));
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
    let mut out: Vec<Option<f64>> = vec![None; steps.count()];
    for s in series {
        for (time, grown) in growth(s, read_from) {
            if let Some(i) = steps.index(time) {
                *out[i].get_or_insert(0.0) += grown;
            }
        }
    }
    let per_second = steps.seconds();
    out.into_iter()
        .map(|v| v.map(|v| if agg == Agg::Rate { v / per_second } else { v }))
        .collect()
}
