//! The log search index (`logs_fts`, FTS5 over the `logs` table's bodies). The writer keeps it
//! in the transaction that writes records ([`index_new`]) or deletes them ([`forget`]); an
//! acknowledged record is searchable. (Explicit statements rather than triggers: FTS5 flushes
//! its pending terms at every trigger's savepoint, which made ingest of logs three times
//! slower.) A file upgraded from before the index holds records the index never saw: those
//! at or below the rowid in `logs_fts_backfill`. The writer indexes them in the background,
//! newest first, a chunk at a time between write groups ([`index_chunk`]); rows at or below
//! that mark are left to it, so each row is indexed exactly once, and reads match such rows
//! without the index until it is done.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::error::SqliteError;

/// Records indexed per chunk: small enough that a write group waits for one only briefly
/// (fewer in tests, so that small files take many chunks).
#[cfg(not(test))]
const CHUNK: i64 = 2_000;
#[cfg(test)]
const CHUNK: i64 = 50;

/// The highest rowid the index does not hold yet, while the background build is not done.
pub(super) fn unindexed_below(conn: &Connection) -> Result<Option<i64>, SqliteError> {
    Ok(conn
        .prepare_cached("SELECT below FROM logs_fts_backfill")?
        .query_row([], |row| row.get(0))
        .optional()?)
}

/// The highest rowid in `logs`, 0 when empty: records inserted after this call have higher
/// ones (one writer, no `AUTOINCREMENT` gaps to fill).
pub(super) fn last_rowid(conn: &Connection) -> Result<i64, SqliteError> {
    Ok(conn
        .prepare_cached("SELECT coalesce(max(rowid), 0) FROM logs")?
        .query_row([], |row| row.get(0))?)
}

/// Indexes the records inserted after `before` ([`last_rowid`]), except those the background
/// build will reach.
pub(super) fn index_new(conn: &Connection, before: i64) -> Result<(), SqliteError> {
    let from = before.max(unindexed_below(conn)?.unwrap_or(0));
    conn.prepare_cached(
        "INSERT INTO logs_fts (rowid, body) SELECT rowid, body FROM logs WHERE rowid > ?1",
    )?
    .execute([from])?;
    Ok(())
}

/// Takes the records with these rowids out of the index, before they are deleted.
pub(super) fn forget(conn: &Connection, rowids: &[i64]) -> Result<(), SqliteError> {
    let below = unindexed_below(conn)?.unwrap_or(0);
    let mut stmt = conn.prepare_cached(
        "INSERT INTO logs_fts (logs_fts, rowid, body) SELECT 'delete', rowid, body FROM logs \
         WHERE rowid = ?1 AND rowid > ?2",
    )?;
    for rowid in rowids {
        stmt.execute(params![rowid, below])?;
    }
    Ok(())
}

/// Indexes the next chunk of records the index does not hold, in one transaction; whether
/// any remain. The transaction takes the write lock first, so another connection's write
/// (an operator's, say) makes it wait rather than fail after it has read.
pub(super) fn index_chunk(conn: &mut Connection) -> Result<bool, SqliteError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let Some(below) = unindexed_below(&tx)? else {
        return Ok(false);
    };
    let (indexed, lowest): (i64, Option<i64>) = tx.query_row(
        "SELECT count(*), min(rowid) FROM (SELECT rowid FROM logs WHERE rowid <= ?1 \
         ORDER BY rowid DESC LIMIT ?2)",
        params![below, CHUNK],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    tx.execute(
        "INSERT INTO logs_fts (rowid, body) SELECT rowid, body FROM logs \
         WHERE rowid <= ?1 AND rowid >= ?2",
        params![below, lowest.unwrap_or(below)],
    )?;
    let more = indexed == CHUNK && lowest.is_some_and(|l| l > 1);
    if more {
        tx.execute(
            "UPDATE logs_fts_backfill SET below = ?1",
            params![lowest.unwrap_or(1) - 1],
        )?;
    } else {
        tx.execute("DELETE FROM logs_fts_backfill", [])?;
    }
    tx.commit()?;
    Ok(more)
}
