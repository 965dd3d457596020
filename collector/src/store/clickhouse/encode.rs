//! Records to typed ClickHouse rows and back. A row type's serde encoding is its RowBinary for
//! the spool and the INSERT ([`super::rowbinary`]); rows are read back from `SELECT` lists in
//! field order; field names are the OpenTelemetry exporter's column names. Spool files before
//! RowBinary held the same rows as JSON lines.

use std::borrow::Cow;

mod metrics;

use clickhouse::Row;
use serde::ser::SerializeSeq;
use serde::{Deserialize, Serialize};

pub(super) use metrics::{
    ExponentialHistogramRow, GaugeRow, HistogramRow, MetricRow, PointRow, SumRow, SummaryRow,
    point_columns,
};

use crate::model::{
    Attributes, ExchangeTimes, LogRecord, RoundTrip, SessionOffset, SpanEvent, SpanKind, SpanLink,
    SpanRecord, StatusCode,
};

/// The [`SpanRow`] columns in field order, for SELECT and INSERT lists.
pub(super) const SPAN_COLUMNS: &str = "Timestamp, TraceId, SpanId, ParentSpanId, TraceState, \
    SpanName, SpanKind, ServiceName, ResourceAttributes, ScopeName, ScopeVersion, SpanAttributes, \
    Duration, StatusCode, StatusMessage, `Events.Timestamp`, `Events.Name`, `Events.Attributes`, \
    `Links.TraceId`, `Links.SpanId`, `Links.TraceState`, `Links.Attributes`, Tenant";

/// One `otel_traces` row. `Nested` columns are parallel arrays; maps are key/value pairs in key
/// order. Text borrows from the [`SpanRecord`] a row is written from, and is owned in a row read
/// back.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SpanRow<'a> {
    /// `DateTime64(9)` span start, as unix nanoseconds.
    pub timestamp: i64,
    pub trace_id: Cow<'a, str>,
    pub span_id: Cow<'a, str>,
    pub parent_span_id: Cow<'a, str>,
    pub trace_state: Cow<'a, str>,
    pub span_name: Cow<'a, str>,
    pub span_kind: Cow<'a, str>,
    pub service_name: Cow<'a, str>,
    pub resource_attributes: Pairs<'a>,
    pub scope_name: Cow<'a, str>,
    pub scope_version: Cow<'a, str>,
    pub span_attributes: Pairs<'a>,
    pub duration: u64,
    pub status_code: Cow<'a, str>,
    pub status_message: Cow<'a, str>,
    #[serde(rename = "Events.Timestamp")]
    pub events_timestamp: Vec<i64>,
    #[serde(rename = "Events.Name")]
    pub events_name: Vec<Cow<'a, str>>,
    #[serde(rename = "Events.Attributes")]
    pub events_attributes: Vec<Pairs<'a>>,
    #[serde(rename = "Links.TraceId")]
    pub links_trace_id: Vec<Cow<'a, str>>,
    #[serde(rename = "Links.SpanId")]
    pub links_span_id: Vec<Cow<'a, str>>,
    #[serde(rename = "Links.TraceState")]
    pub links_trace_state: Vec<Cow<'a, str>>,
    #[serde(rename = "Links.Attributes")]
    pub links_attributes: Vec<Pairs<'a>>,
    /// Tracewire's addition: the tenant, empty for the default one.
    pub tenant: Cow<'a, str>,
}

/// The [`LogRow`] columns in field order, for SELECT and INSERT lists.
pub(super) const LOG_COLUMNS: &str = "Timestamp, TraceId, SpanId, TraceFlags, SeverityText, SeverityNumber, \
    ServiceName, Body, ResourceAttributes, ScopeName, ScopeVersion, LogAttributes, EventName, \
    ObservedTimestamp, Tenant";

/// One `otel_logs` row, without the columns the table computes (`TimestampTime`) or that the
/// collector does not fill (schema URLs, scope attributes), which take their defaults. Text
/// borrows from the [`LogRecord`] a row is written from, as in [`SpanRow`].
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct LogRow<'a> {
    /// `DateTime64(9)`, unix nanoseconds.
    pub timestamp: i64,
    pub trace_id: Cow<'a, str>,
    pub span_id: Cow<'a, str>,
    pub trace_flags: u8,
    pub severity_text: Cow<'a, str>,
    pub severity_number: u8,
    pub service_name: Cow<'a, str>,
    pub body: Cow<'a, str>,
    pub resource_attributes: Pairs<'a>,
    pub scope_name: Cow<'a, str>,
    pub scope_version: Cow<'a, str>,
    pub log_attributes: Pairs<'a>,
    pub event_name: Cow<'a, str>,
    /// Tracewire's addition: when the record was observed, unix nanoseconds (0 when unknown).
    pub observed_timestamp: i64,
    /// Tracewire's addition: the tenant.
    pub tenant: Cow<'a, str>,
}

/// A map column (`Map(LowCardinality(String), String)`): a record's attributes when a row is
/// written, owned pairs when it is read back. Either way it is the key/value pairs in key
/// order, the encoding RowBinary and the spool files before RowBinary share.
#[derive(Debug, Clone)]
pub(super) enum Pairs<'a> {
    /// A record's attributes.
    Borrowed(&'a Attributes),
    /// Pairs read back.
    Owned(Vec<(String, String)>),
}

impl Pairs<'_> {
    /// The pairs as attributes.
    fn into_attributes(self) -> Attributes {
        match self {
            Self::Borrowed(map) => map.clone(),
            Self::Owned(pairs) => pairs.into_iter().collect(),
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::Borrowed(map) => map.len(),
            Self::Owned(pairs) => pairs.len(),
        }
    }

    /// The pairs, in key order.
    pub(super) fn iter(&self) -> Box<dyn Iterator<Item = (&str, &str)> + '_> {
        match self {
            Self::Borrowed(map) => Box::new(map.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
            Self::Owned(pairs) => Box::new(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        }
    }
}

impl PartialEq for Pairs<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Serialize for Pairs<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        match self {
            Self::Borrowed(map) => map
                .iter()
                .try_for_each(|pair| seq.serialize_element(&pair))?,
            Self::Owned(pairs) => pairs
                .iter()
                .try_for_each(|pair| seq.serialize_element(pair))?,
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Pairs<'_> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::deserialize(deserializer).map(Self::Owned)
    }
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

impl<'a> From<&'a SpanRecord> for SpanRow<'a> {
    fn from(s: &'a SpanRecord) -> Self {
        let text = |s: &'a String| Cow::Borrowed(s.as_str());
        Self {
            timestamp: s.start_ns,
            trace_id: text(&s.trace_id),
            span_id: text(&s.span_id),
            parent_span_id: text(&s.parent_span_id),
            trace_state: text(&s.trace_state),
            span_name: text(&s.name),
            span_kind: Cow::Borrowed(s.kind.as_str()),
            service_name: text(&s.service_name),
            resource_attributes: Pairs::Borrowed(&s.resource_attributes),
            scope_name: text(&s.scope_name),
            scope_version: text(&s.scope_version),
            span_attributes: Pairs::Borrowed(&s.span_attributes),
            duration: s.duration_ns.max(0).unsigned_abs(),
            status_code: Cow::Borrowed(s.status_code.as_str()),
            status_message: text(&s.status_message),
            events_timestamp: s.events.iter().map(|e| e.time_ns).collect(),
            events_name: s.events.iter().map(|e| text(&e.name)).collect(),
            events_attributes: s
                .events
                .iter()
                .map(|e| Pairs::Borrowed(&e.attributes))
                .collect(),
            links_trace_id: s.links.iter().map(|l| text(&l.trace_id)).collect(),
            links_span_id: s.links.iter().map(|l| text(&l.span_id)).collect(),
            links_trace_state: s.links.iter().map(|l| text(&l.trace_state)).collect(),
            links_attributes: s
                .links
                .iter()
                .map(|l| Pairs::Borrowed(&l.attributes))
                .collect(),
            tenant: text(&s.tenant),
        }
    }
}

impl From<SpanRow<'_>> for SpanRecord {
    fn from(r: SpanRow<'_>) -> Self {
        let events = r
            .events_timestamp
            .into_iter()
            .zip(r.events_name)
            .zip(r.events_attributes)
            .map(|((time_ns, name), attributes)| SpanEvent {
                time_ns,
                name: name.into_owned(),
                attributes: attributes.into_attributes(),
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
                    trace_id: trace_id.into_owned(),
                    span_id: span_id.into_owned(),
                    trace_state: trace_state.into_owned(),
                    attributes: attributes.into_attributes(),
                },
            )
            .collect();
        Self {
            tenant: r.tenant.into_owned(),
            trace_id: r.trace_id.into_owned(),
            span_id: r.span_id.into_owned(),
            parent_span_id: r.parent_span_id.into_owned(),
            trace_state: r.trace_state.into_owned(),
            name: r.span_name.into_owned(),
            kind: SpanKind::from_name(&r.span_kind).unwrap_or(SpanKind::Unspecified),
            service_name: r.service_name.into_owned(),
            start_ns: r.timestamp,
            duration_ns: i64::try_from(r.duration).unwrap_or(i64::MAX),
            status_code: StatusCode::from_name(&r.status_code).unwrap_or(StatusCode::Unset),
            status_message: r.status_message.into_owned(),
            scope_name: r.scope_name.into_owned(),
            scope_version: r.scope_version.into_owned(),
            resource_attributes: r.resource_attributes.into_attributes(),
            span_attributes: r.span_attributes.into_attributes(),
            events,
            links,
        }
    }
}

impl<'a> From<&'a LogRecord> for LogRow<'a> {
    fn from(l: &'a LogRecord) -> Self {
        let text = |s: &'a String| Cow::Borrowed(s.as_str());
        Self {
            timestamp: l.timestamp_ns,
            trace_id: text(&l.trace_id),
            span_id: text(&l.span_id),
            // W3C trace flags are one byte; the upper bits of OTLP's field are reserved.
            trace_flags: (l.trace_flags & 0xff) as u8,
            severity_text: text(&l.severity_text),
            severity_number: u8::try_from(l.severity_number.clamp(0, 255)).unwrap_or(0),
            service_name: text(&l.service_name),
            body: text(&l.body),
            resource_attributes: Pairs::Borrowed(&l.resource_attributes),
            scope_name: text(&l.scope_name),
            scope_version: text(&l.scope_version),
            log_attributes: Pairs::Borrowed(&l.log_attributes),
            event_name: text(&l.event_name),
            observed_timestamp: l.observed_ns,
            tenant: text(&l.tenant),
        }
    }
}

impl From<LogRow<'_>> for LogRecord {
    fn from(r: LogRow<'_>) -> Self {
        Self {
            tenant: r.tenant.into_owned(),
            timestamp_ns: r.timestamp,
            observed_ns: r.observed_timestamp,
            trace_id: r.trace_id.into_owned(),
            span_id: r.span_id.into_owned(),
            trace_flags: u32::from(r.trace_flags),
            severity_text: r.severity_text.into_owned(),
            severity_number: i32::from(r.severity_number),
            service_name: r.service_name.into_owned(),
            body: r.body.into_owned(),
            scope_name: r.scope_name.into_owned(),
            scope_version: r.scope_version.into_owned(),
            resource_attributes: r.resource_attributes.into_attributes(),
            log_attributes: r.log_attributes.into_attributes(),
            event_name: r.event_name.into_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::rowbinary;
    use super::*;
    use crate::testing::span;

    /// The RowBinary of a row reads back as the same row: the encoder and the reader a deletion
    /// sifts the spool with are driven by one type.
    #[test]
    fn span_round_trips_through_row_and_older_spool_json() {
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
        assert_eq!((&*row.span_kind, &*row.status_code), ("Consumer", "Error"));
        let json = serde_json::to_string(&row).expect("serialises");
        assert!(json.contains("\"Events.Timestamp\""), "{json}");
        let back: SpanRow = serde_json::from_str(&json).expect("parses");
        assert_eq!(SpanRecord::from(back), s);
        let mut binary = Vec::new();
        rowbinary::write_row(&mut binary, &row).expect("RowBinary");
        let mut at = 0;
        let back: SpanRow = rowbinary::read_row(&binary, &mut at).expect("reads back");
        assert_eq!(at, binary.len());
        assert_eq!(SpanRecord::from(back), s);
    }

    #[test]
    fn select_list_matches_the_row_fields() {
        let listed: Vec<_> = SPAN_COLUMNS
            .split(", ")
            .map(|c| c.trim_matches('`'))
            .collect();
        assert_eq!(listed, <SpanRow as Row>::COLUMN_NAMES);
        let listed: Vec<_> = LOG_COLUMNS.split(", ").collect();
        assert_eq!(listed, <LogRow as Row>::COLUMN_NAMES);
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
            log_attributes: [("k".to_owned(), "v".to_owned())].into(),
            event_name: String::new(),
        };
        let row = LogRow::from(&log);
        assert_eq!((row.trace_flags, row.severity_number), (1, 13));
        assert_eq!(row.observed_timestamp, 6);
        let mut binary = Vec::new();
        rowbinary::write_row(&mut binary, &row).expect("RowBinary");
        let back: LogRow = rowbinary::read_row(&binary, &mut 0).expect("reads back");
        assert_eq!(back, row);
    }
}
