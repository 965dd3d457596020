//! Records to SQLite rows and back: the JSON columns (attribute maps, events, links) and the
//! text enums.

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, Row, ToSql};

use super::error::SqliteError;
use crate::model::{Attributes, LogRecord, SpanKind, SpanRecord, StatusCode};

/// The span columns in insert and select order.
pub(super) const SPAN_COLUMNS: &str = "tenant, trace_id, span_id, parent_span_id, trace_state, name, kind, \
    service_name, start_ns, duration_ns, status_code, status_message, scope_name, scope_version, \
    resource_attributes, span_attributes, events, links";

/// The log columns in insert order.
pub(super) const LOG_COLUMNS: &str = "tenant, timestamp_ns, observed_ns, trace_id, span_id, trace_flags, \
    severity_text, severity_number, service_name, body, scope_name, scope_version, resource_attributes, \
    log_attributes, event_name";

/// JSON text of a map or list column.
pub(super) fn json<T: serde::Serialize>(value: &T) -> Result<String, SqliteError> {
    Ok(serde_json::to_string(value)?)
}

/// A JSON column's text in a buffer that is reused from row to row, bound as TEXT as it is.
#[derive(Default)]
pub(super) struct JsonColumn {
    text: Vec<u8>,
    /// The buffer holds the encoding of a value that has not changed since (a batch's records
    /// mostly share one resource).
    kept: bool,
}

impl JsonColumn {
    /// Encodes `value` into the buffer, replacing what it held.
    pub(super) fn set<T: serde::Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> Result<(), SqliteError> {
        self.text.clear();
        self.kept = false;
        serde_json::to_writer(&mut self.text, value)?;
        Ok(())
    }

    /// Encodes `value` unless `same` says the buffer already holds its encoding.
    pub(super) fn set_unless<T: serde::Serialize + ?Sized>(
        &mut self,
        same: bool,
        value: &T,
    ) -> Result<(), SqliteError> {
        if same && self.kept {
            return Ok(());
        }
        self.set(value)?;
        self.kept = true;
        Ok(())
    }
}

impl ToSql for JsonColumn {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        // serde_json writes UTF-8 only.
        Ok(ToSqlOutput::Borrowed(ValueRef::Text(&self.text)))
    }
}

/// A span from a row selected with [`SPAN_COLUMNS`].
pub(super) fn span_from_row(row: &Row<'_>) -> Result<SpanRecord, SqliteError> {
    let kind: String = row.get(6)?;
    let status: String = row.get(10)?;
    Ok(SpanRecord {
        tenant: row.get(0)?,
        trace_id: row.get(1)?,
        span_id: row.get(2)?,
        parent_span_id: row.get(3)?,
        trace_state: row.get(4)?,
        name: row.get(5)?,
        kind: SpanKind::from_name(&kind).unwrap_or(SpanKind::Unspecified),
        service_name: row.get(7)?,
        start_ns: row.get(8)?,
        duration_ns: row.get(9)?,
        status_code: StatusCode::from_name(&status).unwrap_or(StatusCode::Unset),
        status_message: row.get(11)?,
        scope_name: row.get(12)?,
        scope_version: row.get(13)?,
        resource_attributes: parse::<Attributes>(row, 14)?,
        span_attributes: parse::<Attributes>(row, 15)?,
        events: parse(row, 16)?,
        links: parse(row, 17)?,
    })
}

/// A log record from a row selected with [`LOG_COLUMNS`].
pub(super) fn log_from_row(row: &Row<'_>) -> Result<LogRecord, SqliteError> {
    Ok(LogRecord {
        tenant: row.get(0)?,
        timestamp_ns: row.get(1)?,
        observed_ns: row.get(2)?,
        trace_id: row.get(3)?,
        span_id: row.get(4)?,
        trace_flags: row.get(5)?,
        severity_text: row.get(6)?,
        severity_number: row.get(7)?,
        service_name: row.get(8)?,
        body: row.get(9)?,
        scope_name: row.get(10)?,
        scope_version: row.get(11)?,
        resource_attributes: parse(row, 12)?,
        log_attributes: parse(row, 13)?,
        event_name: row.get(14)?,
    })
}

fn parse<T: serde::de::DeserializeOwned>(row: &Row<'_>, index: usize) -> Result<T, SqliteError> {
    let text: String = row.get(index)?;
    Ok(serde_json::from_str(&text)?)
}

/// Runs a SELECT of [`SPAN_COLUMNS`] and decodes every row.
pub(super) fn select_spans(
    conn: &Connection,
    sql: &str,
    values: &[&dyn ToSql],
) -> Result<Vec<SpanRecord>, SqliteError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(values)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(span_from_row(row)?);
    }
    Ok(out)
}

/// Runs a SELECT of [`LOG_COLUMNS`] and decodes every row.
pub(super) fn select_logs(
    conn: &Connection,
    sql: &str,
    values: &[&dyn ToSql],
) -> Result<Vec<LogRecord>, SqliteError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(values)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(log_from_row(row)?);
    }
    Ok(out)
}
