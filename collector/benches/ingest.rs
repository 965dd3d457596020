//! Ingest benchmark: OTLP protobuf batches of realistic spans through the HTTP handler into the
//! SQLite store, against the same rows inserted straight into SQLite, in one run.
//!
//! `cargo bench -p tracewire-collector --bench ingest` (set `BENCH_BATCHES`, `BENCH_SPANS`,
//! `BENCH_CONCURRENCY` to change the load).

#![allow(missing_docs, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::Request;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, InstrumentationScope, KeyValue, any_value::Value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::Event;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use tower::ServiceExt;
use tracewire_collector::decode::{Encoding, decode_traces};
use tracewire_collector::metrics::Metrics;
use tracewire_collector::receive::{Ingest, router};
use tracewire_collector::store::Store;
use tracewire_collector::store::StoreUrl;
use tracewire_collector::store::sqlite::insert_directly;

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

/// One request: `spans` spans over `spans / 8` traces, each with 15 attributes and 3 events.
fn batch(index: usize, spans: usize) -> ExportTraceServiceRequest {
    let base = 1_763_000_000_000_000_000u64 + (index as u64) * 1_000_000_000;
    let spans = (0..spans)
        .map(|i| {
            let trace = (index * spans + i) / 8;
            let mut trace_id = [0u8; 16];
            trace_id[..8].copy_from_slice(&(trace as u64 + 1).to_be_bytes());
            trace_id[8..].copy_from_slice(&(index as u64 + 7).to_be_bytes());
            let start = base + (i as u64) * 1_000;
            Span {
                trace_id: trace_id.to_vec(),
                span_id: ((index * spans + i) as u64 + 1).to_be_bytes().to_vec(),
                parent_span_id: if i % 8 == 0 {
                    vec![]
                } else {
                    ((index * spans + i - i % 8) as u64 + 1)
                        .to_be_bytes()
                        .to_vec()
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
                    kv("http.request.method", Value::StringValue("GET".into())),
                    kv("http.route", Value::StringValue("/api/agents/{id}".into())),
                    kv("http.response.status_code", Value::IntValue(200)),
                    kv(
                        "url.full",
                        Value::StringValue(format!("https://app.example.com/api/agents/{i}")),
                    ),
                    kv("server.address", Value::StringValue("api.internal".into())),
                    kv("server.port", Value::IntValue(8443)),
                    kv("messaging.system", Value::StringValue("websocket".into())),
                    kv(
                        "messaging.operation.type",
                        Value::StringValue("send".into()),
                    ),
                    kv(
                        "messaging.message.body.size",
                        Value::IntValue(512 + i as i64),
                    ),
                    kv("tracewire.message.type", Value::StringValue("chat".into())),
                    kv(
                        "session.id",
                        Value::StringValue(format!("sess-{:08x}", index)),
                    ),
                    kv("user.id", Value::StringValue(format!("user-{}", i % 50))),
                    kv("db.system", Value::StringValue("postgresql".into())),
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
                    kv("service.name", Value::StringValue("agent-backend".into())),
                    kv("service.version", Value::StringValue("1.4.2".into())),
                    kv("deployment.environment", Value::StringValue("prod".into())),
                    kv("host.name", Value::StringValue("node-17".into())),
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

fn main() {
    let batches = env("BENCH_BATCHES", 200);
    let spans = env("BENCH_SPANS", 500);
    let concurrency = env("BENCH_CONCURRENCY", 8);
    let total = (batches * spans) as f64;
    let bodies: Vec<Vec<u8>> = (0..batches)
        .map(|i| batch(i, spans).encode_to_vec())
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
        let app = router(
            Ingest {
                queue: store.queue().clone(),
                metrics,
                max_body: 64 << 20,
            },
            &[],
        );
        let bodies = Arc::new(bodies.clone());
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let started = Instant::now();
        let workers: Vec<_> = (0..concurrency)
            .map(|_| {
                let (app, bodies, next) = (app.clone(), Arc::clone(&bodies), Arc::clone(&next));
                tokio::spawn(async move {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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
