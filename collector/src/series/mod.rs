//! Metric series: the points of one metric, read from any engine, turned into one series per
//! group and step (`GET /api/metrics/series`). The arithmetic is here, once, so that every
//! engine answers alike from the same stored points.
//!
//! A step is `[start + i·step, start + (i+1)·step)`; a point belongs to the step holding its
//! time, and a step without data has no value. A series is one resource (its attributes) and
//! one set of data point attributes; a group is every series with the same values of the
//! `group_by` keys (point attributes first, then resource attributes; `service.name` is the
//! service). What each aggregation means:
//!
//! - Gauges ([`gauge`]): `avg`, `min`, `max` and `sum` of the values of the group's points in the
//!   step, `last` the value of the latest one. Non-monotonic sums (up-down counters) take these
//!   too.
//! - Sums ([`counter`]): `increase` adds up what each series grew by in the step: delta points'
//!   values; for cumulative points the difference from the series' previous point, where a
//!   later start time or (monotonic sums) a lower value is a reset and the whole value counts;
//!   a series' first point counts whole when its start time is inside what was read. `rate` is
//!   the increase per second of step.
//! - Histograms ([`histogram`]), explicit and exponential: the observations of the step (bucket
//!   counts grown, as for sums) added up per bucket bound across the group, and `p50`..`p99`
//!   interpolated within their bucket as Prometheus' `histogram_quantile` does; `count` is the
//!   observations, `rate` observations per second.
//! - Summaries: `count` and `rate` of observations.

pub mod catalog;
mod counter;
mod gauge;
mod histogram;

use std::collections::BTreeMap;

use crate::model::{MetricKind, PointValue, SeriesPoint};

/// Nanoseconds per second.
const NS_PER_S: f64 = 1e9;
/// How far before the window cumulative points are read, at least, so that the first step
/// has the previous point of each series to grow from.
const MIN_LOOKBACK_NS: i64 = 5 * 60 * 1_000_000_000;

/// What a series' steps report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Agg {
    /// Mean of the values.
    Avg,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Sum of the values.
    Sum,
    /// Value of the latest point.
    Last,
    /// Growth per second.
    Rate,
    /// Growth.
    Increase,
    /// Observations.
    Count,
    /// A quantile of the observations, in `(0, 1)`.
    Quantile(f64),
}

impl Agg {
    /// Every aggregation by its name in the query API.
    pub const NAMES: [(&'static str, Agg); 12] = [
        ("avg", Agg::Avg),
        ("min", Agg::Min),
        ("max", Agg::Max),
        ("sum", Agg::Sum),
        ("last", Agg::Last),
        ("rate", Agg::Rate),
        ("increase", Agg::Increase),
        ("count", Agg::Count),
        ("p50", Agg::Quantile(0.5)),
        ("p90", Agg::Quantile(0.9)),
        ("p95", Agg::Quantile(0.95)),
        ("p99", Agg::Quantile(0.99)),
    ];

    /// Parses a name of [`Agg::NAMES`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, a)| *a)
    }

    /// The aggregation's name.
    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, a)| *a == self)
            .map_or("?", |(n, _)| n)
    }

    fn is_gauge_like(self) -> bool {
        matches!(
            self,
            Self::Avg | Self::Min | Self::Max | Self::Sum | Self::Last
        )
    }
}

/// What a metric type accepts, with the default first.
pub fn accepted(kind: MetricKind) -> &'static [&'static str] {
    match kind {
        MetricKind::Gauge => &["avg", "min", "max", "sum", "last"],
        MetricKind::Sum => &["rate", "increase", "avg", "min", "max", "sum", "last"],
        MetricKind::Histogram | MetricKind::ExponentialHistogram => {
            &["p95", "p50", "p90", "p99", "count", "rate"]
        }
        MetricKind::Summary => &["rate", "count"],
    }
}

/// Why an aggregation does not fit a metric.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    /// The type does not take it at all.
    #[error("{kind} metrics take agg {accepted}, not {agg}")]
    Type {
        /// The metric's type.
        kind: &'static str,
        /// The aggregation asked for.
        agg: &'static str,
        /// What the type takes.
        accepted: String,
    },
    /// A gauge aggregation of a monotonic sum (a counter), whose values only mean something
    /// as growth.
    #[error("the metric is a monotonic sum (a counter): use agg rate or increase")]
    Monotonic,
}

/// Checks that `kind` takes `agg`.
pub fn check(kind: MetricKind, agg: Agg) -> Result<(), Mismatch> {
    if accepted(kind).contains(&agg.name()) {
        return Ok(());
    }
    Err(Mismatch::Type {
        kind: kind.as_str(),
        agg: agg.name(),
        accepted: accepted(kind).join("|"),
    })
}

/// The steps of a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Steps {
    /// The first step's start, unix nanoseconds.
    pub start_ns: i64,
    /// The window's end (exclusive), unix nanoseconds.
    pub end_ns: i64,
    /// Each step's length, nanoseconds.
    pub step_ns: i64,
}

impl Steps {
    /// How many steps the window has.
    pub fn count(&self) -> usize {
        let span = (self.end_ns - self.start_ns).max(0);
        usize::try_from((span + self.step_ns - 1) / self.step_ns).unwrap_or(0)
    }

    /// The step holding `time_ns`, if it is in the window.
    fn index(&self, time_ns: i64) -> Option<usize> {
        (time_ns >= self.start_ns && time_ns < self.end_ns)
            .then(|| usize::try_from((time_ns - self.start_ns) / self.step_ns).ok())
            .flatten()
    }

    /// The start of step `i`, unix nanoseconds.
    pub fn time(&self, i: usize) -> i64 {
        self.start_ns + i as i64 * self.step_ns
    }

    fn seconds(&self) -> f64 {
        self.step_ns as f64 / NS_PER_S
    }
}

/// Where points must be read from for `agg` over `steps`: before the window for growth of
/// cumulative points (a step or five minutes, whichever is longer), else the window's start.
pub fn read_from(kind: MetricKind, agg: Agg, steps: &Steps) -> i64 {
    let grows = !agg.is_gauge_like() && kind != MetricKind::Gauge;
    if grows {
        steps.start_ns - steps.step_ns.max(MIN_LOOKBACK_NS)
    } else {
        steps.start_ns
    }
}

/// One series of the answer: its group's labels and a value per step.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The `group_by` keys and their values (keys a group has no value for are left out).
    pub labels: BTreeMap<String, String>,
    /// A value per step; `None` where the step has no data.
    pub values: Vec<Option<f64>>,
}

/// The series of `points` (all of one metric of type `kind`, read from `read_from`) grouped by
/// `group_by` with `agg`, one value per step.
pub fn compute(
    mut points: Vec<SeriesPoint>,
    kind: MetricKind,
    agg: Agg,
    group_by: &[String],
    steps: &Steps,
    read_from: i64,
) -> Result<Vec<Series>, Mismatch> {
    if agg.is_gauge_like()
        && points.iter().any(|p| {
            matches!(
                p.value,
                PointValue::Sum {
                    monotonic: true,
                    ..
                }
            )
        })
    {
        return Err(Mismatch::Monotonic);
    }
    points.sort_by(order);
    let mut groups: BTreeMap<BTreeMap<String, String>, Vec<&[SeriesPoint]>> = BTreeMap::new();
    for series in points.chunk_by(same_series) {
        groups
            .entry(labels(&series[0], group_by))
            .or_default()
            .push(series);
    }
    let n = steps.count();
    Ok(groups
        .into_iter()
        .map(|(labels, series)| {
            let values = match kind {
                _ if agg.is_gauge_like() => gauge::steps(&series, agg, steps),
                MetricKind::Histogram | MetricKind::ExponentialHistogram => {
                    histogram::steps(&series, agg, steps, read_from)
                }
                _ => counter::steps(&series, agg, steps, read_from),
            };
            debug_assert_eq!(values.len(), n);
            Series {
                labels,
                values: values
                    .into_iter()
                    .map(|v| v.filter(|v| v.is_finite()))
                    .collect(),
            }
        })
        .collect())
}

fn same_series(a: &SeriesPoint, b: &SeriesPoint) -> bool {
    a.service_name == b.service_name
        && a.resource_attributes == b.resource_attributes
        && a.attributes == b.attributes
}

/// Series by series, each in time order; points at the same time by value, so that every
/// engine's points come out in one order.
fn order(a: &SeriesPoint, b: &SeriesPoint) -> std::cmp::Ordering {
    (
        &a.service_name,
        &a.resource_attributes,
        &a.attributes,
        a.time_ns,
        a.start_time_ns,
    )
        .cmp(&(
            &b.service_name,
            &b.resource_attributes,
            &b.attributes,
            b.time_ns,
            b.start_time_ns,
        ))
        .then_with(|| tiebreak(&a.value).total_cmp(&tiebreak(&b.value)))
}

fn tiebreak(value: &PointValue) -> f64 {
    match value {
        PointValue::Gauge { value } | PointValue::Sum { value, .. } => *value,
        PointValue::Histogram(h) => h.count as f64,
        PointValue::ExponentialHistogram(e) => e.count as f64,
        PointValue::Summary(s) => s.count as f64,
    }
}

fn labels(point: &SeriesPoint, group_by: &[String]) -> BTreeMap<String, String> {
    group_by
        .iter()
        .filter_map(|key| {
            let value = match key.as_str() {
                "service.name" => Some(&point.service_name),
                _ => point
                    .attributes
                    .get(key)
                    .or_else(|| point.resource_attributes.get(key)),
            };
            value.map(|v| (key.clone(), v.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests;
