//! Metric data points as the collector keeps them: one [`MetricPoint`] per OTLP data point,
//! flattened with its resource, scope and metric, as the OpenTelemetry ClickHouse exporter's
//! `otel_metrics_*` tables hold them (one table per [`MetricKind`]). What many points share (the
//! resource and scope, the metric's name, description and unit) is shared, not copied.

use std::sync::Arc;

use super::Attributes;

/// The five OTLP metric types; each has its own table in both engines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetricKind {
    /// Last value, no aggregation over time.
    Gauge,
    /// A sum over time, cumulative or delta, monotonic or not.
    Sum,
    /// Explicit-bucket histogram.
    Histogram,
    /// Base-2 exponential histogram.
    ExponentialHistogram,
    /// Precomputed quantiles (legacy Prometheus summaries).
    Summary,
}

impl MetricKind {
    /// Every kind, in table order.
    pub const ALL: [Self; 5] = [
        Self::Gauge,
        Self::Sum,
        Self::Histogram,
        Self::ExponentialHistogram,
        Self::Summary,
    ];

    /// The kind's name in the query API (`type` of `GET /api/metrics`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gauge => "gauge",
            Self::Sum => "sum",
            Self::Histogram => "histogram",
            Self::ExponentialHistogram => "exponential_histogram",
            Self::Summary => "summary",
        }
    }

    /// Parses [`MetricKind::as_str`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// How a sum or histogram accumulates (OTLP's `AggregationTemporality`; the stored integer is
/// OTLP's: 1 delta, 2 cumulative).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Temporality {
    /// Each point covers its own interval since the previous one.
    Delta,
    /// Each point covers the time since a fixed start.
    Cumulative,
}

impl Temporality {
    /// OTLP's enum value.
    pub fn otlp(self) -> i32 {
        match self {
            Self::Delta => 1,
            Self::Cumulative => 2,
        }
    }

    /// From OTLP's enum value; `None` for unspecified or unknown values.
    pub fn from_otlp(value: i32) -> Option<Self> {
        match value {
            1 => Some(Self::Delta),
            2 => Some(Self::Cumulative),
            _ => None,
        }
    }
}

/// The resource and instrumentation scope that a group of points came from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricSource {
    /// Resource attributes.
    pub resource_attributes: Attributes,
    /// The resource's schema URL.
    pub resource_schema_url: String,
    /// Instrumentation scope name.
    pub scope_name: String,
    /// Instrumentation scope version.
    pub scope_version: String,
    /// Instrumentation scope attributes.
    pub scope_attributes: Attributes,
    /// Attributes the scope dropped.
    pub scope_dropped_attr_count: u32,
    /// The scope's schema URL.
    pub scope_schema_url: String,
    /// `service.name` of the resource, `unknown_service` when absent.
    pub service_name: String,
}

/// A metric's identity: what all its points share.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricInfo {
    /// Metric name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Unit (UCUM), e.g. `ms`, `By`, `1`.
    pub unit: String,
}

/// A recorded measurement linked to the trace that was active.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Exemplar {
    /// Attributes filtered out of the point's attributes by aggregation.
    pub filtered_attributes: Attributes,
    /// When the measurement was taken, unix nanoseconds.
    pub time_ns: i64,
    /// The measurement.
    pub value: f64,
    /// 16 lowercase hex characters, or empty.
    pub span_id: String,
    /// 32 lowercase hex characters, or empty.
    pub trace_id: String,
}

/// What a point measures, by metric type.
#[derive(Debug, Clone, PartialEq)]
pub enum PointValue {
    /// A gauge value.
    Gauge {
        /// The value (integers as `f64`, as the exporter stores them).
        value: f64,
    },
    /// A sum value.
    Sum {
        /// The value.
        value: f64,
        /// Delta or cumulative.
        temporality: Temporality,
        /// Whether the sum only grows.
        monotonic: bool,
    },
    /// An explicit-bucket histogram.
    Histogram(HistogramValue),
    /// An exponential histogram.
    ExponentialHistogram(ExponentialValue),
    /// A summary.
    Summary(SummaryValue),
}

/// An explicit-bucket histogram point.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramValue {
    /// Observations.
    pub count: u64,
    /// Sum of observations, 0 when not sent.
    pub sum: f64,
    /// Observations per bucket: one more than `explicit_bounds`, or none.
    pub bucket_counts: Vec<u64>,
    /// Upper bounds of all buckets but the last, increasing.
    pub explicit_bounds: Vec<f64>,
    /// Smallest observation, 0 when not sent.
    pub min: f64,
    /// Largest observation, 0 when not sent.
    pub max: f64,
    /// Delta or cumulative.
    pub temporality: Temporality,
}

/// An exponential histogram point: bucket `i` of the positive range counts values in
/// `(base^(offset+i), base^(offset+i+1)]` with `base = 2^(2^-scale)`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExponentialValue {
    /// Observations.
    pub count: u64,
    /// Sum of observations, 0 when not sent.
    pub sum: f64,
    /// Resolution.
    pub scale: i32,
    /// Observations in the zero bucket.
    pub zero_count: u64,
    /// Index of the first positive bucket.
    pub positive_offset: i32,
    /// Positive bucket counts.
    pub positive_bucket_counts: Vec<u64>,
    /// Index of the first negative bucket.
    pub negative_offset: i32,
    /// Negative bucket counts.
    pub negative_bucket_counts: Vec<u64>,
    /// Smallest observation, 0 when not sent.
    pub min: f64,
    /// Largest observation, 0 when not sent.
    pub max: f64,
    /// Delta or cumulative.
    pub temporality: Temporality,
}

/// A summary point.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryValue {
    /// Observations.
    pub count: u64,
    /// Sum of observations.
    pub sum: f64,
    /// `(quantile, value)` pairs, quantiles in `[0, 1]`.
    pub quantiles: Vec<(f64, f64)>,
}

impl PointValue {
    /// The metric type.
    pub fn kind(&self) -> MetricKind {
        match self {
            Self::Gauge { .. } => MetricKind::Gauge,
            Self::Sum { .. } => MetricKind::Sum,
            Self::Histogram(_) => MetricKind::Histogram,
            Self::ExponentialHistogram(_) => MetricKind::ExponentialHistogram,
            Self::Summary(_) => MetricKind::Summary,
        }
    }
}

/// One data point, with what it shares with the other points of its metric.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricPoint {
    /// The tenant; empty for the default tenant.
    pub tenant: String,
    /// Resource and scope.
    pub source: Arc<MetricSource>,
    /// Name, description and unit.
    pub metric: Arc<MetricInfo>,
    /// Point attributes.
    pub attributes: Attributes,
    /// Start of the point's interval, unix nanoseconds; 0 when not sent.
    pub start_time_ns: i64,
    /// The point's time, unix nanoseconds.
    pub time_ns: i64,
    /// OTLP data point flags (bit 0: no recorded value).
    pub flags: u32,
    /// Exemplars (summaries have none).
    pub exemplars: Vec<Exemplar>,
    /// The measurement.
    pub value: PointValue,
}

/// OTLP's `FLAG_NO_RECORDED_VALUE`: the point marks a series as stale and carries no value.
pub const NO_RECORDED_VALUE: u32 = 1;

impl MetricPoint {
    /// Whether the point carries a value (it is not a staleness marker).
    pub fn has_value(&self) -> bool {
        self.flags & NO_RECORDED_VALUE == 0
    }
}

/// Filters for the metric catalogue (`GET /api/metrics`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricCatalogQuery {
    /// Only the metric of exactly this name.
    pub name: Option<String>,
    /// Only metrics this service reported.
    pub service: Option<String>,
    /// Only metrics whose name contains this, ignoring ASCII case.
    pub search: Option<String>,
    /// Points at or after this time, unix nanoseconds.
    pub start_ns: i64,
    /// Points before this time, unix nanoseconds.
    pub end_ns: i64,
}

/// What one engine table row of the catalogue says: a metric (by name and kind) seen from one
/// service with one unit and description; [`crate::series::catalog`] puts them together.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MetricSighting {
    /// Metric name.
    pub name: String,
    /// Its type.
    pub kind: MetricKind,
    /// The service that reported it.
    pub service: String,
    /// Its unit there.
    pub unit: String,
    /// Its description there.
    pub description: String,
}

/// One metric of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricSummary {
    /// Metric name.
    pub name: String,
    /// Its type.
    pub kind: MetricKind,
    /// Unit (the greatest when services differ).
    pub unit: String,
    /// Description (the greatest when services differ).
    pub description: String,
    /// Services that reported it, sorted.
    pub services: Vec<String>,
    /// Data point attribute keys seen, sorted.
    pub attribute_keys: Vec<String>,
}

/// The points of one metric in a window (`GET /api/metrics/series`).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricPointQuery {
    /// Metric name.
    pub name: String,
    /// Its type (the table to read).
    pub kind: MetricKind,
    /// Only points of this service.
    pub service: Option<String>,
    /// Only points with each of these data point attributes.
    pub attributes: Vec<(String, String)>,
    /// At or after this time, unix nanoseconds.
    pub start_ns: i64,
    /// Before this time, unix nanoseconds.
    pub end_ns: i64,
    /// At most this many points; a window holding more is refused.
    pub limit: usize,
}

impl SeriesPoint {
    /// Whether the point carries a value (it is not a staleness marker).
    pub fn has_value(&self) -> bool {
        self.flags & NO_RECORDED_VALUE == 0
    }
}

/// A stored point as series read it.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesPoint {
    /// The resource's service.
    pub service_name: String,
    /// Resource attributes: with `attributes`, what tells one series from another.
    pub resource_attributes: Attributes,
    /// Data point attributes.
    pub attributes: Attributes,
    /// Start of the point's interval, unix nanoseconds (0 when not sent).
    pub start_time_ns: i64,
    /// The point's time, unix nanoseconds.
    pub time_ns: i64,
    /// OTLP data point flags.
    pub flags: u32,
    /// The measurement.
    pub value: PointValue,
}
