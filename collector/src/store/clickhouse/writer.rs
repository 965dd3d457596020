//! The ClickHouse writer thread ([`SpoolWriter`], run by [`crate::store::writer::drain`]):
//! drains the write queue into the spool. Consecutive batches
//! become one spool file per signal in the signal's format ([`super::table::Table::format`]:
//! RowBinary rows as the INSERT sends them for spans and logs, [`super::rowbinary`]; JSON lines
//! for metric points), fsynced once, then each batch is acknowledged. A batch that
//! does not fit under `--spool-max-bytes` is refused (ingest answers 503 with `Retry-After`).

use std::convert::Infallible;
use std::sync::Arc;

use tokio::sync::Notify;
use tracing::{error, info, warn};

use super::error::ClickHouseError;
use super::rowbinary::{self, Traces};
use super::spool::Format;
use super::spool::{Spool, SpoolError};
use super::table::table;
use crate::metrics::Metrics;
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

/// One signal's share of a group: its encoded rows, their count and their traces.
#[derive(Default)]
struct Rows {
    count: usize,
    bytes: Vec<u8>,
    traces: Traces,
}

fn spool_group(spool: &Spool, group: Vec<Pending>, metrics: &Metrics, full_warned: &mut bool) {
    let mut rows = PerSignal::<Rows>::default();
    let mut accepted = Vec::with_capacity(group.len());
    for pending in group {
        let marks = PerSignal::from_fn(|signal| rows[signal].bytes.len());
        let encoded =
            Signal::ALL
                .into_iter()
                .try_fold(PerSignal::default(), |mut counts, signal| {
                    let Rows { bytes, traces, .. } = &mut rows[signal];
                    counts[signal] = table(signal).encode(&pending.batch, bytes, traces)?;
                    Ok::<_, ClickHouseError>(counts)
                });
        // Drops the batch's rows; its traces may stay in the list, as deriving a trace again
        // is harmless.
        let undo = |rows: &mut PerSignal<Rows>| {
            for signal in Signal::ALL {
                rows[signal].bytes.truncate(marks[signal]);
            }
        };
        let counts: PerSignal<usize> = match encoded {
            Ok(counts) => counts,
            Err(e) => {
                undo(&mut rows);
                error!(error = %e, "Cannot encode a batch for the spool");
                pending.answer(Err(e.into()));
                continue;
            }
        };
        let size: usize = rows.values().map(|r| r.bytes.len()).sum();
        if !spool.has_room(size as u64) {
            undo(&mut rows);
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
        for (signal, count) in counts.iter() {
            rows[signal].count += count;
        }
        accepted.push(pending);
    }
    if accepted.is_empty() {
        return;
    }
    let result = rows
        .iter()
        .filter(|(_, r)| r.count > 0)
        .try_for_each(|(signal, r)| {
            let format = table(signal).format();
            match format {
                Format::RowBinary => {
                    let head = rowbinary::payload_head(&r.traces);
                    spool.append(signal, format, r.count, &[&head, &r.bytes])
                }
                Format::JsonLines => spool.append(signal, format, r.count, &[&r.bytes]),
            }
        });
    match result {
        Ok(()) => {
            *full_warned = false;
            for (signal, r) in rows.iter() {
                metrics.spooled(signal, r.count);
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
