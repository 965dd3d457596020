use std::io::Write;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use flate2::Compression;
use flate2::write::GzEncoder;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use tower::ServiceExt;

use super::{Ingest, router};
use crate::config::CorsOrigin;
use crate::model::Batch;
use crate::store::WriteQueue;
use crate::testing::{otlp_request, reads, temp_store};

const MAX_BODY: usize = 64 << 10;

async fn app(
    origins: &[CorsOrigin],
) -> (
    tempfile::TempDir,
    Router,
    std::sync::Arc<crate::store::Store>,
) {
    let (dir, store, metrics) = temp_store(1_000).await;
    let ingest = Ingest {
        queue: store.queue().clone(),
        metrics,
        max_body: MAX_BODY,
        access: std::sync::Arc::new(crate::access::Access::open_to_all()),
    };
    (dir, router(ingest, origins), store)
}

fn post(path: &str, content_type: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, content_type)
        .body(body.into())
        .expect("request")
}

async fn body_bytes(response: Response) -> Vec<u8> {
    to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body")
        .to_vec()
}

/// The `google.rpc.Status` fields of an error body, decoded per its content type.
async fn rpc_status(response: Response) -> (i32, String) {
    let protobuf = response.headers()[header::CONTENT_TYPE] == "application/x-protobuf";
    let bytes = body_bytes(response).await;
    status_fields(protobuf, &bytes)
}

/// The `google.rpc.Status` fields of an error body in protobuf or in JSON.
pub(super) fn status_fields(protobuf: bool, bytes: &[u8]) -> (i32, String) {
    if protobuf {
        #[derive(Clone, PartialEq, Message)]
        struct Status {
            #[prost(int32, tag = "1")]
            code: i32,
            #[prost(string, tag = "2")]
            message: String,
        }
        let s = Status::decode(bytes).expect("protobuf Status");
        (s.code, s.message)
    } else {
        let v: serde_json::Value = serde_json::from_slice(bytes).expect("JSON Status");
        (
            v["code"].as_i64().expect("code") as i32,
            v["message"].as_str().expect("message").to_owned(),
        )
    }
}

#[tokio::test]
async fn protobuf_request_is_stored_and_answered_in_protobuf() {
    let (_dir, app, store) = app(&[]).await;
    let body = otlp_request(&[(1, 1), (1, 2)]).encode_to_vec();
    let response = app
        .oneshot(post("/v1/traces", "application/x-protobuf", body))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/x-protobuf"
    );
    let answer = ExportTraceServiceResponse::decode(&body_bytes(response).await[..])
        .expect("protobuf response");
    assert_eq!(answer.partial_success, None);
    assert_eq!(
        reads(&store)
            .trace(&hex::encode([1u8; 16]))
            .await
            .expect("read")
            .len(),
        2,
        "durable before the 200"
    );
}

#[tokio::test]
async fn json_request_is_answered_in_json() {
    let (_dir, app, store) = app(&[]).await;
    let body = serde_json::to_vec(&otlp_request(&[(2, 1)])).expect("json");
    let response = app
        .oneshot(post("/v1/traces", "application/json", body))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    assert_eq!(body_bytes(response).await, b"{}");
    assert_eq!(
        reads(&store)
            .trace(&hex::encode([2u8; 16]))
            .await
            .expect("read")
            .len(),
        1
    );
}

#[tokio::test]
async fn beacon_text_plain_is_read_as_json() {
    let (_dir, app, store) = app(&[]).await;
    let body = serde_json::to_vec(&otlp_request(&[(3, 1)])).expect("json");
    let response = app
        .oneshot(post("/v1/traces", "text/plain;charset=UTF-8", body))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        reads(&store)
            .trace(&hex::encode([3u8; 16]))
            .await
            .expect("read")
            .len(),
        1
    );
}

#[tokio::test]
async fn gzip_request_is_decompressed() {
    let (_dir, app, store) = app(&[]).await;
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(&otlp_request(&[(4, 1)]).encode_to_vec())
        .expect("gzip");
    let request = Request::post("/v1/traces")
        .header(header::CONTENT_TYPE, "application/x-protobuf")
        .header(header::CONTENT_ENCODING, "gzip")
        .body(Body::from(gz.finish().expect("gzip")))
        .expect("request");
    let response = app.oneshot(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        reads(&store)
            .trace(&hex::encode([4u8; 16]))
            .await
            .expect("read")
            .len(),
        1
    );
}

#[tokio::test]
async fn bad_ids_give_partial_success_and_the_rest_is_kept() {
    let (_dir, app, store) = app(&[]).await;
    let mut request = otlp_request(&[(5, 1), (5, 2)]);
    request.resource_spans[0].scope_spans[0].spans[1].trace_id = vec![5; 3];
    let response = app
        .oneshot(post(
            "/v1/traces",
            "application/json",
            serde_json::to_vec(&request).expect("json"),
        ))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    let answer: serde_json::Value =
        serde_json::from_slice(&body_bytes(response).await).expect("json");
    assert_eq!(answer["partialSuccess"]["rejectedSpans"], 1);
    assert!(
        answer["partialSuccess"]["errorMessage"]
            .as_str()
            .expect("message")
            .contains("trace_id must be 16 bytes")
    );
    assert_eq!(
        reads(&store)
            .trace(&hex::encode([5u8; 16]))
            .await
            .expect("read")
            .len(),
        1
    );
}

#[tokio::test]
async fn logs_are_accepted() {
    let (_dir, app, _store) = app(&[]).await;
    let json = r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"1","body":{"stringValue":"hi"}}]}]}]}"#;
    let response = app
        .oneshot(post("/v1/logs", "application/json", json))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn garbage_protobuf_is_400_with_a_protobuf_status() {
    let (_dir, app, _store) = app(&[]).await;
    let response = app
        .oneshot(post(
            "/v1/traces",
            "application/x-protobuf",
            vec![0xff, 0xff, 0xff, 0x01],
        ))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let (code, message) = rpc_status(response).await;
    assert_eq!(code, 3);
    assert!(message.starts_with("invalid protobuf"), "{message}");
}

#[tokio::test]
async fn wrong_json_types_are_400_with_a_json_status() {
    let (_dir, app, _store) = app(&[]).await;
    let response = app
        .oneshot(post(
            "/v1/traces",
            "application/json",
            r#"{"resourceSpans":"nope"}"#,
        ))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let (_, message) = rpc_status(response).await;
    assert!(message.contains("invalid OTLP/JSON"), "{message}");
}

#[tokio::test]
async fn body_over_the_limit_is_413_before_and_after_decompression() {
    let (_dir, app, _store) = app(&[]).await;
    let response = app
        .clone()
        .oneshot(post(
            "/v1/traces",
            "application/x-protobuf",
            vec![0u8; MAX_BODY + 1],
        ))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    gz.write_all(&vec![b' '; 10 * MAX_BODY]).expect("gzip");
    let bomb = Request::post("/v1/traces")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_ENCODING, "gzip")
        .body(Body::from(gz.finish().expect("gzip")))
        .expect("request");
    let response = app.oneshot(bomb).await.expect("response");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(rpc_status(response).await.1.contains("after decompression"));
}

#[tokio::test]
async fn unsupported_content_type_or_encoding_is_415() {
    let (_dir, app, _store) = app(&[]).await;
    let response = app
        .clone()
        .oneshot(post("/v1/traces", "application/xml", "<x/>"))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let request = Request::post("/v1/traces")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_ENCODING, "br")
        .body(Body::from("{}"))
        .expect("request");
    let response = app.oneshot(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(rpc_status(response).await.1.contains("'br'"));
}

#[tokio::test]
async fn other_methods_are_405() {
    let (_dir, app, _store) = app(&[]).await;
    let response = app
        .oneshot(
            Request::get("/v1/traces")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn full_queue_is_503_with_retry_after() {
    let (_dir, store, metrics) = temp_store(10).await;
    // A queue nobody drains, filled up: the next request must be refused, not wait.
    let (queue, _, _writer) = WriteQueue::new::<()>(1);
    let _held = queue.try_submit(Batch::default()).expect("room for one");
    let _ = store;
    let app = router(
        Ingest {
            queue,
            metrics: std::sync::Arc::clone(&metrics),
            max_body: MAX_BODY,
            access: std::sync::Arc::new(crate::access::Access::open_to_all()),
        },
        &[],
    );
    let body = otlp_request(&[(6, 1)]).encode_to_vec();
    let response = app
        .oneshot(post("/v1/traces", "application/x-protobuf", body))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    assert_eq!(rpc_status(response).await.0, 14);
    assert!(
        metrics
            .render(0, 0)
            .contains(r#"tracewire_refused_items_total{signal="traces",reason="queue_full"} 1"#)
    );
}

#[tokio::test]
async fn cors_preflight_allows_configured_origins_only() {
    let origins = ["http://app.test:5173".parse().expect("origin")];
    let (_dir, app, _store) = app(&origins).await;
    let preflight = |origin: &str| {
        Request::options("/v1/traces")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(
                header::ACCESS_CONTROL_REQUEST_HEADERS,
                "content-type,content-encoding,traceparent",
            )
            .body(Body::empty())
            .expect("request")
    };
    let response = app
        .clone()
        .oneshot(preflight("http://app.test:5173"))
        .await
        .expect("response");
    assert!(response.status().is_success());
    let h = response.headers();
    assert_eq!(
        h[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://app.test:5173"
    );
    assert_eq!(h[header::ACCESS_CONTROL_MAX_AGE], "7200");
    let allowed = h[header::ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .expect("ascii");
    for name in ["content-type", "content-encoding", "traceparent"] {
        assert!(allowed.contains(name), "{allowed}");
    }
    let response = app
        .oneshot(preflight("http://evil.test"))
        .await
        .expect("response");
    assert!(
        response
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );
}

#[tokio::test]
async fn metrics_are_stored_from_json_and_protobuf_with_partial_success_for_bad_points() {
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;

    use crate::model::MetricCatalogQuery;
    use crate::testing::otlp_metrics;

    let (_dir, app, store) = app(&[]).await;
    let json = otlp_metrics(&[(1_700_000_010, 3), (0, 4)]);
    let response = app
        .clone()
        .oneshot(post(
            "/v1/metrics",
            "application/json",
            serde_json::to_vec(&json).expect("json"),
        ))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    let answer: serde_json::Value =
        serde_json::from_slice(&body_bytes(response).await).expect("json");
    assert_eq!(answer["partialSuccess"]["rejectedDataPoints"], 1);

    let protobuf = otlp_metrics(&[(1_700_000_020, 5)]).encode_to_vec();
    let response = app
        .oneshot(post("/v1/metrics", "application/x-protobuf", protobuf))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    let answer =
        ExportMetricsServiceResponse::decode(&body_bytes(response).await[..]).expect("protobuf");
    assert_eq!(answer.partial_success, None);

    let points = store
        .reader(crate::store::Scope::default())
        .metric_points(&crate::model::MetricPointQuery {
            name: "requests".into(),
            kind: crate::model::MetricKind::Sum,
            service: Some("svc".into()),
            attributes: vec![("route".into(), "/x".into())],
            start_ns: 1_700_000_000_000_000_000,
            end_ns: 1_700_000_100_000_000_000,
            limit: 10,
        })
        .await
        .expect("reads");
    let mut times: Vec<i64> = points.iter().map(|p| p.time_ns).collect();
    times.sort_unstable();
    assert_eq!(
        times,
        [1_700_000_010_000_000_000, 1_700_000_020_000_000_000]
    );
    let catalog = store
        .reader(crate::store::Scope::default())
        .metric_catalog(&MetricCatalogQuery {
            search: Some("REQ".into()),
            start_ns: 1_700_000_000_000_000_000,
            end_ns: 1_700_000_100_000_000_000,
            ..Default::default()
        })
        .await
        .expect("reads");
    assert_eq!(catalog[0].attribute_keys, ["route"]);
}
