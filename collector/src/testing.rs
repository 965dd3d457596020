//! Test helpers shared by the collector's unit and handler tests.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use tempfile::TempDir;
use tracewire_semconv::{attribute, resource};

use crate::metrics::Metrics;
use crate::model::{Attributes, Batch, SpanKind, SpanRecord, StatusCode};
use crate::store::{Store, StoreUrl};

/// A SQLite store in a fresh temporary directory, removed when the `TempDir` drops.
pub(crate) async fn temp_store(queue_items: usize) -> (TempDir, Arc<Store>, Arc<Metrics>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let metrics = Arc::new(Metrics::default());
    let url = StoreUrl::Sqlite(dir.path().join("tw.db"));
    let store = Store::open(&url, queue_items, Arc::clone(&metrics))
        .await
        .expect("store opens");
    (dir, Arc::new(store), metrics)
}

/// A span record with the given identity and timing; other fields plain.
pub(crate) fn span(
    trace: u8,
    span: u8,
    parent: Option<u8>,
    service: &str,
    name: &str,
    start_ns: i64,
    duration_ns: i64,
) -> SpanRecord {
    SpanRecord {
        tenant: String::new(),
        trace_id: hex::encode([trace; 16]),
        span_id: hex::encode([span; 8]),
        parent_span_id: parent.map(|p| hex::encode([p; 8])).unwrap_or_default(),
        trace_state: String::new(),
        name: name.to_owned(),
        kind: SpanKind::Server,
        service_name: service.to_owned(),
        start_ns,
        duration_ns,
        status_code: StatusCode::Unset,
        status_message: String::new(),
        scope_name: String::new(),
        scope_version: String::new(),
        resource_attributes: Attributes::from([(
            resource::SERVICE_NAME.to_owned(),
            service.to_owned(),
        )]),
        span_attributes: Attributes::new(),
        events: Vec::new(),
        links: Vec::new(),
    }
}

/// Writes spans through the store's queue and waits until they are durable.
pub(crate) async fn store_spans(store: &Store, spans: Vec<SpanRecord>) {
    let batch = Batch {
        spans,
        logs: Vec::new(),
    };
    store
        .queue()
        .try_submit(batch)
        .expect("queue has room")
        .durable()
        .await
        .expect("committed");
}

/// An OTLP export request with one span per `(trace byte, span byte)`, service `svc`.
pub(crate) fn otlp_request(ids: &[(u8, u8)]) -> ExportTraceServiceRequest {
    let spans = ids
        .iter()
        .map(|(t, s)| Span {
            trace_id: vec![*t; 16],
            span_id: vec![*s; 8],
            name: format!("op-{s}"),
            kind: 2,
            start_time_unix_nano: 1_700_000_000_000_000_000,
            end_time_unix_nano: 1_700_000_000_005_000_000,
            attributes: vec![KeyValue {
                key: attribute::HTTP_ROUTE.into(),
                value: Some(AnyValue {
                    value: Some(Value::StringValue("/x".into())),
                }),
                ..Default::default()
            }],
            status: Some(Status {
                message: String::new(),
                code: 0,
            }),
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: resource::SERVICE_NAME.into(),
                    value: Some(AnyValue {
                        value: Some(Value::StringValue("svc".into())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

const MS: i64 = 1_000_000;

/// A browser span (the SDK's resource, session `sess-1`) of this kind.
pub(crate) fn browser(mut s: SpanRecord, kind: SpanKind) -> SpanRecord {
    s.kind = kind;
    s.resource_attributes.insert(
        resource::TELEMETRY_SDK_LANGUAGE.into(),
        resource::BROWSER_SDK_LANGUAGE.into(),
    );
    s.span_attributes
        .insert(attribute::SESSION_ID.into(), "sess-1".into());
    s
}

/// One exchange in trace 1: the browser send S at 0 (browser clock), the backend span B at
/// 3 ms + offset with a db child, the reply R at 10 ms (browser clock) and its processing P.
pub(crate) fn one_exchange(offset: i64) -> Vec<SpanRecord> {
    let send = browser(
        span(1, 1, None, "web", "ws.send chat", 0, 0),
        SpanKind::Producer,
    );
    let mut server = span(
        1,
        2,
        Some(1),
        "api",
        "ws.receive chat",
        3 * MS + offset,
        4 * MS,
    );
    server.kind = SpanKind::Consumer;
    let db = span(1, 3, Some(2), "api", "db.query", 4 * MS + offset, 2 * MS);
    let reply = browser(
        span(1, 4, Some(2), "web", "ws.receive chat.reply", 10 * MS, 0),
        SpanKind::Consumer,
    );
    let process = browser(
        span(1, 5, Some(4), "web", "ws.process chat.reply", 10 * MS, MS),
        SpanKind::Consumer,
    );
    vec![process, reply, db, server, send]
}
