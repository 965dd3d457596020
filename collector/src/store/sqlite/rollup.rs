//! Per-minute rollups of round trips ([`crate::correlate::Rollup`]), one row per tenant, minute
//! and message type in `ws_rollups`, so a dashboard over an hour reads a few hundred rows
//! instead of every round trip. The correlation step marks the minutes whose round trips it
//! changed as stale (`ws_rollups_stale`); [`refresh`] rolls stale minutes up again from their
//! round trips, with the sessions' clock offsets as they stand then. The writer refreshes
//! finished minutes (older than the current and the newest stale one) when it is idle, every
//! stale minute when a reader asks it to catch up,
//! and, so a long bulk load cannot pile up stale minutes, the oldest after a write group once
//! more than [`STALE_BACKLOG`] wait.

use std::collections::BTreeSet;

use rusqlite::{Connection, ToSql, TransactionBehavior, params};

use super::error::SqliteError;
use super::read::round_trip_points;
use crate::correlate::{MINUTE_NS, Rollup};
use crate::model::RoundTripQuery;

/// Stale minutes one refresh takes; bounds how long it holds the write lock.
pub(super) const MINUTES_PER_REFRESH: usize = 8;
/// Stale minutes beyond which the writer refreshes between write groups too.
pub(super) const STALE_BACKLOG: usize = 5;

/// The minute a time falls in.
fn minute_of(time_ns: i64) -> i64 {
    time_ns.div_euclid(MINUTE_NS) * MINUTE_NS
}

/// Marks the minutes of these send times stale.
pub(super) fn mark_stale(
    conn: &Connection,
    tenant: &str,
    send_times: impl IntoIterator<Item = i64>,
) -> Result<(), SqliteError> {
    let minutes: BTreeSet<i64> = send_times.into_iter().map(minute_of).collect();
    let mut stmt = conn.prepare_cached(
        "INSERT OR IGNORE INTO ws_rollups_stale (tenant, minute_ns) VALUES (?1, ?2)",
    )?;
    for minute in minutes {
        stmt.execute(params![tenant, minute])?;
    }
    Ok(())
}

/// How many minutes are stale, counting at most `up_to`.
pub(super) fn stale(conn: &Connection, up_to: usize) -> Result<usize, SqliteError> {
    let up_to = i64::try_from(up_to).unwrap_or(i64::MAX);
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM (SELECT 1 FROM ws_rollups_stale LIMIT ?1)",
        [up_to],
        |row| row.get(0),
    )?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// The newest stale minute, if any.
pub(super) fn newest_stale(conn: &Connection) -> Result<Option<i64>, SqliteError> {
    Ok(
        conn.query_row("SELECT max(minute_ns) FROM ws_rollups_stale", [], |row| {
            row.get(0)
        })?,
    )
}

/// Rolls up the oldest stale minutes that start before `before_ns` again, at most `limit`, in
/// one write transaction; returns how many (0: none was stale).
pub(super) fn refresh(
    conn: &mut Connection,
    limit: usize,
    before_ns: i64,
) -> Result<usize, SqliteError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let stale: Vec<(String, i64)> = {
        let mut stmt = tx.prepare_cached(
            "SELECT tenant, minute_ns FROM ws_rollups_stale WHERE minute_ns < ?1 \
             ORDER BY minute_ns LIMIT ?2",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        stmt.query_map(params![before_ns, limit], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?
        .collect::<Result<_, _>>()?
    };
    for (tenant, minute) in &stale {
        let points = round_trip_points(
            &tx,
            tenant,
            &RoundTripQuery {
                start_ns: *minute,
                end_ns: minute + MINUTE_NS,
                limit: usize::MAX,
                ..RoundTripQuery::default()
            },
        )?;
        tx.prepare_cached("DELETE FROM ws_rollups WHERE tenant = ?1 AND minute_ns = ?2")?
            .execute(params![tenant, minute])?;
        let mut insert = tx.prepare_cached(
            "INSERT INTO ws_rollups (tenant, minute_ns, message_type, count, errors, total, \
             uplink, server, downlink, slowest_ns, slowest_trace, newest_ns, newest_trace) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )?;
        for (kind, r) in Rollup::by_type(&points) {
            let count = i64::try_from(r.count).unwrap_or(i64::MAX);
            let errors = i64::try_from(r.errors).unwrap_or(i64::MAX);
            let (total, uplink, server, downlink) = (
                r.total.encode(),
                r.uplink.encode(),
                r.server.encode(),
                r.downlink.encode(),
            );
            let (slowest_ns, slowest_trace) = r.slowest.clone().unzip();
            // Every rollup counts at least one round trip, so it has a newest.
            let (newest_ns, newest_trace) = r.newest.clone().unwrap_or_default();
            let values: [&dyn ToSql; 13] = [
                tenant,
                minute,
                &kind,
                &count,
                &errors,
                &total,
                &uplink,
                &server,
                &downlink,
                &slowest_ns,
                &slowest_trace,
                &newest_ns,
                &newest_trace,
            ];
            insert.execute(&values[..])?;
        }
        tx.prepare_cached("DELETE FROM ws_rollups_stale WHERE tenant = ?1 AND minute_ns = ?2")?
            .execute(params![tenant, minute])?;
    }
    tx.commit()?;
    Ok(stale.len())
}

/// Deletes the rollups of minutes wholly before `cutoff_ns` and marks the minute it falls in
/// stale, as retention deleted some of that minute's round trips.
pub(super) fn prune(conn: &Connection, cutoff_ns: i64) -> Result<(), SqliteError> {
    let minute = minute_of(cutoff_ns);
    conn.execute("DELETE FROM ws_rollups WHERE minute_ns < ?1", [minute])?;
    conn.execute(
        "DELETE FROM ws_rollups_stale WHERE minute_ns < ?1",
        [minute],
    )?;
    let tenants: Vec<String> = conn
        .prepare_cached("SELECT DISTINCT tenant FROM ws_rollups WHERE minute_ns = ?1")?
        .query_map([minute], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    for tenant in tenants {
        mark_stale(conn, &tenant, [minute])?;
    }
    Ok(())
}
