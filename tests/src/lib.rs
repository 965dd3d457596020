//! Support for Tracewire's end-to-end tests: real collector processes on free ports, the
//! test-only ClickHouse front, and paths to the helper scripts the tests run.

pub mod clickhouse_front;
pub mod clickhouse_store;
pub mod collector;

use std::path::{Path, PathBuf};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from(".."), Path::to_path_buf)
}
