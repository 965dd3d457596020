//! `ExportTraceServiceRequest` into span records.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};

use super::values::{attributes, service_name};
use super::{DecodeError, Decoded, Encoding, optional_id, parse, required_id, time_ns};
use crate::model::{Attributes, SpanEvent, SpanKind, SpanLink, SpanRecord, StatusCode};

/// Decodes a trace export request; spans that cannot be stored are counted as rejected.
pub fn decode_traces(body: &[u8], encoding: Encoding) -> Result<Decoded, DecodeError> {
    Ok(traces(parse(body, encoding)?))
}

/// The spans of a parsed trace export request.
pub fn traces(request: ExportTraceServiceRequest) -> Decoded {
    let mut out = Decoded::default();
    out.batch.spans.reserve(
        request
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum(),
    );
    for resource_spans in request.resource_spans {
        let resource = resource_spans
            .resource
            .map(|r| attributes(r.attributes))
            .unwrap_or_default();
        let service = service_name(&resource);
        for scope_spans in resource_spans.scope_spans {
            let (scope_name, scope_version) = scope_spans
                .scope
                .map(|s| (s.name, s.version))
                .unwrap_or_default();
            for span in scope_spans.spans {
                out.received += 1;
                match span_record(span, &resource, &service, &scope_name, &scope_version) {
                    Ok(record) => out.batch.spans.push(record),
                    Err((name, reason)) => out.rejected.add(|| format!("span '{name}': {reason}")),
                }
            }
        }
    }
    out.truncated = super::truncate::truncate(&mut out.batch);
    out
}

/// The record of a span, moving its strings; or the span's name and why it cannot be stored.
fn span_record(
    span: Span,
    resource: &Attributes,
    service: &str,
    scope_name: &str,
    scope_version: &str,
) -> Result<SpanRecord, (String, String)> {
    let Checked {
        start_ns,
        end_ns,
        trace_id,
        span_id,
        parent_span_id,
    } = match check(&span) {
        Ok(checked) => checked,
        Err(reason) => return Err((span.name, reason)),
    };
    let (status_code, status_message) = span
        .status
        .map_or((0, String::new()), |s| (s.code, s.message));
    Ok(SpanRecord {
        tenant: String::new(),
        trace_id,
        span_id,
        parent_span_id,
        trace_state: span.trace_state,
        name: span.name,
        kind: SpanKind::from_otlp(span.kind),
        service_name: service.to_owned(),
        start_ns,
        duration_ns: end_ns.saturating_sub(start_ns).max(0),
        status_code: StatusCode::from_otlp(status_code),
        status_message,
        scope_name: scope_name.to_owned(),
        scope_version: scope_version.to_owned(),
        resource_attributes: resource.clone(),
        span_attributes: attributes(span.attributes),
        events: span.events.into_iter().map(event).collect(),
        links: span.links.into_iter().map(link).collect(),
    })
}

/// A span's times and hex ids, once everything that can make it unstorable is checked.
struct Checked {
    start_ns: i64,
    end_ns: i64,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
}

fn check(span: &Span) -> Result<Checked, String> {
    let checked = Checked {
        start_ns: time_ns(span.start_time_unix_nano, "start_time_unix_nano")?,
        end_ns: time_ns(span.end_time_unix_nano, "end_time_unix_nano")?,
        trace_id: required_id(&span.trace_id, 16, "trace_id")?,
        span_id: required_id(&span.span_id, 8, "span_id")?,
        parent_span_id: optional_id(&span.parent_span_id, 8, "parent_span_id")?,
    };
    for e in &span.events {
        time_ns(e.time_unix_nano, "event time_unix_nano")?;
    }
    for l in &span.links {
        required_id(&l.trace_id, 16, "link trace_id")?;
        required_id(&l.span_id, 8, "link span_id")?;
    }
    Ok(checked)
}

/// An event whose time [`check`] accepted.
fn event(event: Event) -> SpanEvent {
    SpanEvent {
        time_ns: i64::try_from(event.time_unix_nano).unwrap_or(i64::MAX),
        name: event.name,
        attributes: attributes(event.attributes),
    }
}

/// A link whose ids [`check`] accepted.
fn link(link: Link) -> SpanLink {
    SpanLink {
        trace_id: hex::encode(&link.trace_id),
        span_id: hex::encode(&link.span_id),
        trace_state: link.trace_state,
        attributes: attributes(link.attributes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    const JSON: &str = r#"{"resourceSpans":[{"resource":{"attributes":[
        {"key":"service.name","value":{"stringValue":"checkout"}}]},
      "scopeSpans":[{"scope":{"name":"lib","version":"1.2"},"spans":[
        {"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","parentSpanId":"",
         "name":"GET /cart","kind":2,"startTimeUnixNano":"1700000000000000000","endTimeUnixNano":1700000000250000000,
         "attributes":[{"key":"http.status_code","value":{"intValue":"200"}},{"key":"ok","value":{"boolValue":true}}],
         "events":[{"timeUnixNano":"1700000000100000000","name":"cache miss","attributes":[]}],
         "status":{"code":2,"message":"boom"},"someFutureField":{"x":1}},
        {"traceId":"0102","spanId":"EEE19B7EC3C1B175","name":"bad id"}]}]}]}"#;

    #[test]
    fn json_request_decodes_every_field_and_rejects_bad_ids() {
        let decoded = decode_traces(JSON.as_bytes(), Encoding::Json).expect("valid JSON");
        assert_eq!(decoded.received, 2);
        assert_eq!(decoded.rejected.count, 1);
        assert!(
            decoded
                .rejected
                .message("spans")
                .contains("trace_id must be 16 bytes, got 2")
        );
        let span = &decoded.batch.spans[0];
        assert_eq!(span.trace_id, "5b8efff798038103d269b633813fc60c");
        assert_eq!(span.span_id, "eee19b7ec3c1b174");
        assert_eq!(span.parent_span_id, "");
        assert_eq!(span.service_name, "checkout");
        assert_eq!(span.kind, SpanKind::Server);
        assert_eq!(span.start_ns, 1_700_000_000_000_000_000);
        assert_eq!(span.duration_ns, 250_000_000);
        assert_eq!(span.status_code, StatusCode::Error);
        assert_eq!(span.status_message, "boom");
        assert_eq!(span.scope_name, "lib");
        assert_eq!(span.span_attributes["http.status_code"], "200");
        assert_eq!(span.span_attributes["ok"], "true");
        assert_eq!(span.events[0].name, "cache miss");
    }

    #[test]
    fn protobuf_and_json_decode_to_the_same_records() {
        let request: ExportTraceServiceRequest = serde_json::from_str(JSON).expect("valid JSON");
        let from_proto =
            decode_traces(&request.encode_to_vec(), Encoding::Protobuf).expect("valid protobuf");
        let from_json = decode_traces(JSON.as_bytes(), Encoding::Json).expect("valid JSON");
        assert_eq!(from_proto.batch, from_json.batch);
    }

    #[test]
    fn wrong_json_types_are_an_error_not_a_panic() {
        let err = decode_traces(
            br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SERVER"}]}]}]}"#,
            Encoding::Json,
        )
        .expect_err("kind must be an integer");
        assert!(err.to_string().starts_with("invalid OTLP/JSON"), "{err}");
    }

    #[test]
    fn end_before_start_keeps_the_span_with_zero_duration() {
        let json = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c",
            "spanId":"eee19b7ec3c1b174","startTimeUnixNano":"20","endTimeUnixNano":"10"}]}]}]}"#;
        let decoded = decode_traces(json.as_bytes(), Encoding::Json).expect("valid");
        assert_eq!(decoded.batch.spans[0].duration_ns, 0);
        assert_eq!(decoded.batch.spans[0].service_name, "unknown_service");
    }
}
