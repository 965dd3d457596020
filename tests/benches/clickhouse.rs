//! ClickHouse benchmark (not a test): OTLP protobuf batches through the collector's HTTP handler,
//! spool and shipper into ClickHouse (the real engine behind the test front), against the same
//! rows inserted straight through the front, in one run; then bytes per span on disk and the
//! compression ratio against the OTLP/JSON of the same spans, from `system.parts`.
//!
//! `cargo bench -p tracewire-e2e --bench clickhouse` (set `BENCH_BATCHES`, `BENCH_SPANS`,
//! `BENCH_CONCURRENCY` to change the load, `BENCH_BATCH_DELAY_MS` for the shipper's
//! `--clickhouse-batch-delay`, default 1000). Needs the Python packages of
//! `tests/requirements.txt`.

#![allow(missing_docs, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use clickhouse::Row;
use prost::Message;
use serde::Deserialize;
use tracewire_collector::decode::{Encoding, decode_traces};
use tracewire_collector::metrics::Metrics;
use tracewire_collector::store::Store;
use tracewire_collector::store::clickhouse::{ClickHouseConfig, insert_directly};
use tracewire_collector::testing::load::{env_or as env, ingest_router, post_concurrently, traces};
use tracewire_e2e::clickhouse_front::ClickHouseFront;

#[derive(Row, Deserialize)]
struct PartsRow {
    rows: u64,
    on_disk: u64,
    uncompressed: u64,
}

/// Spans the store counted as confirmed by ClickHouse.
fn stored_spans(metrics: &Metrics) -> u64 {
    const LINE: &str = "tracewire_stored_items_total{signal=\"traces\"} ";
    metrics
        .render(0, 0)
        .lines()
        .find_map(|line| line.strip_prefix(LINE))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

async fn parts(client: &clickhouse::Client, table: &str) -> PartsRow {
    client
        .query(
            "SELECT sum(rows) AS rows, sum(bytes_on_disk) AS on_disk, \
             sum(data_uncompressed_bytes) AS uncompressed FROM system.parts \
             WHERE database = currentDatabase() AND table = {t:String} AND active",
        )
        .param("t", table)
        .fetch_one()
        .await
        .unwrap()
}

fn main() {
    let batches = env("BENCH_BATCHES", 100);
    let spans = env("BENCH_SPANS", 500);
    let concurrency = env("BENCH_CONCURRENCY", 8);
    let delay_ms = env("BENCH_BATCH_DELAY_MS", 1000);
    let total = batches * spans;
    let base = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    )
    .unwrap()
        - 3_600_000_000_000;
    let requests: Vec<_> = (0..batches).map(|i| traces(i, spans, base)).collect();
    let bodies: Vec<Vec<u8>> = requests.iter().map(Message::encode_to_vec).collect();
    let json_bytes: usize = requests
        .iter()
        .map(|r| serde_json::to_vec(r).unwrap().len())
        .sum();
    println!(
        "clickhouse bench: {batches} batches x {spans} spans ({:.1} MiB OTLP protobuf, {:.1} MiB OTLP/JSON), {concurrency} concurrent clients, batch delay {delay_ms} ms",
        bodies.iter().map(Vec::len).sum::<usize>() as f64 / (1 << 20) as f64,
        json_bytes as f64 / (1 << 20) as f64,
    );

    let dir = tempfile::tempdir().unwrap();
    let front = ClickHouseFront::start(dir.path().join("clickhouse")).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = |database: &str| {
        let mut config =
            ClickHouseConfig::from_url(&format!("{}/{database}", front.url())).unwrap();
        config.spool.dir = dir.path().join(format!("spool-{database}"));
        config.options.batch_delay = Duration::from_millis(delay_ms as u64);
        config
    };

    // Full path: HTTP handler (decode, queue, fsynced spool) and shipper into ClickHouse.
    let (ack_rate, collector_rate) = runtime.block_on(async {
        let metrics = Arc::new(Metrics::default());
        let counters = Arc::clone(&metrics);
        let store =
            Store::open_clickhouse(&config("bench_collector"), 1_000_000, Arc::clone(&metrics))
                .await
                .unwrap();
        let app = ingest_router(&store, metrics);
        let bodies = Arc::new(bodies.clone());
        let started = Instant::now();
        post_concurrently(app, bodies, concurrency).await;
        let acked = started.elapsed();
        // The store's own count of rows ClickHouse confirmed: polling ClickHouse itself would
        // queue behind the INSERTs in the single-threaded front.
        while stored_spans(&counters) < total as u64 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let stored = started.elapsed();
        store.shutdown().await.unwrap();
        (
            total as f64 / acked.as_secs_f64(),
            total as f64 / stored.as_secs_f64(),
        )
    });

    // Baseline: the same rows, already decoded, in one INSERT straight through the front.
    let decoded: Vec<_> = bodies
        .iter()
        .map(|b| decode_traces(b, Encoding::Protobuf).unwrap().batch)
        .collect();
    let direct_rate = runtime.block_on(async {
        let direct = config("bench_direct");
        // Schema first, outside the timing.
        insert_directly(&direct, &[]).await.unwrap();
        let started = Instant::now();
        insert_directly(&direct, &decoded).await.unwrap();
        total as f64 / started.elapsed().as_secs_f64()
    });

    let (traces, ids) = runtime.block_on(async {
        let client = front.client().with_database("bench_collector");
        client
            .query("OPTIMIZE TABLE otel_traces FINAL")
            .execute()
            .await
            .unwrap();
        (
            parts(&client, "otel_traces").await,
            parts(&client, "otel_traces_trace_id_ts").await,
        )
    });
    assert_eq!(traces.rows, total as u64);
    println!("acknowledged by the collector (spooled):     {ack_rate:>10.0} spans/s");
    println!("through the collector into ClickHouse:       {collector_rate:>10.0} spans/s");
    println!("straight into ClickHouse (same rows):        {direct_rate:>10.0} spans/s");
    println!(
        "ratio collector / direct:                    {:>10.2}",
        collector_rate / direct_rate
    );
    println!(
        "bytes per span on disk (otel_traces):        {:>10.1}",
        traces.on_disk as f64 / total as f64
    );
    println!(
        "  with otel_traces_trace_id_ts:              {:>10.1}",
        (traces.on_disk + ids.on_disk) as f64 / total as f64
    );
    println!(
        "compression vs OTLP/JSON (otel_traces):      {:>10.1}x",
        json_bytes as f64 / traces.on_disk as f64
    );
    println!(
        "compression vs uncompressed columns:         {:>10.1}x",
        traces.uncompressed as f64 / traces.on_disk as f64
    );
    drop(front);
}
