//! The embedded SQLite store, the default: one file, nothing to install. WAL mode; one writer
//! thread fed by the write queue ([`writer`]) commits batches in grouped transactions with
//! `synchronous = FULL`, so an acknowledged batch survives a crash, and runs the correlation
//! step ([`derive`]) and the rollups of round trips ([`rollup`]) and of span metrics
//! ([`calls`]) between them; [`retention`] deletes expired
//! rows through it. Reads ([`read`]) use their own connections.

mod alerts;
mod calls;
mod config;
mod delete;
mod derive;
mod encode;
pub(super) mod error;
mod fts;
mod metrics;
mod read;
mod retention;
mod rollup;
mod schema;
mod stale;
mod table;
mod writer;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::Connection;
use tracing::info;

pub use config::SqliteConfig;
pub use error::SqliteError;

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
use crate::model::{
    CallQuery, EventQuery, LogRecord, MetricCatalogQuery, MetricPointQuery, MetricSummary,
    RollupQuery, RoundTrip, RoundTripPoint, RoundTripQuery, SeriesPoint, ServiceSummary,
    SessionOffset, SpanRecord, TraceQuery, TraceSummary,
};
use crate::spanmetrics::CallRollups;
use alerts::SqliteAlertBook;
use config::{BUSY_TIMEOUT, STATEMENT_CACHE, WAL_CHECKPOINT_PAGES};
use read::Readers;
use writer::{SqliteWriter, Tasks};

/// An open SQLite store.
pub struct SqliteStore {
    readers: Arc<Readers>,
    alerts: SqliteAlertBook,
    tasks: Tasks,
    writer: Mutex<Option<JoinHandle<()>>>,
    retention: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl SqliteStore {
    /// Opens or creates the database file, migrates it, and starts the writer thread on a new
    /// write queue of `queue_items`; with a retention, also the loop that deletes older rows.
    pub(crate) async fn open(
        config: &SqliteConfig,
        queue_items: usize,
        metrics: Arc<Metrics>,
    ) -> Result<(WriteQueue, Arc<Self>), StoreError> {
        let (queue, tasks, commands) = WriteQueue::new(queue_items);
        let path = config.path.clone();
        let writer = tokio::task::spawn_blocking(move || -> Result<_, StoreError> {
            let conn = open_for_writing(&path)?;
            let writer = SqliteWriter::new(conn, metrics);
            let thread = std::thread::Builder::new()
                .name("sqlite-writer".into())
                .spawn(move || drain(writer, commands))
                .map_err(|e| StoreError::Task(e.to_string()))?;
            Ok((path, thread))
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))??;
        let (path, thread) = writer;
        let store = Arc::new(Self {
            alerts: SqliteAlertBook::new(path.clone(), config.retention),
            readers: Readers::new(path),
            tasks: Tasks::new(tasks),
            writer: Mutex::new(Some(thread)),
            retention: Mutex::new(None),
        });
        if let Some(retention) = config.retention {
            let handle = retention::spawn(store.tasks.clone(), retention);
            if let Ok(mut slot) = store.retention.lock() {
                *slot = Some(handle);
            }
        }
        Ok((queue, store))
    }
}

#[async_trait]
impl Engine for SqliteStore {
    async fn catch_up(&self, budget: Duration) -> Result<bool, StoreError> {
        self.tasks.catch_up(budget).await
    }

    async fn delete(&self, scope: &Scope, subject: &Subject) -> Result<Deleted, StoreError> {
        self.tasks.delete(scope.tenant(), subject).await
    }

    fn alert_book(&self) -> &dyn AlertBook {
        &self.alerts
    }

    /// Stops the retention loop and waits for the writer thread, which ends after the queue's
    /// stop command.
    async fn shutdown(&self) -> Result<(), StoreError> {
        if let Some(retention) = self.retention.lock().ok().and_then(|mut r| r.take()) {
            retention.abort();
        }
        let Some(writer) = self.writer.lock().ok().and_then(|mut w| w.take()) else {
            return Ok(());
        };
        tokio::task::spawn_blocking(move || writer.join())
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
            .map_err(|_| StoreError::Task("the SQLite writer panicked".into()))
    }
}

#[async_trait]
impl Reads for SqliteStore {
    async fn trace(&self, scope: &Scope, trace_id: &str) -> Result<Vec<SpanRecord>, StoreError> {
        let trace_id = trace_id.to_owned();
        self.readers
            .run(scope, move |conn, tenant| {
                read::trace(conn, tenant, &trace_id)
            })
            .await
    }

    async fn search(&self, scope: &Scope, q: &TraceQuery) -> Result<Vec<TraceSummary>, StoreError> {
        let q = q.clone();
        self.readers
            .run(scope, move |conn, tenant| read::search(conn, tenant, &q))
            .await
    }

    async fn services(&self, scope: &Scope) -> Result<Vec<ServiceSummary>, StoreError> {
        self.readers.run(scope, read::services).await
    }

    async fn round_trips(
        &self,
        scope: &Scope,
        q: &RoundTripQuery,
    ) -> Result<Vec<(RoundTrip, i64)>, StoreError> {
        let q = q.clone();
        self.readers
            .run(scope, move |conn, tenant| {
                read::round_trips(conn, tenant, &q)
            })
            .await
    }

    async fn round_trip_points(
        &self,
        scope: &Scope,
        q: &RoundTripQuery,
    ) -> Result<Vec<RoundTripPoint>, StoreError> {
        let q = q.clone();
        self.readers
            .run(scope, move |conn, tenant| {
                read::round_trip_points(conn, tenant, &q)
            })
            .await
    }

    fn keeps_rollups_for(&self, q: &RollupQuery) -> bool {
        read::covers(q)
    }

    async fn rollups(&self, scope: &Scope, q: &RollupQuery) -> Result<Rollups, StoreError> {
        let q = q.clone();
        self.readers
            .run(scope, move |conn, tenant| read::rollups(conn, tenant, &q))
            .await
    }

    async fn operations(&self, scope: &Scope, q: &CallQuery) -> Result<CallRollups, StoreError> {
        let q = q.clone();
        self.readers
            .run(scope, move |conn, tenant| {
                read::operations(conn, tenant, &q)
            })
            .await
    }

    async fn dependencies(&self, scope: &Scope, q: &CallQuery) -> Result<CallRollups, StoreError> {
        let q = q.clone();
        self.readers
            .run(scope, move |conn, tenant| {
                read::dependencies(conn, tenant, &q)
            })
            .await
    }

    async fn has_service(&self, scope: &Scope, service: &str) -> Result<bool, StoreError> {
        let service = service.to_owned();
        self.readers
            .run(scope, move |conn, tenant| {
                read::has_service(conn, tenant, &service)
            })
            .await
    }

    async fn session_offset(
        &self,
        scope: &Scope,
        session_id: &str,
    ) -> Result<Option<SessionOffset>, StoreError> {
        let id = session_id.to_owned();
        self.readers
            .run(scope, move |conn, tenant| {
                read::session_offset(conn, tenant, &id)
            })
            .await
    }

    async fn session_spans(
        &self,
        scope: &Scope,
        session_id: &str,
        limit: usize,
    ) -> Result<Vec<SpanRecord>, StoreError> {
        let id = session_id.to_owned();
        self.readers
            .run(scope, move |conn, tenant| {
                read::session_spans(conn, tenant, &id, limit)
            })
            .await
    }

    async fn session_logs(
        &self,
        scope: &Scope,
        session_id: &str,
        limit: usize,
    ) -> Result<Vec<LogRecord>, StoreError> {
        let id = session_id.to_owned();
        self.readers
            .run(scope, move |conn, tenant| {
                read::session_logs(conn, tenant, &id, limit)
            })
            .await
    }

    async fn events(&self, scope: &Scope, q: &EventQuery) -> Result<Vec<LogRecord>, StoreError> {
        let q = q.clone();
        self.readers
            .run(scope, move |conn, tenant| read::events(conn, tenant, &q))
            .await
    }

    async fn metric_catalog(
        &self,
        scope: &Scope,
        q: &MetricCatalogQuery,
    ) -> Result<Vec<MetricSummary>, StoreError> {
        let q = q.clone();
        self.readers
            .run(scope, move |conn, tenant| {
                read::metric_catalog(conn, tenant, &q)
            })
            .await
    }

    async fn logs(&self, scope: &Scope, q: &LogQuery) -> Result<Vec<LogRecord>, StoreError> {
        let q = q.clone();
        self.readers
            .run(scope, move |conn, tenant| {
                read::search_logs(conn, tenant, &q)
            })
            .await
    }

    async fn metric_points(
        &self,
        scope: &Scope,
        q: &MetricPointQuery,
    ) -> Result<Vec<SeriesPoint>, StoreError> {
        let q = q.clone();
        self.readers
            .run(scope, move |conn, tenant| {
                read::metric_points(conn, tenant, &q)
            })
            .await
    }

    async fn log_counts(
        &self,
        scope: &Scope,
        q: &LogCountQuery,
    ) -> Result<Vec<LogCount>, StoreError> {
        let q = q.clone();
        self.readers
            .run(scope, move |conn, tenant| {
                read::log_counts(conn, tenant, &q)
            })
            .await
    }
}

/// Opens (creating the directory, the file and the schema as needed) the write connection.
fn open_for_writing(path: &Path) -> Result<Connection, SqliteError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| SqliteError::CreateDir {
            path: dir.to_owned(),
            source,
        })?;
    }
    let mut conn = Connection::open(path)?;
    tune_for_writing(&conn)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let version = schema::migrate(&mut conn)?;
    info!(path = %path.display(), schema_version = version, "SQLite store open");
    Ok(conn)
}

/// The write connection's settings: WAL, commits fsynced (`synchronous = FULL`; the writer
/// defers the fsync of derived work itself), the log checkpointed every
/// [`WAL_CHECKPOINT_PAGES`], a statement cache for every statement the writer runs.
fn tune_for_writing(conn: &Connection) -> Result<(), SqliteError> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "wal_autocheckpoint", WAL_CHECKPOINT_PAGES)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}

/// Deletes `subject`'s data of `tenant` from the database file at `path`, for
/// `tracewire-collector delete`; a collector running on the file waits for it (SQLite's lock).
pub fn delete_directly(
    path: &Path,
    tenant: &str,
    subject: &Subject,
) -> Result<Deleted, SqliteError> {
    if !path.is_file() {
        return Err(SqliteError::Missing(path.to_owned()));
    }
    let mut conn = open_for_writing(path)?;
    delete::run(&mut conn, tenant, subject)
}

/// Writes batches straight into the database file at `path` (created and migrated as needed),
/// one transaction per batch, bypassing the write queue. The benchmark uses it as the baseline
/// for the full ingest path.
#[cfg(feature = "testing")]
pub fn insert_directly(path: &Path, batches: &[crate::model::Batch]) -> Result<(), SqliteError> {
    let mut conn = Connection::open(path)?;
    tune_for_writing(&conn)?;
    schema::migrate(&mut conn)?;
    for batch in batches {
        let tx = conn.transaction()?;
        writer::insert(&tx, batch)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod log_search_tests;
#[cfg(test)]
mod tests;
