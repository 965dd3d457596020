//! The correlation step: turns traces waiting in `ws_pending` into round trips and their
//! sessions' clock offsets. The writer inserts a trace into `ws_pending` in the transaction that
//! stores any of its spans; a pass takes the oldest waiting traces, re-derives their round
//! trips from every stored span, re-estimates the clock offset of each session they touch, and
//! removes them from `ws_pending`, all in one write transaction. So collectors sharing a file
//! derive the same records whichever stored which span, and nothing waiting is lost in a crash.
//! The minutes whose round trips a pass changes are marked for rolling up again
//! ([`super::rollup`]), and so are the minutes of every span of the traces it takes, for the
//! span metrics ([`super::calls`]).

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::{Connection, OptionalExtension, ToSql, TransactionBehavior, params};
use tracing::warn;

use super::calls;
use super::error::SqliteError;
use super::read::spans_of_traces;
use super::rollup;
use crate::correlate::{SESSION_SAMPLES, estimate, round_trips};
use crate::model::{ExchangeTimes, RoundTrip, SpanRecord};

/// Waiting traces one pass takes; bounds how long a pass holds the write lock.
const TRACES_PER_PASS: i64 = 256;

/// Whether any trace waits for the correlation step.
pub(super) fn pending(conn: &Connection) -> Result<bool, SqliteError> {
    Ok(conn
        .query_row("SELECT 1 FROM ws_pending LIMIT 1", [], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Inserts the traces of these spans into `ws_pending`, each once; returns how many.
pub(super) fn mark_pending<'a>(
    conn: &Connection,
    traces: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<usize, SqliteError> {
    let unique: BTreeSet<(&str, &str)> = traces.into_iter().collect();
    let mut stmt =
        conn.prepare_cached("INSERT INTO ws_pending (tenant, trace_id) VALUES (?1, ?2)")?;
    for (tenant, trace_id) in &unique {
        stmt.execute(params![tenant, trace_id])?;
    }
    Ok(unique.len())
}

/// One pass over the oldest waiting traces; returns how many it took (0: none waited).
pub(super) fn pass(conn: &mut Connection) -> Result<usize, SqliteError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let waiting: Vec<(i64, String, String)> = {
        let mut stmt = tx
            .prepare_cached("SELECT seq, tenant, trace_id FROM ws_pending ORDER BY seq LIMIT ?1")?;
        stmt.query_map([TRACES_PER_PASS], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?
        .collect::<Result<_, _>>()?
    };
    let Some(&(last, _, _)) = waiting.last() else {
        return Ok(0);
    };
    let mut by_tenant: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (_, tenant, trace_id) in &waiting {
        by_tenant
            .entry(tenant.clone())
            .or_default()
            .insert(trace_id.clone());
    }
    for (tenant, traces) in by_tenant {
        let mut traces = survey(&tx, &tenant, traces)?;
        let spans = match spans_of_traces(&tx, &tenant, &traces) {
            Err(SqliteError::Corrupt(_)) => readable_spans(&tx, &tenant, &mut traces)?,
            read => read?,
        };
        let records = round_trips(&spans);
        replace_round_trips(&tx, &tenant, &traces, &records)?;
        let sessions: BTreeSet<&str> = records
            .iter()
            .filter_map(|r| r.session_id.as_deref())
            .collect();
        for session in sessions {
            update_offset(&tx, &tenant, session)?;
        }
    }
    tx.prepare_cached("DELETE FROM ws_pending WHERE seq <= ?1")?
        .execute([last])?;
    tx.commit()?;
    Ok(waiting.len())
}

/// The spans of `traces` read trace by trace, after reading them together failed on a stored
/// value that does not parse (changed outside the collector): each trace with such a span is
/// logged and left out of `traces`, so its round trips stay as they were and it no longer holds
/// up the traces behind it.
fn readable_spans(
    conn: &Connection,
    tenant: &str,
    traces: &mut Vec<String>,
) -> Result<Vec<SpanRecord>, SqliteError> {
    let mut spans = Vec::new();
    let mut readable = Vec::with_capacity(traces.len());
    for trace_id in traces.drain(..) {
        match spans_of_traces(conn, tenant, std::slice::from_ref(&trace_id)) {
            Ok(read) => {
                spans.extend(read);
                readable.push(trace_id);
            }
            Err(SqliteError::Corrupt(e)) => warn!(
                trace_id,
                error = %e,
                "a stored span of this trace does not parse; the correlation step skips the trace"
            ),
            Err(e) => return Err(e),
        }
    }
    *traces = readable;
    Ok(spans)
}

/// Reads the stored spans of each of `traces` once (through the trace index, not their
/// attributes): marks their minutes stale for the span metrics ([`calls::mark_minutes`]) and
/// returns those of `traces` with a span that may be a browser send. Only they can hold round
/// trips (a payload-free connection's trace holds its sends too), and checking is much cheaper
/// than reading (and decoding) every span of the others.
fn survey(
    conn: &Connection,
    tenant: &str,
    traces: BTreeSet<String>,
) -> Result<Vec<String>, SqliteError> {
    let mut stmt = conn.prepare_cached(
        "SELECT start_ns, kind = 'Producer' AND name LIKE 'ws.send%' \
         FROM spans INDEXED BY spans_by_trace WHERE tenant = ?1 AND trace_id = ?2",
    )?;
    let mut starts = Vec::new();
    let mut kept = Vec::new();
    for trace_id in traces {
        let mut sends = false;
        let mut rows = stmt.query(params![tenant, trace_id])?;
        while let Some(row) = rows.next()? {
            starts.push(row.get(0)?);
            sends |= row.get::<_, bool>(1)?;
        }
        if sends {
            kept.push(trace_id);
        }
    }
    calls::mark_minutes(conn, tenant, starts)?;
    Ok(kept)
}

/// The send times of a trace's stored round trips. Read, then deleted ([`DELETE_ROUND_TRIPS`]),
/// rather than `DELETE ... RETURNING`: SQLite gathers returned rows in a temporary table, opened
/// and freed by every execution, and this runs once per trace of every pass (in a profile of
/// browser-shaped ingest, freeing those tables was about a fifth of the collector's CPU, most of
/// it the C allocator handing memory back to the kernel). Both are named, because the planner
/// may otherwise walk the whole tenant through the primary key.
const STORED_SENDS: &str = "SELECT client_send_ns FROM ws_round_trips \
     INDEXED BY ws_round_trips_by_id WHERE tenant = ?1 AND trace_id = ?2";
/// Deletes a trace's stored round trips; see [`STORED_SENDS`].
const DELETE_ROUND_TRIPS: &str = "DELETE FROM ws_round_trips \
     INDEXED BY ws_round_trips_by_id WHERE tenant = ?1 AND trace_id = ?2";

fn replace_round_trips(
    conn: &Connection,
    tenant: &str,
    traces: &[String],
    records: &[RoundTrip],
) -> Result<(), SqliteError> {
    let mut stored = conn.prepare_cached(STORED_SENDS)?;
    let mut delete = conn.prepare_cached(DELETE_ROUND_TRIPS)?;
    // The minutes of the round trips replaced and of those added need rolling up again.
    let mut changed: Vec<i64> = records.iter().map(|r| r.times.client_send_ns).collect();
    for trace_id in traces {
        let before = changed.len();
        for sent in stored.query_map(params![tenant, trace_id], |row| row.get(0))? {
            changed.push(sent?);
        }
        if changed.len() > before {
            delete.execute(params![tenant, trace_id])?;
        }
    }
    rollup::mark_stale(conn, tenant, changed)?;
    let mut insert = conn.prepare_cached(
        "INSERT OR REPLACE INTO ws_round_trips (tenant, trace_id, send_span_id, server_span_id, \
         receive_span_id, session_id, user_id, url, message_type, service, server_service, \
         client_send_ns, server_receive_ns, server_done_ns, client_receive_ns, \
         client_processing_ns, error) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
    )?;
    for r in records {
        let t = &r.times;
        let values: [&dyn ToSql; 17] = [
            &r.tenant,
            &r.trace_id,
            &r.send_span_id,
            &r.server_span_id,
            &r.receive_span_id,
            &r.session_id,
            &r.user_id,
            &r.url,
            &r.message_type,
            &r.service,
            &r.server_service,
            &t.client_send_ns,
            &t.server_receive_ns,
            &t.server_done_ns,
            &t.client_receive_ns,
            &t.client_processing_ns,
            &r.error,
        ];
        insert.execute(&values[..])?;
    }
    Ok(())
}

/// Re-estimates a session's clock offset from its newest round trips with a reply; removes it
/// when none is left.
pub(super) fn update_offset(
    conn: &Connection,
    tenant: &str,
    session: &str,
) -> Result<(), SqliteError> {
    let samples: Vec<_> = {
        let mut stmt = conn.prepare_cached(
            "SELECT client_send_ns, server_receive_ns, server_done_ns, client_receive_ns \
             FROM ws_round_trips INDEXED BY ws_round_trips_by_session \
             WHERE tenant = ?1 AND session_id = ?2 \
             AND client_receive_ns IS NOT NULL ORDER BY client_send_ns DESC LIMIT ?3",
        )?;
        stmt.query_map(params![tenant, session, SESSION_SAMPLES as i64], |row| {
            Ok(ExchangeTimes {
                client_send_ns: row.get(0)?,
                server_receive_ns: row.get(1)?,
                server_done_ns: row.get(2)?,
                client_receive_ns: row.get(3)?,
                client_processing_ns: None,
            })
        })?
        .filter_map(|times| times.map(|t| t.sample()).transpose())
        .collect::<Result<_, _>>()?
    };
    match estimate(&samples) {
        Some(e) => conn
            .prepare_cached(
                "INSERT OR REPLACE INTO ws_session_offsets \
                 (tenant, session_id, offset_ns, uncertainty_ns, samples) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                tenant,
                session,
                e.offset_ns,
                e.uncertainty_ns,
                e.samples as i64
            ])?,
        None => conn
            .prepare_cached("DELETE FROM ws_session_offsets WHERE tenant = ?1 AND session_id = ?2")?
            .execute(params![tenant, session])?,
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::schema;

    /// The opcodes SQLite runs for `sql`.
    fn program(conn: &Connection, sql: &str) -> Vec<String> {
        conn.prepare(&format!("EXPLAIN {sql}"))
            .expect("prepares")
            .query_map(["", ""], |row| row.get::<_, String>(1))
            .expect("explains")
            .collect::<Result<_, _>>()
            .expect("opcodes")
    }

    #[test]
    fn replacing_a_traces_round_trips_opens_no_temporary_table() {
        let mut conn = Connection::open_in_memory().expect("opens");
        schema::migrate(&mut conn).expect("migrates");
        for sql in [STORED_SENDS, DELETE_ROUND_TRIPS] {
            let opcodes = program(&conn, sql);
            assert!(
                !opcodes.iter().any(|op| op == "OpenEphemeral"),
                "{sql}: {opcodes:?}"
            );
            assert!(
                opcodes.iter().any(|op| op == "SeekGE"),
                "{sql}: {opcodes:?}"
            );
        }
    }
}
