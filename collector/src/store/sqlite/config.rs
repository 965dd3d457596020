//! What the SQLite store needs to know: the database file (from the `sqlite:` store URL) and
//! how long it keeps rows.

use std::path::PathBuf;
use std::time::Duration;

/// How long SQLite waits for a lock held by another connection (a reader, or another
/// collector on the same file) before an operation fails as busy.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Prepared statements a connection keeps. The writer runs about 40 distinct ones (inserts per
/// table, the correlation step, the rollups, retention); rusqlite's default of 16 made it
/// prepare most of them again on every pass.
pub(super) const STATEMENT_CACHE: usize = 96;

/// Pages the write-ahead log grows to before the writer copies it into the database file.
pub(super) const WAL_CHECKPOINT_PAGES: i64 = 10_000;

/// Everything the SQLite store is opened with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteConfig {
    /// The database file; parent directories are created.
    pub path: PathBuf,
    /// Rows older than this are deleted in the background; `None` keeps everything.
    pub retention: Option<Duration>,
}
