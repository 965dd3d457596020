//! OTLP metrics requests for the end-to-end tests and the benchmark: one data point of each
//! kind with values whose series the tests work out by hand ([`workload`]), and many counter
//! points for throughput ([`counters`]).

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
use opentelemetry_proto::tonic::metrics::v1::summary_data_point::ValueAtQuantile;
use opentelemetry_proto::tonic::metrics::v1::{
    ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint,
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
    metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

/// Nanoseconds per second.
pub const S: u64 = 1_000_000_000;
/// OTLP temporality values.
const DELTA: i32 = 1;
const CUMULATIVE: i32 = 2;

fn attr(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(value.to_owned())),
        }),
        ..Default::default()
    }
}

fn number(attrs: &[(&str, &str)], start_s: u64, time_s: u64, value: f64) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attrs.iter().map(|(k, v)| attr(k, v)).collect(),
        start_time_unix_nano: start_s * S,
        time_unix_nano: time_s * S,
        value: Some(number_data_point::Value::AsDouble(value)),
        ..Default::default()
    }
}

fn metric(name: &str, unit: &str, data: Data) -> Metric {
    Metric {
        name: name.to_owned(),
        unit: unit.to_owned(),
        description: format!("{name} of the test"),
        data: Some(data),
        ..Default::default()
    }
}

/// A request of `metrics` from service `service`.
pub fn request(service: &str, metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![attr("service.name", service)],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// Every metric type around `base_s` (whole seconds) from service `svc`, the points 30 s
/// before `base_s` being the last ones before a window starting there:
///
/// - gauge `temperature` (`host` a: 20 at +10 s, 22 at +70 s; b: 30 at +20 s, 31 at +130 s);
/// - cumulative counter `requests` (`route=/a`, started at -100 s): 10 at -30 s, 16 at +30 s,
///   20 at +90 s, restarted at +100 s: 5 at +150 s, 9 at +210 s;
/// - delta counter `bytes`: 100 at +5 s, 50 at +65 s, 25 at +66 s;
/// - up-down counter `active` (cumulative, started at -100 s): 5 at +10 s, 3 at +70 s;
/// - cumulative histogram `latency` (bounds 10, 100; started at -100 s): counts 1, 1, 0 at
///   -30 s, then 3, 5, 0 at +30 s;
/// - delta exponential histogram `sizes` (scale 0): 2 in (1, 2] and 2 in (2, 4] at +10 s;
/// - summary `rpc` (started at -100 s): 10 observations at -30 s, 14 at +30 s.
pub fn workload(base_s: u64) -> ExportMetricsServiceRequest {
    let b = base_s;
    let start = b - 100;
    let cumulative_histogram = |time_s: u64, counts: [u64; 3]| HistogramDataPoint {
        start_time_unix_nano: start * S,
        time_unix_nano: time_s * S,
        count: counts.iter().sum(),
        sum: Some(0.0),
        bucket_counts: counts.to_vec(),
        explicit_bounds: vec![10.0, 100.0],
        ..Default::default()
    };
    let summary_point = |time_s: u64, count: u64| SummaryDataPoint {
        start_time_unix_nano: start * S,
        time_unix_nano: time_s * S,
        count,
        sum: count as f64,
        quantile_values: vec![ValueAtQuantile {
            quantile: 0.5,
            value: 1.0,
        }],
        ..Default::default()
    };
    request(
        "svc",
        vec![
            metric(
                "temperature",
                "Cel",
                Data::Gauge(Gauge {
                    data_points: vec![
                        number(&[("host", "a")], 0, b + 10, 20.0),
                        number(&[("host", "b")], 0, b + 20, 30.0),
                        number(&[("host", "a")], 0, b + 70, 22.0),
                        number(&[("host", "b")], 0, b + 130, 31.0),
                    ],
                }),
            ),
            metric(
                "requests",
                "1",
                Data::Sum(Sum {
                    data_points: vec![
                        number(&[("route", "/a")], start, b - 30, 10.0),
                        number(&[("route", "/a")], start, b + 30, 16.0),
                        number(&[("route", "/a")], start, b + 90, 20.0),
                        number(&[("route", "/a")], b + 100, b + 150, 5.0),
                        number(&[("route", "/a")], b + 100, b + 210, 9.0),
                    ],
                    aggregation_temporality: CUMULATIVE,
                    is_monotonic: true,
                }),
            ),
            metric(
                "bytes",
                "By",
                Data::Sum(Sum {
                    data_points: vec![
                        number(&[], b, b + 5, 100.0),
                        number(&[], b + 5, b + 65, 50.0),
                        number(&[], b + 65, b + 66, 25.0),
                    ],
                    aggregation_temporality: DELTA,
                    is_monotonic: true,
                }),
            ),
            metric(
                "active",
                "1",
                Data::Sum(Sum {
                    data_points: vec![
                        number(&[], start, b + 10, 5.0),
                        number(&[], start, b + 70, 3.0),
                    ],
                    aggregation_temporality: CUMULATIVE,
                    is_monotonic: false,
                }),
            ),
            metric(
                "latency",
                "ms",
                Data::Histogram(Histogram {
                    data_points: vec![
                        cumulative_histogram(b - 30, [1, 1, 0]),
                        cumulative_histogram(b + 30, [3, 5, 0]),
                    ],
                    aggregation_temporality: CUMULATIVE,
                }),
            ),
            metric(
                "sizes",
                "By",
                Data::ExponentialHistogram(ExponentialHistogram {
                    data_points: vec![ExponentialHistogramDataPoint {
                        start_time_unix_nano: b * S,
                        time_unix_nano: (b + 10) * S,
                        count: 4,
                        sum: Some(10.0),
                        scale: 0,
                        positive: Some(Buckets {
                            offset: 0,
                            bucket_counts: vec![2, 2],
                        }),
                        ..Default::default()
                    }],
                    aggregation_temporality: DELTA,
                }),
            ),
            metric(
                "rpc",
                "s",
                Data::Summary(Summary {
                    data_points: vec![summary_point(b - 30, 10), summary_point(b + 30, 14)],
                }),
            ),
        ],
    )
}

/// `points` data points of cumulative counter `bench.requests` from service `bench`: one
/// series per `series_count` routes, each point a second after the previous one of its
/// series, ending at `end_s`.
pub fn counters(points: usize, series_count: usize, end_s: u64) -> ExportMetricsServiceRequest {
    let per_series = points.div_ceil(series_count.max(1));
    let start = end_s - per_series as u64 - 1;
    let data_points = (0..points)
        .map(|i| {
            let series = i % series_count.max(1);
            let n = (i / series_count.max(1)) as u64;
            let route = format!("/route/{series}");
            number(&[("route", &route)], start, start + 1 + n, n as f64)
        })
        .collect();
    request(
        "bench",
        vec![metric(
            "bench.requests",
            "1",
            Data::Sum(Sum {
                data_points,
                aggregation_temporality: CUMULATIVE,
                is_monotonic: true,
            }),
        )],
    )
}
