//! The writer thread ([`SqliteWriter`], run by [`crate::store::writer::drain`]): each group of
//! queued batches goes into one transaction with cached prepared statements, is committed, then
//! each batch is acknowledged. Prunes and correlation
//! passes ([`derive`]) run between batches in their own short transactions: one after each
//! group of batches, and more whenever the queue is empty and traces wait; then the stale
//! minutes' rollups ([`rollup`] of round trips, [`calls`] of span metrics) are refreshed. Log
//! records go into the search index ([`fts`]) in the transaction that writes them and out of it
//! in the one that prunes them; while records stored before the index existed wait for it, one
//! chunk of them is indexed after each group and whenever the queue is empty. Batches, deletions
//! and prunes commit with an fsync; the derived work does not ([`defer_commits`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::{Connection, Transaction, TransactionBehavior, params};
use tokio::sync::{mpsc, oneshot};
use tracing::{error, info, warn};

use super::calls;
use super::error::SqliteError;
use super::fts;
use super::rollup::{self, MINUTES_PER_REFRESH, STALE_BACKLOG};
use super::stale::{CALL_ROLLUPS, StaleMinutes, WS_ROLLUPS};
use super::table::table;
use super::{delete, derive};
use crate::correlate::MINUTE_NS;
use crate::metrics::Metrics;
use crate::model::Batch;
use crate::signal::{PerSignal, Signal};
use crate::store::error::StoreError;
use crate::store::writer::{Command, Pending, Writer};
use crate::store::{Deleted, Subject};

/// The SQLite store's own work, which its writer runs in order with the batches.
pub(super) enum Task {
    /// Delete at most `limit` records of each signal older than `cutoff_ns`, with the round
    /// trips and rollups of that time; answer how many records went.
    Prune {
        cutoff_ns: i64,
        limit: usize,
        ack: oneshot::Sender<Result<Pruned, SqliteError>>,
    },
    /// Run the correlation step over the traces waiting for it, then roll up the stale
    /// minutes, for about `budget`; answer whether nothing waits any more.
    CatchUp {
        budget: Duration,
        ack: oneshot::Sender<Result<bool, SqliteError>>,
    },
    /// Delete a user's or a session's data in a tenant ([`delete`]); answer what went.
    Delete {
        tenant: String,
        subject: Subject,
        ack: oneshot::Sender<Result<Deleted, SqliteError>>,
    },
}

/// Where the store sends the writer its tasks; cheap to clone.
#[derive(Clone)]
pub(super) struct Tasks(mpsc::UnboundedSender<Command<Task>>);

impl Tasks {
    pub(super) fn new(sender: mpsc::UnboundedSender<Command<Task>>) -> Self {
        Self(sender)
    }

    /// Sends the writer a task and waits for its answer.
    async fn ask<T>(
        &self,
        task: impl FnOnce(oneshot::Sender<Result<T, SqliteError>>) -> Task,
    ) -> Result<T, StoreError> {
        let (ack, answer) = oneshot::channel();
        self.0
            .send(Command::Task(task(ack)))
            .map_err(|_| StoreError::WriterGone)?;
        Ok(answer.await.map_err(|_| StoreError::WriterGone)??)
    }

    /// See [`Task::Prune`].
    pub(super) async fn prune(&self, cutoff_ns: i64, limit: usize) -> Result<Pruned, StoreError> {
        self.ask(|ack| Task::Prune {
            cutoff_ns,
            limit,
            ack,
        })
        .await
    }

    /// See [`Task::CatchUp`].
    pub(super) async fn catch_up(&self, budget: Duration) -> Result<bool, StoreError> {
        self.ask(|ack| Task::CatchUp { budget, ack }).await
    }

    /// See [`Task::Delete`].
    pub(super) async fn delete(
        &self,
        tenant: &str,
        subject: &Subject,
    ) -> Result<Deleted, StoreError> {
        self.ask(|ack| Task::Delete {
            tenant: tenant.to_owned(),
            subject: subject.clone(),
            ack,
        })
        .await
    }
}

/// Rows one prune deleted, per signal.
pub(super) type Pruned = PerSignal<u64>;

/// The writer thread's state: the one write connection and the correlation step's progress.
pub(super) struct SqliteWriter {
    conn: Connection,
    deriving: Deriving,
    /// Stored records wait for the log search index.
    indexing: bool,
    /// Indexing failed; it is tried again after the next write group.
    index_retry: bool,
    metrics: Arc<Metrics>,
}

impl SqliteWriter {
    pub(super) fn new(conn: Connection, metrics: Arc<Metrics>) -> Self {
        let deriving = Deriving::new(&conn);
        let indexing = match fts::unindexed_below(&conn) {
            Ok(Some(below)) => {
                info!(
                    below_rowid = below,
                    "Indexing stored log records for search in the background"
                );
                true
            }
            Ok(None) => false,
            Err(e) => {
                warn!(error = %e, "Cannot read the log search index's progress; retrying in the background");
                true
            }
        };
        Self {
            conn,
            deriving,
            indexing,
            index_retry: false,
            metrics,
        }
    }

    /// Indexes one chunk of the stored records the log search index does not hold yet.
    fn index_chunk(&mut self) {
        match fts::index_chunk(&mut self.conn) {
            Ok(true) => {}
            Ok(false) => {
                self.indexing = false;
                info!("Log search index holds every stored record");
            }
            Err(e) => {
                // Retried after the next write; reads match unindexed records meanwhile.
                warn!(error = %e, "Indexing stored log records failed; retried after the next write");
                self.indexing = false;
                self.index_retry = true;
            }
        }
    }
}

impl Writer for SqliteWriter {
    type Task = Task;

    fn write(&mut self, group: Vec<Pending>) {
        // After every group, as many traces as it added, so that under a steady stream of
        // writes (when the queue is never empty) the step keeps pace.
        let added = commit_group(&mut self.conn, group, &self.metrics);
        defer_commits(&self.conn);
        self.deriving.keep_pace(&mut self.conn, added);
        if self.index_retry {
            self.index_retry = false;
            self.indexing = true;
        }
        if self.indexing {
            self.index_chunk();
        }
    }

    fn run(&mut self, task: Task) {
        match task {
            Task::Prune {
                cutoff_ns,
                limit,
                ack,
            } => {
                let pruned = durable_commits(&self.conn)
                    .and_then(|()| prune(&mut self.conn, cutoff_ns, limit));
                let _ = ack.send(pruned);
            }
            Task::CatchUp { budget, ack } => {
                defer_commits(&self.conn);
                let _ = ack.send(self.deriving.for_up_to(&mut self.conn, budget));
            }
            Task::Delete {
                tenant,
                subject,
                ack,
            } => {
                let deleted = durable_commits(&self.conn)
                    .and_then(|()| delete::run(&mut self.conn, &tenant, &subject));
                let _ = ack.send(deleted);
            }
        }
    }

    fn has_idle_work(&self) -> bool {
        self.deriving.waiting || self.indexing
    }

    fn idle(&mut self) {
        defer_commits(&self.conn);
        if self.deriving.waiting {
            self.deriving.pass(&mut self.conn);
        } else {
            self.index_chunk();
        }
    }

    fn stopped(&mut self) {
        info!("SQLite writer drained and stopped");
    }
}

/// The writer's side of the correlation step ([`derive`]) and of the rollups ([`rollup`]).
struct Deriving {
    /// Traces may be waiting for the step, or finished minutes for rolling up.
    waiting: bool,
}

/// One kind of per-minute rollup the writer keeps up to date.
struct Kept {
    /// Its stale minutes.
    stale: &'static StaleMinutes,
    /// Rolls up at most `limit` stale minutes before `before_ns` again; how many.
    refresh: fn(&mut Connection, usize, i64) -> Result<usize, SqliteError>,
}

/// The rollups the writer keeps: of round trips ([`rollup`]) and of span metrics ([`calls`]).
const KEPT: [Kept; 2] = [
    Kept {
        stale: &WS_ROLLUPS,
        refresh: rollup::refresh,
    },
    Kept {
        stale: &CALL_ROLLUPS,
        refresh: calls::refresh,
    },
];

/// Where the minutes an idle refresh takes end: before the current minute and before the
/// newest stale one, as those are still filling up (live traffic, or a backfill of older data
/// going through its minutes in order). Rolling them up after every batch would be wasted.
fn finished_before(conn: &Connection, stale: &StaleMinutes) -> Result<i64, SqliteError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    let this_minute = now.div_euclid(MINUTE_NS) * MINUTE_NS;
    Ok(stale
        .newest(conn)?
        .map_or(this_minute, |newest| newest.min(this_minute)))
}

/// One refresh of the finished stale minutes ([`finished_before`]) of the first kind of rollup
/// that has any; how many it took.
fn refresh_finished(conn: &mut Connection) -> Result<usize, SqliteError> {
    for kept in &KEPT {
        let before = finished_before(conn, kept.stale)?;
        match (kept.refresh)(conn, MINUTES_PER_REFRESH, before)? {
            0 => continue,
            taken => return Ok(taken),
        }
    }
    Ok(0)
}

impl Deriving {
    fn new(conn: &Connection) -> Self {
        Self {
            waiting: derive::pending(conn).unwrap_or(true)
                || KEPT
                    .iter()
                    .any(|kept| kept.stale.count(conn, 1).map_or(true, |n| n > 0)),
        }
    }

    /// One pass of the step, or when no trace waits, one refresh of finished stale minutes
    /// ([`refresh_finished`]);
    /// returns how many traces or minutes it took. A failure is logged and retried after the
    /// next write.
    fn pass(&mut self, conn: &mut Connection) -> usize {
        let result = derive::pass(conn).and_then(|taken| match taken {
            0 => refresh_finished(conn),
            taken => Ok(taken),
        });
        match result {
            Ok(taken) => {
                self.waiting = taken > 0;
                taken
            }
            Err(e) => {
                warn!(error = %e, "correlation step failed; retried after the next write");
                self.waiting = false;
                0
            }
        }
    }

    /// Passes until at least `added` traces were taken or none wait; then, for each kind of
    /// rollup with more than [`STALE_BACKLOG`] stale minutes (a bulk load never leaves the
    /// writer idle), rolls up the oldest one.
    fn keep_pace(&mut self, conn: &mut Connection, added: usize) {
        self.waiting |= added > 0;
        if let Err(e) = Self::pace(conn, added) {
            warn!(error = %e, "correlation step failed; retried when the writer is idle");
        }
    }

    fn pace(conn: &mut Connection, added: usize) -> Result<(), SqliteError> {
        let mut taken = 0;
        while taken < added.max(1) {
            match derive::pass(conn)? {
                0 => break,
                n => taken += n,
            }
        }
        for kept in &KEPT {
            if kept.stale.count(conn, STALE_BACKLOG + 1)? > STALE_BACKLOG {
                (kept.refresh)(conn, 1, i64::MAX)?;
            }
        }
        Ok(())
    }

    /// Passes and refreshes until no trace waits and no minute is stale, or `budget` is spent;
    /// whether everything was done.
    fn for_up_to(&mut self, conn: &mut Connection, budget: Duration) -> Result<bool, SqliteError> {
        let start = Instant::now();
        while start.elapsed() < budget {
            if derive::pass(conn)? > 0 {
                continue;
            }
            let mut refreshed = 0;
            for kept in &KEPT {
                refreshed += (kept.refresh)(conn, MINUTES_PER_REFRESH, i64::MAX)?;
            }
            if refreshed == 0 {
                self.waiting = false;
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Commits from now on are fsynced before they return (`synchronous = FULL`): those of batches
/// (a 200 means the batch survives a power loss), deletions and retention's prunes.
fn durable_commits(conn: &Connection) -> Result<(), SqliteError> {
    conn.prepare_cached("PRAGMA synchronous = FULL")?
        .execute([])?;
    Ok(())
}

/// Commits from now on are not fsynced themselves (`synchronous = NORMAL`): those of what the
/// writer derives from stored data (correlation passes, rollups, the search index's backfill).
/// In WAL mode the next durable commit fsyncs them with it, and losing one to a power cut
/// loses nothing: each also clears the marks that make it run (`ws_pending`, the stale minutes,
/// the backfill's progress), so it runs again. Failing to switch only costs an fsync.
fn defer_commits(conn: &Connection) {
    if let Err(e) = conn
        .prepare_cached("PRAGMA synchronous = NORMAL")
        .and_then(|mut stmt| stmt.execute([]))
    {
        warn!(error = %e, "cannot defer the fsync of derived commits; they stay durable");
    }
}

/// Commits a group of batches and answers them; returns how many traces it added to those
/// waiting for the correlation step.
/// The transaction takes the write lock first (IMMEDIATE), waiting for it as long as the busy
/// timeout allows: a deferred one that reads before it writes fails at once with `database is
/// locked` when another connection (the alert engine's, a second collector's) committed since.
fn commit_group(conn: &mut Connection, group: Vec<Pending>, metrics: &Metrics) -> usize {
    let result = durable_commits(conn)
        .and_then(|()| Ok(conn.transaction_with_behavior(TransactionBehavior::Immediate)?))
        .and_then(|tx| {
            let mut added = 0;
            for pending in &group {
                added += insert(&tx, &pending.batch)?;
            }
            tx.commit()?;
            Ok(added)
        });
    match result {
        Ok(added) => {
            for pending in group {
                for signal in Signal::ALL {
                    metrics.stored(signal, pending.batch.count(signal));
                }
                pending.answer(Ok(()));
            }
            added
        }
        Err(e) => {
            error!(error = %e, batches = group.len(), "SQLite commit failed; batches refused as retryable");
            for pending in group {
                pending.answer(Err(StoreError::from(SqliteError::Commit(e.to_string()))));
            }
            0
        }
    }
}

/// Inserts one batch; returns how many traces now wait for the correlation step.
pub(super) fn insert(tx: &Transaction<'_>, batch: &Batch) -> Result<usize, SqliteError> {
    for signal in Signal::ALL {
        if batch.count(signal) > 0 {
            (table(signal).insert)(tx, batch)?;
        }
    }
    derive::mark_pending(
        tx,
        batch
            .spans
            .iter()
            .map(|s| (s.tenant.as_str(), s.trace_id.as_str())),
    )
}

fn prune(conn: &mut Connection, cutoff_ns: i64, limit: usize) -> Result<Pruned, SqliteError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut pruned = Pruned::default();
    for signal in Signal::ALL {
        pruned[signal] = (table(signal).prune)(&tx, cutoff_ns, limit)?;
    }
    tx.execute(
        "DELETE FROM ws_round_trips WHERE (tenant, client_send_ns, trace_id, send_span_id) IN \
         (SELECT tenant, client_send_ns, trace_id, send_span_id FROM ws_round_trips \
          WHERE client_send_ns < ?1 LIMIT ?2)",
        params![cutoff_ns, limit],
    )?;
    rollup::prune(&tx, cutoff_ns)?;
    calls::prune(&tx, cutoff_ns)?;
    tx.commit()?;
    Ok(pruned)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::sync::{Semaphore, oneshot};

    use super::*;
    use crate::testing::span;

    fn synchronous(conn: &Connection) -> i64 {
        conn.pragma_query_value(None, "synchronous", |row| row.get(0))
            .expect("reads")
    }

    fn one_span_group(trace: u8) -> (Vec<Pending>, oneshot::Receiver<Result<(), StoreError>>) {
        let (ack, answer) = oneshot::channel();
        let permit = Arc::new(Semaphore::new(1))
            .try_acquire_owned()
            .expect("permit");
        let mut batch = Batch::default();
        batch
            .spans
            .push(span(trace, 1, None, "api", "GET /x", 1_000, 10));
        (vec![Pending::new(batch, ack, permit)], answer)
    }

    /// A batch is committed with an fsync (`synchronous = FULL`) even right after derived work,
    /// whose commits are left to the next durable one (`NORMAL`).
    #[test]
    fn batches_commit_durably_and_derived_work_defers_its_fsync() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = super::super::open_for_writing(&dir.path().join("tw.db")).expect("opens");
        let mut writer = SqliteWriter::new(conn, Arc::new(Metrics::default()));
        writer.idle();
        assert_eq!(
            synchronous(&writer.conn),
            1,
            "derived work commits with NORMAL"
        );

        let (group, answer) = one_span_group(1);
        let added = commit_group(&mut writer.conn, group, &writer.metrics);
        assert_eq!(added, 1);
        assert_eq!(synchronous(&writer.conn), 2, "a batch commits with FULL");
        answer.blocking_recv().expect("answered").expect("stored");

        // A whole write: the batch durably, then its correlation pass deferred.
        let (group, answer) = one_span_group(2);
        writer.write(group);
        answer.blocking_recv().expect("answered").expect("stored");
        assert_eq!(synchronous(&writer.conn), 1);
    }
}
