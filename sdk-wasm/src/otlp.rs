//! OTLP/HTTP JSON encoding of spans and log records (opentelemetry-proto JSON mapping: hex ids,
//! lowerCamelCase keys, integer enums, 64-bit integers as decimal strings), written straight into
//! the request body.

use crate::context::{SpanId, TraceId, hex_into};
use crate::json::{push_f64, push_i64, push_str, push_u64};
use crate::record::{AttrValue, Attributes, LogRecord, SpanEvent, SpanRecord};

/// Instrumentation scope name put on everything the SDK exports.
pub const SCOPE_NAME: &str = "tracewire-sdk";
/// SDK version, from the crate.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// `"scope":{...}` of every request, made at compile time.
const SCOPE: &str = concat!(
    "\"scope\":{\"name\":\"tracewire-sdk\",\"version\":\"",
    env!("CARGO_PKG_VERSION"),
    "\"}"
);

/// Appends `"key":"<decimal>"`: OTLP JSON writes 64-bit integers as strings.
fn push_nanos(out: &mut String, key: &str, ns: u64) {
    out.push_str(key);
    out.push('"');
    push_u64(out, ns);
    out.push('"');
}

fn push_value(out: &mut String, v: &AttrValue) {
    match v {
        AttrValue::Str(s) => {
            out.push_str("{\"stringValue\":");
            push_str(out, s);
        }
        AttrValue::Int(i) => {
            out.push_str("{\"intValue\":\"");
            push_i64(out, *i);
            out.push('"');
        }
        AttrValue::Float(f) if f.is_finite() => {
            out.push_str("{\"doubleValue\":");
            push_f64(out, *f);
        }
        // JSON has no NaN or infinity; OTLP receivers would reject the whole batch.
        AttrValue::Float(_) => out.push_str("{\"stringValue\":\"NaN\""),
        AttrValue::Bool(b) => {
            out.push_str("{\"boolValue\":");
            out.push_str(if *b { "true" } else { "false" });
        }
    }
    out.push('}');
}

/// Appends `"attributes":[{"key":...,"value":{...}},...]`.
fn push_attributes(out: &mut String, attrs: &Attributes) {
    out.push_str("\"attributes\":[");
    for (i, (k, v)) in attrs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"key\":");
        push_str(out, k);
        out.push_str(",\"value\":");
        push_value(out, v);
        out.push('}');
    }
    out.push(']');
}

fn push_id(out: &mut String, key: &str, id: &[u8]) {
    out.push_str(key);
    out.push('"');
    hex_into(out, id);
    out.push('"');
}

fn push_event(out: &mut String, e: &SpanEvent) {
    push_nanos(out, "{\"timeUnixNano\":", e.time_ns);
    out.push_str(",\"name\":");
    push_str(out, &e.name);
    out.push(',');
    push_attributes(out, &e.attributes);
    out.push('}');
}

fn push_span(out: &mut String, s: &SpanRecord) {
    push_id(out, "{\"traceId\":", &s.trace_id.0);
    push_id(out, ",\"spanId\":", &s.span_id.0);
    if let Some(SpanId(p)) = &s.parent_span_id {
        push_id(out, ",\"parentSpanId\":", p);
    }
    out.push_str(",\"name\":");
    push_str(out, &s.name);
    out.push_str(",\"kind\":");
    push_u64(out, s.kind as u64);
    push_nanos(out, ",\"startTimeUnixNano\":", s.start_ns);
    push_nanos(out, ",\"endTimeUnixNano\":", s.end_ns.max(s.start_ns));
    out.push(',');
    push_attributes(out, &s.attributes);
    if !s.events.is_empty() {
        out.push_str(",\"events\":[");
        for (i, e) in s.events.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_event(out, e);
        }
        out.push(']');
    }
    match &s.error {
        None => out.push_str(",\"status\":{\"code\":0}}"),
        Some(m) if m.is_empty() => out.push_str(",\"status\":{\"code\":2}}"),
        Some(m) => {
            out.push_str(",\"status\":{\"code\":2,\"message\":");
            push_str(out, m);
            out.push_str("}}");
        }
    }
}

fn push_log(out: &mut String, l: &LogRecord) {
    push_nanos(out, "{\"timeUnixNano\":", l.time_ns);
    push_nanos(out, ",\"observedTimeUnixNano\":", l.time_ns);
    out.push_str(",\"severityNumber\":");
    push_u64(out, l.severity as u64);
    out.push_str(",\"severityText\":\"");
    out.push_str(l.severity.text());
    out.push_str("\",\"body\":{\"stringValue\":");
    push_str(out, &l.body);
    out.push('}');
    if let Some(name) = &l.event_name {
        out.push_str(",\"eventName\":");
        push_str(out, name);
    }
    out.push(',');
    push_attributes(out, &l.attributes);
    if let Some(TraceId(t)) = &l.trace_id {
        push_id(out, ",\"traceId\":", t);
    }
    if let Some(SpanId(s)) = &l.span_id {
        push_id(out, ",\"spanId\":", s);
    }
    out.push('}');
}

/// Writes `{"resource<Kind>":[{"resource":{...},"scope<Kind>":[{"scope":{...},"<items>":[...]}]}]}`.
fn request<T>(
    resource: &Attributes,
    keys: [&str; 3],
    items: &[&T],
    approx: usize,
    push: fn(&mut String, &T),
) -> String {
    let mut out = String::with_capacity(256 + approx);
    out.push_str(keys[0]);
    out.push_str("[{\"resource\":{");
    push_attributes(&mut out, resource);
    out.push_str("},");
    out.push_str(keys[1]);
    out.push_str("[{");
    out.push_str(SCOPE);
    out.push(',');
    out.push_str(keys[2]);
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push(&mut out, item);
    }
    out.push_str("]}]}]}");
    out
}

/// Encodes an `ExportTraceServiceRequest`.
pub fn encode_traces(resource: &Attributes, spans: &[&SpanRecord]) -> String {
    request(
        resource,
        ["{\"resourceSpans\":", "\"scopeSpans\":", "\"spans\":"],
        spans,
        spans.len() * 512,
        push_span,
    )
}

/// Encodes an `ExportLogsServiceRequest`.
pub fn encode_logs(resource: &Attributes, logs: &[&LogRecord]) -> String {
    request(
        resource,
        ["{\"resourceLogs\":", "\"scopeLogs\":", "\"logRecords\":"],
        logs,
        logs.len() * 512,
        push_log,
    )
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
    fn logs_carry_their_trace_and_any_text_stays_valid_json() {
        let l = LogRecord {
            time_ns: 1_700_000_000_000_000_001,
            severity: Severity::Warn,
            body: "line\nbreak \"quoted\" \u{1} é".into(),
            event_name: None,
            attributes: vec![
                ("n".into(), AttrValue::Int(-7)),
                ("f".into(), AttrValue::Float(f64::INFINITY)),
                ("ms".into(), AttrValue::Float(12.25)),
            ],
            trace_id: Some(TraceId([0x0f; 16])),
            span_id: Some(SpanId([0xa0; 8])),
        };
        let resource = vec![("service.name".into(), AttrValue::from("tab\tname"))];
        let v: Value = serde_json::from_str(&encode_logs(&resource, &[&l, &l])).expect("json");
        let rl = &v["resourceLogs"][0];
        assert_eq!(
            rl["resource"]["attributes"][0]["value"]["stringValue"],
            "tab\tname"
        );
        assert_eq!(rl["scopeLogs"][0]["scope"]["version"], SDK_VERSION);
        let recs = rl["scopeLogs"][0]["logRecords"]
            .as_array()
            .expect("records");
        assert_eq!(recs.len(), 2);
        let rec = &recs[0];
        assert_eq!(rec["body"]["stringValue"], l.body);
        assert_eq!(rec["observedTimeUnixNano"], "1700000000000000001");
        assert_eq!(rec["severityText"], "WARN");
        assert!(rec.get("eventName").is_none());
        assert_eq!(rec["traceId"], "0f".repeat(16));
        assert_eq!(rec["spanId"], "a0".repeat(8));
        assert_eq!(rec["attributes"][0]["value"], json!({"intValue": "-7"}));
        assert_eq!(rec["attributes"][1]["value"], json!({"stringValue": "NaN"}));
        assert_eq!(rec["attributes"][2]["value"], json!({"doubleValue": 12.25}));
    }

    #[test]
    fn size_estimate_is_not_below_the_encoded_size() {
        let s = sample_span();
        let encoded_one = encode_traces(&vec![], &[&s]).len();
        let empty = encode_traces(&vec![], &[]).len();
        assert!(Item::Span(s).approx_bytes() >= encoded_one - empty);
    }
}
