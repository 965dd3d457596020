//! Ingest benchmark: OTLP protobuf batches of realistic spans through the HTTP handler into the
//! SQLite store, against the same rows inserted straight into SQLite, in one run.
//!
//! `cargo bench -p tracewire-collector --bench ingest` (set `BENCH_BATCHES`, `BENCH_SPANS`,
//! `BENCH_CONCURRENCY` to change the load).

#![allow(missing_docs, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Instant;

use prost::Message;
use tracewire_collector::decode::{Encoding, decode_traces};
use tracewire_collector::metrics::Metrics;
use tracewire_collector::store::sqlite::insert_directly;
use tracewire_collector::store::{Store, StoreUrl};
use tracewire_collector::testing::load::{env_or as env, ingest_router, post_concurrently, traces};

/// Start of the first export's spans.
const BASE_NS: u64 = 1_763_000_000_000_000_000;

fn main() {
    let batches = env("BENCH_BATCHES", 200);
    let spans = env("BENCH_SPANS", 500);
    let concurrency = env("BENCH_CONCURRENCY", 8);
    let total = (batches * spans) as f64;
    let bodies: Vec<Vec<u8>> = (0..batches)
        .map(|i| traces(i, spans, BASE_NS).encode_to_vec())
        .collect();
    let body_bytes: usize = bodies.iter().map(Vec::len).sum();
    println!(
        "ingest bench: {batches} batches x {spans} spans ({:.1} MiB of OTLP protobuf), {concurrency} concurrent clients",
        body_bytes as f64 / (1 << 20) as f64
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();

    // Full path: HTTP handler (decode, queue, grouped commit) into the SQLite store.
    let handler_rate = runtime.block_on(async {
        let metrics = Arc::new(Metrics::default());
        let store = Store::open(
            &StoreUrl::Sqlite(dir.path().join("handler.db")),
            1_000_000,
            Arc::clone(&metrics),
        )
        .await
        .unwrap();
        let app = ingest_router(&store, metrics);
        let bodies = Arc::new(bodies.clone());
        let started = Instant::now();
        post_concurrently(app, bodies, concurrency).await;
        let elapsed = started.elapsed();
        store.shutdown().await.unwrap();
        total / elapsed.as_secs_f64()
    });

    // Baseline: the same rows, already decoded, inserted straight into SQLite.
    let decoded: Vec<_> = bodies
        .iter()
        .map(|b| decode_traces(b, Encoding::Protobuf).unwrap().batch)
        .collect();
    let started = Instant::now();
    insert_directly(&dir.path().join("direct.db"), &decoded).unwrap();
    let direct_rate = total / started.elapsed().as_secs_f64();

    let size = |name: &str| {
        ["", "-wal"]
            .iter()
            .filter_map(|suffix| std::fs::metadata(dir.path().join(format!("{name}{suffix}"))).ok())
            .map(|m| m.len())
            .sum::<u64>()
    };
    println!("through the HTTP handler into SQLite: {handler_rate:>10.0} spans/s");
    println!("straight into SQLite (same rows):     {direct_rate:>10.0} spans/s");
    println!(
        "ratio handler / direct:               {:>10.2}",
        handler_rate / direct_rate
    );
    println!(
        "bytes per span on disk (handler db):  {:>10.0}",
        size("handler.db") as f64 / total
    );
}
