//! The metrics signal's [`Table`]: a spool file of metric points holds [`MetricRow`]s of any
//! type; shipping it is one INSERT per exporter table that has rows in it, each carrying the
//! file range's token with the table's name appended. ClickHouse keeps the tables that were
//! stored before a failure deduplicated when the shipper sends the whole range again, so every
//! point is stored once. A bad-data refusal of any table refuses the range (the shipper narrows
//! it down to the file and moves that aside, as for other signals).

use async_trait::async_trait;
#[cfg(feature = "testing")]
use clickhouse::Client;

use super::encode::{
    ExponentialHistogramRow, GaugeRow, HistogramRow, MetricRow, SumRow, SummaryRow,
};
#[cfg(feature = "testing")]
use super::error::ClickHouseError;
use super::table::{Insert, Inserted, Outcome, Table, read_spooled, send};
use crate::model::Batch;
use crate::store::error::StoreError;

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
    fn spool_lines(&self, batch: &Batch, lines: &mut Vec<u8>) -> Result<usize, serde_json::Error> {
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
