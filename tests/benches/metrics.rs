//! Metrics ingest benchmark (not a test): OTLP protobuf requests of cumulative counter points
//! through the collector's `POST /v1/metrics` handler into SQLite, and through the handler, spool
//! and shipper into ClickHouse (the real engine behind the test front), each against the same
//! rows inserted straight: into SQLite in one transaction, into ClickHouse as one INSERT per
//! table through the front. Data points per second and the ratio, per store.
//!
//! `cargo bench -p tracewire-e2e --bench metrics` (set `BENCH_BATCHES`, `BENCH_POINTS` per
//! request, `BENCH_SERIES`, `BENCH_CONCURRENCY`, `BENCH_STORES` = `sqlite,clickhouse`, and
//! `BENCH_BATCH_DELAY_MS` for the shipper's `--clickhouse-batch-delay`, default 1000). The
//! ClickHouse part needs the Python packages of `tests/requirements.txt`.

#![allow(missing_docs, clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prost::Message;
use tracewire_collector::decode::{Encoding, decode_metrics};
use tracewire_collector::metrics::Metrics;
use tracewire_collector::model::Batch;
use tracewire_collector::store::clickhouse::{self, ClickHouseConfig};
use tracewire_collector::store::{Store, StoreUrl, sqlite};
use tracewire_collector::testing::load::{env_or as env, ingest_router, post_concurrently_to};
use tracewire_e2e::clickhouse_front::ClickHouseFront;
use tracewire_e2e::metrics::counters;
use tracewire_e2e::now_ns;

/// Data points the store counted as stored (for ClickHouse: confirmed by ClickHouse).
fn stored_points(metrics: &Metrics) -> u64 {
    const LINE: &str = "tracewire_stored_items_total{signal=\"metrics\"} ";
    metrics
        .render(0, 0)
        .lines()
        .find_map(|line| line.strip_prefix(LINE))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// Posts `bodies` to the store's handler and waits until the store counted every point;
/// data points per second.
async fn through_handler(
    store: Store,
    metrics: Arc<Metrics>,
    bodies: &[Vec<u8>],
    total: u64,
    clients: usize,
) -> f64 {
    let app = ingest_router(&store, Arc::clone(&metrics));
    let bodies = Arc::new(bodies.to_vec());
    let started = Instant::now();
    post_concurrently_to(app, "/v1/metrics", bodies, clients).await;
    while stored_points(&metrics) < total {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    store.shutdown().await.unwrap();
    total as f64 / elapsed.as_secs_f64()
}

fn report(store: &str, handler: f64, direct: f64) {
    println!("{store}: through POST /v1/metrics:   {handler:>10.0} points/s");
    println!("{store}: straight (same rows):       {direct:>10.0} points/s");
    println!(
        "{store}: ratio handler / direct:     {:>10.2}",
        handler / direct
    );
}

fn sqlite(
    dir: &Path,
    runtime: &tokio::runtime::Runtime,
    bodies: &[Vec<u8>],
    merged: &Batch,
    total: u64,
    clients: usize,
) {
    let handler = runtime.block_on(async {
        let metrics = Arc::new(Metrics::default());
        let url = StoreUrl::Sqlite(dir.join("handler.db"));
        let store = Store::open(&url, 10_000_000, Arc::clone(&metrics))
            .await
            .unwrap();
        through_handler(store, metrics, bodies, total, clients).await
    });
    // Baseline: the same rows, decoded, in one transaction (the schema made first, untimed).
    let path = dir.join("direct.db");
    sqlite::insert_directly(&path, &[]).unwrap();
    let started = Instant::now();
    sqlite::insert_directly(&path, std::slice::from_ref(merged)).unwrap();
    let direct = total as f64 / started.elapsed().as_secs_f64();
    report("sqlite", handler, direct);
}

fn clickhouse(
    dir: &Path,
    runtime: &tokio::runtime::Runtime,
    bodies: &[Vec<u8>],
    merged: &Batch,
    total: u64,
    clients: usize,
) {
    let delay_ms = env("BENCH_BATCH_DELAY_MS", 1000);
    let front = ClickHouseFront::start(dir.join("clickhouse")).unwrap();
    let config = |database: &str| {
        let mut config =
            ClickHouseConfig::from_url(&format!("{}/{database}", front.url())).unwrap();
        config.spool.dir = dir.join(format!("spool-{database}"));
        config.options.batch_delay = Duration::from_millis(delay_ms as u64);
        config
    };
    let handler = runtime.block_on(async {
        let metrics = Arc::new(Metrics::default());
        let store =
            Store::open_clickhouse(&config("bench_collector"), 10_000_000, Arc::clone(&metrics))
                .await
                .unwrap();
        through_handler(store, metrics, bodies, total, clients).await
    });
    // Baseline: the same rows, decoded, posted straight to the front as one INSERT per table.
    let direct = runtime.block_on(async {
        let direct = config("bench_direct");
        clickhouse::insert_directly(&direct, &[]).await.unwrap();
        let started = Instant::now();
        clickhouse::insert_directly(&direct, std::slice::from_ref(merged))
            .await
            .unwrap();
        total as f64 / started.elapsed().as_secs_f64()
    });
    let stored = runtime.block_on(async {
        let count = |db: &'static str| {
            let client = front.client().with_database(db);
            async move {
                client
                    .query("SELECT count() FROM otel_metrics_sum")
                    .fetch_one::<u64>()
                    .await
                    .unwrap()
            }
        };
        (count("bench_collector").await, count("bench_direct").await)
    });
    assert_eq!(
        stored,
        (total, total),
        "rows in ClickHouse (collector, direct)"
    );
    report("clickhouse", handler, direct);
}

fn main() {
    let batches = env("BENCH_BATCHES", 50);
    let points = env("BENCH_POINTS", 2_000);
    let series = env("BENCH_SERIES", 100);
    let clients = env("BENCH_CONCURRENCY", 8);
    let stores = std::env::var("BENCH_STORES").unwrap_or_else(|_| "sqlite,clickhouse".to_owned());
    let total = (batches * points) as u64;
    // Each request a stretch of time of its own, ending before now.
    let span_s = (points.div_ceil(series.max(1)) + 2) as u64;
    let now_s = now_ns() / 1_000_000_000;
    let bodies: Vec<Vec<u8>> = (0..batches)
        .map(|i| counters(points, series, now_s - (batches - i) as u64 * span_s).encode_to_vec())
        .collect();
    let mut merged = Batch::default();
    for body in &bodies {
        merged.metrics.extend(
            decode_metrics(body, Encoding::Protobuf)
                .unwrap()
                .batch
                .metrics,
        );
    }
    assert_eq!(merged.metrics.len() as u64, total);
    println!(
        "metrics bench: {batches} requests x {points} counter points in {series} series ({:.1} MiB of OTLP protobuf), {clients} concurrent clients",
        bodies.iter().map(Vec::len).sum::<usize>() as f64 / (1 << 20) as f64,
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    for store in stores.split(',') {
        match store.trim() {
            "sqlite" => sqlite(dir.path(), &runtime, &bodies, &merged, total, clients),
            "clickhouse" => clickhouse(dir.path(), &runtime, &bodies, &merged, total, clients),
            other => panic!("BENCH_STORES: unknown store {other}; use sqlite and/or clickhouse"),
        }
    }
}
