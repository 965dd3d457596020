//! Per-minute rollups of round trips ([`crate::correlate::Rollup`]), one row per tenant, minute
//! and message type in `ws_rollups`, so a dashboard over an hour reads a few hundred rows
//! instead of every round trip. The correlation step marks the minutes whose round trips it
//! changed as stale (`ws_rollups_stale`); [`refresh`] rolls stale minutes up again from their
//! round trips, with the sessions' clock offsets as they stand then. The writer refreshes
//! finished minutes (older than the current and the newest stale one) when it is idle, every
//! stale minute when a reader asks it to catch up,
//! and, so a long bulk load cannot pile up stale minutes, the oldest after a write group once
//! more than [`STALE_BACKLOG`] wait. Stale minutes are kept as [`super::stale`] keeps them.

use rusqlite::{Connection, ToSql, params};

use super::error::SqliteError;
use super::read::round_trip_points;
use super::stale::WS_ROLLUPS;
use crate::correlate::{MINUTE_NS, Rollup};
use crate::model::RoundTripQuery;

/// Stale minutes one refresh takes; bounds how long it holds the write lock.
pub(super) const MINUTES_PER_REFRESH: usize = 8;
/// Stale minutes beyond which the writer refreshes between write groups too.
pub(super) const STALE_BACKLOG: usize = 5;

/// Marks the minutes of these send times stale.
pub(super) fn mark_stale(
    conn: &Connection,
    tenant: &str,
    send_times: impl IntoIterator<Item = i64>,
) -> Result<(), SqliteError> {
    WS_ROLLUPS.mark(conn, tenant, send_times)
}

/// Rolls up the oldest stale minutes that start before `before_ns` again, at most `limit`, in
/// one write transaction; returns how many (0: none was stale).
pub(super) fn refresh(
    conn: &mut Connection,
    limit: usize,
    before_ns: i64,
) -> Result<usize, SqliteError> {
    WS_ROLLUPS.refresh(conn, limit, before_ns, roll_up)
}

/// Replaces a tenant's rollups of one minute with those of its round trips.
fn roll_up(tx: &Connection, tenant: &str, minute: i64) -> Result<(), SqliteError> {
    let points = round_trip_points(
        tx,
        tenant,
        &RoundTripQuery {
            start_ns: minute,
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
            &tenant,
            &minute,
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
    Ok(())
}

/// Deletes the rollups of minutes wholly before `cutoff_ns` and marks the minute it falls in
/// stale, as retention deleted some of that minute's round trips.
pub(super) fn prune(conn: &Connection, cutoff_ns: i64) -> Result<(), SqliteError> {
    WS_ROLLUPS.prune(conn, cutoff_ns)
}
