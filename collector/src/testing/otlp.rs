//! OTLP export requests as clients send them: attributes, one-resource requests of spans or
//! log records, a small request of spans by id and one of counter points.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use tracewire_semconv::{attribute, resource};

/// An attribute.
pub fn attr(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// A string attribute.
pub fn text(key: &str, value: impl AsRef<str>) -> KeyValue {
    attr(key, Value::StringValue(value.as_ref().to_owned()))
}

/// The resource of the Tracewire browser SDK's telemetry, service `service`.
pub fn browser_resource(service: &str) -> Vec<KeyValue> {
    vec![
        text(resource::SERVICE_NAME, service),
        text(
            resource::TELEMETRY_SDK_LANGUAGE,
            resource::BROWSER_SDK_LANGUAGE,
        ),
    ]
}

/// A trace export of `spans` from one resource, in one scope without a name.
pub fn traces_request(resource: Vec<KeyValue>, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: resource,
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// A logs export of `records` from one resource, in one scope without a name.
pub fn logs_request(resource: Vec<KeyValue>, records: Vec<LogRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: resource,
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// A trace export with one span per `(trace byte, span byte)`, service `svc`.
pub fn otlp_request(ids: &[(u8, u8)]) -> ExportTraceServiceRequest {
    let spans = ids
        .iter()
        .map(|(t, s)| Span {
            trace_id: vec![*t; 16],
            span_id: vec![*s; 8],
            name: format!("op-{s}"),
            kind: 2,
            start_time_unix_nano: 1_700_000_000_000_000_000,
            end_time_unix_nano: 1_700_000_000_005_000_000,
            attributes: vec![text(attribute::HTTP_ROUTE, "/x")],
            status: Some(Status {
                message: String::new(),
                code: 0,
            }),
            ..Default::default()
        })
        .collect();
    traces_request(vec![text(resource::SERVICE_NAME, "svc")], spans)
}

/// A metrics export from service `svc`: a cumulative monotonic sum `requests` with one point
/// per `(seconds, value)`, started at second 1,700,000,000, attribute `route=/x`.
pub fn otlp_metrics(points: &[(u64, i64)]) -> ExportMetricsServiceRequest {
    use opentelemetry_proto::tonic::metrics::v1::{
        Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, metric::Data,
        number_data_point,
    };
    const S: u64 = 1_000_000_000;
    let data_points = points
        .iter()
        .map(|(seconds, value)| NumberDataPoint {
            attributes: vec![text("route", "/x")],
            start_time_unix_nano: 1_700_000_000 * S,
            time_unix_nano: seconds * S,
            value: Some(number_data_point::Value::AsInt(*value)),
            ..Default::default()
        })
        .collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![text(resource::SERVICE_NAME, "svc")],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "requests".into(),
                    unit: "1".into(),
                    data: Some(Data::Sum(Sum {
                        data_points,
                        aggregation_temporality: 2,
                        is_monotonic: true,
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}
