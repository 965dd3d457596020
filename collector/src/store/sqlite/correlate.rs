//! Reads for correlation: browser sends, whole traces by id, a browser session's spans and
//! logs, and log events by name. Every value is bound as a parameter.

use rusqlite::{Connection, ToSql};

use super::StoreError;
use super::encode::{LOG_COLUMNS, SPAN_COLUMNS, select_logs, select_spans};
use crate::model::{EventQuery, LogRecord, SendQuery, SpanRecord};

/// Trace ids bound per statement (SQLite allows 32,766 parameters; stay far below).
const IDS_PER_STATEMENT: usize = 500;

pub(super) fn ws_sends(
    conn: &Connection,
    tenant: &str,
    q: &SendQuery,
) -> Result<Vec<SpanRecord>, StoreError> {
    let mut sql = format!(
        "SELECT {SPAN_COLUMNS} FROM spans WHERE tenant = ? AND start_ns >= ? AND start_ns < ? \
         AND kind = 'Producer' AND (name = 'ws.send' OR name LIKE 'ws.send %') \
         AND json_extract(resource_attributes, '$.\"telemetry.sdk.language\"') = 'webjs'"
    );
    let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
    let mut values: Vec<&dyn ToSql> = vec![&tenant, &q.start_ns, &q.end_ns];
    if let Some(session) = &q.session_id {
        sql.push_str(" AND json_extract(span_attributes, '$.\"session.id\"') = ?");
        values.push(session);
    }
    if let Some(service) = &q.service {
        sql.push_str(" AND service_name = ?");
        values.push(service);
    }
    if let Some(message_type) = &q.message_type {
        sql.push_str(" AND json_extract(span_attributes, '$.\"ws.message.type\"') = ?");
        values.push(message_type);
    }
    sql.push_str(" ORDER BY start_ns DESC LIMIT ?");
    values.push(&limit);
    select_spans(conn, &sql, &values)
}

pub(super) fn spans_of_traces(
    conn: &Connection,
    tenant: &str,
    trace_ids: &[String],
) -> Result<Vec<SpanRecord>, StoreError> {
    let mut out = Vec::new();
    for chunk in trace_ids.chunks(IDS_PER_STATEMENT) {
        let placeholders = vec!["?"; chunk.len()].join(", ");
        let sql = format!(
            "SELECT {SPAN_COLUMNS} FROM spans WHERE tenant = ? AND trace_id IN ({placeholders})"
        );
        let mut values: Vec<&dyn ToSql> = vec![&tenant];
        values.extend(chunk.iter().map(|id| id as &dyn ToSql));
        out.extend(select_spans(conn, &sql, &values)?);
    }
    Ok(out)
}

pub(super) fn session_spans(
    conn: &Connection,
    tenant: &str,
    session_id: &str,
    limit: usize,
) -> Result<Vec<SpanRecord>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    select_spans(
        conn,
        &format!(
            "SELECT {SPAN_COLUMNS} FROM spans WHERE tenant = ? \
             AND json_extract(span_attributes, '$.\"session.id\"') = ? ORDER BY start_ns LIMIT ?"
        ),
        &[&tenant, &session_id, &limit],
    )
}

pub(super) fn session_logs(
    conn: &Connection,
    tenant: &str,
    session_id: &str,
    limit: usize,
) -> Result<Vec<LogRecord>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    select_logs(
        conn,
        &format!(
            "SELECT {LOG_COLUMNS} FROM logs WHERE tenant = ? \
             AND json_extract(log_attributes, '$.\"session.id\"') = ? ORDER BY timestamp_ns LIMIT ?"
        ),
        &[&tenant, &session_id, &limit],
    )
}

pub(super) fn events(
    conn: &Connection,
    tenant: &str,
    q: &EventQuery,
) -> Result<Vec<LogRecord>, StoreError> {
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
