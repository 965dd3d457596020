//! The writer thread: drains the queue, groups consecutive batches into one transaction with
//! cached prepared statements, commits, then acknowledges each batch. Prunes and correlation
//! passes ([`derive`]) run between batches in their own short transactions: one after each
//! group of batches, and more whenever the queue is empty and traces wait; then the stale
//! minutes' rollups ([`rollup`]) are refreshed.

use std::time::{Duration, Instant};

use rusqlite::{Connection, Transaction, params};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{OwnedSemaphorePermit, oneshot};
use tracing::{error, info, warn};

use super::StoreError;
use super::derive;
use super::encode::{JsonColumn, LOG_COLUMNS, SPAN_COLUMNS};
use super::rollup::{self, MINUTES_PER_REFRESH, STALE_BACKLOG};
use crate::correlate::MINUTE_NS;
use crate::metrics::{Metrics, Signal};
use crate::model::Batch;
use crate::store::queue::{Command, Pruned};

/// Most queued batches committed in one transaction.
const MAX_GROUP: usize = 64;

type Pending = (
    Batch,
    oneshot::Sender<Result<(), StoreError>>,
    OwnedSemaphorePermit,
);

pub(super) fn run(
    mut conn: Connection,
    mut commands: UnboundedReceiver<Command>,
    metrics: &Metrics,
) {
    let mut group: Vec<Pending> = Vec::with_capacity(MAX_GROUP);
    let mut deriving = Deriving::new(&conn);
    let mut next = None;
    loop {
        let command = match next.take() {
            Some(command) => command,
            None if deriving.waiting => match commands.try_recv() {
                Ok(command) => command,
                Err(TryRecvError::Empty) => {
                    deriving.pass(&mut conn);
                    continue;
                }
                Err(TryRecvError::Disconnected) => return,
            },
            None => match commands.blocking_recv() {
                Some(command) => command,
                None => return,
            },
        };
        match command {
            Command::Write { batch, ack, permit } => {
                group.push((batch, ack, permit));
                while group.len() < MAX_GROUP {
                    match commands.try_recv() {
                        Ok(Command::Write { batch, ack, permit }) => {
                            group.push((batch, ack, permit))
                        }
                        Ok(other) => {
                            next = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                // After every group, as many traces as it added, so that under a steady stream
                // of writes (when the queue is never empty) the step keeps pace.
                let added = commit_group(&mut conn, &mut group, metrics);
                deriving.keep_pace(&mut conn, added);
            }
            Command::Prune {
                cutoff_ns,
                limit,
                ack,
            } => {
                let _ = ack.send(prune(&mut conn, cutoff_ns, limit));
            }
            Command::Derive { budget, ack } => {
                let _ = ack.send(deriving.for_up_to(&mut conn, budget));
            }
            Command::Stop => {
                info!("SQLite writer drained and stopped");
                return;
            }
        }
    }
}

/// The writer's side of the correlation step ([`derive`]) and of the rollups ([`rollup`]).
struct Deriving {
    /// Traces may be waiting for the step, or finished minutes for rolling up.
    waiting: bool,
}

/// Where the minutes an idle refresh takes end: before the current minute and before the
/// newest stale one, as those are still filling up (live traffic, or a backfill of older data
/// going through its minutes in order). Rolling them up after every batch would be wasted.
fn finished_before(conn: &Connection) -> Result<i64, StoreError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    let this_minute = now.div_euclid(MINUTE_NS) * MINUTE_NS;
    Ok(rollup::newest_stale(conn)?.map_or(this_minute, |newest| newest.min(this_minute)))
}

impl Deriving {
    fn new(conn: &Connection) -> Self {
        Self {
            waiting: derive::pending(conn).unwrap_or(true)
                || rollup::stale(conn, 1).map_or(true, |n| n > 0),
        }
    }

    /// One pass of the step, or when no trace waits, one refresh of finished stale minutes
    /// ([`finished_before`]);
    /// returns how many traces or minutes it took. A failure is logged and retried after the
    /// next write.
    fn pass(&mut self, conn: &mut Connection) -> usize {
        let result = derive::pass(conn).and_then(|taken| match taken {
            0 => rollup::refresh(conn, MINUTES_PER_REFRESH, finished_before(conn)?),
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

    /// Passes until at least `added` traces were taken or none wait; then, when more than
    /// [`STALE_BACKLOG`] minutes are stale (a bulk load never leaves the writer idle), rolls up
    /// the oldest one.
    fn keep_pace(&mut self, conn: &mut Connection, added: usize) {
        self.waiting |= added > 0;
        if let Err(e) = Self::pace(conn, added) {
            warn!(error = %e, "correlation step failed; retried when the writer is idle");
        }
    }

    fn pace(conn: &mut Connection, added: usize) -> Result<(), StoreError> {
        let mut taken = 0;
        while taken < added.max(1) {
            match derive::pass(conn)? {
                0 => break,
                n => taken += n,
            }
        }
        if rollup::stale(conn, STALE_BACKLOG + 1)? > STALE_BACKLOG {
            rollup::refresh(conn, 1, i64::MAX)?;
        }
        Ok(())
    }

    /// Passes and refreshes until no trace waits and no minute is stale, or `budget` is spent;
    /// whether everything was done.
    fn for_up_to(&mut self, conn: &mut Connection, budget: Duration) -> Result<bool, StoreError> {
        let start = Instant::now();
        while start.elapsed() < budget {
            if derive::pass(conn)? == 0
                && rollup::refresh(conn, MINUTES_PER_REFRESH, i64::MAX)? == 0
            {
                self.waiting = false;
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Commits a group of batches; returns how many traces it added to those waiting for the
/// correlation step.
fn commit_group(conn: &mut Connection, group: &mut Vec<Pending>, metrics: &Metrics) -> usize {
    let result = conn.transaction().map_err(StoreError::from).and_then(|tx| {
        let mut added = 0;
        for (batch, _, _) in group.iter() {
            added += insert(&tx, batch)?;
        }
        tx.commit()?;
        Ok(added)
    });
    match result {
        Ok(added) => {
            for (batch, ack, _permit) in group.drain(..) {
                metrics.stored(Signal::Traces, batch.spans.len());
                metrics.stored(Signal::Logs, batch.logs.len());
                let _ = ack.send(Ok(()));
            }
            added
        }
        Err(e) => {
            error!(error = %e, batches = group.len(), "SQLite commit failed; batches refused as retryable");
            for (_, ack, _permit) in group.drain(..) {
                let _ = ack.send(Err(StoreError::Task(e.to_string())));
            }
            0
        }
    }
}

/// Inserts one batch; returns how many traces now wait for the correlation step. A span already
/// stored (same trace and span id, e.g. a client's retry of an acknowledged request) is kept once.
pub(super) fn insert(tx: &Transaction<'_>, batch: &Batch) -> Result<usize, StoreError> {
    let mut added = 0;
    if !batch.spans.is_empty() {
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
        added = derive::mark_pending(
            tx,
            batch
                .spans
                .iter()
                .map(|s| (s.tenant.as_str(), s.trace_id.as_str())),
        )?;
    }
    if !batch.logs.is_empty() {
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
    }
    Ok(added)
}

fn prune(conn: &mut Connection, cutoff_ns: i64, limit: usize) -> Result<Pruned, StoreError> {
    let tx = conn.transaction()?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let spans = tx.execute(
        "DELETE FROM spans WHERE rowid IN (SELECT rowid FROM spans WHERE start_ns < ?1 LIMIT ?2)",
        params![cutoff_ns, limit],
    )?;
    let logs = tx.execute(
        "DELETE FROM logs WHERE rowid IN (SELECT rowid FROM logs WHERE timestamp_ns < ?1 LIMIT ?2)",
        params![cutoff_ns, limit],
    )?;
    tx.execute(
        "DELETE FROM ws_round_trips WHERE (tenant, client_send_ns, trace_id, send_span_id) IN \
         (SELECT tenant, client_send_ns, trace_id, send_span_id FROM ws_round_trips \
          WHERE client_send_ns < ?1 LIMIT ?2)",
        params![cutoff_ns, limit],
    )?;
    rollup::prune(&tx, cutoff_ns)?;
    tx.commit()?;
    Ok(Pruned {
        spans: spans as u64,
        logs: logs as u64,
    })
}
