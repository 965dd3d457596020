//! Support for Tracewire's end-to-end tests: real collector processes on free ports, the
//! test-only ClickHouse front, and paths to the helper scripts the tests run.

pub mod agent_backend;
pub mod clickhouse_front;
pub mod clickhouse_store;
pub mod collector;
pub mod exchanges;
pub mod logs;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from(".."), Path::to_path_buf)
}

/// A binary of this workspace, from the cargo target directory these tests were built in (test
/// executables live in `<target>/<profile>/deps/`, binaries one level up). Build it first, e.g.
/// `cargo build --workspace --bins`.
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target profile directory");
    let bin = profile_dir.join(name);
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --workspace --bins` first",
        bin.display()
    );
    bin
}

/// Now, as unix nanoseconds.
pub fn now_ns() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_nanos(),
    )
    .expect("before the year 2554")
}

/// A blocking HTTP client with a 30 s timeout, for talking to collectors.
pub fn http_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}
