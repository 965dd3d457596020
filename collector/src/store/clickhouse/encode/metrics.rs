//! Metric data points as rows of the exporter's five `otel_metrics_*` tables, and the row that
//! series reads select. Field names are the exporter's column names; `DateTime` columns are
//! whole seconds (`u32`); `Nested` columns are parallel arrays. A spooled point is a
//! [`MetricRow`]: one JSON line naming its table.

use clickhouse::Row;
use serde::{Deserialize, Serialize};

use crate::model::{
    Attributes, Exemplar, ExponentialValue, HistogramValue, MetricKind, MetricPoint, PointValue,
    SeriesPoint, SummaryValue, Temporality,
};

/// Nanoseconds per second.
const NS: i64 = 1_000_000_000;

/// Whole seconds of a time, as the exporter's `DateTime` columns hold it (decode keeps times
/// within what `u32` seconds hold).
pub(in super::super) fn seconds(ns: i64) -> u32 {
    u32::try_from(ns.div_euclid(NS)).unwrap_or(u32::MAX)
}

fn pairs(map: &Attributes) -> Vec<(String, String)> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Declares a metrics table's row: the columns every table starts with, the table's own, then
/// `Tenant`.
macro_rules! metric_row {
    ($(#[$doc:meta])* $name:ident { $($(#[$field_meta:meta])* $field:ident: $ty:ty,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
        #[serde(rename_all = "PascalCase")]
        pub(in super::super) struct $name {
            pub resource_attributes: Vec<(String, String)>,
            pub resource_schema_url: String,
            pub scope_name: String,
            pub scope_version: String,
            pub scope_attributes: Vec<(String, String)>,
            pub scope_dropped_attr_count: u32,
            pub scope_schema_url: String,
            pub service_name: String,
            pub metric_name: String,
            pub metric_description: String,
            pub metric_unit: String,
            pub attributes: Vec<(String, String)>,
            pub start_time_unix: u32,
            pub time_unix: u32,
            $($(#[$field_meta])* pub $field: $ty,)*
            /// Tracewire's addition: the tenant.
            pub tenant: String,
        }
    };
}

metric_row! {
    /// One `otel_metrics_gauge` row.
    GaugeRow {
        value: f64,
        flags: u32,
        #[serde(rename = "Exemplars.FilteredAttributes")]
        exemplars_filtered_attributes: Vec<Vec<(String, String)>>,
        #[serde(rename = "Exemplars.TimeUnix")]
        exemplars_time_unix: Vec<u32>,
        #[serde(rename = "Exemplars.Value")]
        exemplars_value: Vec<f64>,
        #[serde(rename = "Exemplars.SpanId")]
        exemplars_span_id: Vec<String>,
        #[serde(rename = "Exemplars.TraceId")]
        exemplars_trace_id: Vec<String>,
    }
}

metric_row! {
    /// One `otel_metrics_sum` row.
    SumRow {
        value: f64,
        flags: u32,
        #[serde(rename = "Exemplars.FilteredAttributes")]
        exemplars_filtered_attributes: Vec<Vec<(String, String)>>,
        #[serde(rename = "Exemplars.TimeUnix")]
        exemplars_time_unix: Vec<u32>,
        #[serde(rename = "Exemplars.Value")]
        exemplars_value: Vec<f64>,
        #[serde(rename = "Exemplars.SpanId")]
        exemplars_span_id: Vec<String>,
        #[serde(rename = "Exemplars.TraceId")]
        exemplars_trace_id: Vec<String>,
        aggregation_temporality: i32,
        is_monotonic: bool,
    }
}

metric_row! {
    /// One `otel_metrics_histogram` row.
    HistogramRow {
        count: u64,
        sum: f64,
        bucket_counts: Vec<u64>,
        explicit_bounds: Vec<f64>,
        #[serde(rename = "Exemplars.FilteredAttributes")]
        exemplars_filtered_attributes: Vec<Vec<(String, String)>>,
        #[serde(rename = "Exemplars.TimeUnix")]
        exemplars_time_unix: Vec<u32>,
        #[serde(rename = "Exemplars.Value")]
        exemplars_value: Vec<f64>,
        #[serde(rename = "Exemplars.SpanId")]
        exemplars_span_id: Vec<String>,
        #[serde(rename = "Exemplars.TraceId")]
        exemplars_trace_id: Vec<String>,
        flags: u32,
        min: f64,
        max: f64,
        aggregation_temporality: i32,
    }
}

metric_row! {
    /// One `otel_metrics_exponential_histogram` row.
    ExponentialHistogramRow {
        count: u64,
        sum: f64,
        scale: i32,
        zero_count: u64,
        positive_offset: i32,
        positive_bucket_counts: Vec<u64>,
        negative_offset: i32,
        negative_bucket_counts: Vec<u64>,
        #[serde(rename = "Exemplars.FilteredAttributes")]
        exemplars_filtered_attributes: Vec<Vec<(String, String)>>,
        #[serde(rename = "Exemplars.TimeUnix")]
        exemplars_time_unix: Vec<u32>,
        #[serde(rename = "Exemplars.Value")]
        exemplars_value: Vec<f64>,
        #[serde(rename = "Exemplars.SpanId")]
        exemplars_span_id: Vec<String>,
        #[serde(rename = "Exemplars.TraceId")]
        exemplars_trace_id: Vec<String>,
        flags: u32,
        min: f64,
        max: f64,
        aggregation_temporality: i32,
    }
}

metric_row! {
    /// One `otel_metrics_summary` row.
    SummaryRow {
        count: u64,
        sum: f64,
        #[serde(rename = "ValueAtQuantiles.Quantile")]
        value_at_quantiles_quantile: Vec<f64>,
        #[serde(rename = "ValueAtQuantiles.Value")]
        value_at_quantiles_value: Vec<f64>,
        flags: u32,
    }
}

/// A spooled data point: its row, tagged with its table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(in super::super) enum MetricRow {
    /// An `otel_metrics_gauge` row.
    Gauge(GaugeRow),
    /// An `otel_metrics_sum` row.
    Sum(SumRow),
    /// An `otel_metrics_histogram` row.
    Histogram(HistogramRow),
    /// An `otel_metrics_exponential_histogram` row.
    ExponentialHistogram(ExponentialHistogramRow),
    /// An `otel_metrics_summary` row.
    Summary(SummaryRow),
}

/// The exemplar columns of a point, as parallel arrays.
struct Exemplars {
    filtered_attributes: Vec<Vec<(String, String)>>,
    time_unix: Vec<u32>,
    value: Vec<f64>,
    span_id: Vec<String>,
    trace_id: Vec<String>,
}

impl Exemplars {
    fn of(list: &[Exemplar]) -> Self {
        Self {
            filtered_attributes: list.iter().map(|e| pairs(&e.filtered_attributes)).collect(),
            time_unix: list.iter().map(|e| seconds(e.time_ns)).collect(),
            value: list.iter().map(|e| e.value).collect(),
            span_id: list.iter().map(|e| e.span_id.clone()).collect(),
            trace_id: list.iter().map(|e| e.trace_id.clone()).collect(),
        }
    }
}

/// Fills a row type's shared columns from a point; the table's own columns follow.
macro_rules! row {
    ($name:ident, $p:expr, { $($field:ident: $value:expr),* $(,)? }) => {
        $name {
            resource_attributes: pairs(&$p.source.resource_attributes),
            resource_schema_url: $p.source.resource_schema_url.clone(),
            scope_name: $p.source.scope_name.clone(),
            scope_version: $p.source.scope_version.clone(),
            scope_attributes: pairs(&$p.source.scope_attributes),
            scope_dropped_attr_count: $p.source.scope_dropped_attr_count,
            scope_schema_url: $p.source.scope_schema_url.clone(),
            service_name: $p.source.service_name.clone(),
            metric_name: $p.metric.name.clone(),
            metric_description: $p.metric.description.clone(),
            metric_unit: $p.metric.unit.clone(),
            attributes: pairs(&$p.attributes),
            start_time_unix: seconds($p.start_time_ns),
            time_unix: seconds($p.time_ns),
            $($field: $value,)*
            tenant: $p.tenant.clone(),
        }
    };
}

impl From<&MetricPoint> for MetricRow {
    fn from(p: &MetricPoint) -> Self {
        let ex = Exemplars::of(&p.exemplars);
        match &p.value {
            PointValue::Gauge { value } => Self::Gauge(row!(GaugeRow, p, {
                value: *value,
                flags: p.flags,
                exemplars_filtered_attributes: ex.filtered_attributes,
                exemplars_time_unix: ex.time_unix,
                exemplars_value: ex.value,
                exemplars_span_id: ex.span_id,
                exemplars_trace_id: ex.trace_id,
            })),
            PointValue::Sum {
                value,
                temporality,
                monotonic,
            } => Self::Sum(row!(SumRow, p, {
                value: *value,
                flags: p.flags,
                exemplars_filtered_attributes: ex.filtered_attributes,
                exemplars_time_unix: ex.time_unix,
                exemplars_value: ex.value,
                exemplars_span_id: ex.span_id,
                exemplars_trace_id: ex.trace_id,
                aggregation_temporality: temporality.otlp(),
                is_monotonic: *monotonic,
            })),
            PointValue::Histogram(h) => Self::Histogram(row!(HistogramRow, p, {
                count: h.count,
                sum: h.sum,
                bucket_counts: h.bucket_counts.clone(),
                explicit_bounds: h.explicit_bounds.clone(),
                exemplars_filtered_attributes: ex.filtered_attributes,
                exemplars_time_unix: ex.time_unix,
                exemplars_value: ex.value,
                exemplars_span_id: ex.span_id,
                exemplars_trace_id: ex.trace_id,
                flags: p.flags,
                min: h.min,
                max: h.max,
                aggregation_temporality: h.temporality.otlp(),
            })),
            PointValue::ExponentialHistogram(e) => {
                Self::ExponentialHistogram(row!(ExponentialHistogramRow, p, {
                    count: e.count,
                    sum: e.sum,
                    scale: e.scale,
                    zero_count: e.zero_count,
                    positive_offset: e.positive_offset,
                    positive_bucket_counts: e.positive_bucket_counts.clone(),
                    negative_offset: e.negative_offset,
                    negative_bucket_counts: e.negative_bucket_counts.clone(),
                    exemplars_filtered_attributes: ex.filtered_attributes,
                    exemplars_time_unix: ex.time_unix,
                    exemplars_value: ex.value,
                    exemplars_span_id: ex.span_id,
                    exemplars_trace_id: ex.trace_id,
                    flags: p.flags,
                    min: e.min,
                    max: e.max,
                    aggregation_temporality: e.temporality.otlp(),
                }))
            }
            PointValue::Summary(s) => Self::Summary(row!(SummaryRow, p, {
                count: s.count,
                sum: s.sum,
                value_at_quantiles_quantile: s.quantiles.iter().map(|(q, _)| *q).collect(),
                value_at_quantiles_value: s.quantiles.iter().map(|(_, v)| *v).collect(),
                flags: p.flags,
            })),
        }
    }
}

/// What series reads select of any metrics table: the shared columns they need and every
/// type's own, the ones a table does not have filled with defaults ([`point_columns`]).
#[derive(Debug, Clone, PartialEq, Row, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(in super::super) struct PointRow {
    pub service_name: String,
    pub resource_attributes: Vec<(String, String)>,
    pub attributes: Vec<(String, String)>,
    pub start_time_unix: u32,
    pub time_unix: u32,
    pub flags: u32,
    pub value: f64,
    pub aggregation_temporality: i32,
    pub is_monotonic: bool,
    pub count: u64,
    pub sum: f64,
    pub bucket_counts: Vec<u64>,
    pub explicit_bounds: Vec<f64>,
    pub scale: i32,
    pub zero_count: u64,
    pub positive_offset: i32,
    pub positive_bucket_counts: Vec<u64>,
    pub negative_offset: i32,
    pub negative_bucket_counts: Vec<u64>,
    pub quantiles: Vec<f64>,
    pub quantile_values: Vec<f64>,
}

/// The SELECT list of a [`PointRow`] from the table of `kind`.
pub(in super::super) fn point_columns(kind: MetricKind) -> String {
    let shared = "ServiceName, ResourceAttributes, Attributes, StartTimeUnix, TimeUnix, Flags";
    let none = |columns: &[&str]| -> Vec<String> {
        columns
            .iter()
            .map(|c| {
                let default = match *c {
                    "Value" | "Sum" => "toFloat64(0)",
                    "AggregationTemporality" | "Scale" | "PositiveOffset" | "NegativeOffset" => {
                        "toInt32(0)"
                    }
                    "IsMonotonic" => "false",
                    "Count" | "ZeroCount" => "toUInt64(0)",
                    "ExplicitBounds" | "Quantiles" | "QuantileValues" => {
                        "CAST([], 'Array(Float64)')"
                    }
                    _ => "CAST([], 'Array(UInt64)')",
                };
                format!("{default} AS {c}")
            })
            .collect()
    };
    let (own, missing): (&[&str], &[&str]) = match kind {
        MetricKind::Gauge => (
            &["Value"],
            &[
                "AggregationTemporality",
                "IsMonotonic",
                "Count",
                "Sum",
                "BucketCounts",
                "ExplicitBounds",
                "Scale",
                "ZeroCount",
                "PositiveOffset",
                "PositiveBucketCounts",
                "NegativeOffset",
                "NegativeBucketCounts",
                "Quantiles",
                "QuantileValues",
            ],
        ),
        MetricKind::Sum => (
            &["Value", "AggregationTemporality", "IsMonotonic"],
            &[
                "Count",
                "Sum",
                "BucketCounts",
                "ExplicitBounds",
                "Scale",
                "ZeroCount",
                "PositiveOffset",
                "PositiveBucketCounts",
                "NegativeOffset",
                "NegativeBucketCounts",
                "Quantiles",
                "QuantileValues",
            ],
        ),
        MetricKind::Histogram => (
            &[
                "AggregationTemporality",
                "Count",
                "Sum",
                "BucketCounts",
                "ExplicitBounds",
            ],
            &[
                "Value",
                "IsMonotonic",
                "Scale",
                "ZeroCount",
                "PositiveOffset",
                "PositiveBucketCounts",
                "NegativeOffset",
                "NegativeBucketCounts",
                "Quantiles",
                "QuantileValues",
            ],
        ),
        MetricKind::ExponentialHistogram => (
            &[
                "AggregationTemporality",
                "Count",
                "Sum",
                "Scale",
                "ZeroCount",
                "PositiveOffset",
                "PositiveBucketCounts",
                "NegativeOffset",
                "NegativeBucketCounts",
            ],
            &[
                "Value",
                "IsMonotonic",
                "BucketCounts",
                "ExplicitBounds",
                "Quantiles",
                "QuantileValues",
            ],
        ),
        MetricKind::Summary => (
            &["Count", "Sum"],
            &[
                "Value",
                "AggregationTemporality",
                "IsMonotonic",
                "BucketCounts",
                "ExplicitBounds",
                "Scale",
                "ZeroCount",
                "PositiveOffset",
                "PositiveBucketCounts",
                "NegativeOffset",
                "NegativeBucketCounts",
            ],
        ),
    };
    let mut columns = vec![shared.to_owned()];
    columns.extend(own.iter().map(|c| (*c).to_owned()));
    if kind == MetricKind::Summary {
        columns.push("`ValueAtQuantiles.Quantile` AS Quantiles".into());
        columns.push("`ValueAtQuantiles.Value` AS QuantileValues".into());
    }
    columns.extend(none(missing));
    columns.join(", ")
}

impl PointRow {
    /// The series point of a row read from the table of `kind`.
    pub(in super::super) fn into_point(self, kind: MetricKind) -> SeriesPoint {
        let temporality =
            Temporality::from_otlp(self.aggregation_temporality).unwrap_or(Temporality::Cumulative);
        let value = match kind {
            MetricKind::Gauge => PointValue::Gauge { value: self.value },
            MetricKind::Sum => PointValue::Sum {
                value: self.value,
                temporality,
                monotonic: self.is_monotonic,
            },
            MetricKind::Histogram => PointValue::Histogram(HistogramValue {
                count: self.count,
                sum: self.sum,
                bucket_counts: self.bucket_counts,
                explicit_bounds: self.explicit_bounds,
                min: 0.0,
                max: 0.0,
                temporality,
            }),
            MetricKind::ExponentialHistogram => {
                PointValue::ExponentialHistogram(ExponentialValue {
                    count: self.count,
                    sum: self.sum,
                    scale: self.scale,
                    zero_count: self.zero_count,
                    positive_offset: self.positive_offset,
                    positive_bucket_counts: self.positive_bucket_counts,
                    negative_offset: self.negative_offset,
                    negative_bucket_counts: self.negative_bucket_counts,
                    min: 0.0,
                    max: 0.0,
                    temporality,
                })
            }
            MetricKind::Summary => PointValue::Summary(SummaryValue {
                count: self.count,
                sum: self.sum,
                quantiles: self
                    .quantiles
                    .into_iter()
                    .zip(self.quantile_values)
                    .collect(),
            }),
        };
        SeriesPoint {
            service_name: self.service_name,
            resource_attributes: self.resource_attributes.into_iter().collect(),
            attributes: self.attributes.into_iter().collect(),
            start_time_ns: i64::from(self.start_time_unix) * NS,
            time_ns: i64::from(self.time_unix) * NS,
            flags: self.flags,
            value,
        }
    }
}
