//! Reads of the stored per-minute rollups ([`super::super::rollup`] keeps them up to date).

use rusqlite::{Connection, ToSql};

use super::super::error::SqliteError;
use crate::correlate::{Histogram, MINUTE_NS, Rollup, Rollups};
use crate::model::RollupQuery;

/// Whether stored rollups answer `q`: its window and step are whole minutes.
pub(in super::super) fn covers(q: &RollupQuery) -> bool {
    whole_minutes(q.start_ns, q.end_ns, q.step_ns)
}

/// Whether a window and a (positive) step are whole minutes, so that stored per-minute
/// rollups add up to its buckets.
pub(super) fn whole_minutes(start_ns: i64, end_ns: i64, step_ns: i64) -> bool {
    [start_ns, end_ns, step_ns]
        .iter()
        .all(|t| t.rem_euclid(MINUTE_NS) == 0)
        && step_ns > 0
}

/// The stored rollups of a whole-minute window added up per step (see [`covers`]).
pub(in super::super) fn read(
    conn: &Connection,
    tenant: &str,
    q: &RollupQuery,
) -> Result<Rollups, SqliteError> {
    let mut sql = String::from(
        "SELECT minute_ns, message_type, count, errors, total, uplink, server, downlink, \
         slowest_ns, slowest_trace, newest_ns, newest_trace FROM ws_rollups \
         WHERE tenant = ? AND minute_ns >= ? AND minute_ns < ?",
    );
    let mut values: Vec<&dyn ToSql> = vec![&tenant, &q.start_ns, &q.end_ns];
    if let Some(kind) = &q.message_type {
        sql.push_str(" AND message_type = ?");
        values.push(kind);
    }
    let mut out = Rollups::new(q.start_ns, q.step_ns, q.buckets);
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(&values[..])?;
    while let Some(row) = rows.next()? {
        let histogram = |i: usize| -> Result<Histogram, SqliteError> {
            Ok(Histogram::decode(&row.get::<_, Vec<u8>>(i)?)?)
        };
        let rollup = Rollup {
            count: row.get::<_, i64>(2)?.unsigned_abs(),
            // Of round trips only: counted messages are added when read (crate::counted).
            counted: 0,
            errors: row.get::<_, i64>(3)?.unsigned_abs(),
            total: histogram(4)?,
            uplink: histogram(5)?,
            server: histogram(6)?,
            downlink: histogram(7)?,
            slowest: row.get::<_, Option<i64>>(8)?.zip(row.get(9)?),
            newest: Some((row.get(10)?, row.get(11)?)),
        };
        let kind: String = row.get(1)?;
        out.add(row.get(0)?, &kind, &rollup);
    }
    Ok(out)
}
