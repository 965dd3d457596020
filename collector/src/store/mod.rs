//! Store: where accepted batches become durable and where the query API reads from. Ingest
//! hands batches to a bounded [`WriteQueue`]; one writer per store drains it in batched
//! transactions and acknowledges each batch only once it is committed.

mod queue;
mod retention;
pub mod sqlite;

use std::sync::Arc;

pub use queue::{Receipt, SubmitError, WriteQueue};
pub use retention::spawn_retention;

use crate::config::StoreUrl;
use crate::metrics::Metrics;
use crate::model::{ServiceSummary, SpanRecord, TraceQuery, TraceSummary};
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
    /// The store is not available in this build.
    #[error("{0}")]
    Unsupported(&'static str),
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
}

impl Store {
    /// Opens (creating and migrating as needed) the store at `url` and starts its writer.
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
            StoreUrl::ClickHouse(_) => {
                return Err(StoreError::Unsupported(
                    "the ClickHouse store is not available in this build yet",
                ));
            }
        };
        Ok(Self { queue, backend })
    }

    /// The queue ingest submits batches to.
    pub fn queue(&self) -> &WriteQueue {
        &self.queue
    }

    /// All spans of a trace, ordered by start time; empty when the trace is unknown.
    pub async fn trace(&self, trace_id: &str) -> Result<Vec<SpanRecord>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.trace(trace_id).await,
        }
    }

    /// Trace summaries matching `query`, newest first.
    pub async fn search(&self, query: &TraceQuery) -> Result<Vec<TraceSummary>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.search(query).await,
        }
    }

    /// Services with span counts and last-seen times.
    pub async fn services(&self) -> Result<Vec<ServiceSummary>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.services().await,
        }
    }

    /// Stops taking batches, lets the writer commit everything already queued, and waits for it.
    pub async fn shutdown(&self) -> Result<(), StoreError> {
        self.queue.close();
        match &self.backend {
            Backend::Sqlite(s) => s.join_writer().await,
        }
    }
}
