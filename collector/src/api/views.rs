//! The JSON shapes of the query API. Unix-nanosecond timestamps are decimal strings, as in
//! OTLP/JSON, because they exceed what a JavaScript number holds exactly; durations fit and are
//! numbers.

use serde::Serialize;

use super::spanmetrics::Red;
use crate::correlate::Source;
use crate::model::{Attributes, ServiceSummary, SpanLink, SpanRecord, TraceSummary};

/// `GET /api/traces/{id}`.
#[derive(Serialize)]
pub(super) struct TraceView<'a> {
    pub trace_id: &'a str,
    pub spans: Vec<SpanView<'a>>,
}

#[derive(Serialize)]
pub(super) struct SpanView<'a> {
    trace_id: &'a str,
    span_id: &'a str,
    parent_span_id: &'a str,
    trace_state: &'a str,
    name: &'a str,
    kind: &'static str,
    service_name: &'a str,
    start_time_unix_nano: String,
    end_time_unix_nano: String,
    duration_ns: i64,
    status_code: &'static str,
    status_message: &'a str,
    attributes: &'a Attributes,
    resource_attributes: &'a Attributes,
    scope_name: &'a str,
    scope_version: &'a str,
    events: Vec<EventView<'a>>,
    links: &'a [SpanLink],
    source: &'static str,
    clock_offset_ns: i64,
    corrected_start_time_unix_nano: String,
    corrected_end_time_unix_nano: String,
}

#[derive(Serialize)]
struct EventView<'a> {
    time_unix_nano: String,
    name: &'a str,
    attributes: &'a Attributes,
}

impl<'a> SpanView<'a> {
    /// A span as stored, with its source and the clock offset that corrects its times.
    pub(super) fn new(s: &'a SpanRecord, source: Source, clock_offset_ns: i64) -> Self {
        let corrected_start = s.start_ns.saturating_add(clock_offset_ns);
        Self {
            trace_id: &s.trace_id,
            span_id: &s.span_id,
            parent_span_id: &s.parent_span_id,
            trace_state: &s.trace_state,
            name: &s.name,
            kind: s.kind.as_str(),
            service_name: &s.service_name,
            start_time_unix_nano: s.start_ns.to_string(),
            end_time_unix_nano: (s.start_ns + s.duration_ns).to_string(),
            duration_ns: s.duration_ns,
            status_code: s.status_code.as_str(),
            status_message: &s.status_message,
            attributes: &s.span_attributes,
            resource_attributes: &s.resource_attributes,
            scope_name: &s.scope_name,
            scope_version: &s.scope_version,
            events: s
                .events
                .iter()
                .map(|e| EventView {
                    time_unix_nano: e.time_ns.to_string(),
                    name: &e.name,
                    attributes: &e.attributes,
                })
                .collect(),
            links: &s.links,
            source: source.as_str(),
            clock_offset_ns,
            corrected_start_time_unix_nano: corrected_start.to_string(),
            corrected_end_time_unix_nano: corrected_start.saturating_add(s.duration_ns).to_string(),
        }
    }
}

/// One row of `GET /api/traces`.
#[derive(Serialize)]
pub(super) struct TraceSummaryView<'a> {
    trace_id: &'a str,
    root_service: &'a str,
    root_name: &'a str,
    start_time_unix_nano: String,
    duration_ns: i64,
    span_count: u64,
    has_error: bool,
}

impl<'a> From<&'a TraceSummary> for TraceSummaryView<'a> {
    fn from(t: &'a TraceSummary) -> Self {
        Self {
            trace_id: &t.trace_id,
            root_service: &t.root_service,
            root_name: &t.root_name,
            start_time_unix_nano: t.start_ns.to_string(),
            duration_ns: t.duration_ns,
            span_count: t.span_count,
            has_error: t.has_error,
        }
    }
}

/// One row of `GET /api/services`: the service, its source, and the rate, errors and latency
/// of its SERVER and CONSUMER spans in the window.
#[derive(Serialize)]
pub(super) struct ServiceView<'a> {
    name: &'a str,
    span_count: u64,
    last_seen_unix_nano: String,
    source: &'static str,
    #[serde(flatten)]
    red: Red,
}

impl<'a> ServiceView<'a> {
    pub(super) fn new(s: &'a ServiceSummary, red: Red) -> Self {
        let source = if s.browser {
            Source::Browser
        } else {
            Source::Backend
        };
        Self {
            name: &s.name,
            span_count: s.span_count,
            last_seen_unix_nano: s.last_seen_ns.to_string(),
            source: source.as_str(),
            red,
        }
    }
}
