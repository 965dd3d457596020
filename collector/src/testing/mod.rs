//! Helpers for the collector's tests, its benchmarks and the end-to-end tests (`tests/`),
//! behind the `testing` cargo feature: OTLP requests ([`otlp`]), records to store
//! ([`fixtures`]), the benchmarks' load ([`load`]), a test CA's certificates ([`tls`]),
//! temporary stores and writing through a store's queue. Panics on failure: these are for tests.

pub mod fixtures;
pub mod load;
pub mod otlp;
pub mod tls;

use std::sync::Arc;

use tempfile::TempDir;

pub use fixtures::{
    browser, browser_event, log, numbered, one_exchange, payload_free_connection, span,
};
pub use otlp::{otlp_metrics, otlp_request};

use crate::metrics::Metrics;
use crate::model::{Batch, LogRecord, SpanRecord};
use crate::store::{Reader, Scope, Store, StoreUrl};

/// A SQLite store in a fresh temporary directory, removed when the `TempDir` drops.
pub async fn temp_store(queue_items: usize) -> (TempDir, Arc<Store>, Arc<Metrics>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let metrics = Arc::new(Metrics::default());
    let url = StoreUrl::Sqlite(dir.path().join("tw.db"));
    let store = Store::open(&url, queue_items, Arc::clone(&metrics))
        .await
        .expect("store opens");
    (dir, Arc::new(store), metrics)
}

/// The reads of the default scope, which holds every row stored without a tenant.
pub fn reads(store: &Store) -> Reader<'_> {
    store.reader(Scope::default())
}

/// Writes a batch through the store's queue and waits until it is durable.
pub async fn store_batch(store: &Store, batch: Batch) {
    store
        .queue()
        .try_submit(batch)
        .expect("queue has room")
        .durable()
        .await
        .expect("durable");
}

/// Writes spans through the store's queue and waits until they are durable.
pub async fn store_spans(store: &Store, spans: Vec<SpanRecord>) {
    store_batch(
        store,
        Batch {
            spans,
            ..Default::default()
        },
    )
    .await;
}

/// Writes log records through the store's queue and waits until they are durable.
pub async fn store_logs(store: &Store, logs: Vec<LogRecord>) {
    store_batch(
        store,
        Batch {
            logs,
            ..Batch::default()
        },
    )
    .await;
}

/// An alert engine without a rules file on `store`, for the API's tests.
pub fn alerts(store: &Arc<Store>) -> Arc<crate::alerts::Alerts> {
    crate::alerts::Alerts::new(
        Arc::clone(store),
        Arc::new(crate::metrics::Metrics::default()),
        &crate::alerts::AlertOptions::default(),
        std::net::SocketAddr::from(([127, 0, 0, 1], 4380)),
        false,
    )
    .expect("the alert engine starts")
}
