use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

use super::{Api, router};
use crate::model::{SpanEvent, StatusCode as SpanStatus};
use crate::testing::{span, store_spans, temp_store};

async fn app() -> (tempfile::TempDir, Router, Arc<AtomicBool>) {
    let (dir, store, metrics) = temp_store(1_000).await;
    let mut root = span(
        1,
        1,
        None,
        "web",
        "click",
        1_700_000_000_000_000_000,
        2_000_000,
    );
    root.events.push(SpanEvent {
        time_ns: 1_700_000_000_000_500_000,
        name: "sent".into(),
        attributes: Default::default(),
    });
    let mut child = span(
        1,
        2,
        Some(1),
        "api",
        "handle",
        1_700_000_000_000_100_000,
        1_000_000,
    );
    child.status_code = SpanStatus::Error;
    store_spans(
        &store,
        vec![
            child,
            root,
            span(2, 1, None, "web", "scroll", 1_700_000_001_000_000_000, 10),
        ],
    )
    .await;
    let ready = Arc::new(AtomicBool::new(true));
    let app = router(Api {
        store,
        metrics,
        ready: Arc::clone(&ready),
    });
    (dir, app, ready)
}

async fn get(app: &Router, uri: &str) -> (StatusCode, String) {
    let response = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
        .await
        .expect("response");
    let status = response.status();
    let bytes = to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (status, String::from_utf8(bytes.to_vec()).expect("utf-8"))
}

async fn get_json(app: &Router, uri: &str) -> (StatusCode, Value) {
    let (status, text) = get(app, uri).await;
    (status, serde_json::from_str(&text).expect("JSON body"))
}

#[tokio::test]
async fn trace_by_id_lists_spans_by_start_with_string_timestamps() {
    let (_dir, app, _) = app().await;
    let id = hex::encode([1u8; 16]);
    let (status, body) = get_json(&app, &format!("/api/traces/{}", id.to_uppercase())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["trace_id"], id);
    let spans = body["spans"].as_array().expect("spans");
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[0]["name"], "click");
    assert_eq!(spans[0]["start_time_unix_nano"], "1700000000000000000");
    assert_eq!(spans[0]["end_time_unix_nano"], "1700000000002000000");
    assert_eq!(spans[0]["duration_ns"], 2_000_000);
    assert_eq!(
        spans[0]["events"][0]["time_unix_nano"],
        "1700000000000500000"
    );
    assert_eq!(spans[1]["parent_span_id"], hex::encode([1u8; 8]));
    assert_eq!(spans[1]["status_code"], "Error");
    assert_eq!(spans[1]["kind"], "Server");
    assert_eq!(spans[1]["resource_attributes"]["service.name"], "api");
}

#[tokio::test]
async fn unknown_trace_is_404_and_malformed_id_is_400() {
    let (_dir, app, _) = app().await;
    let (status, body) = get_json(&app, &format!("/api/traces/{}", hex::encode([7u8; 16]))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "trace_not_found");
    let (status, body) = get_json(&app, "/api/traces/not-a-trace").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_trace_id");
}

#[tokio::test]
async fn search_returns_summaries_and_rejects_bad_parameters() {
    let (_dir, app, _) = app().await;
    let (status, body) = get_json(&app, "/api/traces?status=error").await;
    assert_eq!(status, StatusCode::OK);
    let traces = body["traces"].as_array().expect("traces");
    assert_eq!(traces.len(), 1);
    assert_eq!(traces[0]["root_service"], "web");
    assert_eq!(traces[0]["root_name"], "click");
    assert_eq!(traces[0]["span_count"], 2);
    assert_eq!(traces[0]["has_error"], true);
    assert_eq!(traces[0]["duration_ns"], 2_000_000);
    let (_, body) = get_json(&app, "/api/traces?service=web&min_duration_ms=1").await;
    assert_eq!(body["traces"].as_array().expect("traces").len(), 1);
    let (status, body) = get_json(&app, "/api/traces?limit=0").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_limit"))
    );
    let (status, body) = get_json(&app, "/api/traces?servce=web").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_query"))
    );
}

#[tokio::test]
async fn services_are_listed() {
    let (_dir, app, _) = app().await;
    let (status, body) = get_json(&app, "/api/services").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["services"][1]["name"], "web");
    assert_eq!(body["services"][1]["span_count"], 2);
    assert_eq!(
        body["services"][1]["last_seen_unix_nano"],
        "1700000001000000000"
    );
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let (_dir, app, ready) = app().await;
    assert_eq!(get(&app, "/healthz").await.0, StatusCode::OK);
    assert_eq!(get(&app, "/readyz").await.0, StatusCode::OK);
    ready.store(false, Ordering::Release);
    assert_eq!(
        get(&app, "/readyz").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let (status, text) = get(&app, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        text.contains(r#"tracewire_stored_items_total{signal="traces"} 3"#),
        "{text}"
    );
    assert!(
        text.contains("tracewire_write_queue_capacity 1000"),
        "{text}"
    );
}
