//! The metrics signal's [`Table`]: a spool file of metric points holds [`MetricRow`]s of any
//! type, one JSON line each (the spool's [`Format::JsonLines`]: the line names the row's table,
//! which a RowBinary row would not). Shipping a file range is one INSERT per exporter table that
//! has rows in it, the rows sent as RowBinary by the `clickhouse` client's typed insert (which
//! checks them against the table's column types), each carrying the range's token with the
//! table's name appended. ClickHouse keeps the tables that were stored before a failure
//! deduplicated when the shipper sends the whole range again, so every point is stored once. A
//! bad-data refusal of any table refuses the range (the shipper narrows it down to the file and
//! moves that aside, as for other signals). Deleting a user's data leaves metric points alone:
//! they are aggregates that name no user or session.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use clickhouse::{Client, RowOwned, RowWrite};
use serde::de::DeserializeOwned;

use super::encode::{
    ExponentialHistogramRow, GaugeRow, HistogramRow, MetricRow, SumRow, SummaryRow,
};
use super::error::{ClickHouseError, is_bad_data};
use super::rowbinary::Traces;
use super::spool::{Format, Spool, SpoolError};
use super::table::{Insert, Outcome, Probe, Table, json_lines};
use crate::model::Batch;
use crate::store::error::StoreError;

/// Time an INSERT may take to be answered.
const INSERT_TIMEOUT: Duration = Duration::from_secs(60);

/// A row of one metrics table.
trait Inserted: RowOwned + RowWrite + Send + Sync + 'static {
    /// The table the rows go to.
    const TABLE: &'static str;
}

impl Inserted for GaugeRow {
    const TABLE: &'static str = "otel_metrics_gauge";
}

impl Inserted for SumRow {
    const TABLE: &'static str = "otel_metrics_sum";
}

impl Inserted for HistogramRow {
    const TABLE: &'static str = "otel_metrics_histogram";
}

impl Inserted for ExponentialHistogramRow {
    const TABLE: &'static str = "otel_metrics_exponential_histogram";
}

impl Inserted for SummaryRow {
    const TABLE: &'static str = "otel_metrics_summary";
}

/// The five tables' rows of some points, apart.
#[derive(Default)]
struct Split {
    gauge: Vec<GaugeRow>,
    sum: Vec<SumRow>,
    histogram: Vec<HistogramRow>,
    exponential: Vec<ExponentialHistogramRow>,
    summary: Vec<SummaryRow>,
}

impl Split {
    fn of(rows: impl IntoIterator<Item = MetricRow>) -> Self {
        let mut split = Self::default();
        for row in rows {
            match row {
                MetricRow::Gauge(r) => split.gauge.push(r),
                MetricRow::Sum(r) => split.sum.push(r),
                MetricRow::Histogram(r) => split.histogram.push(r),
                MetricRow::ExponentialHistogram(r) => split.exponential.push(r),
                MetricRow::Summary(r) => split.summary.push(r),
            }
        }
        split
    }

    fn len(&self) -> usize {
        self.gauge.len()
            + self.sum.len()
            + self.histogram.len()
            + self.exponential.len()
            + self.summary.len()
    }
}

/// The rows of spooled JSON-lines files, read and checked off the async runtime.
async fn read_spooled<T: DeserializeOwned + Send + 'static>(
    spool: Arc<Spool>,
    names: Vec<String>,
) -> Result<Vec<T>, StoreError> {
    tokio::task::spawn_blocking(move || {
        let mut rows = Vec::new();
        for name in &names {
            let (format, count, lines) = spool.read(name)?;
            let damaged = |what| SpoolError::Damaged {
                path: name.into(),
                what,
            };
            if format != Format::JsonLines {
                return Err(damaged("metric points are not JSON lines"));
            }
            let before = rows.len();
            for line in json_lines(&lines) {
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
async fn send<R: Inserted>(
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
        // Points may carry times on many days; every day is a partition. Unbounded here
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

/// Sends one table's rows unless there are none; `Ok(Some(_))` is a bad-data refusal.
async fn send_table<R: Inserted>(
    insert: &Insert<'_>,
    rows: &[R],
) -> Result<Option<clickhouse::error::Error>, StoreError> {
    if rows.is_empty() {
        return Ok(None);
    }
    let token = format!("{}-{}", insert.token, R::TABLE);
    Ok(send(insert.client, insert.settings, token, rows)
        .await?
        .err())
}

/// The metrics signal's tables.
pub(super) struct MetricTables;

/// The one [`MetricTables`].
pub(super) static METRICS: MetricTables = MetricTables;

#[async_trait]
impl Table for MetricTables {
    fn format(&self) -> Format {
        Format::JsonLines
    }

    /// Metric points belong to no trace: `traces` stays as it is.
    fn encode(
        &self,
        batch: &Batch,
        lines: &mut Vec<u8>,
        _traces: &mut Traces,
    ) -> Result<usize, ClickHouseError> {
        for point in &batch.metrics {
            serde_json::to_writer(&mut *lines, &MetricRow::from(point))?;
            lines.push(b'\n');
        }
        Ok(batch.metrics.len())
    }

    async fn insert(&self, insert: Insert<'_>) -> Result<Outcome, StoreError> {
        let rows: Vec<MetricRow> = read_spooled(insert.spool.clone(), insert.names.clone()).await?;
        let split = Split::of(rows);
        let refusals = [
            send_table(&insert, &split.gauge).await?,
            send_table(&insert, &split.sum).await?,
            send_table(&insert, &split.histogram).await?,
            send_table(&insert, &split.exponential).await?,
            send_table(&insert, &split.summary).await?,
        ];
        Ok(match refusals.into_iter().flatten().next() {
            Some(e) => Outcome::Rejected(e),
            None => Outcome::Stored {
                rows: split.len(),
                traces: Default::default(),
            },
        })
    }

    /// Picks nothing: metric points name no user or session.
    fn sift(
        &self,
        _name: &str,
        _format: Format,
        _payload: &[u8],
        _unwanted: &mut dyn FnMut(&Probe<'_>) -> bool,
    ) -> Result<Option<(usize, Vec<u8>)>, SpoolError> {
        Ok(None)
    }

    #[cfg(feature = "testing")]
    async fn insert_batches(
        &self,
        client: &Client,
        batches: &[Batch],
    ) -> Result<(), ClickHouseError> {
        let split = Split::of(
            batches
                .iter()
                .flat_map(|b| b.metrics.iter().map(MetricRow::from)),
        );
        insert_all(client, &split.gauge).await?;
        insert_all(client, &split.sum).await?;
        insert_all(client, &split.histogram).await?;
        insert_all(client, &split.exponential).await?;
        insert_all(client, &split.summary).await
    }
}

/// Inserts rows straight away, without deduplication (the benchmark's baseline).
#[cfg(feature = "testing")]
async fn insert_all<R: Inserted>(client: &Client, rows: &[R]) -> Result<(), ClickHouseError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut insert = client.insert::<R>(R::TABLE).await?;
    for row in rows {
        insert.write(row).await?;
    }
    Ok(insert.end().await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MetricInfo, MetricPoint, MetricSource, PointValue, SummaryValue};
    use crate::signal::Signal;

    fn point(name: &str, value: PointValue) -> MetricPoint {
        MetricPoint {
            tenant: "t".into(),
            source: Arc::new(MetricSource {
                scope_name: "scope".into(),
                ..MetricSource::default()
            }),
            metric: Arc::new(MetricInfo {
                name: name.into(),
                ..MetricInfo::default()
            }),
            attributes: [("k".to_owned(), "v".to_owned())].into(),
            start_time_ns: 0,
            time_ns: 1_700_000_000_000_000_000,
            flags: 0,
            exemplars: Vec::new(),
            value,
        }
    }

    /// Points of two tables in one spool file, as the spool writer writes them: JSON lines
    /// that read back as the same rows, each naming its table; a file of points in any other
    /// format is damaged rather than shipped.
    #[tokio::test]
    async fn points_spool_as_json_lines_and_read_back_by_table() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Arc::new(Spool::open(dir.path(), u64::MAX).expect("opens"));
        let batch = Batch {
            metrics: vec![
                point("g", PointValue::Gauge { value: 1.5 }),
                point(
                    "s",
                    PointValue::Summary(SummaryValue {
                        count: 2,
                        sum: 3.0,
                        quantiles: vec![(0.5, 1.0)],
                    }),
                ),
            ],
            ..Batch::default()
        };
        let (mut lines, mut traces) = (Vec::new(), Traces::new());
        let count = METRICS
            .encode(&batch, &mut lines, &mut traces)
            .expect("encodes");
        assert_eq!((count, traces.len()), (2, 0));
        spool
            .append(Signal::Metrics, METRICS.format(), count, &[&lines])
            .expect("writes");
        spool
            .append(Signal::Metrics, Format::RowBinary, count, &[&lines])
            .expect("writes");
        let (first, last) = spool.select(Signal::Metrics, usize::MAX).expect("files");
        let names = spool.range(Signal::Metrics, &first, &last);
        let rows: Vec<MetricRow> = read_spooled(spool.clone(), names[..1].to_vec())
            .await
            .expect("reads");
        let expected: Vec<MetricRow> = batch.metrics.iter().map(MetricRow::from).collect();
        assert_eq!(rows, expected);
        let split = Split::of(rows);
        assert_eq!((split.gauge.len(), split.summary.len()), (1, 1));
        let other = read_spooled::<MetricRow>(spool, names[1..].to_vec()).await;
        assert!(
            matches!(other, Err(StoreError::Spool(SpoolError::Damaged { .. }))),
            "{other:?}"
        );
    }
}
