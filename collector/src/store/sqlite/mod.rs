//! The embedded SQLite store, the default: one file, nothing to install. WAL mode; one writer
//! thread fed by the write queue commits batches in grouped transactions with `synchronous =
//! FULL`, so an acknowledged batch survives a crash, and runs the correlation step between
//! them; readers use their own connections.

mod correlate;
mod derive;
mod encode;
mod query;
mod rollup;
mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::mpsc::UnboundedReceiver;
use tracing::info;

use super::StoreError;
pub(crate) use rollup::covers;

use super::queue::Command;
use crate::correlate::Rollups;
use crate::metrics::Metrics;
use crate::model::{
    EventQuery, LogRecord, RollupQuery, RoundTrip, RoundTripPoint, RoundTripQuery, ServiceSummary,
    SessionOffset, SpanRecord, TraceQuery, TraceSummary,
};

/// Idle reader connections kept open.
const MAX_IDLE_READERS: usize = 4;

/// The tenant every row gets until multi-tenant ingest exists.
const DEFAULT_TENANT: &str = "";

/// An open SQLite store.
pub struct SqliteStore {
    readers: Arc<Readers>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl SqliteStore {
    /// Opens or creates the database at `path`, migrates it and starts the writer thread, which
    /// takes its work from `commands`. Blocking: call from a blocking context.
    pub(crate) fn open(
        path: &Path,
        commands: UnboundedReceiver<Command>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.to_owned(),
                source,
            })?;
        }
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let version = schema::migrate(&mut conn)?;
        info!(path = %path.display(), schema_version = version, "SQLite store open");
        let writer = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer::run(conn, commands, &metrics))
            .map_err(|e| StoreError::Task(e.to_string()))?;
        Ok(Self {
            readers: Arc::new(Readers {
                path: path.to_owned(),
                idle: Mutex::new(Vec::new()),
            }),
            writer: Mutex::new(Some(writer)),
        })
    }

    pub(super) async fn trace(&self, trace_id: &str) -> Result<Vec<SpanRecord>, StoreError> {
        let trace_id = trace_id.to_owned();
        self.readers
            .run(move |conn| query::trace(conn, DEFAULT_TENANT, &trace_id))
            .await
    }

    pub(super) async fn search(&self, q: &TraceQuery) -> Result<Vec<TraceSummary>, StoreError> {
        let q = q.clone();
        self.readers
            .run(move |conn| query::search(conn, DEFAULT_TENANT, &q))
            .await
    }

    pub(super) async fn services(&self) -> Result<Vec<ServiceSummary>, StoreError> {
        self.readers
            .run(|conn| query::services(conn, DEFAULT_TENANT))
            .await
    }

    pub(super) async fn round_trips(
        &self,
        q: &RoundTripQuery,
    ) -> Result<Vec<(RoundTrip, i64)>, StoreError> {
        let q = q.clone();
        self.readers
            .run(move |conn| correlate::round_trips(conn, DEFAULT_TENANT, &q))
            .await
    }

    pub(super) async fn round_trip_points(
        &self,
        q: &RoundTripQuery,
    ) -> Result<Vec<RoundTripPoint>, StoreError> {
        let q = q.clone();
        self.readers
            .run(move |conn| correlate::round_trip_points(conn, DEFAULT_TENANT, &q))
            .await
    }

    pub(super) async fn rollups(&self, q: &RollupQuery) -> Result<Rollups, StoreError> {
        let q = q.clone();
        self.readers
            .run(move |conn| rollup::read(conn, DEFAULT_TENANT, &q))
            .await
    }

    pub(super) async fn session_offset(
        &self,
        session_id: &str,
    ) -> Result<Option<SessionOffset>, StoreError> {
        let id = session_id.to_owned();
        self.readers
            .run(move |conn| correlate::session_offset(conn, DEFAULT_TENANT, &id))
            .await
    }

    pub(super) async fn session_spans(
        &self,
        session_id: &str,
        limit: usize,
    ) -> Result<Vec<SpanRecord>, StoreError> {
        let id = session_id.to_owned();
        self.readers
            .run(move |conn| correlate::session_spans(conn, DEFAULT_TENANT, &id, limit))
            .await
    }

    pub(super) async fn session_logs(
        &self,
        session_id: &str,
        limit: usize,
    ) -> Result<Vec<LogRecord>, StoreError> {
        let id = session_id.to_owned();
        self.readers
            .run(move |conn| correlate::session_logs(conn, DEFAULT_TENANT, &id, limit))
            .await
    }

    pub(super) async fn events(&self, q: &EventQuery) -> Result<Vec<LogRecord>, StoreError> {
        let q = q.clone();
        self.readers
            .run(move |conn| correlate::events(conn, DEFAULT_TENANT, &q))
            .await
    }

    /// Waits for the writer thread, which ends after the queue's stop command. Idempotent.
    pub(super) async fn join_writer(&self) -> Result<(), StoreError> {
        let Some(writer) = self.writer.lock().ok().and_then(|mut w| w.take()) else {
            return Ok(());
        };
        tokio::task::spawn_blocking(move || writer.join())
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
            .map_err(|_| StoreError::Task("the SQLite writer panicked".into()))
    }
}

/// Writes batches straight into the database file at `path` (created and migrated as needed),
/// one transaction per batch, bypassing the write queue. The benchmark uses it as the baseline
/// for the full ingest path.
pub fn insert_directly(path: &Path, batches: &[crate::model::Batch]) -> Result<(), StoreError> {
    let mut conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    schema::migrate(&mut conn)?;
    for batch in batches {
        let tx = conn.transaction()?;
        writer::insert(&tx, batch)?;
        tx.commit()?;
    }
    Ok(())
}

/// Read-only connections, opened on demand and reused.
struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    /// Runs `f` on a reader connection in a blocking task.
    async fn run<T, F>(self: &Arc<Self>, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let readers = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let conn = readers.take()?;
            let result = f(&conn);
            readers.put(conn);
            result
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }

    fn take(&self) -> Result<Connection, StoreError> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        match idle {
            Some(conn) => Ok(conn),
            None => {
                let conn = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                conn.busy_timeout(std::time::Duration::from_secs(5))?;
                Ok(conn)
            }
        }
    }

    fn put(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE_READERS
        {
            idle.push(conn);
        }
    }
}

#[cfg(test)]
mod tests;
