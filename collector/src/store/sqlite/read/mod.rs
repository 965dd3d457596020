//! Reads, on read-only connections of their own ([`Readers`]), so they never wait for the
//! writer: spans ([`traces`]), log records ([`logs`]), the correlation step's round trips and
//! session offsets ([`round_trips`]), the stored rollups ([`rollups`]), span metrics
//! ([`calls`]), log search ([`log_search`]) and metric points ([`metrics`]). Each read takes
//! the tenant of its [`Scope`] and filters by it.

mod calls;
mod log_search;
mod logs;
mod metrics;
mod rollups;
mod round_trips;
mod traces;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags};

pub(super) use calls::{
    dependencies, dependencies_of_spans, has_service, operations, operations_of_spans,
};
pub(super) use log_search::{counts as log_counts, search as search_logs};
pub(super) use logs::{events, session_logs};
pub(super) use metrics::{metric_catalog, metric_points};
pub(super) use rollups::{covers, read as rollups};
pub(super) use round_trips::{round_trip_points, round_trips, session_offset};
pub(super) use traces::{search, services, session_spans, spans_of_traces, trace};

use super::config::{BUSY_TIMEOUT, STATEMENT_CACHE};
use super::error::SqliteError;
use crate::store::error::StoreError;
use crate::store::read::Scope;

/// Idle reader connections kept open.
const MAX_IDLE_READERS: usize = 4;

/// Read-only connections, opened on demand and reused.
pub(super) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    /// Readers of the database file at `path`.
    pub(super) fn new(path: PathBuf) -> Arc<Self> {
        Arc::new(Self {
            path,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Runs `f` on a reader connection in a blocking task, with the tenant of `scope`.
    pub(super) async fn run<T, F>(self: &Arc<Self>, scope: &Scope, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &str) -> Result<T, SqliteError> + Send + 'static,
    {
        let readers = Arc::clone(self);
        let tenant = scope.tenant().to_owned();
        let result = tokio::task::spawn_blocking(move || {
            let conn = readers.take()?;
            let result = f(&conn, &tenant);
            readers.put(conn);
            result
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?;
        Ok(result?)
    }

    fn take(&self) -> Result<Connection, SqliteError> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        match idle {
            Some(conn) => Ok(conn),
            None => {
                let conn = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                conn.busy_timeout(BUSY_TIMEOUT)?;
                conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
                log_search::register(&conn)?;
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
