//! Reads of log records on ClickHouse, answering exactly what the SQLite store answers: a
//! browser session's logs and log events by name. Values are server-side parameters.

use clickhouse::Client;
use tracewire_semconv::attribute::SESSION_ID;

use super::super::encode::{LOG_COLUMNS, LogRow};
use super::super::error::ClickHouseError;
use super::records;
use crate::model::{EventQuery, LogRecord};

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

pub(in super::super) async fn session_logs(
    client: &Client,
    tenant: &str,
    session_id: &str,
    limit: usize,
) -> Result<Vec<LogRecord>, ClickHouseError> {
    let query = client
        .query(&session_logs_sql())
        .param("tenant", tenant)
        .param("session_id", session_id)
        .param("limit", limit as u64);
    records::<LogRow<'_>, _>(query).await
}

pub(in super::super) async fn events(
    client: &Client,
    tenant: &str,
    q: &EventQuery,
) -> Result<Vec<LogRecord>, ClickHouseError> {
    let query = client
        .query(&events_sql())
        .param("tenant", tenant)
        .param("event_name", q.event_name.as_str())
        .param("start_ns", q.start_ns)
        .param("end_ns", q.end_ns)
        .param("limit", q.limit as u64);
    records::<LogRow<'_>, _>(query).await
}
