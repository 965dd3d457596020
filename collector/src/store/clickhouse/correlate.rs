//! Reads for correlation on ClickHouse, answering exactly what the SQLite store answers: round
//! trips and session clock offsets (which [`super::derive`] writes; `FINAL` keeps the newest
//! version of each), whole traces by id, a browser session's spans and logs, and log events by
//! name. Values are server-side parameters; `LIMIT 1 BY` keeps one row per span when a retried
//! batch stored a span twice.

use std::collections::{BTreeSet, HashMap};

use clickhouse::Client;
use tracewire_semconv::attribute::SESSION_ID;

use super::ClickHouseStore;
use super::encode::{
    LogRow, ROUND_TRIP_COLUMNS, RoundTripRow, SPAN_COLUMNS, SessionOffsetRow, SpanRow,
};
use crate::model::{
    EventQuery, LogRecord, RoundTrip, RoundTripPoint, RoundTripQuery, SessionOffset, SpanRecord,
};
use crate::store::StoreError;

/// The [`LogRow`] columns in field order, for SELECT lists.
const LOG_COLUMNS: &str = "Timestamp, TraceId, SpanId, TraceFlags, SeverityText, SeverityNumber, \
    ServiceName, Body, ResourceAttributes, ScopeName, ScopeVersion, LogAttributes, EventName, \
    ObservedTimestamp, Tenant";

/// Round trips of one message type.
pub(super) const MESSAGE_TYPE_FILTER: &str = " AND MessageType = {message_type:String}";

/// Optional filters of [`round_trips_sql`], in order; each is used only when its value is given.
pub(super) const ROUND_TRIP_FILTERS: [&str; 3] = [
    " AND SessionId = {session_id:String}",
    " AND ServiceName = {service:String}",
    MESSAGE_TYPE_FILTER,
];

/// Round trips sent in a window, newest first, with the given filter fragments.
pub(super) fn round_trips_sql(filters: &str) -> String {
    format!(
        "SELECT {ROUND_TRIP_COLUMNS} FROM tracewire_ws_round_trips FINAL \
         WHERE Tenant = {{tenant:String}} \
         AND ClientSendTime >= fromUnixTimestamp64Nano({{start_ns:Int64}}) \
         AND ClientSendTime < fromUnixTimestamp64Nano({{end_ns:Int64}}){filters} \
         ORDER BY ClientSendTime DESC, SendSpanId DESC LIMIT {{limit:UInt64}}"
    )
}

/// The stored clock offsets of the given sessions.
pub(super) const SESSION_OFFSETS_SQL: &str = "SELECT Tenant, SessionId, ClockOffset, Samples, \
    Version FROM tracewire_ws_session_offsets FINAL \
    WHERE Tenant = {tenant:String} AND SessionId IN {sessions:Array(String)}";

/// Every span of the given traces.
pub(super) fn spans_of_traces_sql() -> String {
    format!(
        "SELECT {SPAN_COLUMNS} FROM otel_traces WHERE Tenant = {{tenant:String}} \
         AND TraceId IN {{trace_ids:Array(String)}} ORDER BY Timestamp LIMIT 1 BY TraceId, SpanId"
    )
}

/// Every stored span of these traces of `tenant`.
pub(super) async fn spans_of_traces(
    client: &Client,
    tenant: &str,
    trace_ids: &[String],
) -> Result<Vec<SpanRecord>, StoreError> {
    if trace_ids.is_empty() {
        return Ok(Vec::new());
    }
    let query = client
        .query(&spans_of_traces_sql())
        .param("tenant", tenant)
        .param("trace_ids", trace_ids);
    Ok(spans(query.fetch_all::<SpanRow>().await?))
}

/// A browser session's spans, oldest first.
pub(super) fn session_spans_sql() -> String {
    format!(
        "SELECT {SPAN_COLUMNS} FROM otel_traces WHERE Tenant = {{tenant:String}} \
         AND SpanAttributes['{SESSION_ID}'] = {{session_id:String}} \
         ORDER BY Timestamp LIMIT 1 BY TraceId, SpanId LIMIT {{limit:UInt64}}"
    )
}

/// A browser session's log records, oldest first.
pub(super) fn session_logs_sql() -> String {
    format!(
        "SELECT {LOG_COLUMNS} FROM otel_logs WHERE Tenant = {{tenant:String}} \
         AND LogAttributes['{SESSION_ID}'] = {{session_id:String}} ORDER BY Timestamp LIMIT {{limit:UInt64}}"
    )
}

/// Log records of one event name in a window, newest first.
pub(super) fn events_sql() -> String {
    format!(
        "SELECT {LOG_COLUMNS} FROM otel_logs WHERE Tenant = {{tenant:String}} \
         AND EventName = {{event_name:String}} \
         AND Timestamp >= fromUnixTimestamp64Nano({{start_ns:Int64}}) \
         AND Timestamp < fromUnixTimestamp64Nano({{end_ns:Int64}}) \
         ORDER BY Timestamp DESC LIMIT {{limit:UInt64}}"
    )
}

fn spans(rows: Vec<SpanRow>) -> Vec<SpanRecord> {
    rows.into_iter().map(SpanRecord::from).collect()
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

impl ClickHouseStore {
    /// The stored clock offsets of these sessions.
    async fn offsets(
        &self,
        sessions: BTreeSet<&str>,
    ) -> Result<HashMap<String, SessionOffset>, StoreError> {
        if sessions.is_empty() {
            return Ok(HashMap::new());
        }
        let rows: Vec<SessionOffsetRow> = self
            .client
            .query(SESSION_OFFSETS_SQL)
            .param("tenant", super::DEFAULT_TENANT)
            .param("sessions", sessions.into_iter().collect::<Vec<_>>())
            .fetch_all()
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.session_id.clone(), SessionOffset::from(&r)))
            .collect())
    }

    pub(in crate::store) async fn round_trips(
        &self,
        q: &RoundTripQuery,
    ) -> Result<Vec<(RoundTrip, i64)>, StoreError> {
        let given = [
            q.session_id.as_ref(),
            q.service.as_ref(),
            q.message_type.as_ref(),
        ];
        let filters: String = ROUND_TRIP_FILTERS
            .iter()
            .zip(given)
            .filter(|(_, value)| value.is_some())
            .map(|(fragment, _)| *fragment)
            .collect();
        let mut query = self
            .client
            .query(&round_trips_sql(&filters))
            .param("tenant", super::DEFAULT_TENANT)
            .param("start_ns", q.start_ns)
            .param("end_ns", q.end_ns)
            .param("limit", q.limit as u64);
        for (name, value) in ["session_id", "service", "message_type"]
            .into_iter()
            .zip(given)
        {
            if let Some(value) = value {
                query = query.param(name, value);
            }
        }
        let rows: Vec<RoundTripRow> = query.fetch_all().await?;
        let offsets = self
            .offsets(
                rows.iter()
                    .filter_map(|r| r.session_id.as_deref())
                    .collect(),
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let offset = r
                    .session_id
                    .as_ref()
                    .and_then(|s| offsets.get(s))
                    .map_or(0, |o| o.offset_ns);
                (RoundTrip::from(r), offset)
            })
            .collect())
    }

    pub(in crate::store) async fn round_trip_points(
        &self,
        q: &RoundTripQuery,
    ) -> Result<Vec<RoundTripPoint>, StoreError> {
        let q = RoundTripQuery {
            session_id: None,
            service: None,
            ..q.clone()
        };
        Ok(self
            .round_trips(&q)
            .await?
            .into_iter()
            .map(|(r, clock_offset_ns)| RoundTripPoint {
                trace_id: r.trace_id,
                message_type: r.message_type.unwrap_or_default(),
                times: r.times,
                error: r.error,
                clock_offset_ns,
            })
            .collect())
    }

    pub(in crate::store) async fn session_offset(
        &self,
        session_id: &str,
    ) -> Result<Option<SessionOffset>, StoreError> {
        Ok(self
            .offsets(BTreeSet::from([session_id]))
            .await?
            .remove(session_id))
    }

    pub(in crate::store) async fn session_spans(
        &self,
        session_id: &str,
        limit: usize,
    ) -> Result<Vec<SpanRecord>, StoreError> {
        let query = self
            .client
            .query(&session_spans_sql())
            .param("tenant", super::DEFAULT_TENANT)
            .param("session_id", session_id)
            .param("limit", limit as u64);
        Ok(spans(query.fetch_all::<SpanRow>().await?))
    }

    pub(in crate::store) async fn session_logs(
        &self,
        session_id: &str,
        limit: usize,
    ) -> Result<Vec<LogRecord>, StoreError> {
        let query = self
            .client
            .query(&session_logs_sql())
            .param("tenant", super::DEFAULT_TENANT)
            .param("session_id", session_id)
            .param("limit", limit as u64);
        let rows = query.fetch_all::<LogRow>().await?;
        Ok(rows.into_iter().map(LogRecord::from).collect())
    }

    pub(in crate::store) async fn events(
        &self,
        q: &EventQuery,
    ) -> Result<Vec<LogRecord>, StoreError> {
        let query = self
            .client
            .query(&events_sql())
            .param("tenant", super::DEFAULT_TENANT)
            .param("event_name", q.event_name.as_str())
            .param("start_ns", q.start_ns)
            .param("end_ns", q.end_ns)
            .param("limit", q.limit as u64);
        let rows = query.fetch_all::<LogRow>().await?;
        Ok(rows.into_iter().map(LogRecord::from).collect())
    }
}
