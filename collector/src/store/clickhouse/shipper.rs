//! The shipper: sends spooled files to ClickHouse as few, large RowBinary INSERTs (LZ4), and
//! deletes them only once ClickHouse confirmed.
//!
//! An INSERT takes the oldest files of one kind up to `--clickhouse-batch-rows` rows, once that
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

use clickhouse::error::Error as ClickHouseError;
use clickhouse::insert_formatted::CompressedData;
use clickhouse::{Client, Compression};
use tokio::sync::{Notify, watch};
use tracing::{error, info, warn};

use super::SchemaTask;
use super::derive::derive;
use super::rowbinary::{self, Traces};
use super::spool::{Format, Kind, Spool};
use crate::metrics::{Metrics, Signal};
use crate::store::StoreError;

/// First retry delay after a failed INSERT.
const BACKOFF_MIN: Duration = Duration::from_millis(200);
/// Longest retry delay.
const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// Time an INSERT may take to be answered.
const INSERT_TIMEOUT: Duration = Duration::from_secs(60);
/// Uncompressed bytes per LZ4 block of an INSERT.
const CHUNK_BYTES: usize = 1 << 20;

/// ClickHouse error codes that mean the rows themselves are unacceptable; retrying cannot help.
const BAD_DATA_CODES: &[u32] = &[
    6,   // CANNOT_PARSE_TEXT
    27,  // CANNOT_PARSE_INPUT_ASSERTION_FAILED
    33,  // CANNOT_READ_ALL_DATA
    38,  // CANNOT_PARSE_DATE
    41,  // CANNOT_PARSE_DATETIME
    53,  // TYPE_MISMATCH
    69,  // ARGUMENT_OUT_OF_BOUND
    70,  // CANNOT_CONVERT_TYPE
    72,  // CANNOT_PARSE_NUMBER
    117, // INCORRECT_DATA
    131, // TOO_LARGE_STRING_SIZE
    395, // FUNCTION_THROW_IF_VALUE_IS_NON_ZERO
    469, // VIOLATED_CONSTRAINT
];

/// The ClickHouse exception code in an error answer (`Code: N. DB::Exception: ...`).
pub(super) fn exception_code(error: &ClickHouseError) -> Option<u32> {
    let ClickHouseError::BadResponse(text) = error else {
        return None;
    };
    let rest = &text[text.find("Code: ")? + 6..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Whether the error means the server was not reached (or did not answer) at all.
pub(super) fn is_unreachable(error: &ClickHouseError) -> bool {
    matches!(
        error,
        ClickHouseError::Network(_) | ClickHouseError::TimedOut
    )
}

fn is_bad_data(error: &ClickHouseError) -> bool {
    exception_code(error).is_some_and(|code| BAD_DATA_CODES.contains(&code))
}

/// How an INSERT attempt ended.
enum Outcome {
    /// ClickHouse has the rows.
    Stored {
        rows: usize,
        /// The `(tenant, trace id)` pairs for the correlation step.
        traces: Traces,
    },
    /// ClickHouse refused the rows as bad data.
    Rejected(ClickHouseError),
}

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
    pub single_until: [Option<String>; 2],
    /// The schema still to set up: ClickHouse was unreachable when the store opened.
    pub pending_schema: Option<SchemaTask>,
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
            let shipped = tokio::select! {
                shipped = self.ship_due(false) => shipped,
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
        let drain = async {
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
        Kind::ALL
            .into_iter()
            .filter_map(|kind| self.spool.pending(kind).1)
            .map(|since| self.batch_delay.saturating_sub(since.elapsed()))
            .min()
            .unwrap_or(self.batch_delay)
            .max(Duration::from_millis(5))
    }

    /// Ships one INSERT per kind that is due (all waiting ones when `force`); answers whether
    /// anything was shipped or set aside.
    async fn ship_due(&mut self, force: bool) -> Result<bool, StoreError> {
        if let Some(schema) = &self.pending_schema {
            let version = schema.run().await?;
            info!(schema_version = version, "ClickHouse answers; schema ready");
            self.pending_schema = None;
        }
        let mut progressed = false;
        for kind in Kind::ALL {
            let Some((first, last)) = self.next_insert(kind, force)? else {
                continue;
            };
            self.ship(kind, &first, &last).await?;
            progressed = true;
        }
        self.metrics.spool_bytes(self.spool.bytes());
        Ok(progressed)
    }

    /// The files of the next INSERT of `kind`, recorded in the manifest; `None` when nothing is due.
    fn next_insert(
        &mut self,
        kind: Kind,
        force: bool,
    ) -> Result<Option<(String, String)>, StoreError> {
        if let Some(started) = self.spool.manifest(kind) {
            return Ok(Some(started));
        }
        let (rows, oldest) = self.spool.pending(kind);
        let Some(oldest) = oldest else {
            return Ok(None);
        };
        if !force && rows < self.batch_rows && oldest.elapsed() < self.batch_delay {
            return Ok(None);
        }
        let Some((first, mut last)) = self.spool.select(kind, self.batch_rows) else {
            return Ok(None);
        };
        let slot = &mut self.single_until[kind_slot(kind)];
        match slot {
            Some(until) if first.as_str() <= until.as_str() => last = first.clone(),
            Some(_) => *slot = None,
            None => {}
        }
        self.spool.set_manifest(kind, &first, &last)?;
        Ok(Some((first, last)))
    }

    /// Sends the files `first..=last` of `kind` and settles them.
    async fn ship(&mut self, kind: Kind, first: &str, last: &str) -> Result<(), StoreError> {
        let names = self.spool.range(kind, first, last);
        if names.first().map(String::as_str) != Some(first) {
            // Deletion starts with the first file: it is gone, so ClickHouse confirmed this
            // INSERT before a crash and only the clean-up was left.
            self.spool.remove(kind, &names)?;
            return self.spool.clear_manifest(kind);
        }
        let outcome = self.insert(kind, first, last, &names).await;
        match outcome {
            Ok(Outcome::Stored { rows, traces }) => {
                derive(&self.client, &self.settings, &traces).await?;
                self.spool.remove(kind, &names)?;
                self.spool.clear_manifest(kind)?;
                self.metrics.stored(signal(kind), rows);
                Ok(())
            }
            Ok(Outcome::Rejected(e)) if names.len() > 1 => {
                warn!(error = %e, files = names.len(), "ClickHouse refused a batch as bad data; retrying its spool files one by one");
                self.single_until[kind_slot(kind)] = Some(last.to_owned());
                self.spool.clear_manifest(kind)
            }
            Ok(Outcome::Rejected(e)) => {
                let rows = self.spool.read(first).map_or(0, |(_, rows, _)| rows);
                let path = self.spool.move_aside(kind, first)?;
                self.spool.clear_manifest(kind)?;
                self.metrics.moved_aside(signal(kind), rows);
                error!(error = %e, rows, file = %path.display(), "ClickHouse refused spooled data as bad; moved aside");
                Ok(())
            }
            Err(StoreError::Spool { path, source })
                if source.kind() == std::io::ErrorKind::InvalidData =>
            {
                // A damaged spool file can never be sent; keep it for inspection.
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or(first)
                    .to_owned();
                let aside = self.spool.move_aside(kind, &name)?;
                self.spool.clear_manifest(kind)?;
                self.metrics.moved_aside(signal(kind), 0);
                error!(file = %aside.display(), "Damaged spool file moved aside");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// One INSERT of the rows in `names`, with the token of `first..=last`. The files' RowBinary
    /// goes out as it is, LZ4-compressed off the async runtime; only the trace list of each
    /// file of spans is read, for the correlation step.
    async fn insert(
        &self,
        kind: Kind,
        first: &str,
        last: &str,
        names: &[String],
    ) -> Result<Outcome, StoreError> {
        let spool = Arc::clone(&self.spool);
        let files = names.to_vec();
        let (chunks, rows, traces) =
            tokio::task::spawn_blocking(move || read_for_insert(&spool, kind, &files))
                .await
                .map_err(|e| StoreError::Task(e.to_string()))??;
        let sql = match kind {
            Kind::Spans => rowbinary::insert_spans_sql(kind.table()),
            Kind::Logs => rowbinary::insert_logs_sql(kind.table()),
        };
        let mut insert = self
            .client
            .insert_formatted_with(sql)
            .with_timeouts(Some(INSERT_TIMEOUT), Some(INSERT_TIMEOUT))
            .with_setting("insert_deduplicate", "1")
            .with_setting(
                "insert_deduplication_token",
                self.spool.token(kind, first, last),
            )
            // Browser clocks put spans on many days; every day is a partition. Unbounded here
            // rather than a rejected batch.
            .with_setting("max_partitions_per_insert_block", "0");
        for (name, value) in &self.settings {
            insert = insert.with_setting(*name, *value);
        }
        let attempt = async {
            for chunk in chunks {
                insert.send_compressed(chunk).await?;
            }
            insert.end().await
        };
        match attempt.await {
            Ok(()) => Ok(Outcome::Stored { rows, traces }),
            Err(e) if is_bad_data(&e) => Ok(Outcome::Rejected(e)),
            Err(e) => Err(StoreError::ClickHouse(e)),
        }
    }
}

/// The RowBinary of spool files in LZ4 chunks of at most [`CHUNK_BYTES`], their row count and
/// (spans) their traces. A file written before RowBinary is converted here.
fn read_for_insert(
    spool: &Spool,
    kind: Kind,
    files: &[String],
) -> Result<(Vec<CompressedData>, usize, Traces), StoreError> {
    let damaged = |name: &str| StoreError::Spool {
        path: name.into(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "a row does not parse"),
    };
    let (mut chunks, mut rows, mut traces) = (Vec::new(), 0, Traces::new());
    for name in files {
        let (format, count, mut payload) = spool.read(name)?;
        if format == Format::JsonLines {
            payload = rowbinary::from_json_lines(kind == Kind::Spans, &payload)
                .ok_or_else(|| damaged(name))?;
        }
        let data = match kind {
            Kind::Spans => {
                let (file_traces, data) =
                    rowbinary::split_spans_payload(&payload).ok_or_else(|| damaged(name))?;
                traces.extend(file_traces);
                data
            }
            Kind::Logs => &payload[..],
        };
        for chunk in data.chunks(CHUNK_BYTES) {
            chunks.push(CompressedData::new(chunk, Compression::Lz4)?);
        }
        rows += count;
    }
    Ok((chunks, rows, traces))
}

fn kind_slot(kind: Kind) -> usize {
    match kind {
        Kind::Spans => 0,
        Kind::Logs => 1,
    }
}

fn signal(kind: Kind) -> Signal {
    match kind {
        Kind::Spans => Signal::Traces,
        Kind::Logs => Signal::Logs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exception_codes_are_read_from_error_answers() {
        let bad = ClickHouseError::BadResponse(
            "Code: 469. DB::Exception: Constraint `c` for table t is violated. (VIOLATED_CONSTRAINT)"
                .into(),
        );
        assert_eq!(exception_code(&bad), Some(469));
        assert!(is_bad_data(&bad));
        let down = ClickHouseError::BadResponse(
            "Code: 242. DB::Exception: Table is in readonly mode".into(),
        );
        assert!(!is_bad_data(&down));
        assert!(!is_bad_data(&ClickHouseError::TimedOut));
    }
}
