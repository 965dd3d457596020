//! The Tracewire collector: receives OTLP/HTTP from browsers and backends, stores spans and
//! logs (SQLite by default), and answers trace queries. The ingest path reads top to bottom:
//! [`receive`] → [`decode`] → [`store`]; [`api`] reads back from the store.

pub mod access;
pub mod alerts;
pub mod api;
pub mod config;
pub mod correlate;
pub mod counted;
pub mod decode;
pub mod hangup;
pub mod live;
pub mod logsearch;
pub mod metrics;
pub mod model;
pub mod options;
pub mod rates;
pub mod receive;
pub mod series;
pub mod server;
pub mod signal;
pub mod spanmetrics;
pub mod store;
pub mod tls;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use config::{Cli, Config, ConfigError};

/// mimalloc instead of the system allocator: ingest allocates and frees many small strings per
/// span, often freeing on another thread (the store's writer) than the one that allocated them
/// (the decoder), where glibc's malloc spends much of its time consolidating and locking.
/// Built with mimalloc's `no_thp` (workspace `Cargo.toml`): mimalloc does not ask the kernel for
/// transparent huge pages, so a fresh 4 KiB page is all a first touch zeroes. With them, the
/// kernel zeroed (and, where memory was fragmented, compacted) 2 MiB at each first touch: up to
/// a fifth of the ClickHouse path's CPU in a profile, and about 70 MiB more at its peak.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
pub use server::{RunError, run};
