//! Each signal's ClickHouse tables, as data: [`table`] is the one place that ties a signal to
//! its row types ([`SpanRow`], [`LogRow`], the metrics rows) and its tables. The spool writer
//! asks a [`Table`] for a batch's rows in the signal's spool format, the shipper for the INSERT
//! of spooled files and a deletion for the spooled rows it keeps; none of them has a code path
//! per signal. A signal of one table is its row type, whose serde encoding is its RowBinary
//! ([`super::rowbinary`]), a [`Shipped`] impl and a line in [`table`]; metrics, with a table per
//! metric type, spool JSON lines of tagged rows and ship one INSERT per table
//! ([`super::metric_tables`]).

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use clickhouse::Client;
use clickhouse::insert_formatted::CompressedData;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::encode::{LOG_COLUMNS, LogRow, Pairs, SPAN_COLUMNS, SpanRow};
use super::error::{ClickHouseError, is_bad_data};
use super::rowbinary::{self, Traces};
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

    /// What a deletion asks of the row.
    fn probe<'r>(row: &'r Self::Row<'_>) -> Probe<'r>;
}

/// What deleting a user's or a session's data asks of a spooled row.
pub(super) struct Probe<'r> {
    /// The row's tenant.
    pub tenant: &'r str,
    /// Its trace, empty when it has none.
    pub trace_id: &'r str,
    /// Its attribute maps: the resource's, then the record's.
    pub attributes: [&'r Pairs<'r>; 2],
}

impl Probe<'_> {
    /// The row's attributes, the resource's first.
    pub(super) fn attributes(&self) -> impl Iterator<Item = (&str, &str)> {
        self.attributes.iter().flat_map(|pairs| pairs.iter())
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

    fn probe<'r>(row: &'r SpanRow<'_>) -> Probe<'r> {
        Probe {
            tenant: &row.tenant,
            trace_id: &row.trace_id,
            attributes: [&row.resource_attributes, &row.span_attributes],
        }
    }
}

impl Shipped for LogRow<'static> {
    type Row<'a> = LogRow<'a>;
    const TABLE: &'static str = "otel_logs";
    const COLUMNS: &'static str = LOG_COLUMNS;

    fn rows(batch: &Batch) -> impl Iterator<Item = LogRow<'_>> {
        batch.logs.iter().map(LogRow::from)
    }

    fn probe<'r>(row: &'r LogRow<'_>) -> Probe<'r> {
        Probe {
            tenant: &row.tenant,
            trace_id: &row.trace_id,
            attributes: [&row.resource_attributes, &row.log_attributes],
        }
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
    /// How this signal's spool files are written: RowBinary with a trace list before the rows,
    /// or JSON lines.
    fn format(&self) -> Format;

    /// Appends `batch`'s rows of this signal to `rows` in [`Table::format`] and their traces to
    /// `traces`; answers how many rows.
    fn encode(
        &self,
        batch: &Batch,
        rows: &mut Vec<u8>,
        traces: &mut Traces,
    ) -> Result<usize, ClickHouseError>;

    /// Sends the rows of the spooled files in one INSERT with the given token.
    async fn insert(&self, insert: Insert<'_>) -> Result<Outcome, StoreError>;

    /// The rows of the spooled payload of file `name` (in `format`) that `unwanted` does not
    /// pick, as a payload in the same format, with their count; `None` when it picks none. A
    /// RowBinary payload's trace list is made again from the rows kept. Every row is read back
    /// as the row type, so a row that does not read back is a damaged file.
    fn sift(
        &self,
        name: &str,
        format: Format,
        payload: &[u8],
        unwanted: &mut dyn FnMut(&Probe<'_>) -> bool,
    ) -> Result<Option<(usize, Vec<u8>)>, SpoolError>;

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
        Signal::Metrics => &super::metric_tables::METRICS,
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
                    // Rows are not parsed here (ClickHouse refuses ones that do not read back);
                    // but a file must not pass as shipped without the rows its header counts.
                    if data.is_empty() != (count == 0) {
                        return Err(damaged(name, "the row count does not match the rows").into());
                    }
                    traces.extend(file_traces);
                    data
                }
                Format::JsonLines => {
                    converted.clear();
                    let parsed = Self::convert(&payload, &mut converted, &mut traces)
                        .ok_or_else(|| damaged(name, "a row does not parse"))?;
                    if parsed != count {
                        return Err(damaged(name, "the row count does not match the rows").into());
                    }
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

    /// JSON lines of rows as RowBinary; answers how many, or `None` when a line does not parse.
    fn convert(lines: &[u8], out: &mut Vec<u8>, traces: &mut Traces) -> Option<usize> {
        let mut rows = 0;
        for line in json_lines(lines) {
            let row: R::Row<'static> = serde_json::from_slice(line).ok()?;
            rowbinary::write_row(out, &row).ok()?;
            if let Some((tenant, trace)) = R::trace(&row) {
                traces.insert((tenant.to_owned(), trace.to_owned()));
            }
            rows += 1;
        }
        Some(rows)
    }

    /// [`Table::sift`] of a RowBinary payload.
    fn sift_rowbinary(
        payload: &[u8],
        unwanted: &mut dyn FnMut(&Probe<'_>) -> bool,
    ) -> Result<Option<(usize, Vec<u8>)>, &'static str> {
        let (_, rows) = rowbinary::payload(payload).ok_or("the trace list does not read back")?;
        let (mut kept, mut traces, mut last) = (Vec::new(), Traces::new(), None);
        let (mut count, mut dropped, mut at) = (0, false, 0);
        while at < rows.len() {
            let start = at;
            let row: R::Row<'static> =
                rowbinary::read_row(rows, &mut at).map_err(|_| "a row does not read back")?;
            if unwanted(&R::probe(&row)) {
                dropped = true;
                continue;
            }
            kept.extend_from_slice(&rows[start..at]);
            if let Some(trace) = R::trace(&row) {
                rowbinary::add_trace(&mut traces, &mut last, trace);
            }
            count += 1;
        }
        if !dropped {
            return Ok(None);
        }
        let mut payload = rowbinary::payload_head(&traces);
        payload.append(&mut kept);
        Ok(Some((count, payload)))
    }

    /// [`Table::sift`] of JSON lines (spool files of collectors before 0.2).
    fn sift_json_lines(
        lines: &[u8],
        unwanted: &mut dyn FnMut(&Probe<'_>) -> bool,
    ) -> Result<Option<(usize, Vec<u8>)>, &'static str> {
        let (mut kept, mut count, mut dropped) = (Vec::new(), 0, false);
        for line in json_lines(lines) {
            let row: R::Row<'static> =
                serde_json::from_slice(line).map_err(|_| "a row does not parse")?;
            if unwanted(&R::probe(&row)) {
                dropped = true;
                continue;
            }
            kept.extend_from_slice(line);
            kept.push(b'\n');
            count += 1;
        }
        Ok(dropped.then_some((count, kept)))
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
    fn format(&self) -> Format {
        Format::RowBinary
    }

    fn encode(
        &self,
        batch: &Batch,
        rows: &mut Vec<u8>,
        traces: &mut Traces,
    ) -> Result<usize, ClickHouseError> {
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
        if rows == 0 {
            // Every row of these files was deleted while they waited.
            return Ok(Outcome::Stored { rows, traces });
        }
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

    fn sift(
        &self,
        name: &str,
        format: Format,
        payload: &[u8],
        unwanted: &mut dyn FnMut(&Probe<'_>) -> bool,
    ) -> Result<Option<(usize, Vec<u8>)>, SpoolError> {
        match format {
            Format::RowBinary => Self::sift_rowbinary(payload, unwanted),
            Format::JsonLines => Self::sift_json_lines(payload, unwanted),
        }
        .map_err(|what| SpoolError::Damaged {
            path: name.into(),
            what,
        })
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

/// The non-empty lines of a JSON-lines payload.
pub(super) fn json_lines(lines: &[u8]) -> impl Iterator<Item = &[u8]> {
    lines.split(|b| *b == b'\n').filter(|l| !l.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SpanRecord;
    use crate::testing::span;

    /// Spans of two tenants, three traces; the first and last of the default tenant's trace 1.
    fn spans() -> Vec<SpanRecord> {
        let mut spans: Vec<SpanRecord> = (1..=4)
            .map(|n| span([1, 2, 1, 1][usize::from(n - 1)], n, None, "api", "op", 1, 1))
            .collect();
        spans[1]
            .span_attributes
            .insert("user.id".into(), "u-2".into());
        spans[2].tenant = "other".into();
        spans[3]
            .resource_attributes
            .insert("user.id".into(), "u-1".into());
        spans
    }

    /// The spooled payload of these spans, as the spool writer makes it.
    fn payload(spans: Vec<SpanRecord>) -> (usize, Vec<u8>) {
        let batch = Batch {
            spans,
            ..Batch::default()
        };
        let (mut rows, mut traces) = (Vec::new(), Traces::new());
        let count = table(Signal::Traces)
            .encode(&batch, &mut rows, &mut traces)
            .expect("encodes");
        let mut payload = rowbinary::payload_head(&traces);
        payload.append(&mut rows);
        (count, payload)
    }

    fn of_trace_1_of_the_default_tenant(row: &Probe<'_>) -> bool {
        row.tenant.is_empty() && row.trace_id == hex::encode([1u8; 16])
    }

    #[test]
    fn sifting_rowbinary_keeps_the_other_rows_as_written_and_remakes_the_trace_list() {
        let spans = spans();
        let (_, all) = payload(spans.clone());
        let kept = vec![spans[1].clone(), spans[2].clone()];
        let sifted = table(Signal::Traces)
            .sift(
                "f",
                Format::RowBinary,
                &all,
                &mut of_trace_1_of_the_default_tenant,
            )
            .expect("reads");
        assert_eq!(sifted, Some(payload(kept)));
        let (traces, _) = rowbinary::payload(&sifted.expect("sifted").1).expect("payload");
        assert_eq!(
            traces
                .into_iter()
                .map(|(tenant, _)| tenant)
                .collect::<Vec<_>>(),
            ["", "other"],
            "the dropped trace is no longer listed"
        );
        let mut seen = Vec::new();
        let untouched = table(Signal::Traces)
            .sift("f", Format::RowBinary, &all, &mut |row| {
                seen.push(
                    row.attributes()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>(),
                );
                false
            })
            .expect("reads");
        assert_eq!(untouched, None, "nothing picked, nothing rewritten");
        assert!(seen[1].contains(&"user.id=u-2".to_owned()), "{seen:?}");
        assert!(seen[3].contains(&"user.id=u-1".to_owned()), "{seen:?}");
    }

    #[test]
    fn sifting_json_lines_of_older_collectors_keeps_their_format() {
        let spans = spans();
        let line = |s: &SpanRecord| {
            let mut line = serde_json::to_vec(&SpanRow::from(s)).expect("JSON");
            line.push(b'\n');
            line
        };
        let all: Vec<u8> = spans.iter().flat_map(line).collect();
        let sifted = table(Signal::Traces)
            .sift(
                "f",
                Format::JsonLines,
                &all,
                &mut of_trace_1_of_the_default_tenant,
            )
            .expect("reads");
        assert_eq!(
            sifted,
            Some((2, [line(&spans[1]), line(&spans[2])].concat()))
        );
    }

    #[test]
    fn a_row_that_does_not_read_back_makes_the_file_damaged() {
        let (_, all) = payload(spans());
        for (format, data) in [
            (Format::RowBinary, &all[..all.len() - 1]),
            (Format::RowBinary, &all[..2]),
            (Format::JsonLines, &b"{\"Tenant\":\n"[..]),
        ] {
            let sifted = table(Signal::Traces).sift("f", format, data, &mut |_| true);
            assert!(
                matches!(sifted, Err(SpoolError::Damaged { .. })),
                "{format:?}"
            );
        }
    }
}
