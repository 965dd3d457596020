use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

use super::super::{Api, router};
use crate::model::LogRecord;
use crate::store::Store;
use crate::testing::{log, store_logs, temp_store};

const T0: i64 = 1_763_700_000_000_000_000;
const SECOND: i64 = 1_000_000_000;

fn api(store: Arc<Store>, metrics: Arc<crate::metrics::Metrics>) -> Router {
    router(Api {
        alerts: crate::testing::alerts(&store),
        store,
        metrics,
        ready: Arc::new(AtomicBool::new(true)),
        reads: Default::default(),
        guard: Default::default(),
    })
}

/// A browser error in a trace and a session, a backend warning in the same trace, and
/// backend info lines.
fn records() -> Vec<LogRecord> {
    let mut error = log("web", T0 + 3 * SECOND, 17, "TypeError: agent is undefined");
    error.severity_text = "ERROR".into();
    error.trace_id = "ab".repeat(16);
    error.span_id = "cd".repeat(8);
    error.observed_ns = T0 + 4 * SECOND;
    error.scope_name = "tracewire-sdk".into();
    error.event_name = "exception".into();
    error.log_attributes.extend(
        [
            ("session.id", "sess-1"),
            ("user.id", "u-17"),
            ("exception.type", "TypeError"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let mut warn = log("api", T0 + 2 * SECOND, 13, "agent coder: timeout after 5s");
    warn.trace_id = "ab".repeat(16);
    vec![
        log("api", T0, 9, "GET /healthz 200"),
        log("api", T0 + SECOND, 9, "GET /api/agents 200"),
        warn,
        error,
    ]
}

async fn app_with(records: Vec<LogRecord>) -> (tempfile::TempDir, Router) {
    let (dir, store, metrics) = temp_store(10_000).await;
    store_logs(&store, records).await;
    (dir, api(store, metrics))
}

async fn get_json(app: &Router, uri: &str) -> (StatusCode, Value) {
    let response = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
        .await
        .expect("response");
    let status = response.status();
    let bytes = to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (status, serde_json::from_slice(&bytes).expect("JSON body"))
}

/// The bodies `uri` answers, in order.
async fn bodies(app: &Router, uri: &str) -> Vec<String> {
    let (status, body) = get_json(app, uri).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    body["logs"]
        .as_array()
        .expect("logs")
        .iter()
        .map(|l| l["body"].as_str().expect("body").to_owned())
        .collect()
}

#[tokio::test]
async fn search_answers_every_field_newest_first() {
    let (_dir, app) = app_with(records()).await;
    let (status, body) = get_json(&app, "/api/logs").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["next_cursor"], Value::Null);
    let logs = body["logs"].as_array().expect("logs");
    assert_eq!(logs.len(), 4);
    let error = &logs[0];
    let mut fields: Vec<&str> = error
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "attributes",
            "body",
            "event_name",
            "observed_time_unix_nano",
            "resource_attributes",
            "scope_name",
            "scope_version",
            "service_name",
            "severity_number",
            "severity_text",
            "span_id",
            "time_unix_nano",
            "trace_id",
        ]
    );
    assert_eq!(error["time_unix_nano"], (T0 + 3 * SECOND).to_string());
    assert_eq!(
        error["observed_time_unix_nano"],
        (T0 + 4 * SECOND).to_string()
    );
    assert_eq!(error["severity_number"], 17);
    assert_eq!(error["severity_text"], "ERROR");
    assert_eq!(error["service_name"], "web");
    assert_eq!(error["trace_id"], "ab".repeat(16));
    assert_eq!(error["span_id"], "cd".repeat(8));
    assert_eq!(error["attributes"]["session.id"], "sess-1");
    assert_eq!(error["resource_attributes"]["service.name"], "web");
    assert_eq!(error["scope_name"], "tracewire-sdk");
    assert_eq!(error["event_name"], "exception");
    let times: Vec<&str> = logs
        .iter()
        .map(|l| l["time_unix_nano"].as_str().expect("time"))
        .collect();
    let mut sorted = times.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");
}

#[tokio::test]
async fn filters_select_by_text_severity_service_trace_session_user_and_attribute() {
    let (_dir, app) = app_with(records()).await;
    let trace = "ab".repeat(16);
    for (query, expected) in [
        ("q=TIMEOUT", vec!["agent coder: timeout after 5s"]),
        (
            "q=agent",
            vec![
                "TypeError: agent is undefined",
                "agent coder: timeout after 5s",
            ],
        ),
        ("q=%22agent+is%22", vec!["TypeError: agent is undefined"]),
        ("q=time*", vec!["agent coder: timeout after 5s"]),
        ("q=GET+-healthz", vec!["GET /api/agents 200"]),
        ("q=%2Fapi%2Fagents", vec!["GET /api/agents 200"]),
        ("severity=error", vec!["TypeError: agent is undefined"]),
        (
            "severity=warn&severity=error",
            vec![
                "TypeError: agent is undefined",
                "agent coder: timeout after 5s",
            ],
        ),
        ("service=web", vec!["TypeError: agent is undefined"]),
        ("service=api&q=agents", vec!["GET /api/agents 200"]),
        (
            &format!("trace_id={}", trace.to_uppercase()),
            vec![
                "TypeError: agent is undefined",
                "agent coder: timeout after 5s",
            ],
        ),
        (
            &format!("span_id={}", "cd".repeat(8)),
            vec!["TypeError: agent is undefined"],
        ),
        ("session_id=sess-1", vec!["TypeError: agent is undefined"]),
        ("user_id=u-17", vec!["TypeError: agent is undefined"]),
        (
            "attr.exception.type=TypeError",
            vec!["TypeError: agent is undefined"],
        ),
        ("attr.exception.type=RangeError", vec![]),
        (
            &format!("start={}&end={}", T0 + SECOND, T0 + 3 * SECOND),
            vec!["agent coder: timeout after 5s", "GET /api/agents 200"],
        ),
        ("q=nothing-like-this", vec![]),
    ] {
        assert_eq!(
            bodies(&app, &format!("/api/logs?{query}")).await,
            expected,
            "{query}"
        );
    }
}

#[tokio::test]
async fn cursors_page_through_records_of_equal_time_without_skipping_or_repeating() {
    // Seven times; at each, records that differ only in body, some in every field.
    let mut all = Vec::new();
    for t in 0..7 {
        for n in 0..6 {
            let body = if n < 4 {
                format!("tick {t}-{n}")
            } else {
                "tick same".into()
            };
            let mut record = log("api", T0 + t * SECOND, 9, &body);
            if n % 2 == 1 {
                record.trace_id = "ef".repeat(16);
            }
            all.push(record);
        }
    }
    let (_dir, app) = app_with(all).await;
    let whole = bodies(&app, "/api/logs?limit=1000").await;
    assert_eq!(whole.len(), 42);
    for limit in [1, 2, 5, 7] {
        let mut paged = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let uri = match &cursor {
                Some(c) => format!("/api/logs?q=tick&limit={limit}&cursor={c}"),
                None => format!("/api/logs?q=tick&limit={limit}"),
            };
            let (status, page) = get_json(&app, &uri).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            let logs = page["logs"].as_array().expect("logs");
            assert!(logs.len() <= limit);
            paged.extend(
                logs.iter()
                    .map(|l| l["body"].as_str().expect("body").to_owned()),
            );
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
            assert!(paged.len() <= whole.len(), "pages never end");
        }
        assert_eq!(paged, whole, "pages of {limit}");
    }
}

#[tokio::test]
async fn malformed_queries_are_400_and_say_where() {
    let (_dir, app) = app_with(records()).await;
    for (uri, code, says) in [
        ("/api/logs?q=ok+%22open", "invalid_q", "character 4"),
        ("/api/logs?q=ti*me", "invalid_q", "character 3"),
        ("/api/logs?q=a+-", "invalid_q", "character 3"),
        ("/api/logs?severity=loud", "invalid_severity", "loud"),
        ("/api/logs?cursor=abc", "invalid_cursor", "cursor"),
        ("/api/logs?limit=0", "invalid_limit", "limit"),
        ("/api/logs?bogus=1", "invalid_query", "bogus"),
        ("/api/logs/histogram?q=%22", "invalid_q", "character 1"),
        ("/api/logs/histogram?step=0", "invalid_duration", "step"),
    ] {
        let (status, body) = get_json(&app, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert_eq!(body["error"]["code"], code, "{uri}: {body}");
        let message = body["error"]["message"].as_str().expect("message");
        assert!(message.contains(says), "{uri}: {message}");
    }
}

#[tokio::test]
async fn histogram_counts_matching_records_per_step_and_severity() {
    let (_dir, app) = app_with(records()).await;
    let window = format!("start={T0}&end={}&step=2s", T0 + 4 * SECOND);
    let (status, body) = get_json(&app, &format!("/api/logs/histogram?{window}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["step_ns"], 2 * SECOND);
    assert_eq!(body["start_time_unix_nano"], T0.to_string());
    assert_eq!(body["total"], 4);
    assert_eq!(
        body["severities"],
        serde_json::json!([
            {"severity": "info", "count": [2, 0]},
            {"severity": "warn", "count": [0, 1]},
            {"severity": "error", "count": [0, 1]},
        ])
    );
    let (_, filtered) = get_json(
        &app,
        &format!("/api/logs/histogram?{window}&q=agent&service=web"),
    )
    .await;
    assert_eq!(
        filtered["severities"],
        serde_json::json!([{"severity": "error", "count": [0, 1]}])
    );
}

#[tokio::test]
async fn live_tail_streams_new_matching_records_over_a_real_socket() {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;

    let (_dir, store, metrics) = temp_store(1_000).await;
    let app = api(Arc::clone(&store), metrics);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let refused = raw_get(addr, "/api/logs/live?start=1").await;
    assert!(refused.starts_with("HTTP/1.1 400"), "{refused}");
    let (mut socket, _) = tokio_tungstenite::connect_async(format!(
        "ws://{addr}/api/logs/live?q=timeout&severity=warn&severity=error"
    ))
    .await
    .expect("upgrades");
    store_logs(
        &store,
        vec![
            log("api", T0, 9, "timeout but only info"),
            log("api", T0 + 1, 13, "agent coder: timeout after 5s"),
        ],
    )
    .await;
    let message = tokio::time::timeout(std::time::Duration::from_secs(5), socket.next())
        .await
        .expect("a record within 5 s")
        .expect("open")
        .expect("frame");
    let Message::Text(text) = message else {
        panic!("text frame expected, got {message:?}")
    };
    let record: Value = serde_json::from_str(text.as_str()).expect("json");
    assert_eq!(
        record["body"], "agent coder: timeout after 5s",
        "the info line was filtered out"
    );
    assert_eq!(record["time_unix_nano"], (T0 + 1).to_string());
    assert_eq!(record["severity_number"], 13);
    server.abort();
}

/// A plain HTTP/1.1 GET on a fresh connection; the status line and headers as text.
async fn raw_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("writes");
    let mut answer = vec![0u8; 1024];
    let n = stream.read(&mut answer).await.expect("reads");
    String::from_utf8_lossy(&answer[..n]).into_owned()
}
