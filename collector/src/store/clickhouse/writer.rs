//! The ClickHouse writer thread: drains the write queue into the spool. Consecutive batches
//! become one spool file per kind, RowBinary rows as the INSERT sends them ([`rowbinary`]),
//! fsynced once, then each batch is acknowledged. A batch that
//! does not fit under `--spool-max-bytes` is refused (ingest answers 503 with `Retry-After`).

use std::sync::Arc;

use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::{OwnedSemaphorePermit, oneshot};
use tracing::{error, info, warn};

use super::rowbinary::{self, Traces};
use super::spool::{Kind, Spool};
use crate::metrics::{Metrics, Signal};
use crate::model::Batch;
use crate::store::StoreError;
use crate::store::queue::{Command, Pruned};

/// Most queued batches written in one spool file.
const MAX_GROUP: usize = 64;

type Pending = (
    Batch,
    oneshot::Sender<Result<(), StoreError>>,
    OwnedSemaphorePermit,
);

/// Runs until the queue's stop command; every batch queued before it is spooled or refused.
pub(super) fn run(
    spool: &Spool,
    mut commands: UnboundedReceiver<Command>,
    metrics: &Metrics,
    wake_shipper: &Arc<tokio::sync::Notify>,
) {
    let mut group: Vec<Pending> = Vec::with_capacity(MAX_GROUP);
    let mut full_warned = false;
    while let Some(command) = commands.blocking_recv() {
        match command {
            Command::Write { batch, ack, permit } => {
                group.push((batch, ack, permit));
                let mut stop = false;
                while group.len() < MAX_GROUP {
                    match commands.try_recv() {
                        Ok(Command::Write { batch, ack, permit }) => {
                            group.push((batch, ack, permit))
                        }
                        Ok(Command::Prune { ack, .. }) => {
                            let _ = ack.send(Ok(Pruned::default()));
                        }
                        Ok(Command::Derive { ack, .. }) => {
                            let _ = ack.send(Ok(true));
                        }
                        Ok(Command::Stop) => {
                            stop = true;
                            break;
                        }
                        Err(_) => break,
                    }
                }
                spool_group(spool, &mut group, metrics, &mut full_warned);
                metrics.spool_bytes(spool.bytes());
                wake_shipper.notify_one();
                if stop {
                    break;
                }
            }
            // ClickHouse drops expired parts by TTL; the retention loop is not started for it,
            // and a stray prune has nothing to do.
            Command::Prune { ack, .. } => {
                let _ = ack.send(Ok(Pruned::default()));
            }
            // The shipper runs the correlation step as it ships, in the background.
            Command::Derive { ack, .. } => {
                let _ = ack.send(Ok(true));
            }
            Command::Stop => break,
        }
    }
    info!("ClickHouse spool writer drained and stopped");
}

fn spool_group(spool: &Spool, group: &mut Vec<Pending>, metrics: &Metrics, full_warned: &mut bool) {
    let mut spans = Vec::new();
    let mut logs = Vec::new();
    let mut traces = Traces::new();
    let (mut span_rows, mut log_rows) = (0, 0);
    let mut accepted = Vec::with_capacity(group.len());
    for (batch, ack, permit) in group.drain(..) {
        let marks = (spans.len(), logs.len());
        for s in &batch.spans {
            rowbinary::span(&mut spans, s);
        }
        for l in &batch.logs {
            rowbinary::log(&mut logs, l);
        }
        if !spool.has_room((spans.len() + logs.len()) as u64) {
            spans.truncate(marks.0);
            logs.truncate(marks.1);
            if !*full_warned {
                warn!(
                    limit = spool.max_bytes(),
                    "The spool is full (ClickHouse is behind or down); ingest answers 503 until it drains"
                );
                *full_warned = true;
            }
            let _ = ack.send(Err(StoreError::SpoolFull));
            continue;
        }
        rowbinary::add_traces(&mut traces, &batch.spans);
        span_rows += batch.spans.len();
        log_rows += batch.logs.len();
        accepted.push((batch, ack, permit));
    }
    if accepted.is_empty() {
        return;
    }
    let mut result = Ok(());
    if span_rows > 0 {
        result = spool.append(
            Kind::Spans,
            span_rows,
            &rowbinary::spans_payload(&traces, &spans),
        );
    }
    if log_rows > 0 && result.is_ok() {
        result = spool.append(Kind::Logs, log_rows, &logs);
    }
    match result {
        Ok(()) => {
            *full_warned = false;
            metrics.spooled(Signal::Traces, span_rows);
            metrics.spooled(Signal::Logs, log_rows);
            for (_, ack, _permit) in accepted {
                let _ = ack.send(Ok(()));
            }
        }
        Err(e) => {
            error!(error = %e, batches = accepted.len(), "Spool write failed; batches refused as retryable");
            let message = e.to_string();
            for (_, ack, _permit) in accepted {
                let _ = ack.send(Err(StoreError::Task(message.clone())));
            }
        }
    }
}
