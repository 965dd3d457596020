//! The ClickHouse writer thread ([`SpoolWriter`], run by [`crate::store::writer::drain`]):
//! drains the write queue into the spool. Consecutive batches
//! become one spool file per kind, fsynced once, then each batch is acknowledged. A batch that
//! does not fit under `--spool-max-bytes` is refused (ingest answers 503 with `Retry-After`).

use std::convert::Infallible;
use std::sync::Arc;

use tokio::sync::Notify;
use tracing::{error, info, warn};

use super::encode::{LogRow, SpanRow};
use super::error::ClickHouseError;
use super::spool::{Kind, Spool, SpoolError};
use crate::metrics::{Metrics, Signal};
use crate::model::Batch;
use crate::store::error::StoreError;
use crate::store::writer::{Pending, Writer};

/// The spool writer thread's state.
pub(super) struct SpoolWriter {
    pub spool: Arc<Spool>,
    pub metrics: Arc<Metrics>,
    /// Told after each spooled group, so the shipper looks at the spool.
    pub wake_shipper: Arc<Notify>,
    /// The spool was found full and this was logged; reset once a group fits again.
    pub full_warned: bool,
}

/// The spool writer has no tasks of its own: the shipper runs the correlation step as it
/// ships, and ClickHouse drops expired parts by TTL.
impl Writer for SpoolWriter {
    type Task = Infallible;

    fn write(&mut self, group: Vec<Pending>) {
        spool_group(&self.spool, group, &self.metrics, &mut self.full_warned);
        self.metrics.spool_bytes(self.spool.bytes());
        self.wake_shipper.notify_one();
    }

    fn run(&mut self, task: Infallible) {
        match task {}
    }

    fn stopped(&mut self) {
        info!("ClickHouse spool writer drained and stopped");
    }
}

/// JSON lines of a batch's rows: spans and logs.
fn encode(batch: &Batch) -> Result<(Vec<u8>, Vec<u8>), serde_json::Error> {
    let mut spans = Vec::new();
    for s in &batch.spans {
        serde_json::to_writer(&mut spans, &SpanRow::from(s))?;
        spans.push(b'\n');
    }
    let mut logs = Vec::new();
    for l in &batch.logs {
        serde_json::to_writer(&mut logs, &LogRow::from(l))?;
        logs.push(b'\n');
    }
    Ok((spans, logs))
}

fn spool_group(spool: &Spool, group: Vec<Pending>, metrics: &Metrics, full_warned: &mut bool) {
    let mut spans = Vec::new();
    let mut logs = Vec::new();
    let (mut span_rows, mut log_rows) = (0, 0);
    let mut accepted = Vec::with_capacity(group.len());
    for pending in group {
        let (s, l) = match encode(&pending.batch) {
            Ok(lines) => lines,
            Err(e) => {
                error!(error = %e, "Cannot encode a batch for the spool");
                pending.answer(Err(ClickHouseError::Encode(e).into()));
                continue;
            }
        };
        let size = (spans.len() + logs.len() + s.len() + l.len()) as u64;
        if !spool.has_room(size) {
            if !*full_warned {
                warn!(
                    limit = spool.max_bytes(),
                    "The spool is full (ClickHouse is behind or down); ingest answers 503 until it drains"
                );
                *full_warned = true;
            }
            pending.answer(Err(SpoolError::Full.into()));
            continue;
        }
        spans.extend_from_slice(&s);
        logs.extend_from_slice(&l);
        span_rows += pending.batch.spans.len();
        log_rows += pending.batch.logs.len();
        accepted.push(pending);
    }
    if accepted.is_empty() {
        return;
    }
    let mut result = Ok(());
    if span_rows > 0 {
        result = spool.append(Kind::Spans, span_rows, &spans);
    }
    if log_rows > 0 && result.is_ok() {
        result = spool.append(Kind::Logs, log_rows, &logs);
    }
    match result {
        Ok(()) => {
            *full_warned = false;
            metrics.spooled(Signal::Traces, span_rows);
            metrics.spooled(Signal::Logs, log_rows);
            for pending in accepted {
                pending.answer(Ok(()));
            }
        }
        Err(e) => {
            error!(error = %e, batches = accepted.len(), "Spool write failed; batches refused as retryable");
            let message = e.to_string();
            for pending in accepted {
                pending.answer(Err(StoreError::from(SpoolError::Write(message.clone()))));
            }
        }
    }
}
