//! OTLP/HTTP JSON encoding of spans and log records (opentelemetry-proto JSON mapping: hex ids,
//! lowerCamelCase keys, integer enums, 64-bit integers as decimal strings).

use serde::Serialize;

use crate::record::{AttrValue, Attributes, LogRecord, SpanEvent, SpanRecord};

/// Instrumentation scope name put on everything the SDK exports.
pub const SCOPE_NAME: &str = "tracewire-sdk";
/// SDK version, from the crate.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Serialize)]
enum JsonValue<'a> {
    #[serde(rename = "stringValue")]
    String(&'a str),
    #[serde(rename = "intValue")]
    Int(String),
    #[serde(rename = "doubleValue")]
    Double(f64),
    #[serde(rename = "boolValue")]
    Bool(bool),
}

#[derive(Serialize)]
struct KeyValue<'a> {
    key: &'a str,
    value: JsonValue<'a>,
}

fn kvs(attrs: &Attributes) -> Vec<KeyValue<'_>> {
    attrs
        .iter()
        .map(|(k, v)| KeyValue {
            key: k.as_ref(),
            value: match v {
                AttrValue::Str(s) => JsonValue::String(s.as_ref()),
                AttrValue::Int(i) => JsonValue::Int(i.to_string()),
                // JSON has no NaN or infinity; OTLP receivers would reject the whole batch.
                AttrValue::Float(f) if f.is_finite() => JsonValue::Double(*f),
                AttrValue::Float(_) => JsonValue::String("NaN"),
                AttrValue::Bool(b) => JsonValue::Bool(*b),
            },
        })
        .collect()
}

#[derive(Serialize)]
struct Resource<'a> {
    attributes: Vec<KeyValue<'a>>,
}

#[derive(Serialize)]
struct Scope {
    name: &'static str,
    version: &'static str,
}

const SCOPE: Scope = Scope {
    name: SCOPE_NAME,
    version: SDK_VERSION,
};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TracesRequest<'a> {
    resource_spans: [ResourceSpans<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResourceSpans<'a> {
    resource: Resource<'a>,
    scope_spans: [ScopeSpans<'a>; 1],
}

#[derive(Serialize)]
struct ScopeSpans<'a> {
    scope: Scope,
    spans: Vec<Span<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Span<'a> {
    trace_id: String,
    span_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    parent_span_id: String,
    name: &'a str,
    kind: i32,
    start_time_unix_nano: String,
    end_time_unix_nano: String,
    attributes: Vec<KeyValue<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    events: Vec<Event<'a>>,
    status: Status<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Event<'a> {
    time_unix_nano: String,
    name: &'a str,
    attributes: Vec<KeyValue<'a>>,
}

#[derive(Serialize)]
struct Status<'a> {
    code: i32,
    #[serde(skip_serializing_if = "str::is_empty")]
    message: &'a str,
}

fn event(e: &SpanEvent) -> Event<'_> {
    Event {
        time_unix_nano: e.time_ns.to_string(),
        name: &e.name,
        attributes: kvs(&e.attributes),
    }
}

fn span(s: &SpanRecord) -> Span<'_> {
    Span {
        trace_id: s.trace_id.to_hex(),
        span_id: s.span_id.to_hex(),
        parent_span_id: s.parent_span_id.map(|p| p.to_hex()).unwrap_or_default(),
        name: &s.name,
        kind: s.kind as i32,
        start_time_unix_nano: s.start_ns.to_string(),
        end_time_unix_nano: s.end_ns.max(s.start_ns).to_string(),
        attributes: kvs(&s.attributes),
        events: s.events.iter().map(event).collect(),
        status: match &s.error {
            None => Status {
                code: 0,
                message: "",
            },
            Some(m) => Status {
                code: 2,
                message: m,
            },
        },
    }
}

/// Encodes an `ExportTraceServiceRequest`.
pub fn encode_traces(resource: &Attributes, spans: &[&SpanRecord]) -> String {
    let req = TracesRequest {
        resource_spans: [ResourceSpans {
            resource: Resource {
                attributes: kvs(resource),
            },
            scope_spans: [ScopeSpans {
                scope: SCOPE,
                spans: spans.iter().map(|s| span(s)).collect(),
            }],
        }],
    };
    serde_json::to_string(&req).unwrap_or_default()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogsRequest<'a> {
    resource_logs: [ResourceLogs<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResourceLogs<'a> {
    resource: Resource<'a>,
    scope_logs: [ScopeLogs<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ScopeLogs<'a> {
    scope: Scope,
    log_records: Vec<Log<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Log<'a> {
    time_unix_nano: String,
    observed_time_unix_nano: String,
    severity_number: i32,
    severity_text: &'static str,
    body: JsonValue<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_name: Option<&'a str>,
    attributes: Vec<KeyValue<'a>>,
    #[serde(skip_serializing_if = "String::is_empty")]
    trace_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    span_id: String,
}

fn log(l: &LogRecord) -> Log<'_> {
    Log {
        time_unix_nano: l.time_ns.to_string(),
        observed_time_unix_nano: l.time_ns.to_string(),
        severity_number: l.severity as i32,
        severity_text: l.severity.text(),
        body: JsonValue::String(&l.body),
        event_name: l.event_name.as_deref(),
        attributes: kvs(&l.attributes),
        trace_id: l.trace_id.map(|t| t.to_hex()).unwrap_or_default(),
        span_id: l.span_id.map(|s| s.to_hex()).unwrap_or_default(),
    }
}

/// Encodes an `ExportLogsServiceRequest`.
pub fn encode_logs(resource: &Attributes, logs: &[&LogRecord]) -> String {
    let req = LogsRequest {
        resource_logs: [ResourceLogs {
            resource: Resource {
                attributes: kvs(resource),
            },
            scope_logs: [ScopeLogs {
                scope: SCOPE,
                log_records: logs.iter().map(|l| log(l)).collect(),
            }],
        }],
    };
    serde_json::to_string(&req).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::{SpanId, TraceId};
    use crate::record::{Item, Severity, SpanKind};
    use serde_json::{Value, json};

    fn sample_span() -> SpanRecord {
        SpanRecord {
            trace_id: TraceId([0xab; 16]),
            span_id: SpanId([0x01; 8]),
            parent_span_id: Some(SpanId([0x02; 8])),
            name: "ws.send chat \"quoted\"".into(),
            kind: SpanKind::Producer,
            start_ns: 1_700_000_000_000_000_000,
            end_ns: 1_700_000_000_000_500_000,
            attributes: vec![
                ("messaging.message.body.size".into(), AttrValue::Int(42)),
                ("ok".into(), AttrValue::Bool(true)),
                ("ratio".into(), AttrValue::Float(0.5)),
                ("bad".into(), AttrValue::Float(f64::NAN)),
            ],
            events: vec![SpanEvent {
                time_ns: 1_700_000_000_000_100_000,
                name: "ack".into(),
                attributes: vec![],
            }],
            error: Some("boom".into()),
        }
    }

    #[test]
    fn spans_encode_to_the_otlp_json_mapping() {
        let resource = vec![("service.name".into(), AttrValue::from("web"))];
        let s = sample_span();
        let v: Value = serde_json::from_str(&encode_traces(&resource, &[&s])).expect("json");
        let rs = &v["resourceSpans"][0];
        assert_eq!(
            rs["resource"]["attributes"][0],
            json!({"key": "service.name", "value": {"stringValue": "web"}})
        );
        assert_eq!(rs["scopeSpans"][0]["scope"]["name"], SCOPE_NAME);
        let span = &rs["scopeSpans"][0]["spans"][0];
        assert_eq!(span["traceId"], "abababababababababababababababab");
        assert_eq!(span["spanId"], "0101010101010101");
        assert_eq!(span["parentSpanId"], "0202020202020202");
        assert_eq!(span["name"], "ws.send chat \"quoted\"");
        assert_eq!(span["kind"], 4);
        assert_eq!(span["startTimeUnixNano"], "1700000000000000000");
        assert_eq!(span["endTimeUnixNano"], "1700000000000500000");
        assert_eq!(span["attributes"][0]["value"], json!({"intValue": "42"}));
        assert_eq!(span["attributes"][1]["value"], json!({"boolValue": true}));
        assert_eq!(span["attributes"][2]["value"], json!({"doubleValue": 0.5}));
        assert_eq!(
            span["attributes"][3]["value"],
            json!({"stringValue": "NaN"})
        );
        assert_eq!(span["events"][0]["name"], "ack");
        assert_eq!(span["status"], json!({"code": 2, "message": "boom"}));
    }

    #[test]
    fn root_spans_have_no_parent_field_and_unset_status() {
        let mut s = sample_span();
        s.parent_span_id = None;
        s.error = None;
        let v: Value = serde_json::from_str(&encode_traces(&vec![], &[&s])).expect("json");
        let span = &v["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert!(span.get("parentSpanId").is_none());
        assert_eq!(span["status"], json!({"code": 0}));
    }

    #[test]
    fn logs_encode_with_severity_and_optional_context() {
        let l = LogRecord {
            time_ns: 5,
            severity: Severity::Error,
            body: "TypeError: x is undefined".into(),
            event_name: Some("exception".into()),
            attributes: vec![("exception.type".into(), AttrValue::from("TypeError"))],
            trace_id: None,
            span_id: None,
        };
        let v: Value = serde_json::from_str(&encode_logs(&vec![], &[&l])).expect("json");
        let rec = &v["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
        assert_eq!(rec["severityNumber"], 17);
        assert_eq!(rec["severityText"], "ERROR");
        assert_eq!(
            rec["body"],
            json!({"stringValue": "TypeError: x is undefined"})
        );
        assert_eq!(rec["eventName"], "exception");
        assert_eq!(rec["timeUnixNano"], "5");
        assert!(rec.get("traceId").is_none());
    }

    #[test]
    fn size_estimate_is_not_below_the_encoded_size() {
        let s = sample_span();
        let encoded_one = encode_traces(&vec![], &[&s]).len();
        let empty = encode_traces(&vec![], &[]).len();
        assert!(Item::Span(s).approx_bytes() >= encoded_one - empty);
    }
}
