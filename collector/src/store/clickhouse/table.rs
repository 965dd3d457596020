//! Each signal's ClickHouse tables, as data: [`table`] is the one place that ties a signal to
//! its row types ([`SpanRow`], [`LogRow`], the metrics rows) and its tables. The spool writer
//! asks a [`Table`] for a batch's spool lines and the shipper for the INSERT of spooled files;
//! neither has a code path per signal. A signal of one table is its row type, a [`Shipped`] impl
//! and a line in [`table`]; metrics, with a table per metric type
//! ([`super::metric_tables`]), spool tagged rows and ship one INSERT per table, each with its
//! own deduplication token, so a retry after a partial failure stores every row once.

use std::collections::BTreeSet;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use clickhouse::{Client, RowOwned, RowWrite};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::encode::{LogRow, SpanRow};
use super::error::{ClickHouseError, is_bad_data};
use super::spool::{Spool, SpoolError};
use crate::model::Batch;
use crate::signal::Signal;
use crate::store::error::StoreError;

/// Time an INSERT may take to be answered.
const INSERT_TIMEOUT: Duration = Duration::from_secs(60);

/// A row of one table.
pub(super) trait Inserted: RowOwned + RowWrite + Send + Sync + 'static {
    /// The table the rows go to.
    const TABLE: &'static str;
}

/// A row of the one table of a signal.
pub(super) trait Shipped: Inserted + Serialize + DeserializeOwned {
    /// The rows of a batch's records of this signal.
    fn rows(batch: &Batch) -> impl Iterator<Item = Self> + Send;

    /// The tenant and trace whose round trips the correlation step re-derives once the row is
    /// stored, if any.
    fn trace(&self) -> Option<(&str, &str)> {
        None
    }
}

impl Inserted for SpanRow {
    const TABLE: &'static str = "otel_traces";
}

impl Shipped for SpanRow {
    fn rows(batch: &Batch) -> impl Iterator<Item = Self> + Send {
        batch.spans.iter().map(Self::from)
    }

    fn trace(&self) -> Option<(&str, &str)> {
        Some((&self.tenant, &self.trace_id))
    }
}

impl Inserted for LogRow {
    const TABLE: &'static str = "otel_logs";
}

impl Shipped for LogRow {
    fn rows(batch: &Batch) -> impl Iterator<Item = Self> + Send {
        batch.logs.iter().map(Self::from)
    }
}

/// How an INSERT attempt ended.
pub(super) enum Outcome {
    /// ClickHouse has the rows.
    Stored {
        rows: usize,
        /// The `(tenant, trace id)` pairs for the correlation step.
        traces: BTreeSet<(String, String)>,
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
    /// Appends `batch`'s rows of this signal to `lines` as JSON lines; answers how many.
    fn spool_lines(&self, batch: &Batch, lines: &mut Vec<u8>) -> Result<usize, serde_json::Error>;

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

static SPANS: Rows<SpanRow> = Rows(PhantomData);
static LOGS: Rows<LogRow> = Rows(PhantomData);

/// The table of `signal`.
pub(super) fn table(signal: Signal) -> &'static dyn Table {
    match signal {
        Signal::Traces => &SPANS,
        Signal::Logs => &LOGS,
        Signal::Metrics => &super::metric_tables::METRICS,
    }
}

/// The rows of spooled files, read and checked off the async runtime.
pub(super) async fn read_spooled<T: DeserializeOwned + Send + 'static>(
    spool: Arc<Spool>,
    names: Vec<String>,
) -> Result<Vec<T>, StoreError> {
    tokio::task::spawn_blocking(move || {
        let mut rows = Vec::new();
        for name in &names {
            let (count, lines) = spool.read(name)?;
            let damaged = |what| SpoolError::Damaged {
                path: name.into(),
                what,
            };
            let before = rows.len();
            for line in lines.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                rows.push(
                    serde_json::from_slice(line).map_err(|_| damaged("a row does not parse"))?,
                );
            }
            // The header's count is checked too: a file whose rows went missing must not be
            // shipped as if it were whole.
            if rows.len() - before != count {
                return Err(damaged("the row count does not match the header"));
            }
        }
        Ok::<_, SpoolError>(rows)
    })
    .await
    .map_err(|e| StoreError::Task(e.to_string()))?
    .map_err(StoreError::from)
}

/// Sends `rows` in one deduplicated INSERT into their table; `Ok(Err(_))` when ClickHouse
/// refused them as bad data.
pub(super) async fn send<R: Inserted>(
    client: &Client,
    settings: &[(&'static str, &'static str)],
    token: String,
    rows: &[R],
) -> Result<Result<(), clickhouse::error::Error>, StoreError> {
    let mut insert = client
        .insert::<R>(R::TABLE)
        .await
        .map_err(ClickHouseError::from)?
        .with_timeouts(Some(INSERT_TIMEOUT), Some(INSERT_TIMEOUT))
        .with_setting("insert_deduplicate", "1")
        .with_setting("insert_deduplication_token", token)
        // Browser clocks put spans on many days; every day is a partition. Unbounded here
        // rather than a rejected batch.
        .with_setting("max_partitions_per_insert_block", "0");
    for (name, value) in settings {
        insert = insert.with_setting(*name, *value);
    }
    let attempt = async {
        for row in rows {
            insert.write(row).await?;
        }
        insert.end().await
    };
    match attempt.await {
        Ok(()) => Ok(Ok(())),
        Err(e) if is_bad_data(&e) => Ok(Err(e)),
        Err(e) => Err(ClickHouseError::from(e).into()),
    }
}

#[async_trait]
impl<R: Shipped> Table for Rows<R> {
    fn spool_lines(&self, batch: &Batch, lines: &mut Vec<u8>) -> Result<usize, serde_json::Error> {
        let mut rows = 0;
        for row in R::rows(batch) {
            serde_json::to_writer(&mut *lines, &row)?;
            lines.push(b'\n');
            rows += 1;
        }
        Ok(rows)
    }

    async fn insert(&self, request: Insert<'_>) -> Result<Outcome, StoreError> {
        let Insert {
            client,
            settings,
            token,
            spool,
            names,
        } = request;
        let rows: Vec<R> = read_spooled(spool, names).await?;
        if rows.is_empty() {
            // Every row of these files was deleted while they waited.
            return Ok(Outcome::Stored {
                rows: 0,
                traces: Default::default(),
            });
        }
        Ok(match send(client, settings, token, &rows).await? {
            Ok(()) => Outcome::Stored {
                rows: rows.len(),
                traces: rows
                    .iter()
                    .filter_map(Shipped::trace)
                    .map(|(tenant, trace)| (tenant.to_owned(), trace.to_owned()))
                    .collect(),
            },
            Err(e) => Outcome::Rejected(e),
        })
    }

    #[cfg(feature = "testing")]
    async fn insert_batches(
        &self,
        client: &Client,
        batches: &[Batch],
    ) -> Result<(), ClickHouseError> {
        let mut insert = client.insert::<R>(R::TABLE).await?;
        for batch in batches {
            for row in R::rows(batch) {
                insert.write(&row).await?;
            }
        }
        Ok(insert.end().await?)
    }
}
