//! Reads of span metrics ([`crate::spanmetrics`]): operation calls and dependency calls of a
//! window, from the per-minute rollups ([`super::super::calls`] keeps them up to date) when the
//! window and step are whole minutes, else from the spans themselves, which gives the same
//! answer. Rolling up a minute reads its spans the same way.

use rusqlite::{Connection, ToSql};

use super::super::error::SqliteError;
use super::rollups::whole_minutes;
use crate::correlate::Histogram;
use crate::model::CallQuery;
use crate::spanmetrics::{CallRollups, Calls};

/// SERVER and CONSUMER spans of `q`'s window added up per step, service and operation.
pub(in super::super) fn operations(
    conn: &Connection,
    tenant: &str,
    q: &CallQuery,
) -> Result<CallRollups, SqliteError> {
    if !whole_minutes(q.start_ns, q.end_ns, q.step_ns) {
        return operations_of_spans(conn, tenant, q);
    }
    let mut sql = String::from(
        "SELECT minute_ns, service, operation, calls, errors, durations FROM operation_rollups \
         WHERE tenant = ? AND minute_ns >= ? AND minute_ns < ?",
    );
    let mut values: Vec<&dyn ToSql> = vec![&tenant, &q.start_ns, &q.end_ns];
    if let Some(service) = &q.service {
        sql.push_str(" AND service = ?");
        values.push(service);
    }
    stored(conn, &sql, &values, q)
}

/// Dependency calls of `q`'s window added up per step, caller and callee.
pub(in super::super) fn dependencies(
    conn: &Connection,
    tenant: &str,
    q: &CallQuery,
) -> Result<CallRollups, SqliteError> {
    if !whole_minutes(q.start_ns, q.end_ns, q.step_ns) {
        return dependencies_of_spans(conn, tenant, q);
    }
    stored(
        conn,
        "SELECT minute_ns, caller, callee, calls, errors, durations FROM dependency_rollups \
         WHERE tenant = ? AND minute_ns >= ? AND minute_ns < ?",
        &[&tenant, &q.start_ns, &q.end_ns],
        q,
    )
}

/// Stored minutes (rows of minute, pair, calls, errors, durations) added up per step of `q`.
fn stored(
    conn: &Connection,
    sql: &str,
    values: &[&dyn ToSql],
    q: &CallQuery,
) -> Result<CallRollups, SqliteError> {
    let mut out = CallRollups::new(q.start_ns, q.step_ns, q.buckets);
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(values)?;
    while let Some(row) = rows.next()? {
        let calls = Calls {
            count: row.get::<_, i64>(3)?.unsigned_abs(),
            errors: row.get::<_, i64>(4)?.unsigned_abs(),
            durations: Histogram::decode(&row.get::<_, Vec<u8>>(5)?)?,
        };
        let (a, b): (String, String) = (row.get(1)?, row.get(2)?);
        out.add(row.get(0)?, &a, &b, &calls);
    }
    Ok(out)
}

/// Rows of (start, pair, duration, error) added up per step of `q`.
fn of_rows(
    conn: &Connection,
    sql: &str,
    values: &[&dyn ToSql],
    q: &CallQuery,
) -> Result<CallRollups, SqliteError> {
    let mut out = CallRollups::new(q.start_ns, q.step_ns, q.buckets);
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(values)?;
    while let Some(row) = rows.next()? {
        let (a, b): (String, String) = (row.get(1)?, row.get(2)?);
        out.add_call(row.get(0)?, &a, &b, row.get(3)?, row.get(4)?);
    }
    Ok(out)
}

/// The window's end, cut at the end of `q`'s last bucket.
fn end_of(q: &CallQuery) -> i64 {
    q.end_ns
        .min(CallRollups::end_of(q.start_ns, q.step_ns, q.buckets))
}

/// [`operations`] read from the spans.
pub(in super::super) fn operations_of_spans(
    conn: &Connection,
    tenant: &str,
    q: &CallQuery,
) -> Result<CallRollups, SqliteError> {
    let end = end_of(q);
    let mut sql = String::from(
        "SELECT start_ns, service_name, name, duration_ns, status_code = 'Error' FROM spans \
         WHERE tenant = ? AND start_ns >= ? AND start_ns < ? AND kind IN ('Server', 'Consumer')",
    );
    let mut values: Vec<&dyn ToSql> = vec![&tenant, &q.start_ns, &end];
    if let Some(service) = &q.service {
        sql.push_str(" AND service_name = ?");
        values.push(service);
    }
    of_rows(conn, &sql, &values, q)
}

/// [`dependencies`] read from the spans: each span of the window joined with its parent.
pub(in super::super) fn dependencies_of_spans(
    conn: &Connection,
    tenant: &str,
    q: &CallQuery,
) -> Result<CallRollups, SqliteError> {
    let end = end_of(q);
    of_rows(
        conn,
        // Named: the window is read by time, each parent found by its id.
        "SELECT c.start_ns, p.service_name, c.service_name, c.duration_ns, \
         c.status_code = 'Error' \
         FROM spans AS c INDEXED BY spans_by_tenant_time \
         JOIN spans AS p INDEXED BY spans_by_trace \
         ON p.tenant = c.tenant AND p.trace_id = c.trace_id AND p.span_id = c.parent_span_id \
         WHERE c.tenant = ? AND c.start_ns >= ? AND c.start_ns < ? AND c.parent_span_id != '' \
         AND p.service_name != c.service_name",
        &[&tenant, &q.start_ns, &end],
        q,
    )
}

/// Whether any span of `service` is stored.
pub(in super::super) fn has_service(
    conn: &Connection,
    tenant: &str,
    service: &str,
) -> Result<bool, SqliteError> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM spans INDEXED BY spans_by_service_time \
             WHERE tenant = ?1 AND service_name = ?2 LIMIT 1",
        )?
        .exists([tenant, service])?)
}
