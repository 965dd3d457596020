//! Each signal's SQLite table, as data: [`table`] is the one place that ties a signal to its
//! table ([`Signal::records`] names it), how a batch's records are inserted and how expired ones
//! are deleted. The writer and retention loop over [`Signal::ALL`]; adding a signal is its
//! table in the schema, its insert and a line in [`table`].

use rusqlite::{Transaction, params};

use super::encode::{JsonColumn, LOG_COLUMNS, SPAN_COLUMNS};
use super::error::SqliteError;
use crate::model::Batch;
use crate::signal::Signal;

/// How one signal's records are stored.
pub(super) struct Table {
    /// Inserts the batch's records of this signal.
    pub insert: fn(&Transaction<'_>, &Batch) -> Result<(), SqliteError>,
    /// Deletes at most `?2` records older than `?1` (unix nanoseconds).
    pub prune: &'static str,
}

static SPANS: Table = Table {
    insert: insert_spans,
    prune: "DELETE FROM spans WHERE rowid IN (SELECT rowid FROM spans WHERE start_ns < ?1 LIMIT ?2)",
};

static LOGS: Table = Table {
    insert: insert_logs,
    prune: "DELETE FROM logs WHERE rowid IN (SELECT rowid FROM logs WHERE timestamp_ns < ?1 LIMIT ?2)",
};

/// The table of `signal`.
pub(super) fn table(signal: Signal) -> &'static Table {
    match signal {
        Signal::Traces => &SPANS,
        Signal::Logs => &LOGS,
    }
}

/// Inserts the batch's spans. A span already stored (same trace and span id, e.g. a client's
/// retry of an acknowledged request) is kept once.
fn insert_spans(tx: &Transaction<'_>, batch: &Batch) -> Result<(), SqliteError> {
    let mut stmt = tx.prepare_cached(&format!(
        "INSERT OR IGNORE INTO spans ({SPAN_COLUMNS}) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
    ))?;
    let [mut resource, mut attributes, mut events, mut links] =
        std::array::from_fn(|_| JsonColumn::default());
    let mut previous = None;
    for s in &batch.spans {
        resource.set_unless(
            previous == Some(&s.resource_attributes),
            &s.resource_attributes,
        )?;
        previous = Some(&s.resource_attributes);
        attributes.set(&s.span_attributes)?;
        events.set(&s.events)?;
        links.set(&s.links)?;
        stmt.execute(params![
            s.tenant,
            s.trace_id,
            s.span_id,
            s.parent_span_id,
            s.trace_state,
            s.name,
            s.kind.as_str(),
            s.service_name,
            s.start_ns,
            s.duration_ns,
            s.status_code.as_str(),
            s.status_message,
            s.scope_name,
            s.scope_version,
            resource,
            attributes,
            events,
            links,
        ])?;
    }
    Ok(())
}

/// Inserts the batch's log records.
fn insert_logs(tx: &Transaction<'_>, batch: &Batch) -> Result<(), SqliteError> {
    let mut stmt = tx.prepare_cached(&format!(
        "INSERT INTO logs ({LOG_COLUMNS}) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
    ))?;
    let [mut resource, mut attributes] = std::array::from_fn(|_| JsonColumn::default());
    let mut previous = None;
    for l in &batch.logs {
        resource.set_unless(
            previous == Some(&l.resource_attributes),
            &l.resource_attributes,
        )?;
        previous = Some(&l.resource_attributes);
        attributes.set(&l.log_attributes)?;
        stmt.execute(params![
            l.tenant,
            l.timestamp_ns,
            l.observed_ns,
            l.trace_id,
            l.span_id,
            l.trace_flags,
            l.severity_text,
            l.severity_number,
            l.service_name,
            l.body,
            l.scope_name,
            l.scope_version,
            resource,
            attributes,
            l.event_name,
        ])?;
    }
    Ok(())
}
