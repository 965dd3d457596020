//! Support for Tracewire's end-to-end tests: real collector processes on free ports, the
//! test-only ClickHouse front, access files, certificates of a test CA, an OTLP tee to fill
//! several collectors from one exporter, and paths to the helper scripts the tests run.

pub mod access;
pub mod agent_backend;
pub mod clickhouse_front;
pub mod clickhouse_store;
pub mod collector;
pub mod docker;
pub mod exchanges;
pub mod logs;
pub mod metrics;
pub mod raw_http;
pub mod receiver;
pub mod tee;
pub mod tls;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from(".."), Path::to_path_buf)
}

/// A binary of this workspace, from the cargo target directory these tests (or this binary)
/// were built in: test executables live in `<target>/<profile>/deps/`, binaries one level up.
/// Build it first, e.g. `cargo build --workspace --bins`.
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("executable path");
    let here = exe.parent().expect("executable directory");
    let profile_dir = match here.file_name() {
        Some(dir) if dir == "deps" => here.parent().unwrap_or(here),
        _ => here,
    };
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

/// `tests/python/otel_send.py` (the OpenTelemetry Python SDK) sending a small trace to the
/// collector at `endpoint`, configured by `configure` (its environment); what it printed, or
/// the panic of a script that failed.
pub fn otel_send(
    endpoint: &str,
    configure: impl FnOnce(&mut std::process::Command),
) -> std::process::Output {
    let mut command = std::process::Command::new(
        std::env::var("TRACEWIRE_PYTHON").unwrap_or_else(|_| "python3".into()),
    );
    command
        .arg(workspace_root().join("tests/python/otel_send.py"))
        .arg(endpoint);
    configure(&mut command);
    let output = command.output().expect("python runs");
    assert!(
        output.status.success(),
        "otel_send.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A blocking HTTP client with a 30 s timeout, for talking to collectors.
pub fn http_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}
