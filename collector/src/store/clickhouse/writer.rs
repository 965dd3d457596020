//! The ClickHouse writer thread ([`SpoolWriter`], run by [`crate::store::writer::drain`]):
//! drains the write queue into the spool. Consecutive batches
//! become one spool file per signal, fsynced once, then each batch is acknowledged. A batch that
//! does not fit under `--spool-max-bytes` is refused (ingest answers 503 with `Retry-After`).

use std::convert::Infallible;
use std::sync::Arc;

use tokio::sync::Notify;
use tracing::{error, info, warn};

use super::error::ClickHouseError;
use super::spool::{Spool, SpoolError};
use super::table::table;
use crate::metrics::Metrics;
use crate::model::Batch;
use crate::signal::{PerSignal, Signal};
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

/// JSON lines of a batch's rows, per signal, and how many rows each.
fn encode(batch: &Batch) -> Result<PerSignal<(usize, Vec<u8>)>, serde_json::Error> {
    let mut lines = PerSignal::<(usize, Vec<u8>)>::default();
    for signal in Signal::ALL {
        let (rows, out) = &mut lines[signal];
        *rows = table(signal).spool_lines(batch, out)?;
    }
    Ok(lines)
}

fn spool_group(spool: &Spool, group: Vec<Pending>, metrics: &Metrics, full_warned: &mut bool) {
    let mut lines = PerSignal::<(usize, Vec<u8>)>::default();
    let mut accepted = Vec::with_capacity(group.len());
    for pending in group {
        let batch = match encode(&pending.batch) {
            Ok(lines) => lines,
            Err(e) => {
                error!(error = %e, "Cannot encode a batch for the spool");
                pending.answer(Err(ClickHouseError::Encode(e).into()));
                continue;
            }
        };
        let size: usize = lines
            .values()
            .chain(batch.values())
            .map(|(_, bytes)| bytes.len())
            .sum();
        if !spool.has_room(size as u64) {
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
        for (signal, (rows, bytes)) in batch.iter() {
            lines[signal].0 += rows;
            lines[signal].1.extend_from_slice(bytes);
        }
        accepted.push(pending);
    }
    if accepted.is_empty() {
        return;
    }
    let result = lines
        .iter()
        .filter(|(_, (rows, _))| *rows > 0)
        .try_for_each(|(signal, (rows, bytes))| spool.append(signal, *rows, bytes));
    match result {
        Ok(()) => {
            *full_warned = false;
            for (signal, (rows, _)) in lines.iter() {
                metrics.spooled(signal, *rows);
            }
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
