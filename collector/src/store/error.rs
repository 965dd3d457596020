//! What a store operation can fail with: each engine's own errors, under one thin type that
//! callers can act on ([`StoreError::is_retryable`]).

use super::clickhouse::error::ClickHouseError;
use super::clickhouse::spool::SpoolError;
use super::sqlite::error::SqliteError;

/// What a store operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The SQLite store failed.
    #[error("SQLite: {0}")]
    Sqlite(#[from] SqliteError),
    /// The ClickHouse store failed.
    #[error("ClickHouse: {0}")]
    ClickHouse(#[from] ClickHouseError),
    /// The ClickHouse store's on-disk spool failed or is full.
    #[error("spool: {0}")]
    Spool(#[from] SpoolError),
    /// The writer stopped before it answered (the collector is shutting down).
    #[error("the store writer has stopped")]
    WriterGone,
    /// A blocking store task panicked or was cancelled.
    #[error("store task failed: {0}")]
    Task(String),
}

impl StoreError {
    /// Whether the same operation may succeed later (the engine is busy, unreachable, full or
    /// restarting), as opposed to failing the same way again (bad data, a damaged or newer
    /// database, a bad configuration).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Sqlite(e) => e.is_retryable(),
            Self::ClickHouse(e) => e.is_retryable(),
            Self::Spool(e) => e.is_retryable(),
            Self::WriterGone | Self::Task(_) => true,
        }
    }
}
