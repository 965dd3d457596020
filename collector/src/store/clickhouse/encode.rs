//! Records to typed ClickHouse rows and back. The rows serialise as RowBinary for inserts, as
//! JSON lines in the spool, and read back from `SELECT ?fields`; field names are the
//! OpenTelemetry exporter's column names.

mod metrics;

use clickhouse::Row;
use serde::{Deserialize, Serialize};

pub(super) use metrics::{
    ExponentialHistogramRow, GaugeRow, HistogramRow, MetricRow, PointRow, SumRow, SummaryRow,
    point_columns,
};

use crate::model::{
    Attributes, ExchangeTimes, LogRecord, RoundTrip, SessionOffset, SpanEvent, SpanKind, SpanLink,
    SpanRecord, StatusCode,
};

/// The [`SpanRow`] columns in field order, for SELECT lists.
pub(super) const SPAN_COLUMNS: &str = "Timestamp, TraceId, SpanId, ParentSpanId, TraceState, \
    SpanName, SpanKind, ServiceName, ResourceAttributes, ScopeName, ScopeVersion, SpanAttributes, \
    Duration, StatusCode, StatusMessage, `Events.Timestamp`, `Events.Name`, `Events.Attributes`, \
    `Links.TraceId`, `Links.SpanId`, `Links.TraceState`, `Links.Attributes`, Tenant";

/// One `otel_traces` row. `Nested` columns are parallel arrays; maps are key/value pairs in key
/// order.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SpanRow {
    /// `DateTime64(9)` span start, as unix nanoseconds.
    pub timestamp: i64,
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
    pub trace_state: String,
    pub span_name: String,
    pub span_kind: String,
    pub service_name: String,
    pub resource_attributes: Vec<(String, String)>,
    pub scope_name: String,
    pub scope_version: String,
    pub span_attributes: Vec<(String, String)>,
    pub duration: u64,
    pub status_code: String,
    pub status_message: String,
    #[serde(rename = "Events.Timestamp")]
    pub events_timestamp: Vec<i64>,
    #[serde(rename = "Events.Name")]
    pub events_name: Vec<String>,
    #[serde(rename = "Events.Attributes")]
    pub events_attributes: Vec<Vec<(String, String)>>,
    #[serde(rename = "Links.TraceId")]
    pub links_trace_id: Vec<String>,
    #[serde(rename = "Links.SpanId")]
    pub links_span_id: Vec<String>,
    #[serde(rename = "Links.TraceState")]
    pub links_trace_state: Vec<String>,
    #[serde(rename = "Links.Attributes")]
    pub links_attributes: Vec<Vec<(String, String)>>,
    /// Tracewire's addition: the tenant, empty for the default one.
    pub tenant: String,
}

/// The [`LogRow`] columns in field order, for SELECT lists.
pub(super) const LOG_COLUMNS: &str = "Timestamp, TraceId, SpanId, TraceFlags, SeverityText, SeverityNumber, \
    ServiceName, Body, ResourceAttributes, ScopeName, ScopeVersion, LogAttributes, EventName, \
    ObservedTimestamp, Tenant";

/// One `otel_logs` row, without the columns the table computes (`TimestampTime`) or that the
/// collector does not fill (schema URLs, scope attributes), which take their defaults.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct LogRow {
    /// `DateTime64(9)`, unix nanoseconds.
    pub timestamp: i64,
    pub trace_id: String,
    pub span_id: String,
    pub trace_flags: u8,
    pub severity_text: String,
    pub severity_number: u8,
    pub service_name: String,
    pub body: String,
    pub resource_attributes: Vec<(String, String)>,
    pub scope_name: String,
    pub scope_version: String,
    pub log_attributes: Vec<(String, String)>,
    pub event_name: String,
    /// Tracewire's addition: when the record was observed, unix nanoseconds (0 when unknown).
    pub observed_timestamp: i64,
    /// Tracewire's addition: the tenant.
    pub tenant: String,
}

/// The [`RoundTripRow`] columns in field order, for SELECT lists.
pub(super) const ROUND_TRIP_COLUMNS: &str = "Tenant, TraceId, SendSpanId, ServerSpanId, \
    ReceiveSpanId, SessionId, UserId, Url, MessageType, ServiceName, ServerServiceName, \
    ClientSendTime, ServerReceiveTime, ServerDoneTime, ClientReceiveTime, \
    ClientProcessingDuration, Error, Version";

/// One `tracewire_ws_round_trips` row: a [`RoundTrip`], times as `DateTime64(9)` (unix
/// nanoseconds), absent values as `NULL`.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RoundTripRow {
    pub tenant: String,
    pub trace_id: String,
    pub send_span_id: String,
    pub server_span_id: String,
    pub receive_span_id: Option<String>,
    pub session_id: Option<String>,
    pub user_id: Option<String>,
    pub url: Option<String>,
    pub message_type: Option<String>,
    /// The browser service.
    pub service_name: String,
    pub server_service_name: String,
    pub client_send_time: i64,
    pub server_receive_time: i64,
    pub server_done_time: i64,
    pub client_receive_time: Option<i64>,
    /// Nanoseconds.
    pub client_processing_duration: Option<i64>,
    pub error: bool,
    /// Spans of the trace the row was derived from; the highest replaces the others.
    pub version: u64,
}

impl From<&RoundTrip> for RoundTripRow {
    fn from(r: &RoundTrip) -> Self {
        Self {
            tenant: r.tenant.clone(),
            trace_id: r.trace_id.clone(),
            send_span_id: r.send_span_id.clone(),
            server_span_id: r.server_span_id.clone(),
            receive_span_id: r.receive_span_id.clone(),
            session_id: r.session_id.clone(),
            user_id: r.user_id.clone(),
            url: r.url.clone(),
            message_type: r.message_type.clone(),
            service_name: r.service.clone(),
            server_service_name: r.server_service.clone(),
            client_send_time: r.times.client_send_ns,
            server_receive_time: r.times.server_receive_ns,
            server_done_time: r.times.server_done_ns,
            client_receive_time: r.times.client_receive_ns,
            client_processing_duration: r.times.client_processing_ns,
            error: r.error,
            version: r.version,
        }
    }
}

impl From<RoundTripRow> for RoundTrip {
    fn from(r: RoundTripRow) -> Self {
        Self {
            tenant: r.tenant,
            trace_id: r.trace_id,
            send_span_id: r.send_span_id,
            server_span_id: r.server_span_id,
            receive_span_id: r.receive_span_id,
            session_id: r.session_id,
            user_id: r.user_id,
            url: r.url,
            message_type: r.message_type,
            service: r.service_name,
            server_service: r.server_service_name,
            times: ExchangeTimes {
                client_send_ns: r.client_send_time,
                server_receive_ns: r.server_receive_time,
                server_done_ns: r.server_done_time,
                client_receive_ns: r.client_receive_time,
                client_processing_ns: r.client_processing_duration,
            },
            error: r.error,
            version: r.version,
        }
    }
}

/// One `tracewire_ws_session_offsets` row, without `EstimatedAt` (the table's `now()`).
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SessionOffsetRow {
    pub tenant: String,
    pub session_id: String,
    /// Server clock minus browser clock, nanoseconds.
    pub clock_offset: i64,
    /// How far the true offset may be from `clock_offset`, nanoseconds (null in rows stored
    /// before schema version 5).
    pub clock_offset_uncertainty: Option<i64>,
    /// Round trips the estimate used.
    pub samples: u64,
    /// The session's round trips with a reply when it was estimated; the highest replaces the
    /// others.
    pub version: u64,
}

impl From<&SessionOffsetRow> for SessionOffset {
    fn from(r: &SessionOffsetRow) -> Self {
        Self {
            offset_ns: r.clock_offset,
            uncertainty_ns: r.clock_offset_uncertainty,
            samples: r.samples,
        }
    }
}

fn pairs(map: &Attributes) -> Vec<(String, String)> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

impl From<&SpanRecord> for SpanRow {
    fn from(s: &SpanRecord) -> Self {
        Self {
            timestamp: s.start_ns,
            trace_id: s.trace_id.clone(),
            span_id: s.span_id.clone(),
            parent_span_id: s.parent_span_id.clone(),
            trace_state: s.trace_state.clone(),
            span_name: s.name.clone(),
            span_kind: s.kind.as_str().to_owned(),
            service_name: s.service_name.clone(),
            resource_attributes: pairs(&s.resource_attributes),
            scope_name: s.scope_name.clone(),
            scope_version: s.scope_version.clone(),
            span_attributes: pairs(&s.span_attributes),
            duration: s.duration_ns.max(0).unsigned_abs(),
            status_code: s.status_code.as_str().to_owned(),
            status_message: s.status_message.clone(),
            events_timestamp: s.events.iter().map(|e| e.time_ns).collect(),
            events_name: s.events.iter().map(|e| e.name.clone()).collect(),
            events_attributes: s.events.iter().map(|e| pairs(&e.attributes)).collect(),
            links_trace_id: s.links.iter().map(|l| l.trace_id.clone()).collect(),
            links_span_id: s.links.iter().map(|l| l.span_id.clone()).collect(),
            links_trace_state: s.links.iter().map(|l| l.trace_state.clone()).collect(),
            links_attributes: s.links.iter().map(|l| pairs(&l.attributes)).collect(),
            tenant: s.tenant.clone(),
        }
    }
}

impl From<SpanRow> for SpanRecord {
    fn from(r: SpanRow) -> Self {
        let events = r
            .events_timestamp
            .into_iter()
            .zip(r.events_name)
            .zip(r.events_attributes)
            .map(|((time_ns, name), attributes)| SpanEvent {
                time_ns,
                name,
                attributes: attributes.into_iter().collect(),
            })
            .collect();
        let links = r
            .links_trace_id
            .into_iter()
            .zip(r.links_span_id)
            .zip(r.links_trace_state)
            .zip(r.links_attributes)
            .map(
                |(((trace_id, span_id), trace_state), attributes)| SpanLink {
                    trace_id,
                    span_id,
                    trace_state,
                    attributes: attributes.into_iter().collect(),
                },
            )
            .collect();
        Self {
            tenant: r.tenant,
            trace_id: r.trace_id,
            span_id: r.span_id,
            parent_span_id: r.parent_span_id,
            trace_state: r.trace_state,
            name: r.span_name,
            kind: SpanKind::from_name(&r.span_kind).unwrap_or(SpanKind::Unspecified),
            service_name: r.service_name,
            start_ns: r.timestamp,
            duration_ns: i64::try_from(r.duration).unwrap_or(i64::MAX),
            status_code: StatusCode::from_name(&r.status_code).unwrap_or(StatusCode::Unset),
            status_message: r.status_message,
            scope_name: r.scope_name,
            scope_version: r.scope_version,
            resource_attributes: r.resource_attributes.into_iter().collect(),
            span_attributes: r.span_attributes.into_iter().collect(),
            events,
            links,
        }
    }
}

impl From<&LogRecord> for LogRow {
    fn from(l: &LogRecord) -> Self {
        Self {
            timestamp: l.timestamp_ns,
            trace_id: l.trace_id.clone(),
            span_id: l.span_id.clone(),
            // W3C trace flags are one byte; the upper bits of OTLP's field are reserved.
            trace_flags: (l.trace_flags & 0xff) as u8,
            severity_text: l.severity_text.clone(),
            severity_number: u8::try_from(l.severity_number.clamp(0, 255)).unwrap_or(0),
            service_name: l.service_name.clone(),
            body: l.body.clone(),
            resource_attributes: pairs(&l.resource_attributes),
            scope_name: l.scope_name.clone(),
            scope_version: l.scope_version.clone(),
            log_attributes: pairs(&l.log_attributes),
            event_name: l.event_name.clone(),
            observed_timestamp: l.observed_ns,
            tenant: l.tenant.clone(),
        }
    }
}

impl From<LogRow> for LogRecord {
    fn from(r: LogRow) -> Self {
        Self {
            tenant: r.tenant,
            timestamp_ns: r.timestamp,
            observed_ns: r.observed_timestamp,
            trace_id: r.trace_id,
            span_id: r.span_id,
            trace_flags: u32::from(r.trace_flags),
            severity_text: r.severity_text,
            severity_number: i32::from(r.severity_number),
            service_name: r.service_name,
            body: r.body,
            scope_name: r.scope_name,
            scope_version: r.scope_version,
            resource_attributes: r.resource_attributes.into_iter().collect(),
            log_attributes: r.log_attributes.into_iter().collect(),
            event_name: r.event_name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::span;

    #[test]
    fn span_round_trips_through_row_and_spool_json() {
        let mut s = span(
            1,
            2,
            Some(1),
            "api",
            "GET /x",
            1_763_700_000_123_456_789,
            42,
        );
        s.status_code = StatusCode::Error;
        s.kind = SpanKind::Consumer;
        s.events.push(SpanEvent {
            time_ns: 1_763_700_000_123_456_800,
            name: "retry".into(),
            attributes: [("n".to_owned(), "2".to_owned())].into(),
        });
        s.links.push(SpanLink {
            trace_id: hex::encode([9; 16]),
            span_id: hex::encode([9; 8]),
            trace_state: "a=b".into(),
            attributes: [("k".to_owned(), "v".to_owned())].into(),
        });
        let row = SpanRow::from(&s);
        assert_eq!(
            (row.span_kind.as_str(), row.status_code.as_str()),
            ("Consumer", "Error")
        );
        let json = serde_json::to_string(&row).expect("serialises");
        assert!(json.contains("\"Events.Timestamp\""), "{json}");
        let back: SpanRow = serde_json::from_str(&json).expect("parses");
        assert_eq!(SpanRecord::from(back), s);
    }

    #[test]
    fn select_list_matches_the_row_fields() {
        let listed: Vec<_> = SPAN_COLUMNS
            .split(", ")
            .map(|c| c.trim_matches('`'))
            .collect();
        assert_eq!(listed, <SpanRow as Row>::COLUMN_NAMES);
        let listed: Vec<_> = ROUND_TRIP_COLUMNS.split(", ").collect();
        assert_eq!(listed, <RoundTripRow as Row>::COLUMN_NAMES);
    }

    #[test]
    fn round_trip_reads_back_from_its_row() {
        let record = RoundTrip {
            tenant: String::new(),
            trace_id: hex::encode([1u8; 16]),
            send_span_id: hex::encode([1u8; 8]),
            server_span_id: hex::encode([2u8; 8]),
            receive_span_id: None,
            session_id: Some("sess-1".into()),
            user_id: None,
            url: Some("ws://app/ws".into()),
            message_type: Some("chat".into()),
            service: "web".into(),
            server_service: "api".into(),
            times: ExchangeTimes {
                client_send_ns: 1,
                server_receive_ns: 2,
                server_done_ns: 3,
                client_receive_ns: None,
                client_processing_ns: Some(4),
            },
            error: true,
            version: 3,
        };
        assert_eq!(RoundTrip::from(RoundTripRow::from(&record)), record);
    }

    #[test]
    fn log_flags_and_severity_fit_their_columns() {
        let log = LogRecord {
            tenant: String::new(),
            timestamp_ns: 5,
            observed_ns: 6,
            trace_id: String::new(),
            span_id: String::new(),
            trace_flags: 0x101,
            severity_text: "WARN".into(),
            severity_number: 13,
            service_name: "api".into(),
            body: "hi".into(),
            scope_name: String::new(),
            scope_version: String::new(),
            resource_attributes: Attributes::new(),
            log_attributes: Attributes::new(),
            event_name: String::new(),
        };
        let row = LogRow::from(&log);
        assert_eq!((row.trace_flags, row.severity_number), (1, 13));
        assert_eq!(row.observed_timestamp, 6);
    }
}
