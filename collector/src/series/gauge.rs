//! Gauge aggregations: each step's `avg`, `min`, `max`, `sum` or `last` of the values of every
//! point of the group in it (sums that may go down take these too).

use super::{Agg, Steps};
use crate::model::{PointValue, SeriesPoint};

#[derive(Clone, Copy)]
struct Step {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    /// Time and value of the latest point.
    last: (i64, f64),
}

/// One value per step of `steps` for the group's `series` (each sorted by time).
pub(super) fn steps(series: &[&[SeriesPoint]], agg: Agg, steps: &Steps) -> Vec<Option<f64>> {
    let mut out: Vec<Option<Step>> = vec![None; steps.count()];
    for point in series.iter().flat_map(|s| s.iter()) {
        let value = match point.value {
            PointValue::Gauge { value } | PointValue::Sum { value, .. } => value,
            _ => continue,
        };
        if !point.has_value() || value.is_nan() {
            continue;
        }
        let Some(i) = steps.index(point.time_ns) else {
            continue;
        };
        let step = out[i].get_or_insert(Step {
            count: 0,
            sum: 0.0,
            min: value,
            max: value,
            last: (point.time_ns, value),
        });
        step.count += 1;
        step.sum += value;
        step.min = step.min.min(value);
        step.max = step.max.max(value);
        // Later series win ties, so the answer depends only on the sorted points.
        if point.time_ns >= step.last.0 {
            step.last = (point.time_ns, value);
        }
    }
    out.into_iter()
        .map(|step| {
            step.map(|s| match agg {
                Agg::Avg => s.sum / s.count as f64,
                Agg::Min => s.min,
                Agg::Max => s.max,
                Agg::Sum => s.sum,
                _ => s.last.1,
            })
        })
        .collect()
}
