//! The ClickHouse store, for production volumes and for scaling past one machine. Data lands in
//! the OpenTelemetry Collector ClickHouse exporter's tables ([`schema`]), so the tools that read
//! that schema read Tracewire's data. Ingest is acknowledged once a batch is fsynced in a local
//! spool ([`spool`], filled by the [`writer`] thread); a background [`shipper`] sends the spool
//! to ClickHouse in large RowBinary INSERTs with deduplication tokens and deletes files only
//! after ClickHouse confirmed them, so an outage of ClickHouse costs neither data nor
//! availability until the spool is full. After each INSERT of spans the shipper runs the
//! correlation step ([`derive`]) for its traces, so round trips and session clock offsets appear
//! in the background. Reads ([`read`]) go straight to ClickHouse.
//! Retention is ClickHouse's TTL (whole expired parts are dropped), so no prune pass runs.

mod alerts;
mod config;
mod delete;
mod derive;
mod encode;
pub(super) mod error;
mod metric_tables;
mod read;
mod rowbinary;
mod schema;
mod shipper;
pub(super) mod spool;
mod table;
mod writer;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use clickhouse::{Client, Compression};
use tokio::sync::{Notify, watch};
use tracing::{info, warn};

pub use config::{
    ClickHouseArgs, ClickHouseConfig, ClickHouseOptions, ClickHouseServer, DEFAULT_DATABASE,
    check_name,
};
pub use error::ClickHouseError;
pub use schema::Layout;
use schema::SchemaTask;
pub use spool::{SpoolArgs, SpoolError, SpoolOptions};

use super::alerts::AlertBook;
use super::delete::{Deleted, Subject};
use super::engine::Engine;
use super::error::StoreError;
use super::queue::WriteQueue;
use super::read::{Reads, Scope};
use super::writer::drain;
use crate::correlate::Rollups;
use crate::logsearch::{LogCount, LogCountQuery, LogQuery};
use crate::metrics::Metrics;
#[cfg(feature = "testing")]
use crate::model::Batch;
use crate::model::{
    CallQuery, EventQuery, LogRecord, MetricCatalogQuery, MetricPointQuery, MetricSummary,
    RollupQuery, RoundTrip, RoundTripPoint, RoundTripQuery, SeriesPoint, ServiceSummary,
    SessionOffset, SpanRecord, TraceQuery, TraceSummary,
};
use crate::signal::PerSignal;
use crate::spanmetrics::CallRollups;
use alerts::ClickHouseAlertBook;
use shipper::Shipper;
use spool::Spool;
use writer::SpoolWriter;

/// How long the shipper may keep shipping after SIGTERM before the collector exits.
const FINAL_SHIP_TIMEOUT: Duration = Duration::from_secs(10);

/// An open ClickHouse store: its spool writer, its shipper and a client for reads.
pub struct ClickHouseStore {
    client: Client,
    alerts: ClickHouseAlertBook,
    layout: Layout,
    spool: Arc<Spool>,
    settings: Vec<(&'static str, &'static str)>,
    /// The shipper's gate ([`Shipper::gate`]).
    gate: Arc<tokio::sync::Mutex<()>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    shipper: Mutex<Option<tokio::task::JoinHandle<()>>>,
    stop_shipper: watch::Sender<bool>,
}

/// A client for the configured server: HTTPS trusting `--clickhouse-ca` when given,
/// credentials, LZ4, and the database unless `server_only`.
fn client(config: &ClickHouseConfig, server_only: bool) -> Result<Client, ClickHouseError> {
    let mut client = crate::tls::clickhouse_client(config.options.ca.as_deref())?
        .with_url(&config.server.url)
        .with_compression(Compression::Lz4);
    if let Some(user) = &config.server.user {
        client = client.with_user(user);
    }
    if let Some(password) = &config.server.password {
        client = client.with_password(password);
    }
    if !server_only {
        client = client.with_database(&config.server.database);
    }
    Ok(client)
}

impl ClickHouseStore {
    /// Opens the spool, creates or checks the schema, and starts the spool writer on a new
    /// write queue of `queue_items` and the shipper.
    pub(crate) async fn open(
        config: &ClickHouseConfig,
        queue_items: usize,
        metrics: Arc<Metrics>,
    ) -> Result<(WriteQueue, Arc<Self>), StoreError> {
        let spool_dir = config.spool.dir.clone();
        let max_bytes = config.spool.max_bytes;
        let spool = Arc::new(
            tokio::task::spawn_blocking(move || Spool::open(&spool_dir, max_bytes))
                .await
                .map_err(|e| StoreError::Task(e.to_string()))??,
        );
        metrics.spool_bytes(spool.bytes());
        let layout = Layout::new(config);
        let reads = client(config, false)?;
        let schema = SchemaTask {
            server: client(config, true)?,
            client: reads.clone(),
            layout,
            create: config.options.create_schema,
        };
        // An unreachable server is an outage like any other: the spool takes ingest and the
        // shipper sets the schema up once ClickHouse answers. Any answer that is an error
        // (credentials, a newer schema, a missing one) stops the start with its message.
        let pending_schema = match schema.run().await {
            Ok(version) => {
                info!(
                    url = %config.server.url,
                    database = %config.server.database,
                    cluster = config.options.cluster.as_deref().unwrap_or("-"),
                    schema_version = version,
                    spool = %config.spool.dir.display(),
                    spooled_bytes = spool.bytes(),
                    "ClickHouse store open"
                );
                None
            }
            Err(e) if e.is_unreachable() => {
                warn!(
                    url = %config.server.url,
                    error = %e,
                    "ClickHouse is unreachable at start; ingest goes to the spool, and the schema is checked once ClickHouse answers"
                );
                Some(schema)
            }
            Err(e) => return Err(e.into()),
        };

        let wake = Arc::new(Notify::new());
        let (queue, _, commands) = WriteQueue::new::<Infallible>(queue_items);
        let writer = SpoolWriter {
            spool: Arc::clone(&spool),
            metrics: Arc::clone(&metrics),
            wake_shipper: Arc::clone(&wake),
            full_warned: false,
        };
        let writer = std::thread::Builder::new()
            .name("clickhouse-spool".into())
            .spawn(move || drain(writer, commands))
            .map_err(|e| StoreError::Task(e.to_string()))?;
        let settings = match config.options.cluster {
            // Confirmed means on the shards, not only queued on the node that took the INSERT.
            Some(_) => vec![("distributed_foreground_insert", "1")],
            None => Vec::new(),
        };
        let gate = Arc::new(tokio::sync::Mutex::new(()));
        let shipper = Shipper {
            // RowBinary without the per-insert schema round trip; the row types are tested
            // against the schema.
            client: client(config, false)?.with_validation(false),
            spool: Arc::clone(&spool),
            metrics,
            wake,
            batch_rows: config.options.batch_rows,
            batch_delay: config.options.batch_delay,
            settings: settings.clone(),
            single_until: PerSignal::default(),
            pending_schema,
            gate: Arc::clone(&gate),
        };
        let (stop_shipper, stop) = watch::channel(false);
        let shipper = tokio::spawn(shipper.run(stop, FINAL_SHIP_TIMEOUT));
        let store = Self {
            alerts: ClickHouseAlertBook {
                client: reads.clone(),
                settings: settings.clone(),
            },
            client: reads,
            layout: Layout::new(config),
            spool,
            settings,
            gate,
            writer: Mutex::new(Some(writer)),
            shipper: Mutex::new(Some(shipper)),
            stop_shipper,
        };
        Ok((queue, Arc::new(store)))
    }
}

#[async_trait]
impl Engine for ClickHouseStore {
    /// The shipper runs the correlation step as it ships, in the background; nothing waits for
    /// it here.
    async fn catch_up(&self, _budget: Duration) -> Result<bool, StoreError> {
        Ok(true)
    }

    /// With the shipper held back: the spool first, then ClickHouse ([`delete`]).
    async fn delete(&self, scope: &Scope, subject: &Subject) -> Result<Deleted, StoreError> {
        let _held = self.gate.lock().await;
        let _locked = self.spool.exclusive().await?;
        let deletion = delete::Deletion {
            client: &self.client,
            layout: &self.layout,
            spool: Some(&self.spool),
            settings: &self.settings,
            tenant: scope.tenant(),
            subject,
        };
        deletion.run().await
    }

    fn alert_book(&self) -> &dyn AlertBook {
        &self.alerts
    }

    /// Waits for the spool writer (which ends after the queue's stop command, having spooled
    /// everything queued), then lets the shipper ship what it can within its final timeout.
    async fn shutdown(&self) -> Result<(), StoreError> {
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

#[async_trait]
impl Reads for ClickHouseStore {
    async fn trace(&self, scope: &Scope, trace_id: &str) -> Result<Vec<SpanRecord>, StoreError> {
        Ok(read::trace(&self.client, scope.tenant(), trace_id).await?)
    }

    async fn search(&self, scope: &Scope, q: &TraceQuery) -> Result<Vec<TraceSummary>, StoreError> {
        Ok(read::search(&self.client, scope.tenant(), q).await?)
    }

    async fn services(&self, scope: &Scope) -> Result<Vec<ServiceSummary>, StoreError> {
        Ok(read::services(&self.client, scope.tenant()).await?)
    }

    async fn round_trips(
        &self,
        scope: &Scope,
        q: &RoundTripQuery,
    ) -> Result<Vec<(RoundTrip, i64)>, StoreError> {
        Ok(read::round_trips(&self.client, scope.tenant(), q).await?)
    }

    async fn round_trip_points(
        &self,
        scope: &Scope,
        q: &RoundTripQuery,
    ) -> Result<Vec<RoundTripPoint>, StoreError> {
        Ok(read::round_trip_points(&self.client, scope.tenant(), q).await?)
    }

    fn keeps_rollups_for(&self, q: &RollupQuery) -> bool {
        read::covers(q)
    }

    async fn rollups(&self, scope: &Scope, q: &RollupQuery) -> Result<Rollups, StoreError> {
        Ok(read::rollups(&self.client, scope.tenant(), q).await?)
    }

    async fn operations(&self, scope: &Scope, q: &CallQuery) -> Result<CallRollups, StoreError> {
        Ok(read::operations(&self.client, scope.tenant(), q).await?)
    }

    async fn dependencies(&self, scope: &Scope, q: &CallQuery) -> Result<CallRollups, StoreError> {
        Ok(read::dependencies(&self.client, scope.tenant(), q).await?)
    }

    async fn has_service(&self, scope: &Scope, service: &str) -> Result<bool, StoreError> {
        Ok(read::has_service(&self.client, scope.tenant(), service).await?)
    }

    async fn session_offset(
        &self,
        scope: &Scope,
        session_id: &str,
    ) -> Result<Option<SessionOffset>, StoreError> {
        Ok(read::session_offset(&self.client, scope.tenant(), session_id).await?)
    }

    async fn session_spans(
        &self,
        scope: &Scope,
        session_id: &str,
        limit: usize,
    ) -> Result<Vec<SpanRecord>, StoreError> {
        Ok(read::session_spans(&self.client, scope.tenant(), session_id, limit).await?)
    }

    async fn session_logs(
        &self,
        scope: &Scope,
        session_id: &str,
        limit: usize,
    ) -> Result<Vec<LogRecord>, StoreError> {
        Ok(read::session_logs(&self.client, scope.tenant(), session_id, limit).await?)
    }

    async fn events(&self, scope: &Scope, q: &EventQuery) -> Result<Vec<LogRecord>, StoreError> {
        Ok(read::events(&self.client, scope.tenant(), q).await?)
    }

    async fn metric_catalog(
        &self,
        scope: &Scope,
        q: &MetricCatalogQuery,
    ) -> Result<Vec<MetricSummary>, StoreError> {
        Ok(read::metric_catalog(&self.client, scope.tenant(), q).await?)
    }

    async fn metric_points(
        &self,
        scope: &Scope,
        q: &MetricPointQuery,
    ) -> Result<Vec<SeriesPoint>, StoreError> {
        Ok(read::metric_points(&self.client, scope.tenant(), q).await?)
    }

    async fn logs(&self, scope: &Scope, q: &LogQuery) -> Result<Vec<LogRecord>, StoreError> {
        Ok(read::search_logs(&self.client, scope.tenant(), q).await?)
    }

    async fn log_counts(
        &self,
        scope: &Scope,
        q: &LogCountQuery,
    ) -> Result<Vec<LogCount>, StoreError> {
        Ok(read::log_counts(&self.client, scope.tenant(), q).await?)
    }
}

/// Every query statement the ClickHouse store sends (the reads', the correlation step's and the
/// alert records'),
/// with all filters on, for tests that run each one on the engine.
#[cfg(feature = "testing")]
pub fn query_statements() -> Vec<String> {
    let mut statements = read::statements();
    statements.push(derive::SESSION_SAMPLES_SQL.to_owned());
    statements.extend(alerts::statements());
    statements.push(derive::traces_with_sends_sql());
    statements
}

/// Entry points for the fuzz targets in `fuzz/` (`cargo fuzz` builds with `--cfg fuzzing`).
#[cfg(fuzzing)]
pub mod fuzzing {
    use std::path::Path;

    use super::StoreError;

    /// Ships the spool at `dir` once to an unreachable server; see the shipper.
    pub async fn ship_to_nowhere(dir: &Path) -> Result<(), StoreError> {
        super::shipper::ship_to_nowhere(dir).await
    }

    /// A spool file whose header counts `rows` rows, with a correct checksum around `payload`
    /// (what this collector writes: a trace list and RowBinary rows).
    pub fn spool_file(rows: u32, payload: &[u8]) -> Vec<u8> {
        super::spool::encode_file(super::spool::Format::RowBinary, rows, payload)
    }

    /// A spool file as collectors before 0.2 wrote it: `lines` of JSON, `rows` in the header,
    /// a correct checksum.
    pub fn legacy_spool_file(rows: u32, lines: &[u8]) -> Vec<u8> {
        super::spool::encode_file(super::spool::Format::JsonLines, rows, lines)
    }

    /// Whether a spooled RowBinary payload reads as a trace list and no rows.
    pub fn holds_no_rows(payload: &[u8]) -> bool {
        super::rowbinary::payload(payload).is_some_and(|(_, rows)| rows.is_empty())
    }
}

/// Deletes `subject`'s data of `tenant` straight from ClickHouse and from the spool at
/// `config.spool.dir` (if there is one), for `tracewire-collector delete`. A collector running
/// on that spool keeps shipping before and after; the spool's lock keeps the two apart.
pub async fn delete_directly(
    config: &ClickHouseConfig,
    tenant: &str,
    subject: &Subject,
) -> Result<Deleted, StoreError> {
    let spool_dir = config.spool.dir.clone();
    let spool = tokio::task::spawn_blocking(move || Spool::open_shared(&spool_dir))
        .await
        .map_err(|e| StoreError::Task(e.to_string()))??;
    let _locked = match &spool {
        Some(spool) => Some(spool.exclusive().await?),
        None => None,
    };
    let layout = Layout::new(config);
    let settings = match config.options.cluster {
        Some(_) => vec![("distributed_foreground_insert", "1")],
        None => Vec::new(),
    };
    let client = client(config, false)?;
    delete::Deletion {
        client: &client,
        layout: &layout,
        spool: spool.as_ref(),
        settings: &settings,
        tenant,
        subject,
    }
    .run()
    .await
}

/// Inserts batches straight into ClickHouse (schema created as needed), one INSERT per table,
/// without spool or queue. The benchmark uses it as the baseline for the full ingest path.
#[cfg(feature = "testing")]
pub async fn insert_directly(
    config: &ClickHouseConfig,
    batches: &[Batch],
) -> Result<(), ClickHouseError> {
    let layout = Layout::new(config);
    let db = client(config, false)?;
    schema::migrate(&client(config, true)?, &db, &layout, true).await?;
    let db = db.with_validation(false);
    for signal in crate::signal::Signal::ALL {
        table::table(signal).insert_batches(&db, batches).await?;
    }
    Ok(())
}
