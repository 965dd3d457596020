//! The ClickHouse store, for production volumes and for scaling past one machine. Data lands in
//! the OpenTelemetry Collector ClickHouse exporter's tables ([`schema`]), so the tools that read
//! that schema read Tracewire's data. Ingest is acknowledged once a batch is fsynced in a local
//! spool ([`spool`], filled by the [`writer`] thread); a background [`shipper`] sends the spool
//! to ClickHouse in large RowBinary INSERTs with deduplication tokens and deletes files only
//! after ClickHouse confirmed them, so an outage of ClickHouse costs neither data nor
//! availability until the spool is full. After each INSERT of spans the shipper runs the
//! correlation step ([`derive`]) for its traces, so round trips and session clock offsets appear
//! in the background. Reads ([`query`], [`correlate`], [`rollup`]) go straight to ClickHouse.
//! Retention is ClickHouse's TTL (whole expired parts are dropped), so no prune pass runs.

mod config;
mod correlate;
mod derive;
mod encode;
mod query;
mod rollup;
mod rowbinary;
mod schema;
mod shipper;
mod spool;
mod writer;

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use clickhouse::{Client, Compression};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::{Notify, watch};
use tracing::{info, warn};

pub use config::{ClickHouseConfig, DEFAULT_DATABASE, check_name};
pub use query::all_statements as query_statements;
pub(crate) use rollup::covers;
pub use schema::Layout;

use super::StoreError;
use super::queue::Command;
use crate::metrics::Metrics;
use crate::model::{Batch, ServiceSummary, SpanRecord, TraceQuery, TraceSummary};
use encode::{LogRow, SpanRow};
use shipper::Shipper;
use spool::Spool;

/// The tenant every row gets until multi-tenant ingest exists.
const DEFAULT_TENANT: &str = "";

/// How long the shipper may keep shipping after SIGTERM before the collector exits.
const FINAL_SHIP_TIMEOUT: Duration = Duration::from_secs(10);

/// Creating or checking the schema, at start or, when ClickHouse was unreachable then, by the
/// shipper before its first INSERT.
pub(super) struct SchemaTask {
    server: Client,
    client: Client,
    layout: Layout,
    create: bool,
}

impl SchemaTask {
    /// Migrates (or checks) the schema; answers the version.
    pub(super) async fn run(&self) -> Result<u32, StoreError> {
        schema::migrate(&self.server, &self.client, &self.layout, self.create).await
    }
}

/// An open ClickHouse store: its spool writer, its shipper and a client for reads.
pub struct ClickHouseStore {
    client: Client,
    writer: Mutex<Option<JoinHandle<()>>>,
    shipper: Mutex<Option<tokio::task::JoinHandle<()>>>,
    stop_shipper: watch::Sender<bool>,
}

/// A client for the configured server: credentials, LZ4, and the database unless `server_only`.
fn client(config: &ClickHouseConfig, server_only: bool) -> Client {
    let mut client = Client::default()
        .with_url(&config.url)
        .with_compression(Compression::Lz4);
    if let Some(user) = &config.user {
        client = client.with_user(user);
    }
    if let Some(password) = &config.password {
        client = client.with_password(password);
    }
    if !server_only {
        client = client.with_database(&config.database);
    }
    client
}

impl ClickHouseStore {
    /// Opens the spool, creates or checks the schema, and starts the spool writer (taking its
    /// work from `commands`) and the shipper.
    pub(crate) async fn open(
        config: &ClickHouseConfig,
        commands: UnboundedReceiver<Command>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, StoreError> {
        let spool_dir = config.spool_dir.clone();
        let max_bytes = config.spool_max_bytes;
        let spool = Arc::new(
            tokio::task::spawn_blocking(move || Spool::open(&spool_dir, max_bytes))
                .await
                .map_err(|e| StoreError::Task(e.to_string()))??,
        );
        metrics.spool_bytes(spool.bytes());
        let layout = Layout::new(config);
        let reads = client(config, false);
        let schema = SchemaTask {
            server: client(config, true),
            client: reads.clone(),
            layout,
            create: config.create_schema,
        };
        // An unreachable server is an outage like any other: the spool takes ingest and the
        // shipper sets the schema up once ClickHouse answers. Any answer that is an error
        // (credentials, a newer schema, a missing one) stops the start with its message.
        let pending_schema = match schema.run().await {
            Ok(version) => {
                info!(
                    url = %config.url,
                    database = %config.database,
                    cluster = config.cluster.as_deref().unwrap_or("-"),
                    schema_version = version,
                    spool = %config.spool_dir.display(),
                    spooled_bytes = spool.bytes(),
                    "ClickHouse store open"
                );
                None
            }
            Err(StoreError::ClickHouse(e)) if shipper::is_unreachable(&e) => {
                warn!(
                    url = %config.url,
                    error = %e,
                    "ClickHouse is unreachable at start; ingest goes to the spool, and the schema is checked once ClickHouse answers"
                );
                Some(schema)
            }
            Err(e) => return Err(e),
        };

        let wake = Arc::new(Notify::new());
        let writer = {
            let spool = Arc::clone(&spool);
            let metrics = Arc::clone(&metrics);
            let wake = Arc::clone(&wake);
            std::thread::Builder::new()
                .name("clickhouse-spool".into())
                .spawn(move || writer::run(&spool, commands, &metrics, &wake))
                .map_err(|e| StoreError::Task(e.to_string()))?
        };
        let settings = match config.cluster {
            // Confirmed means on the shards, not only queued on the node that took the INSERT.
            Some(_) => vec![("distributed_foreground_insert", "1")],
            None => Vec::new(),
        };
        let shipper = Shipper {
            // RowBinary without the per-insert schema round trip; the row types are tested
            // against the schema.
            client: client(config, false).with_validation(false),
            spool,
            metrics,
            wake,
            batch_rows: config.batch_rows,
            batch_delay: config.batch_delay,
            settings,
            single_until: [None, None],
            pending_schema,
        };
        let (stop_shipper, stop) = watch::channel(false);
        let shipper = tokio::spawn(shipper.run(stop, FINAL_SHIP_TIMEOUT));
        Ok(Self {
            client: reads,
            writer: Mutex::new(Some(writer)),
            shipper: Mutex::new(Some(shipper)),
            stop_shipper,
        })
    }

    pub(super) async fn trace(&self, trace_id: &str) -> Result<Vec<SpanRecord>, StoreError> {
        query::trace(&self.client, DEFAULT_TENANT, trace_id).await
    }

    pub(super) async fn search(&self, q: &TraceQuery) -> Result<Vec<TraceSummary>, StoreError> {
        query::search(&self.client, DEFAULT_TENANT, q).await
    }

    pub(super) async fn services(&self) -> Result<Vec<ServiceSummary>, StoreError> {
        query::services(&self.client, DEFAULT_TENANT).await
    }

    /// Waits for the spool writer (which ends after the queue's stop command, having spooled
    /// everything queued), then lets the shipper ship what it can within its final timeout.
    /// Idempotent.
    pub(super) async fn join(&self) -> Result<(), StoreError> {
        let writer = self.writer.lock().ok().and_then(|mut w| w.take());
        if let Some(writer) = writer {
            tokio::task::spawn_blocking(move || writer.join())
                .await
                .map_err(|e| StoreError::Task(e.to_string()))?
                .map_err(|_| StoreError::Task("the ClickHouse spool writer panicked".into()))?;
        }
        let _ = self.stop_shipper.send(true);
        let shipper = self.shipper.lock().ok().and_then(|mut s| s.take());
        if let Some(shipper) = shipper {
            shipper.await.map_err(|e| StoreError::Task(e.to_string()))?;
        }
        Ok(())
    }
}

/// Inserts batches straight into ClickHouse (schema created as needed), one INSERT per table,
/// without spool or queue. The benchmark uses it as the baseline for the full ingest path.
pub async fn insert_directly(
    config: &ClickHouseConfig,
    batches: &[Batch],
) -> Result<(), StoreError> {
    let layout = Layout::new(config);
    let db = client(config, false);
    schema::migrate(&client(config, true), &db, &layout, true).await?;
    let db = db.with_validation(false);
    let mut spans = db.insert::<SpanRow>("otel_traces").await?;
    for batch in batches {
        for s in &batch.spans {
            spans.write(&SpanRow::from(s)).await?;
        }
    }
    spans.end().await?;
    let mut logs = db.insert::<LogRow>("otel_logs").await?;
    for batch in batches {
        for l in &batch.logs {
            logs.write(&LogRow::from(l)).await?;
        }
    }
    logs.end().await?;
    Ok(())
}
