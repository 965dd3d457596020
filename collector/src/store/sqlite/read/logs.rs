//! Reads of log records: a browser session's logs and log events by name. Every value is
//! bound as a parameter.

use rusqlite::Connection;
use tracewire_semconv::attribute::SESSION_ID;

use super::super::encode::{LOG_COLUMNS, select_logs};
use super::super::error::SqliteError;
use crate::model::{EventQuery, LogRecord};

pub(in super::super) fn session_logs(
    conn: &Connection,
    tenant: &str,
    session_id: &str,
    limit: usize,
) -> Result<Vec<LogRecord>, SqliteError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    select_logs(
        conn,
        &format!(
            "SELECT {LOG_COLUMNS} FROM logs WHERE tenant = ? \
             AND json_extract(log_attributes, '$.\"{SESSION_ID}\"') = ? ORDER BY timestamp_ns LIMIT ?"
        ),
        &[&tenant, &session_id, &limit],
    )
}

pub(in super::super) fn events(
    conn: &Connection,
    tenant: &str,
    q: &EventQuery,
) -> Result<Vec<LogRecord>, SqliteError> {
    let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
    select_logs(
        conn,
        &format!(
            "SELECT {LOG_COLUMNS} FROM logs WHERE tenant = ? AND event_name = ? \
             AND timestamp_ns >= ? AND timestamp_ns < ? ORDER BY timestamp_ns DESC LIMIT ?"
        ),
        &[&tenant, &q.event_name, &q.start_ns, &q.end_ns, &limit],
    )
}
