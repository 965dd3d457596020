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
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use clickhouse::Row;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, InstrumentationScope, KeyValue, any_value::Value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::Event;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use serde::Deserialize;
use tower::ServiceExt;
use tracewire_collector::decode::{Encoding, decode_traces};
use tracewire_collector::metrics::Metrics;
use tracewire_collector::receive::{Ingest, router};
use tracewire_collector::store::Store;
use tracewire_collector::store::clickhouse::{ClickHouseConfig, insert_directly};
use tracewire_e2e::clickhouse_front::ClickHouseFront;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn text(key: &str, value: impl Into<String>) -> KeyValue {
    kv(key, Value::StringValue(value.into()))
}

/// One request: `spans` spans in traces of 8, each with 15 attributes and 3 events (the shape
/// of the SQLite ingest benchmark), starting about now.
fn batch(index: usize, spans: usize, base: u64) -> ExportTraceServiceRequest {
    let base = base + (index as u64) * 1_000_000_000;
    let spans = (0..spans)
        .map(|i| {
            let n = index * spans + i;
            let mut trace_id = [0u8; 16];
            trace_id[..8].copy_from_slice(&(n as u64 / 8 + 1).to_be_bytes());
            trace_id[8..].copy_from_slice(&0x7261_6365_7769_7265u64.to_be_bytes());
            let start = base + (i as u64) * 1_000;
            Span {
                trace_id: trace_id.to_vec(),
                span_id: (n as u64 + 1).to_be_bytes().to_vec(),
                parent_span_id: if n.is_multiple_of(8) {
                    vec![]
                } else {
                    ((n - n % 8) as u64 + 1).to_be_bytes().to_vec()
                },
                name: [
                    "ws.send chat",
                    "ws.receive chat",
                    "GET /api/agents",
                    "db.query",
                    "agent.run",
                ][i % 5]
                    .into(),
                kind: (i % 5) as i32 + 1,
                start_time_unix_nano: start,
                end_time_unix_nano: start + 250_000 + (i as u64 % 97) * 10_000,
                attributes: vec![
                    text("http.request.method", "GET"),
                    text("http.route", "/api/agents/{id}"),
                    kv("http.response.status_code", Value::IntValue(200)),
                    text(
                        "url.full",
                        format!("https://app.example.com/api/agents/{i}"),
                    ),
                    text("server.address", "api.internal"),
                    kv("server.port", Value::IntValue(8443)),
                    text("messaging.system", "websocket"),
                    text("messaging.operation.type", "send"),
                    kv(
                        "messaging.message.body.size",
                        Value::IntValue(512 + i as i64),
                    ),
                    text("tracewire.message.type", "chat"),
                    text("session.id", format!("sess-{index:08x}")),
                    text("user.id", format!("user-{}", i % 50)),
                    text("db.system", "postgresql"),
                    kv("retry", Value::BoolValue(i % 13 == 0)),
                    kv("load", Value::DoubleValue(0.25 * (i % 4) as f64)),
                ],
                events: (0..3)
                    .map(|e| Event {
                        time_unix_nano: start + e * 50_000,
                        name: ["queued", "sent", "acked"][e as usize].into(),
                        attributes: vec![kv("bytes", Value::IntValue(128))],
                        dropped_attributes_count: 0,
                    })
                    .collect(),
                status: Some(Status {
                    message: String::new(),
                    code: if i % 50 == 0 { 2 } else { 0 },
                }),
                ..Default::default()
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    text("service.name", "agent-backend"),
                    text("service.version", "1.4.2"),
                    text("deployment.environment", "prod"),
                    text("host.name", "node-17"),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "tracewire".into(),
                    version: "0.1.0".into(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

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
    let requests: Vec<_> = (0..batches).map(|i| batch(i, spans, base)).collect();
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
        let app = router(
            Ingest {
                queue: store.queue().clone(),
                metrics,
                max_body: 64 << 20,
            },
            &[],
        );
        let bodies = Arc::new(bodies.clone());
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let workers: Vec<_> = (0..concurrency)
            .map(|_| {
                let (app, bodies, next) = (app.clone(), Arc::clone(&bodies), Arc::clone(&next));
                tokio::spawn(async move {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(body) = bodies.get(i) else { break };
                        let request = Request::post("/v1/traces")
                            .header("content-type", "application/x-protobuf")
                            .body(Body::from(body.clone()))
                            .unwrap();
                        let response = app.clone().oneshot(request).await.unwrap();
                        assert!(
                            response.status().is_success(),
                            "status {}",
                            response.status()
                        );
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.await.unwrap();
        }
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
