//! Each signal's SQLite table, as data: [`table`] is the one place that ties a signal to its
//! table ([`Signal::records`] names it), how a batch's records are inserted and how expired ones
//! are deleted (log records together with their entries in the search index, [`super::fts`]).
//! The writer and retention loop over [`Signal::ALL`]; adding a signal is its tables in the
//! schema, its insert and a line in [`table`]. A signal may have several tables (metrics has one
//! per metric type).

use rusqlite::{Transaction, params};
use tracewire_semconv::attribute::SESSION_ID;

use super::encode::{JsonColumn, LOG_COLUMNS, SPAN_COLUMNS};
use super::error::SqliteError;
use super::fts;
use super::metrics;
use crate::model::Batch;
use crate::signal::Signal;

/// How one signal's records are stored.
pub(super) struct Table {
    /// Inserts the batch's records of this signal.
    pub insert: fn(&Transaction<'_>, &Batch) -> Result<(), SqliteError>,
    /// Deletes at most `limit` records older than `cutoff_ns` (unix nanoseconds) from each of
    /// the signal's tables; how many.
    pub prune: fn(tx: &Transaction<'_>, cutoff_ns: i64, limit: i64) -> Result<u64, SqliteError>,
}

static SPANS: Table = Table {
    insert: insert_spans,
    prune: prune_spans,
};

static LOGS: Table = Table {
    insert: insert_logs,
    prune: prune_logs,
};

/// Metric points: one table per metric type ([`metrics::table`]), times in whole seconds.
static METRICS: Table = Table {
    insert: metrics::insert,
    prune: prune_metrics,
};

/// The table of `signal`.
pub(super) fn table(signal: Signal) -> &'static Table {
    match signal {
        Signal::Traces => &SPANS,
        Signal::Logs => &LOGS,
        Signal::Metrics => &METRICS,
    }
}

/// Inserts the batch's spans, each with its `session.id` in the `session_id` column. A span
/// already stored (same trace and span id, e.g. a client's retry of an acknowledged request) is
/// kept once.
fn insert_spans(tx: &Transaction<'_>, batch: &Batch) -> Result<(), SqliteError> {
    let mut stmt = tx.prepare_cached(&format!(
        "INSERT OR IGNORE INTO spans ({SPAN_COLUMNS}, session_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"
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
            s.span_attributes.get(SESSION_ID),
        ])?;
    }
    Ok(())
}

fn prune_spans(tx: &Transaction<'_>, cutoff_ns: i64, limit: i64) -> Result<u64, SqliteError> {
    let deleted = tx.execute(
        "DELETE FROM spans WHERE rowid IN (SELECT rowid FROM spans WHERE start_ns < ?1 LIMIT ?2)",
        params![cutoff_ns, limit],
    )?;
    Ok(deleted as u64)
}

/// Each metric type's table, by the points' time in whole seconds.
const METRICS_PRUNE: [&str; 5] = [
    "DELETE FROM metrics_gauge WHERE rowid IN (SELECT rowid FROM metrics_gauge WHERE time_unix < ?1 / 1000000000 LIMIT ?2)",
    "DELETE FROM metrics_sum WHERE rowid IN (SELECT rowid FROM metrics_sum WHERE time_unix < ?1 / 1000000000 LIMIT ?2)",
    "DELETE FROM metrics_histogram WHERE rowid IN (SELECT rowid FROM metrics_histogram WHERE time_unix < ?1 / 1000000000 LIMIT ?2)",
    "DELETE FROM metrics_exponential_histogram WHERE rowid IN (SELECT rowid FROM metrics_exponential_histogram WHERE time_unix < ?1 / 1000000000 LIMIT ?2)",
    "DELETE FROM metrics_summary WHERE rowid IN (SELECT rowid FROM metrics_summary WHERE time_unix < ?1 / 1000000000 LIMIT ?2)",
];

fn prune_metrics(tx: &Transaction<'_>, cutoff_ns: i64, limit: i64) -> Result<u64, SqliteError> {
    let mut deleted = 0;
    for statement in METRICS_PRUNE {
        deleted += tx.execute(statement, params![cutoff_ns, limit])? as u64;
    }
    Ok(deleted)
}

fn prune_logs(tx: &Transaction<'_>, cutoff_ns: i64, limit: i64) -> Result<u64, SqliteError> {
    let expired: Vec<i64> = tx
        .prepare_cached("SELECT rowid FROM logs WHERE timestamp_ns < ?1 LIMIT ?2")?
        .query_map(params![cutoff_ns, limit], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    delete_logs(tx, &expired)
}

/// Deletes the log records with these rowids and their entries in the search index; how many.
pub(super) fn delete_logs(tx: &Transaction<'_>, rowids: &[i64]) -> Result<u64, SqliteError> {
    fts::forget(tx, rowids)?;
    let mut delete = tx.prepare_cached("DELETE FROM logs WHERE rowid = ?1")?;
    let mut deleted = 0;
    for rowid in rowids {
        deleted += delete.execute([rowid])? as u64;
    }
    Ok(deleted)
}

/// Inserts the batch's log records and indexes their bodies for search.
fn insert_logs(tx: &Transaction<'_>, batch: &Batch) -> Result<(), SqliteError> {
    let before = fts::last_rowid(tx)?;
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
    drop(stmt);
    fts::index_new(tx, before)
}
