//! Store: where accepted batches become durable and where the query API reads from. Ingest
//! hands batches to a bounded [`WriteQueue`]; one writer per store drains it ([`writer`]) in
//! batched transactions (SQLite) or into its on-disk spool (ClickHouse), and acknowledges each
//! batch only once it is durable there. Reads go through a [`Reader`] for one [`Scope`].
//!
//! Each engine is a folder that implements the contract: [`writer::Writer`] for its writer
//! thread, [`read::Reads`] for the query API and [`Engine`] for the rest of its life; [`Store`]
//! holds it as a trait object. Adding an engine is a folder, its variant of [`StoreUrl`] and a
//! line in [`Store::from_config`].

mod alerts;
pub mod clickhouse;
mod config;
mod delete;
mod engine;
mod error;
mod queue;
mod read;
mod retention;
pub mod sqlite;
mod url;
mod writer;

use std::sync::Arc;
use std::time::Duration;

pub use alerts::{
    AlertLedger, AlertRecord, AlertState, Matcher, NotificationRecord, RuleRecord, SilenceRecord,
    TransitionRecord,
};
pub use config::{
    DEFAULT_STORE, DEFAULT_WRITE_QUEUE_ITEMS, ENV_STORE, ENV_WRITE_QUEUE_ITEMS, StoreArgs,
    StoreConfig,
};
pub use delete::{Deleted, Subject};
pub use error::StoreError;
pub use queue::{Receipt, SubmitError, WriteQueue};
pub use read::{Reader, Scope};
pub use retention::{DEFAULT_RETENTION, ENV_RETENTION};
pub use url::StoreUrl;

use self::clickhouse::{ClickHouseConfig, ClickHouseStore};
use self::engine::Engine;
use self::sqlite::{SqliteConfig, SqliteStore};
use crate::metrics::Metrics;

/// The longest the writer spends on the correlation step for one [`Store::derive`] turn before
/// queued batches get theirs.
const DERIVE_TURN: Duration = Duration::from_millis(200);

/// An open store: its write queue and its engine.
pub struct Store {
    queue: WriteQueue,
    engine: Arc<dyn Engine>,
}

impl Store {
    /// Opens the store `config` names, with its options and its retention.
    pub async fn from_config(
        config: &StoreConfig,
        metrics: Arc<Metrics>,
    ) -> Result<Self, StoreError> {
        let items = config.write_queue_items;
        match &config.url {
            StoreUrl::Sqlite(path) => {
                let sqlite = SqliteConfig {
                    path: path.clone(),
                    retention: Some(config.retention),
                };
                Self::open_sqlite(&sqlite, items, metrics).await
            }
            StoreUrl::ClickHouse(server) => {
                Self::open_clickhouse(&config.clickhouse_on(server), items, metrics).await
            }
        }
    }

    /// Opens (creating and migrating as needed) the store at `url` with default options and
    /// without retention (it keeps everything), and starts its writer; for tests and
    /// benchmarks.
    #[cfg(any(test, feature = "testing"))]
    pub async fn open(
        url: &StoreUrl,
        queue_items: usize,
        metrics: Arc<Metrics>,
    ) -> Result<Self, StoreError> {
        match url {
            StoreUrl::Sqlite(path) => {
                let config = SqliteConfig {
                    path: path.clone(),
                    retention: None,
                };
                Self::open_sqlite(&config, queue_items, metrics).await
            }
            StoreUrl::ClickHouse(server) => {
                let config = ClickHouseConfig::new(server.clone());
                Self::open_clickhouse(&config, queue_items, metrics).await
            }
        }
    }

    /// Opens a SQLite store: the file, its writer and, with a retention, its retention loop.
    async fn open_sqlite(
        config: &SqliteConfig,
        queue_items: usize,
        metrics: Arc<Metrics>,
    ) -> Result<Self, StoreError> {
        let (queue, engine) = SqliteStore::open(config, queue_items, metrics).await?;
        Ok(Self { queue, engine })
    }

    /// Opens a ClickHouse store: spool, schema, writer and shipper.
    pub async fn open_clickhouse(
        config: &ClickHouseConfig,
        queue_items: usize,
        metrics: Arc<Metrics>,
    ) -> Result<Self, StoreError> {
        let (queue, engine) = ClickHouseStore::open(config, queue_items, metrics).await?;
        Ok(Self { queue, engine })
    }

    /// The queue ingest submits batches to.
    pub fn queue(&self) -> &WriteQueue {
        &self.queue
    }

    /// The reads of `scope`: the one way to read what the store holds.
    pub fn reader(&self, scope: Scope) -> Reader<'_> {
        Reader::new(self.engine.as_ref(), scope)
    }

    /// The alert records of `scope` ([`alerts`]).
    pub fn alerts(&self, scope: Scope) -> AlertLedger<'_> {
        AlertLedger::new(self.engine.alert_book(), scope)
    }

    /// The rules set through the API, of every tenant (by stored tenant), for the alert engine.
    pub async fn all_alert_rules(&self) -> Result<Vec<(String, RuleRecord)>, StoreError> {
        self.engine.alert_book().all_rules().await
    }

    /// Runs the correlation step until no stored trace waits for it and (SQLite) no minute's
    /// rollups are stale, or `budget` is spent, so that reads that follow see every batch
    /// acknowledged before; whether it caught up. The writer takes turns between queued
    /// batches, so ingest keeps flowing meanwhile.
    pub async fn derive(&self, budget: Duration) -> Result<bool, StoreError> {
        let start = tokio::time::Instant::now();
        loop {
            let left = budget.saturating_sub(start.elapsed());
            if self.engine.catch_up(left.min(DERIVE_TURN)).await? {
                return Ok(true);
            }
            if start.elapsed() >= budget {
                return Ok(false);
            }
        }
    }

    /// Deletes `subject`'s data within `scope` ([`delete`]): every batch acknowledged before
    /// is included; what arrives meanwhile or later is not.
    pub async fn delete(&self, scope: &Scope, subject: &Subject) -> Result<Deleted, StoreError> {
        self.engine.delete(scope, subject).await
    }

    /// Deletes `subject`'s data within `scope` straight from the configured store, with or
    /// without a collector running on it: `tracewire-collector delete`.
    pub async fn delete_directly(
        config: &StoreConfig,
        scope: &Scope,
        subject: &Subject,
    ) -> Result<Deleted, StoreError> {
        match &config.url {
            StoreUrl::Sqlite(path) => {
                let (path, tenant, subject) =
                    (path.clone(), scope.tenant().to_owned(), subject.clone());
                tokio::task::spawn_blocking(move || {
                    sqlite::delete_directly(&path, &tenant, &subject)
                })
                .await
                .map_err(|e| StoreError::Task(e.to_string()))?
                .map_err(StoreError::from)
            }
            StoreUrl::ClickHouse(server) => {
                clickhouse::delete_directly(&config.clickhouse_on(server), scope.tenant(), subject)
                    .await
            }
        }
    }

    /// Stops taking batches, lets the writer commit (or spool) everything already queued, and
    /// waits for it; a ClickHouse store then ships its spool for a bounded time.
    pub async fn shutdown(&self) -> Result<(), StoreError> {
        self.queue.close();
        self.engine.shutdown().await
    }
}
