//! Minutes waiting to be rolled up again. Each kind of per-minute rollup ([`super::rollup`] for
//! round trips, [`super::calls`] for span metrics) has a table of its stale minutes, one row
//! per tenant and minute: what changed its input marks the minute, and a refresh rolls the
//! oldest marked minutes up again and clears them in the same transaction, so a crash between
//! the two loses nothing.

use std::collections::BTreeSet;

use rusqlite::{Connection, TransactionBehavior, params};

use super::error::SqliteError;
use crate::correlate::MINUTE_NS;

/// The stale minutes of one kind of rollup.
pub(super) struct StaleMinutes {
    /// The table of stale minutes (`tenant`, `minute_ns`).
    stale: &'static str,
    /// The tables of rolled-up rows (`tenant`, `minute_ns`, ...).
    rollups: &'static [&'static str],
}

/// Round trips' rollups ([`super::rollup`]).
pub(super) const WS_ROLLUPS: StaleMinutes = StaleMinutes {
    stale: "ws_rollups_stale",
    rollups: &["ws_rollups"],
};

/// Span metrics' rollups ([`super::calls`]): both their tables are rolled up per minute
/// together, so one set of stale minutes serves both.
pub(super) const CALL_ROLLUPS: StaleMinutes = StaleMinutes {
    stale: "call_rollups_stale",
    rollups: &["operation_rollups", "dependency_rollups"],
};

/// The minute a time falls in.
pub(super) fn minute_of(time_ns: i64) -> i64 {
    time_ns.div_euclid(MINUTE_NS) * MINUTE_NS
}

impl StaleMinutes {
    /// Marks the minutes of these times stale.
    pub(super) fn mark(
        &self,
        conn: &Connection,
        tenant: &str,
        times: impl IntoIterator<Item = i64>,
    ) -> Result<(), SqliteError> {
        let minutes: BTreeSet<i64> = times.into_iter().map(minute_of).collect();
        let mut stmt = conn.prepare_cached(&format!(
            "INSERT OR IGNORE INTO {} (tenant, minute_ns) VALUES (?1, ?2)",
            self.stale
        ))?;
        for minute in minutes {
            stmt.execute(params![tenant, minute])?;
        }
        Ok(())
    }

    /// How many minutes are stale, counting at most `up_to`.
    pub(super) fn count(&self, conn: &Connection, up_to: usize) -> Result<usize, SqliteError> {
        let up_to = i64::try_from(up_to).unwrap_or(i64::MAX);
        let n: i64 = conn
            .prepare_cached(&format!(
                "SELECT count(*) FROM (SELECT 1 FROM {} LIMIT ?1)",
                self.stale
            ))?
            .query_row([up_to], |row| row.get(0))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// The newest stale minute, if any.
    pub(super) fn newest(&self, conn: &Connection) -> Result<Option<i64>, SqliteError> {
        Ok(conn
            .prepare_cached(&format!("SELECT max(minute_ns) FROM {}", self.stale))?
            .query_row([], |row| row.get(0))?)
    }

    /// Rolls up the oldest stale minutes that start before `before_ns` again with `roll`
    /// (which replaces a tenant's rows of a minute), at most `limit`, in one write
    /// transaction; returns how many (0: none was stale).
    pub(super) fn refresh(
        &self,
        conn: &mut Connection,
        limit: usize,
        before_ns: i64,
        mut roll: impl FnMut(&Connection, &str, i64) -> Result<(), SqliteError>,
    ) -> Result<usize, SqliteError> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let stale: Vec<(String, i64)> = {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT tenant, minute_ns FROM {} WHERE minute_ns < ?1 \
                 ORDER BY minute_ns LIMIT ?2",
                self.stale
            ))?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            stmt.query_map(params![before_ns, limit], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?
            .collect::<Result<_, _>>()?
        };
        let mut clear = tx.prepare_cached(&format!(
            "DELETE FROM {} WHERE tenant = ?1 AND minute_ns = ?2",
            self.stale
        ))?;
        for (tenant, minute) in &stale {
            roll(&tx, tenant, *minute)?;
            clear.execute(params![tenant, minute])?;
        }
        drop(clear);
        tx.commit()?;
        Ok(stale.len())
    }

    /// Deletes the rollups and stale marks of minutes wholly before `cutoff_ns` and marks the
    /// minute it falls in stale for every tenant with rollups there, as retention deleted some
    /// of that minute's input.
    pub(super) fn prune(&self, conn: &Connection, cutoff_ns: i64) -> Result<(), SqliteError> {
        let minute = minute_of(cutoff_ns);
        let mut tenants = BTreeSet::new();
        for table in self.rollups.iter().chain([&self.stale]) {
            conn.execute(
                &format!("DELETE FROM {table} WHERE minute_ns < ?1"),
                [minute],
            )?;
        }
        for table in self.rollups {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT DISTINCT tenant FROM {table} WHERE minute_ns = ?1"
            ))?;
            for tenant in stmt.query_map([minute], |row| row.get::<_, String>(0))? {
                tenants.insert(tenant?);
            }
        }
        for tenant in tenants {
            self.mark(conn, &tenant, [minute])?;
        }
        Ok(())
    }
}
