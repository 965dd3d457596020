//! Each signal's ClickHouse table, as data: [`table`] is the one place that ties a signal to
//! its row type ([`SpanRow`], [`LogRow`]) and its table. The row type's serde encoding is its
//! RowBinary ([`super::rowbinary`]); the spool writer asks a [`Table`] for a batch's rows and
//! the shipper for the INSERT of spooled files; neither has a code path per signal. Adding a
//! signal here is its row type, a [`Shipped`] impl and a line in [`table`].

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use clickhouse::Client;
use clickhouse::insert_formatted::CompressedData;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::encode::{LOG_COLUMNS, LogRow, SPAN_COLUMNS, SpanRow};
use super::error::{ClickHouseError, is_bad_data};
use super::rowbinary::{self, RowBinaryError, Traces};
use super::spool::{Format, Spool, SpoolError};
use crate::model::Batch;
use crate::signal::Signal;
use crate::store::error::StoreError;

/// Time an INSERT may take to be answered.
const INSERT_TIMEOUT: Duration = Duration::from_secs(60);
/// Uncompressed bytes per LZ4 block of an INSERT.
const CHUNK_BYTES: usize = 1 << 20;

/// One signal's rows, named by the row type (any lifetime of it).
pub(super) trait Shipped: 'static {
    /// The row, borrowing text from the record it is made from; its serde encoding is its
    /// RowBinary and (in spool files before RowBinary) its JSON line.
    type Row<'a>: Serialize + DeserializeOwned;
    /// The table the rows go to.
    const TABLE: &'static str;
    /// The row's columns in field order.
    const COLUMNS: &'static str;

    /// The rows of a batch's records of this signal.
    fn rows(batch: &Batch) -> impl Iterator<Item = Self::Row<'_>>;

    /// The tenant and trace whose round trips the correlation step re-derives once the row is
    /// stored, if any.
    fn trace<'r>(_row: &'r Self::Row<'_>) -> Option<(&'r str, &'r str)> {
        None
    }
}

impl Shipped for SpanRow<'static> {
    type Row<'a> = SpanRow<'a>;
    const TABLE: &'static str = "otel_traces";
    const COLUMNS: &'static str = SPAN_COLUMNS;

    fn rows(batch: &Batch) -> impl Iterator<Item = SpanRow<'_>> {
        batch.spans.iter().map(SpanRow::from)
    }

    fn trace<'r>(row: &'r SpanRow<'_>) -> Option<(&'r str, &'r str)> {
        Some((&row.tenant, &row.trace_id))
    }
}

impl Shipped for LogRow<'static> {
    type Row<'a> = LogRow<'a>;
    const TABLE: &'static str = "otel_logs";
    const COLUMNS: &'static str = LOG_COLUMNS;

    fn rows(batch: &Batch) -> impl Iterator<Item = LogRow<'_>> {
        batch.logs.iter().map(LogRow::from)
    }
}

/// How an INSERT attempt ended.
pub(super) enum Outcome {
    /// ClickHouse has the rows.
    Stored {
        rows: usize,
        /// The `(tenant, trace id)` pairs for the correlation step.
        traces: Traces,
    },
    /// ClickHouse refused the rows as bad data.
    Rejected(clickhouse::error::Error),
}

/// One INSERT of spooled files.
pub(super) struct Insert<'a> {
    /// The client to insert with.
    pub client: &'a Client,
    /// Extra INSERT settings (cluster mode waits for the shards).
    pub settings: &'a [(&'static str, &'static str)],
    /// The INSERT's deduplication token.
    pub token: String,
    /// Where the files are.
    pub spool: Arc<Spool>,
    /// The files, in order.
    pub names: Vec<String>,
}

/// What the spool writer and the shipper do with one signal's rows.
#[async_trait]
pub(super) trait Table: Send + Sync {
    /// Appends the RowBinary of `batch`'s rows of this signal to `rows` and their traces to
    /// `traces`; answers how many rows.
    fn encode(
        &self,
        batch: &Batch,
        rows: &mut Vec<u8>,
        traces: &mut Traces,
    ) -> Result<usize, RowBinaryError>;

    /// Sends the rows of the spooled files in one INSERT with the given token.
    async fn insert(&self, insert: Insert<'_>) -> Result<Outcome, StoreError>;

    /// Inserts the batches' rows of this signal straight away, in one INSERT.
    #[cfg(feature = "testing")]
    async fn insert_batches(
        &self,
        client: &Client,
        batches: &[Batch],
    ) -> Result<(), ClickHouseError>;
}

/// The [`Table`] of rows `R`.
struct Rows<R>(PhantomData<fn() -> R>);

static SPANS: Rows<SpanRow<'static>> = Rows(PhantomData);
static LOGS: Rows<LogRow<'static>> = Rows(PhantomData);

/// The table of `signal`.
pub(super) fn table(signal: Signal) -> &'static dyn Table {
    match signal {
        Signal::Traces => &SPANS,
        Signal::Logs => &LOGS,
    }
}

impl<R: Shipped> Rows<R> {
    fn insert_sql() -> String {
        format!("INSERT INTO {} ({}) FORMAT RowBinary", R::TABLE, R::COLUMNS)
    }

    /// The spooled files' RowBinary in LZ4 chunks, their row count and their traces. A file
    /// written before RowBinary (JSON lines) is converted here.
    fn read(
        spool: &Spool,
        names: &[String],
    ) -> Result<(Vec<CompressedData>, usize, Traces), StoreError> {
        let damaged = |name: &str, what| SpoolError::Damaged {
            path: name.into(),
            what,
        };
        let (mut chunks, mut rows, mut traces) = (Vec::new(), 0, Traces::new());
        let mut converted = Vec::new();
        for name in names {
            let (format, count, payload) = spool.read(name)?;
            let data = match format {
                Format::RowBinary => {
                    let (file_traces, data) = rowbinary::payload(&payload)
                        .ok_or_else(|| damaged(name, "the trace list does not read back"))?;
                    traces.extend(file_traces);
                    data
                }
                Format::JsonLines => {
                    converted.clear();
                    Self::convert(&payload, &mut converted, &mut traces)
                        .ok_or_else(|| damaged(name, "a row does not parse"))?;
                    &converted[..]
                }
            };
            for chunk in data.chunks(CHUNK_BYTES) {
                chunks.push(
                    CompressedData::new(chunk, clickhouse::Compression::Lz4)
                        .map_err(ClickHouseError::from)?,
                );
            }
            rows += count;
        }
        Ok((chunks, rows, traces))
    }

    /// JSON lines of rows as RowBinary; `None` when a line does not parse.
    fn convert(lines: &[u8], out: &mut Vec<u8>, traces: &mut Traces) -> Option<()> {
        for line in lines.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let row: R::Row<'static> = serde_json::from_slice(line).ok()?;
            rowbinary::write_row(out, &row).ok()?;
            if let Some((tenant, trace)) = R::trace(&row) {
                traces.insert((tenant.to_owned(), trace.to_owned()));
            }
        }
        Some(())
    }

    /// Sends `chunks` in one INSERT with `settings`.
    async fn send(
        client: &Client,
        settings: &[(&str, &str)],
        chunks: Vec<CompressedData>,
    ) -> Result<(), clickhouse::error::Error> {
        let mut insert = client
            .insert_formatted_with(Self::insert_sql())
            .with_timeouts(Some(INSERT_TIMEOUT), Some(INSERT_TIMEOUT));
        for (name, value) in settings {
            insert = insert.with_setting(*name, *value);
        }
        for chunk in chunks {
            insert.send_compressed(chunk).await?;
        }
        insert.end().await
    }
}

#[async_trait]
impl<R: Shipped> Table for Rows<R> {
    fn encode(
        &self,
        batch: &Batch,
        rows: &mut Vec<u8>,
        traces: &mut Traces,
    ) -> Result<usize, RowBinaryError> {
        let mut count = 0;
        let mut last = None;
        for row in R::rows(batch) {
            rowbinary::write_row(rows, &row)?;
            if let Some(trace) = R::trace(&row) {
                rowbinary::add_trace(traces, &mut last, trace);
            }
            count += 1;
        }
        Ok(count)
    }

    async fn insert(&self, request: Insert<'_>) -> Result<Outcome, StoreError> {
        let Insert {
            client,
            settings,
            token,
            spool,
            names,
        } = request;
        // Reading and compressing is blocking work: off the async runtime.
        let (chunks, rows, traces) =
            tokio::task::spawn_blocking(move || Self::read(&spool, &names))
                .await
                .map_err(|e| StoreError::Task(e.to_string()))??;
        let mut all = vec![
            ("insert_deduplicate", "1"),
            ("insert_deduplication_token", token.as_str()),
            // Browser clocks put spans on many days; every day is a partition. Unbounded here
            // rather than a rejected batch.
            ("max_partitions_per_insert_block", "0"),
        ];
        all.extend(settings.iter().copied());
        match Self::send(client, &all, chunks).await {
            Ok(()) => Ok(Outcome::Stored { rows, traces }),
            Err(e) if is_bad_data(&e) => Ok(Outcome::Rejected(e)),
            Err(e) => Err(ClickHouseError::from(e).into()),
        }
    }

    #[cfg(feature = "testing")]
    async fn insert_batches(
        &self,
        client: &Client,
        batches: &[Batch],
    ) -> Result<(), ClickHouseError> {
        let (mut rows, mut traces) = (Vec::new(), Traces::new());
        for batch in batches {
            self.encode(batch, &mut rows, &mut traces)?;
        }
        if rows.is_empty() {
            return Ok(());
        }
        let chunks = rows
            .chunks(CHUNK_BYTES)
            .map(|chunk| CompressedData::new(chunk, clickhouse::Compression::Lz4))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::send(client, &[], chunks).await?)
    }
}
