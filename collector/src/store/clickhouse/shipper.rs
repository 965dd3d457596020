//! The shipper: sends spooled files to ClickHouse as few, large RowBinary INSERTs (LZ4), and
//! deletes them only once ClickHouse confirmed.
//!
//! An INSERT takes the oldest files of one signal up to `--clickhouse-batch-rows` rows, once that
//! many are waiting or the oldest has waited `--clickhouse-batch-delay`. Its files are recorded
//! in the spool's manifest first, and it carries an `insert_deduplication_token` derived from
//! them, so a retry after a lost answer (or after a crash) is stored once. Transient failures
//! are retried with capped exponential backoff; a rejection that means the data itself is bad is
//! narrowed down file by file, and each bad file is moved aside, counted and logged once.
//!
//! After an INSERT of spans is confirmed, and before its files are removed, the correlation step
//! ([`super::derive`]) runs for the traces in it; when it fails, the INSERT is retried like a
//! failed one (ClickHouse deduplicates it by its token) and the step runs again.

use std::sync::Arc;
use std::time::Duration;

use clickhouse::Client;
use tokio::sync::{Notify, watch};
use tracing::{error, info, warn};

use super::derive::derive;
use super::schema::SchemaTask;
use super::spool::{Spool, SpoolError};
use super::table::{Insert, Outcome, table};
use crate::metrics::Metrics;
use crate::signal::{PerSignal, Signal};
use crate::store::error::StoreError;

/// First retry delay after a failed INSERT.
const BACKOFF_MIN: Duration = Duration::from_millis(200);
/// Longest retry delay.
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// Sends spooled files to ClickHouse.
pub(super) struct Shipper {
    pub client: Client,
    pub spool: Arc<Spool>,
    pub metrics: Arc<Metrics>,
    pub wake: Arc<Notify>,
    pub batch_rows: usize,
    pub batch_delay: Duration,
    /// Extra INSERT settings (cluster mode waits for the shards).
    pub settings: Vec<(&'static str, &'static str)>,
    /// After a bad-data rejection of several files, files up to this name go one at a time.
    pub single_until: PerSignal<Option<String>>,
    /// The schema still to set up: ClickHouse was unreachable when the store opened.
    pub pending_schema: Option<SchemaTask>,
    /// Held while shipping (with the spool's lock, [`Spool::exclusive`]); a deletion takes it
    /// to keep INSERTs and the correlation step out while it rewrites the spool and deletes in
    /// ClickHouse.
    pub gate: Arc<tokio::sync::Mutex<()>>,
}

impl Shipper {
    /// Ships until `stop` turns true, then ships what is left for at most `final_timeout`.
    pub(super) async fn run(mut self, mut stop: watch::Receiver<bool>, final_timeout: Duration) {
        let mut backoff = BACKOFF_MIN;
        let mut failing = false;
        loop {
            if *stop.borrow() {
                break;
            }
            // A stop interrupts even an INSERT in flight, so that shutdown stays bounded by the
            // final timeout. That is safe: the INSERT's files stay recorded and go out again
            // with the same token.
            let (gate, spool) = (Arc::clone(&self.gate), Arc::clone(&self.spool));
            let shipped = tokio::select! {
                shipped = async {
                    let _shipping = gate.lock().await;
                    let _locked = spool.exclusive().await?;
                    self.ship_due(false).await
                } => shipped,
                _ = stop.changed() => break,
            };
            match shipped {
                Ok(true) => {
                    if failing {
                        info!("ClickHouse inserts work again");
                        failing = false;
                    }
                    backoff = BACKOFF_MIN;
                    continue;
                }
                Ok(false) => {
                    let wait = self.until_due();
                    tokio::select! {
                        _ = self.wake.notified() => {}
                        _ = tokio::time::sleep(wait) => {}
                        _ = stop.changed() => {}
                    }
                }
                Err(e) => {
                    self.metrics.insert_failed();
                    if !failing {
                        warn!(error = %e, "ClickHouse insert failed; the spool keeps the data and retries with backoff");
                        failing = true;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = stop.changed() => {}
                    }
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
        let (gate, spool) = (Arc::clone(&self.gate), Arc::clone(&self.spool));
        let drain = async {
            let _shipping = gate.lock().await;
            let Ok(_locked) = spool.exclusive().await else {
                return false;
            };
            loop {
                match self.ship_due(true).await {
                    Ok(true) => {}
                    Ok(false) => return true,
                    Err(e) => {
                        warn!(error = %e, "Final ClickHouse insert failed");
                        tokio::time::sleep(BACKOFF_MIN).await;
                    }
                }
            }
        };
        match tokio::time::timeout(final_timeout, drain).await {
            Ok(_) => info!("Spool shipped to ClickHouse"),
            Err(_) => warn!(
                bytes = self.spool.bytes(),
                "ClickHouse did not take the whole spool in time; the rest ships at the next start"
            ),
        }
        self.metrics.spool_bytes(self.spool.bytes());
    }

    /// How long until the oldest spooled file is due.
    fn until_due(&self) -> Duration {
        Signal::ALL
            .into_iter()
            .filter_map(|signal| self.spool.pending(signal).1)
            .map(|since| self.batch_delay.saturating_sub(since.elapsed()))
            .min()
            .unwrap_or(self.batch_delay)
            .max(Duration::from_millis(5))
    }

    /// Ships one INSERT per signal that is due (all waiting ones when `force`); answers whether
    /// anything was shipped or set aside.
    async fn ship_due(&mut self, force: bool) -> Result<bool, StoreError> {
        if let Some(schema) = &self.pending_schema {
            let version = schema.run().await?;
            info!(schema_version = version, "ClickHouse answers; schema ready");
            self.pending_schema = None;
        }
        let mut progressed = false;
        for signal in Signal::ALL {
            let Some((first, last)) = self.next_insert(signal, force)? else {
                continue;
            };
            self.ship(signal, &first, &last).await?;
            progressed = true;
        }
        self.metrics.spool_bytes(self.spool.bytes());
        Ok(progressed)
    }

    /// The files of the next INSERT of `signal`, recorded in the manifest; `None` when nothing is due.
    fn next_insert(
        &mut self,
        signal: Signal,
        force: bool,
    ) -> Result<Option<(String, String)>, StoreError> {
        if let Some(started) = self.spool.manifest(signal) {
            return Ok(Some(started));
        }
        let (rows, oldest) = self.spool.pending(signal);
        let Some(oldest) = oldest else {
            return Ok(None);
        };
        if !force && rows < self.batch_rows && oldest.elapsed() < self.batch_delay {
            return Ok(None);
        }
        let Some((first, mut last)) = self.spool.select(signal, self.batch_rows) else {
            return Ok(None);
        };
        let slot = &mut self.single_until[signal];
        match slot {
            Some(until) if first.as_str() <= until.as_str() => last = first.clone(),
            Some(_) => *slot = None,
            None => {}
        }
        self.spool.set_manifest(signal, &first, &last)?;
        Ok(Some((first, last)))
    }

    /// Sends the files `first..=last` of `signal` and settles them.
    async fn ship(&mut self, signal: Signal, first: &str, last: &str) -> Result<(), StoreError> {
        let names = self.spool.range(signal, first, last);
        if names.first().map(String::as_str) != Some(first) {
            // Deletion starts with the first file: it is gone, so ClickHouse confirmed this
            // INSERT before a crash and only the clean-up was left.
            self.spool.remove(signal, &names)?;
            return Ok(self.spool.clear_manifest(signal)?);
        }
        let outcome = table(signal)
            .insert(Insert {
                client: &self.client,
                settings: &self.settings,
                token: self.spool.token(signal, first, last),
                spool: Arc::clone(&self.spool),
                names: names.clone(),
            })
            .await;
        match outcome {
            Ok(Outcome::Stored { rows, traces }) => {
                derive(&self.client, &self.settings, &traces).await?;
                self.spool.remove(signal, &names)?;
                self.spool.clear_manifest(signal)?;
                self.metrics.stored(signal, rows);
                Ok(())
            }
            Ok(Outcome::Rejected(e)) if names.len() > 1 => {
                warn!(error = %e, files = names.len(), "ClickHouse refused a batch as bad data; retrying its spool files one by one");
                self.single_until[signal] = Some(last.to_owned());
                Ok(self.spool.clear_manifest(signal)?)
            }
            Ok(Outcome::Rejected(e)) => {
                let rows = self.spool.read(first).map_or(0, |(_, rows, _)| rows);
                let path = self.spool.move_aside(signal, first)?;
                self.spool.clear_manifest(signal)?;
                self.metrics.moved_aside(signal, rows);
                error!(error = %e, rows, file = %path.display(), "ClickHouse refused spooled data as bad; moved aside");
                Ok(())
            }
            Err(StoreError::Spool(SpoolError::Damaged { path, .. })) => {
                // A damaged spool file can never be sent; keep it for inspection.
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or(first)
                    .to_owned();
                let aside = self.spool.move_aside(signal, &name)?;
                self.spool.clear_manifest(signal)?;
                self.metrics.moved_aside(signal, 0);
                error!(file = %aside.display(), "Damaged spool file moved aside");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

/// Ships the spool at `dir` once, as a starting collector would, to a server that cannot be
/// reached: files that cannot be read are moved aside, every other one stays. The fuzz target of
/// the spool reader runs it (`cargo fuzz` builds with `--cfg fuzzing`).
#[cfg(any(test, fuzzing))]
pub(super) async fn ship_to_nowhere(dir: &std::path::Path) -> Result<(), StoreError> {
    let mut shipper = Shipper {
        client: Client::default()
            .with_url("http://127.0.0.1:1")
            .with_validation(false),
        spool: Arc::new(Spool::open(dir, u64::MAX)?),
        metrics: Arc::new(Metrics::default()),
        wake: Arc::new(Notify::new()),
        batch_rows: 1000,
        batch_delay: Duration::ZERO,
        settings: Vec::new(),
        single_until: PerSignal::default(),
        pending_schema: None,
        gate: Arc::default(),
    };
    for signal in Signal::ALL {
        // Until an INSERT fails (the server is unreachable) or nothing is left.
        for _ in 0..64 {
            let Some((first, last)) = shipper.next_insert(signal, true)? else {
                break;
            };
            if shipper.ship(signal, &first, &last).await.is_err() {
                break;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::encode::SpanRow;
    use super::super::rowbinary::{self, Traces};
    use super::super::spool::{Format, encode_file};
    use super::*;

    /// A RowBinary payload of `rows`.
    fn payload(rows: &[SpanRow<'_>]) -> Vec<u8> {
        let mut traces = Traces::new();
        let mut data = Vec::new();
        for row in rows {
            rowbinary::write_row(&mut data, row).expect("RowBinary");
            traces.insert((row.tenant.to_string(), row.trace_id.to_string()));
        }
        let mut payload = rowbinary::payload_head(&traces);
        payload.append(&mut data);
        payload
    }

    /// Found by the `spool_reader` fuzz target: a file whose header counts more rows than it
    /// holds was shipped as if whole (with none, deleted unconfirmed). Files of either format.
    #[tokio::test]
    async fn a_file_whose_rows_do_not_match_its_header_is_moved_aside_not_shipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        // The empty file is the only one of its signal: an INSERT that fails takes the files
        // after it along.
        let name = |n: u32| {
            let records = if n == 7 { "logs" } else { "spans" };
            format!("00000000000000000001-{n:012}.{records}")
        };
        let span = crate::testing::span(1, 1, None, "svc", "op", 1_700_000_000_000_000_000, 1);
        let mut line = serde_json::to_string(&SpanRow::from(&span)).expect("JSON");
        line.push('\n');
        let one = payload(&[SpanRow::from(&span)]);
        let none = payload(&[]);
        let files = [
            (Format::JsonLines, 2, line.as_bytes(), "aside"),
            (Format::JsonLines, 3, &b""[..], "aside"),
            (Format::JsonLines, 1, line.as_bytes(), "kept"),
            (Format::RowBinary, 3, &none[..], "aside"),
            (Format::RowBinary, 0, &one[..], "aside"),
            (Format::RowBinary, 1, &one[..], "kept"),
            (Format::RowBinary, 0, &none[..], "done"),
        ];
        for (n, (format, rows, content, _)) in (1..).zip(&files) {
            std::fs::write(
                dir.path().join(name(n)),
                encode_file(*format, *rows, content),
            )
            .expect("write");
        }
        ship_to_nowhere(dir.path())
            .await
            .expect("ships what it can");
        for (n, (format, rows, _, fate)) in (1..).zip(&files) {
            let (here, aside) = (
                dir.path().join(name(n)).exists(),
                dir.path().join("rejected").join(name(n)).exists(),
            );
            let expected = match *fate {
                "aside" => (false, true),
                "kept" => (true, false),
                _ => (false, false),
            };
            assert_eq!((here, aside), expected, "{format:?} file of {rows} rows");
        }
    }
}
