//! Store: where accepted batches become durable and where the query API reads from. Ingest
//! hands batches to a bounded [`WriteQueue`]; one writer per store drains it in batched
//! transactions (SQLite) or into its on-disk spool (ClickHouse), and acknowledges each batch
//! only once it is durable there.

pub mod clickhouse;
mod queue;
mod retention;
pub mod sqlite;

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

pub use queue::{Receipt, SubmitError, WriteQueue};
pub use retention::spawn_retention;

use self::clickhouse::{ClickHouseConfig, ClickHouseStore};
use crate::config::{Config, StoreUrl};
use crate::correlate::Rollups;
use crate::metrics::Metrics;
use crate::model::{
    EventQuery, LogRecord, RollupQuery, RoundTrip, RoundTripPoint, RoundTripQuery, ServiceSummary,
    SessionOffset, SpanRecord, TraceQuery, TraceSummary,
};

/// The longest the writer spends on the correlation step for one [`Store::derive`] turn before
/// queued batches get theirs.
const DERIVE_TURN: Duration = Duration::from_millis(200);
use sqlite::SqliteStore;

/// What a store operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored JSON column did not parse (the file was changed outside the collector).
    #[error("corrupt stored value: {0}")]
    Corrupt(#[from] serde_json::Error),
    /// A stored rollup's histogram did not decode (the file was changed outside the collector).
    #[error("corrupt stored rollup: {0}")]
    Rollup(#[from] crate::correlate::DecodeError),
    /// The data directory could not be created.
    #[error("cannot create {path}: {source}")]
    CreateDir {
        /// The directory.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The database was written by a newer collector.
    #[error(
        "the database has schema version {found}, newer than the {supported} this collector knows; upgrade the collector"
    )]
    SchemaTooNew {
        /// Version found in the file.
        found: i64,
        /// Newest version this build knows.
        supported: i64,
    },
    /// ClickHouse answered with an error or could not be reached.
    #[error("ClickHouse: {0}")]
    ClickHouse(#[from] ::clickhouse::error::Error),
    /// The ClickHouse schema is not there and the collector may not create it.
    #[error("{0}")]
    SchemaMissing(String),
    /// A spool file or directory could not be read or written.
    #[error("spool {path}: {source}")]
    Spool {
        /// The file or directory.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The spool holds `--spool-max-bytes` already (ClickHouse is behind or down).
    #[error("the spool is full")]
    SpoolFull,
    /// The CA file for an `https://` ClickHouse server is not usable.
    #[error("--clickhouse-ca: {0}")]
    Tls(#[from] crate::tls::TlsError),
    /// The store URL is not usable.
    #[error("{0}")]
    InvalidUrl(String),
    /// The writer stopped before it answered (the collector is shutting down).
    #[error("the store writer has stopped")]
    WriterGone,
    /// A blocking store task panicked or was cancelled.
    #[error("store task failed: {0}")]
    Task(String),
}

/// An open store: its write queue, its writer and its readers.
pub struct Store {
    queue: WriteQueue,
    backend: Backend,
}

enum Backend {
    Sqlite(SqliteStore),
    ClickHouse(Box<ClickHouseStore>),
}

impl Store {
    /// Opens the store the configuration names, with its ClickHouse settings when it is one.
    pub async fn from_config(config: &Config, metrics: Arc<Metrics>) -> Result<Self, StoreError> {
        match config
            .clickhouse()
            .transpose()
            .map_err(StoreError::InvalidUrl)?
        {
            Some(clickhouse) => {
                Self::open_clickhouse(&clickhouse, config.write_queue_items, metrics).await
            }
            None => Self::open(&config.store, config.write_queue_items, metrics).await,
        }
    }

    /// Opens a ClickHouse store: spool, schema, writer and shipper.
    pub async fn open_clickhouse(
        config: &ClickHouseConfig,
        queue_items: usize,
        metrics: Arc<Metrics>,
    ) -> Result<Self, StoreError> {
        let (queue, commands) = WriteQueue::new(queue_items);
        let store = ClickHouseStore::open(config, commands, metrics).await?;
        Ok(Self {
            queue,
            backend: Backend::ClickHouse(Box::new(store)),
        })
    }

    /// Opens (creating and migrating as needed) the store at `url` and starts its writer.
    /// A ClickHouse URL gets the default ClickHouse settings ([`ClickHouseConfig::from_url`]).
    pub async fn open(
        url: &StoreUrl,
        queue_items: usize,
        metrics: Arc<Metrics>,
    ) -> Result<Self, StoreError> {
        let (queue, commands) = WriteQueue::new(queue_items);
        let backend = match url {
            StoreUrl::Sqlite(path) => {
                let path = path.clone();
                let store = tokio::task::spawn_blocking(move || {
                    SqliteStore::open(&path, commands, metrics)
                })
                .await
                .map_err(|e| StoreError::Task(e.to_string()))??;
                Backend::Sqlite(store)
            }
            StoreUrl::ClickHouse(url) => {
                let config = ClickHouseConfig::from_url(url).map_err(StoreError::InvalidUrl)?;
                Backend::ClickHouse(Box::new(
                    ClickHouseStore::open(&config, commands, metrics).await?,
                ))
            }
        };
        Ok(Self { queue, backend })
    }

    /// Starts the retention loop when the store needs one: SQLite deletes expired rows in
    /// chunks; ClickHouse drops expired parts by TTL on its own, so nothing runs for it.
    pub fn start_retention(&self, retention: Duration) -> Option<JoinHandle<()>> {
        match self.backend {
            Backend::Sqlite(_) => Some(spawn_retention(self.queue.clone(), retention)),
            Backend::ClickHouse(_) => None,
        }
    }

    /// The queue ingest submits batches to.
    pub fn queue(&self) -> &WriteQueue {
        &self.queue
    }

    /// All spans of a trace, ordered by start time; empty when the trace is unknown.
    pub async fn trace(&self, trace_id: &str) -> Result<Vec<SpanRecord>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.trace(trace_id).await,
            Backend::ClickHouse(c) => c.trace(trace_id).await,
        }
    }

    /// Trace summaries matching `query`, newest first.
    pub async fn search(&self, query: &TraceQuery) -> Result<Vec<TraceSummary>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.search(query).await,
            Backend::ClickHouse(c) => c.search(query).await,
        }
    }

    /// Services with span counts and last-seen times.
    pub async fn services(&self) -> Result<Vec<ServiceSummary>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.services().await,
            Backend::ClickHouse(c) => c.services().await,
        }
    }

    /// Round trips matching `query`, newest first, each with its session's stored clock offset
    /// (0 when none is known).
    pub async fn round_trips(
        &self,
        query: &RoundTripQuery,
    ) -> Result<Vec<(RoundTrip, i64)>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.round_trips(query).await,
            Backend::ClickHouse(c) => c.round_trips(query).await,
        }
    }

    /// The times, type and outcome of the newest round trips in `query`'s window (and of its
    /// message type, when given), at most `query.limit`; the other filters are ignored.
    pub async fn round_trip_points(
        &self,
        query: &RoundTripQuery,
    ) -> Result<Vec<RoundTripPoint>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.round_trip_points(query).await,
            Backend::ClickHouse(c) => c.round_trip_points(query).await,
        }
    }

    /// Whether [`Store::rollups`] answers `query` without the round trips coming back: the
    /// SQLite store keeps rollups per minute, so for a window and step of whole minutes; the
    /// ClickHouse store adds round trips up in the engine, so for any window and positive step.
    pub fn keeps_rollups_for(&self, query: &RollupQuery) -> bool {
        match &self.backend {
            Backend::Sqlite(_) => sqlite::covers(query),
            Backend::ClickHouse(_) => clickhouse::covers(query),
        }
    }

    /// The round trips of `query`'s window added up per step and message type, when
    /// [`Store::keeps_rollups_for`] it: SQLite's stored minutes added up, or ClickHouse's
    /// aggregation of the round trips; `None` otherwise (add up [`Store::round_trip_points`]).
    /// Run the correlation step first ([`Store::derive`]): it also refreshes stale rollups.
    pub async fn rollups(&self, query: &RollupQuery) -> Result<Option<Rollups>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) if sqlite::covers(query) => s.rollups(query).await.map(Some),
            Backend::ClickHouse(c) if clickhouse::covers(query) => c.rollups(query).await.map(Some),
            _ => Ok(None),
        }
    }

    /// A browser session's stored clock offset.
    pub async fn session_offset(
        &self,
        session_id: &str,
    ) -> Result<Option<SessionOffset>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.session_offset(session_id).await,
            Backend::ClickHouse(c) => c.session_offset(session_id).await,
        }
    }

    /// Runs the correlation step until no stored trace waits for it and (SQLite) no minute's
    /// rollups are stale, or `budget` is spent, so that reads that follow see every batch
    /// acknowledged before; whether it caught up. The
    /// writer takes turns between queued batches, so ingest keeps flowing meanwhile.
    pub async fn derive(&self, budget: Duration) -> Result<bool, StoreError> {
        let start = tokio::time::Instant::now();
        loop {
            let left = budget.saturating_sub(start.elapsed());
            if self.queue.derive(left.min(DERIVE_TURN)).await? {
                return Ok(true);
            }
            if start.elapsed() >= budget {
                return Ok(false);
            }
        }
    }

    /// A browser session's spans (by `session.id`), oldest first, at most `limit`.
    pub async fn session_spans(
        &self,
        session_id: &str,
        limit: usize,
    ) -> Result<Vec<SpanRecord>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.session_spans(session_id, limit).await,
            Backend::ClickHouse(c) => c.session_spans(session_id, limit).await,
        }
    }

    /// A browser session's log records, oldest first, at most `limit`.
    pub async fn session_logs(
        &self,
        session_id: &str,
        limit: usize,
    ) -> Result<Vec<LogRecord>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.session_logs(session_id, limit).await,
            Backend::ClickHouse(c) => c.session_logs(session_id, limit).await,
        }
    }

    /// Log records of one event name in a window, newest first.
    pub async fn events(&self, query: &EventQuery) -> Result<Vec<LogRecord>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.events(query).await,
            Backend::ClickHouse(c) => c.events(query).await,
        }
    }

    /// Stops taking batches, lets the writer commit (or spool) everything already queued, and
    /// waits for it; a ClickHouse store then ships its spool for a bounded time.
    pub async fn shutdown(&self) -> Result<(), StoreError> {
        self.queue.close();
        match &self.backend {
            Backend::Sqlite(s) => s.join_writer().await,
            Backend::ClickHouse(c) => c.join().await,
        }
    }
}
