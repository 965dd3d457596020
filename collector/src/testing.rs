//! Test helpers shared by the collector's unit and handler tests.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use tempfile::TempDir;

use crate::config::StoreUrl;
use crate::metrics::Metrics;
use crate::model::{Attributes, Batch, SpanKind, SpanRecord, StatusCode};
use crate::store::Store;

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
        resource_attributes: Attributes::from([("service.name".to_owned(), service.to_owned())]),
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
                key: "http.route".into(),
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
                    key: "service.name".into(),
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
