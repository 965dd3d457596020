//! The benchmarks' load: realistic OTLP trace exports, and clients posting them concurrently
//! through the ingest router (no sockets), so that the ingest benchmark (SQLite) and the
//! ClickHouse benchmark measure the same requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, any_value::Value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::Event;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use tower::ServiceExt;
use tracewire_semconv::{attribute, resource, value};

use super::otlp::{attr, text};
use crate::metrics::Metrics;
use crate::receive::{Ingest, router};
use crate::store::Store;

/// A number from the environment variable `name` (a benchmark's knob), else `default`.
pub fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Export `index` of a load: `spans` spans in traces of 8, each with 15 attributes and 3
/// events, starting at `base_ns` plus a second per export.
pub fn traces(index: usize, spans: usize, base_ns: u64) -> ExportTraceServiceRequest {
    let base = base_ns + (index as u64) * 1_000_000_000;
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
                    text(attribute::HTTP_REQUEST_METHOD, "GET"),
                    text(attribute::HTTP_ROUTE, "/api/agents/{id}"),
                    attr(attribute::HTTP_RESPONSE_STATUS_CODE, Value::IntValue(200)),
                    text(
                        attribute::URL_FULL,
                        format!("https://app.example.com/api/agents/{i}"),
                    ),
                    text("server.address", "api.internal"),
                    attr("server.port", Value::IntValue(8443)),
                    text(
                        attribute::MESSAGING_SYSTEM,
                        value::MESSAGING_SYSTEM_WEBSOCKET,
                    ),
                    text(attribute::MESSAGING_OPERATION_TYPE, value::OPERATION_SEND),
                    attr(
                        attribute::MESSAGING_MESSAGE_BODY_SIZE,
                        Value::IntValue(512 + i as i64),
                    ),
                    text(attribute::WS_MESSAGE_TYPE, "chat"),
                    text(attribute::SESSION_ID, format!("sess-{index:08x}")),
                    text(attribute::USER_ID, format!("user-{}", i % 50)),
                    text("db.system", "postgresql"),
                    attr("retry", Value::BoolValue(i % 13 == 0)),
                    attr("load", Value::DoubleValue(0.25 * (i % 4) as f64)),
                ],
                events: (0..3)
                    .map(|e| Event {
                        time_unix_nano: start + e * 50_000,
                        name: ["queued", "sent", "acked"][e as usize].into(),
                        attributes: vec![attr("bytes", Value::IntValue(128))],
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
                    text(resource::SERVICE_NAME, "agent-backend"),
                    text(resource::SERVICE_VERSION, "1.4.2"),
                    text(resource::DEPLOYMENT_ENVIRONMENT, "prod"),
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

/// The ingest router in front of `store`, with a 64 MiB body limit and no CORS.
pub fn ingest_router(store: &Store, metrics: Arc<Metrics>) -> Router {
    router(
        Ingest {
            queue: store.queue().clone(),
            metrics,
            max_body: 64 << 20,
            access: Arc::new(crate::access::Access::open_to_all()),
        },
        &[],
    )
}

/// Posts every body (OTLP protobuf traces) to `app` from `clients` concurrent clients, each
/// taking the next body until none is left; panics on any answer but success.
pub async fn post_concurrently(app: Router, bodies: Arc<Vec<Vec<u8>>>, clients: usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (app, bodies, next) = (app.clone(), Arc::clone(&bodies), Arc::clone(&next));
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else { break };
                    let request = Request::post("/v1/traces")
                        .header("content-type", "application/x-protobuf")
                        .body(Body::from(body.clone()))
                        .expect("request");
                    let response = app.clone().oneshot(request).await.expect("answered");
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
        worker.await.expect("client finished");
    }
}
