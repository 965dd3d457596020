//! Metric data points into SQLite's five `metrics_*` tables (one per [`MetricKind`]) and back:
//! the columns every table shares, then each type's own, in the order of schema migration 6.
//! Times are kept in whole seconds like the ClickHouse exporter's `DateTime` columns, so both
//! engines hold, and answer from, the same values.

use rusqlite::{Row, ToSql, Transaction};

use super::encode::json;
use super::error::SqliteError;
use crate::model::{
    Attributes, Batch, Exemplar, ExponentialValue, HistogramValue, MetricKind, MetricPoint,
    PointValue, SeriesPoint, SummaryValue, Temporality,
};

/// Nanoseconds per second.
const NS: i64 = 1_000_000_000;

/// The table of a metric type.
pub(super) fn table(kind: MetricKind) -> &'static str {
    match kind {
        MetricKind::Gauge => "metrics_gauge",
        MetricKind::Sum => "metrics_sum",
        MetricKind::Histogram => "metrics_histogram",
        MetricKind::ExponentialHistogram => "metrics_exponential_histogram",
        MetricKind::Summary => "metrics_summary",
    }
}

/// The columns every metrics table starts with, in insert order.
const COMMON_COLUMNS: &str = "tenant, service_name, metric_name, metric_description, metric_unit, \
    resource_attributes, resource_schema_url, scope_name, scope_version, scope_attributes, \
    scope_dropped_attr_count, scope_schema_url, attributes, start_time_unix, time_unix, flags";

/// Each type's own columns, in insert order.
fn own_columns(kind: MetricKind) -> &'static str {
    match kind {
        MetricKind::Gauge => "value, exemplars",
        MetricKind::Sum => "value, exemplars, aggregation_temporality, is_monotonic",
        MetricKind::Histogram => {
            "count, sum, bucket_counts, explicit_bounds, exemplars, min, max, aggregation_temporality"
        }
        MetricKind::ExponentialHistogram => {
            "count, sum, scale, zero_count, positive_offset, positive_bucket_counts, \
             negative_offset, negative_bucket_counts, exemplars, min, max, aggregation_temporality"
        }
        MetricKind::Summary => "count, sum, value_at_quantiles",
    }
}

/// What series read of a row, in select order; the type's own columns follow
/// [`SERIES_COLUMNS`] as in [`own_columns`].
pub(super) const SERIES_COLUMNS: &str =
    "service_name, resource_attributes, attributes, start_time_unix, time_unix, flags";

/// The SELECT list of a series read of `kind`.
pub(super) fn series_columns(kind: MetricKind) -> String {
    format!("{SERIES_COLUMNS}, {}", own_columns(kind))
}

/// Whole seconds, as the exporter's `DateTime` columns keep a time.
pub(super) fn seconds(ns: i64) -> i64 {
    ns.div_euclid(NS)
}

/// Inserts the batch's data points, each into its type's table.
pub(super) fn insert(tx: &Transaction<'_>, batch: &Batch) -> Result<(), SqliteError> {
    for kind in MetricKind::ALL {
        let mut points = batch
            .metrics
            .iter()
            .filter(|p| p.value.kind() == kind)
            .peekable();
        if points.peek().is_none() {
            continue;
        }
        let columns = format!("{COMMON_COLUMNS}, {}", own_columns(kind));
        let count = columns.split(',').count();
        let placeholders = vec!["?"; count].join(", ");
        let mut stmt = tx.prepare_cached(&format!(
            "INSERT INTO {} ({columns}) VALUES ({placeholders})",
            table(kind)
        ))?;
        for point in points {
            let row = Common::of(point)?;
            let own = Own::of(point)?;
            let mut values = row.values();
            values.extend(own.values());
            stmt.execute(values.as_slice())?;
        }
    }
    Ok(())
}

/// The shared columns of one point, ready to bind.
struct Common<'a> {
    point: &'a MetricPoint,
    resource_attributes: String,
    scope_attributes: String,
    attributes: String,
    start: i64,
    time: i64,
}

impl<'a> Common<'a> {
    fn of(point: &'a MetricPoint) -> Result<Self, SqliteError> {
        Ok(Self {
            point,
            resource_attributes: json(&point.source.resource_attributes)?,
            scope_attributes: json(&point.source.scope_attributes)?,
            attributes: json(&point.attributes)?,
            start: seconds(point.start_time_ns),
            time: seconds(point.time_ns),
        })
    }

    fn values(&self) -> Vec<&dyn ToSql> {
        let p = self.point;
        vec![
            &p.tenant,
            &p.source.service_name,
            &p.metric.name,
            &p.metric.description,
            &p.metric.unit,
            &self.resource_attributes,
            &p.source.resource_schema_url,
            &p.source.scope_name,
            &p.source.scope_version,
            &self.scope_attributes,
            &p.source.scope_dropped_attr_count,
            &p.source.scope_schema_url,
            &self.attributes,
            &self.start,
            &self.time,
            &p.flags,
        ]
    }
}

/// A stored exemplar: its time in whole seconds, like the exporter's.
#[derive(serde::Serialize)]
struct StoredExemplar<'a> {
    filtered_attributes: &'a Attributes,
    time_unix: i64,
    value: f64,
    span_id: &'a str,
    trace_id: &'a str,
}

fn exemplars(list: &[Exemplar]) -> Result<String, SqliteError> {
    let stored: Vec<_> = list
        .iter()
        .map(|e| StoredExemplar {
            filtered_attributes: &e.filtered_attributes,
            time_unix: seconds(e.time_ns),
            value: e.value,
            span_id: &e.span_id,
            trace_id: &e.trace_id,
        })
        .collect();
    json(&stored)
}

/// A point's own columns, ready to bind.
enum Own<'a> {
    Gauge(f64, String),
    Sum(f64, String, i32, bool),
    Histogram(&'a HistogramValue, i64, [String; 3], i32),
    Exponential(&'a ExponentialValue, [i64; 2], [String; 3], i32),
    Summary(&'a SummaryValue, i64, String),
}

impl<'a> Own<'a> {
    fn of(point: &'a MetricPoint) -> Result<Self, SqliteError> {
        let ex = exemplars(&point.exemplars)?;
        Ok(match &point.value {
            PointValue::Gauge { value } => Self::Gauge(*value, ex),
            PointValue::Sum {
                value,
                temporality,
                monotonic,
            } => Self::Sum(*value, ex, temporality.otlp(), *monotonic),
            PointValue::Histogram(h) => Self::Histogram(
                h,
                integer(h.count),
                [json(&h.bucket_counts)?, json(&h.explicit_bounds)?, ex],
                h.temporality.otlp(),
            ),
            PointValue::ExponentialHistogram(e) => Self::Exponential(
                e,
                [integer(e.count), integer(e.zero_count)],
                [
                    json(&e.positive_bucket_counts)?,
                    json(&e.negative_bucket_counts)?,
                    ex,
                ],
                e.temporality.otlp(),
            ),
            PointValue::Summary(s) => Self::Summary(s, integer(s.count), json(&s.quantiles)?),
        })
    }

    fn values(&self) -> Vec<&dyn ToSql> {
        match self {
            Self::Gauge(value, ex) => vec![value, ex],
            Self::Sum(value, ex, temporality, monotonic) => vec![value, ex, temporality, monotonic],
            Self::Histogram(h, count, [counts, bounds, ex], temporality) => vec![
                count,
                &h.sum,
                counts,
                bounds,
                ex,
                &h.min,
                &h.max,
                temporality,
            ],
            Self::Exponential(e, [count, zero_count], [positive, negative, ex], temporality) => {
                vec![
                    count,
                    &e.sum,
                    &e.scale,
                    zero_count,
                    &e.positive_offset,
                    positive,
                    &e.negative_offset,
                    negative,
                    ex,
                    &e.min,
                    &e.max,
                    temporality,
                ]
            }
            Self::Summary(s, count, quantiles) => vec![count, &s.sum, quantiles],
        }
    }
}

/// SQLite integers are signed; counts beyond `i64::MAX` cannot be sent in OTLP's practice.
fn integer(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A series point from a row selected with [`series_columns`] of `kind`.
pub(super) fn series_point(row: &Row<'_>, kind: MetricKind) -> Result<SeriesPoint, SqliteError> {
    let text = |i: usize| -> Result<String, SqliteError> { Ok(row.get::<_, String>(i)?) };
    let parse =
        |i: usize| -> Result<Attributes, SqliteError> { Ok(serde_json::from_str(&text(i)?)?) };
    let real = |i: usize| -> Result<f64, SqliteError> {
        Ok(row.get::<_, Option<f64>>(i)?.unwrap_or(f64::NAN))
    };
    let list = |i: usize| -> Result<Vec<u64>, SqliteError> { Ok(serde_json::from_str(&text(i)?)?) };
    let count = |i: usize| -> Result<u64, SqliteError> {
        Ok(u64::try_from(row.get::<_, i64>(i)?).unwrap_or(0))
    };
    let temporality = |i: usize| -> Result<Temporality, SqliteError> {
        Ok(Temporality::from_otlp(row.get(i)?).unwrap_or(Temporality::Cumulative))
    };
    const OWN: usize = 6;
    let value = match kind {
        MetricKind::Gauge => PointValue::Gauge { value: real(OWN)? },
        MetricKind::Sum => PointValue::Sum {
            value: real(OWN)?,
            temporality: temporality(OWN + 2)?,
            monotonic: row.get(OWN + 3)?,
        },
        MetricKind::Histogram => PointValue::Histogram(HistogramValue {
            count: count(OWN)?,
            sum: real(OWN + 1)?,
            bucket_counts: list(OWN + 2)?,
            explicit_bounds: serde_json::from_str(&text(OWN + 3)?)?,
            min: real(OWN + 5)?,
            max: real(OWN + 6)?,
            temporality: temporality(OWN + 7)?,
        }),
        MetricKind::ExponentialHistogram => PointValue::ExponentialHistogram(ExponentialValue {
            count: count(OWN)?,
            sum: real(OWN + 1)?,
            scale: row.get(OWN + 2)?,
            zero_count: count(OWN + 3)?,
            positive_offset: row.get(OWN + 4)?,
            positive_bucket_counts: list(OWN + 5)?,
            negative_offset: row.get(OWN + 6)?,
            negative_bucket_counts: list(OWN + 7)?,
            min: real(OWN + 9)?,
            max: real(OWN + 10)?,
            temporality: temporality(OWN + 11)?,
        }),
        MetricKind::Summary => PointValue::Summary(SummaryValue {
            count: count(OWN)?,
            sum: real(OWN + 1)?,
            quantiles: serde_json::from_str(&text(OWN + 2)?)?,
        }),
    };
    Ok(SeriesPoint {
        service_name: text(0)?,
        resource_attributes: parse(1)?,
        attributes: parse(2)?,
        start_time_ns: row.get::<_, i64>(3)? * NS,
        time_ns: row.get::<_, i64>(4)? * NS,
        flags: row.get(5)?,
        value,
    })
}
