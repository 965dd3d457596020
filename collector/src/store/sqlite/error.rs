//! What the SQLite store can fail with.

use rusqlite::ErrorCode;

/// An error of the SQLite store.
#[derive(Debug, thiserror::Error)]
pub enum SqliteError {
    /// SQLite reported an error.
    #[error("{0}")]
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
    /// There is no database file to work on.
    #[error("no database at {0}; check --store")]
    Missing(std::path::PathBuf),
    /// The transaction of a group of batches failed; the batches were not stored.
    #[error("the commit failed: {0}")]
    Commit(String),
}

impl SqliteError {
    /// Whether trying again may succeed: the file is locked, busy or out of space for now.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Sqlite(e) => matches!(
                e.sqlite_error_code(),
                Some(
                    ErrorCode::DatabaseBusy
                        | ErrorCode::DatabaseLocked
                        | ErrorCode::DiskFull
                        | ErrorCode::SystemIoFailure
                        | ErrorCode::OutOfMemory
                )
            ),
            Self::Commit(_) => true,
            Self::Corrupt(_)
            | Self::Rollup(_)
            | Self::CreateDir { .. }
            | Self::Missing(_)
            | Self::SchemaTooNew { .. } => false,
        }
    }
}
