//! Retention: deletes expired rows in the background, in small chunks that the writer runs
//! between ingest batches, so ingest is never stalled by a large delete.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::writer::Tasks;
use crate::store::error::StoreError;

/// Rows deleted per chunk.
const CHUNK: usize = 5_000;

/// Starts the retention loop: every `retention / 10` (between 1 s and 60 s), rows older than
/// `retention` are deleted, chunk after chunk, until none are left. Abort the handle to stop;
/// it also stops once the writer is gone.
pub(super) fn spawn(tasks: Tasks, retention: Duration) -> JoinHandle<()> {
    let every = (retention / 10).clamp(Duration::from_secs(1), Duration::from_secs(60));
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let cutoff = SystemTime::now()
                .checked_sub(retention)
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
            let mut total = 0;
            loop {
                match tasks.prune(cutoff, CHUNK).await {
                    Ok(pruned) => {
                        total += pruned.values().sum::<u64>();
                        if pruned.values().all(|&n| n < CHUNK as u64) {
                            break;
                        }
                    }
                    Err(StoreError::WriterGone) => return,
                    Err(e) => {
                        warn!(error = %e, "Retention pass failed; trying again next round");
                        break;
                    }
                }
                tokio::task::yield_now().await;
            }
            if total > 0 {
                info!(rows = total, "Deleted expired rows");
            }
        }
    })
}
