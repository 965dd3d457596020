//! The JSON shape of one log record, on `GET /api/logs` and each `GET /api/logs/live`
//! message. Timestamps are unix nanoseconds as decimal strings, as on the other endpoints.

use serde::Serialize;

use crate::model::{Attributes, LogRecord};

/// One log record.
#[derive(Serialize)]
pub(super) struct LogView<'a> {
    time_unix_nano: String,
    observed_time_unix_nano: String,
    severity_number: i32,
    severity_text: &'a str,
    service_name: &'a str,
    body: &'a str,
    trace_id: &'a str,
    span_id: &'a str,
    attributes: &'a Attributes,
    resource_attributes: &'a Attributes,
    scope_name: &'a str,
    scope_version: &'a str,
    event_name: &'a str,
}

impl<'a> From<&'a LogRecord> for LogView<'a> {
    fn from(l: &'a LogRecord) -> Self {
        Self {
            time_unix_nano: l.timestamp_ns.to_string(),
            observed_time_unix_nano: l.observed_ns.to_string(),
            severity_number: l.severity_number,
            severity_text: &l.severity_text,
            service_name: &l.service_name,
            body: &l.body,
            trace_id: &l.trace_id,
            span_id: &l.span_id,
            attributes: &l.log_attributes,
            resource_attributes: &l.resource_attributes,
            scope_name: &l.scope_name,
            scope_version: &l.scope_version,
            event_name: &l.event_name,
        }
    }
}
