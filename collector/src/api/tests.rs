use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{Api, router};
use crate::model::{SpanEvent, StatusCode as SpanStatus};
use crate::testing::{span, store_spans, temp_store};

pub(super) async fn app() -> (tempfile::TempDir, Router, Arc<AtomicBool>) {
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
        alerts: crate::testing::alerts(&store),
        store,
        metrics,
        ready: Arc::clone(&ready),
        reads: Default::default(),
        guard: Default::default(),
    });
    (dir, app, ready)
}

pub(super) async fn get(app: &Router, uri: &str) -> (StatusCode, String) {
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

pub(super) async fn get_json(app: &Router, uri: &str) -> (StatusCode, Value) {
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

mod correlation {
    use std::time::{SystemTime, UNIX_EPOCH};

    use super::*;
    use crate::model::{Batch, LogRecord, SpanKind, SpanRecord};

    const MS: i64 = 1_000_000;
    /// The browser's clock is this far behind the backend's.
    const OFFSET: i64 = 2_000 * MS;

    fn now() -> i64 {
        i64::try_from(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .expect("clock")
                .as_nanos(),
        )
        .expect("fits")
    }

    fn browser(mut s: SpanRecord, kind: SpanKind, message_type: &str) -> SpanRecord {
        s.kind = kind;
        s.service_name = "web".into();
        s.resource_attributes = [
            ("service.name".to_owned(), "web".to_owned()),
            ("telemetry.sdk.language".to_owned(), "webjs".to_owned()),
        ]
        .into();
        s.span_attributes
            .insert("session.id".into(), "sess-1".into());
        s.span_attributes.insert("user.id".into(), "u-9".into());
        s.span_attributes
            .insert("ws.message.type".into(), message_type.into());
        s
    }

    /// One exchange in trace `n`: send at `at` (client clock), uplink `up`, server 4 ms,
    /// downlink `down`, processing 1 ms.
    fn exchange(
        n: u8,
        at: i64,
        up: i64,
        down: i64,
        message_type: &str,
        failing: bool,
    ) -> Vec<SpanRecord> {
        let send = browser(
            span(n, 1, None, "web", &format!("ws.send {message_type}"), at, 0),
            SpanKind::Producer,
            message_type,
        );
        let t2 = at + up + OFFSET;
        let mut server = span(
            n,
            2,
            Some(1),
            "api",
            &format!("ws.receive {message_type}"),
            t2,
            4 * MS,
        );
        server.kind = SpanKind::Consumer;
        if failing {
            server.status_code = SpanStatus::Error;
        }
        let t4 = t2 + 4 * MS - OFFSET + down;
        let reply = browser(
            span(n, 3, Some(2), "web", "ws.receive reply", t4, 0),
            SpanKind::Consumer,
            "reply",
        );
        let process = browser(
            span(n, 4, Some(3), "web", "ws.process reply", t4, MS),
            SpanKind::Consumer,
            "reply",
        );
        vec![send, server, reply, process]
    }

    async fn app_with_exchanges() -> (tempfile::TempDir, Router, i64) {
        app_with_exchanges_and(|_| Vec::new()).await
    }

    /// [`app_with_exchanges`], with the log records `more` makes of the exchanges' base time.
    async fn app_with_exchanges_and(
        more: impl FnOnce(i64) -> Vec<LogRecord>,
    ) -> (tempfile::TempDir, Router, i64) {
        let (dir, store, metrics) = temp_store(10_000).await;
        let base = now() - 10_000 * MS;
        let mut spans = Vec::new();
        // Quiet, symmetric exchanges and a few with a slow uplink.
        for n in 0..12u8 {
            let up = if n % 4 == 3 { 80 * MS } else { 3 * MS };
            spans.extend(exchange(
                n + 1,
                base + i64::from(n) * 500 * MS,
                up,
                3 * MS,
                "chat",
                n == 5,
            ));
        }
        spans.extend(exchange(
            40,
            base + 7_000 * MS,
            3 * MS,
            3 * MS,
            "run_agent",
            false,
        ));
        store_spans(&store, spans).await;
        let rate = |route: &str, count: u64, session: &str| LogRecord {
            tenant: String::new(),
            timestamp_ns: now() - 30_000 * MS,
            observed_ns: 0,
            trace_id: String::new(),
            span_id: String::new(),
            trace_flags: 0,
            severity_text: String::new(),
            severity_number: 9,
            service_name: "web".into(),
            body: String::new(),
            scope_name: String::new(),
            scope_version: String::new(),
            resource_attributes: Default::default(),
            log_attributes: [
                ("http.route".to_owned(), route.to_owned()),
                ("http.client.request.count".to_owned(), count.to_string()),
                ("session.id".to_owned(), session.to_owned()),
            ]
            .into(),
            event_name: "http.client.request_rate".into(),
        };
        let mut logs = vec![
            rate("GET /api/agents", 600, "sess-1"),
            rate("GET /api/agents", 400, "sess-2"),
            rate("GET /api/me", 3, "sess-1"),
        ];
        logs.extend(more(base));
        store
            .queue()
            .try_submit(Batch {
                logs,
                ..Default::default()
            })
            .expect("room")
            .durable()
            .await
            .expect("stored");
        let app = router(Api {
            alerts: crate::testing::alerts(&store),
            store,
            metrics,
            ready: Arc::new(AtomicBool::new(true)),
            reads: Default::default(),
            guard: Default::default(),
        });
        (dir, app, base)
    }

    #[tokio::test]
    async fn trace_view_marks_sources_and_corrects_browser_times() {
        let (_dir, app, _) = app_with_exchanges().await;
        let (status, body) =
            get_json(&app, &format!("/api/traces/{}", hex::encode([1u8; 16]))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let spans = body["spans"].as_array().expect("spans");
        let by_name = |name: &str| spans.iter().find(|s| s["name"] == name).expect(name);
        let send = by_name("ws.send chat");
        let server = by_name("ws.receive chat");
        assert_eq!(send["source"], "browser");
        assert_eq!(server["source"], "backend");
        assert_eq!(server["clock_offset_ns"], 0);
        let offset = send["clock_offset_ns"].as_i64().expect("offset");
        assert!((offset - OFFSET).abs() <= MS / 2, "estimated {offset}");
        let corrected = |s: &Value, f: &str| s[f].as_str().expect(f).parse::<i64>().expect("ns");
        assert!(
            corrected(send, "corrected_start_time_unix_nano")
                <= corrected(server, "corrected_start_time_unix_nano")
        );
        let reply = by_name("ws.receive reply");
        assert!(
            corrected(reply, "corrected_start_time_unix_nano")
                >= corrected(server, "corrected_end_time_unix_nano")
        );
        assert_eq!(
            corrected(send, "start_time_unix_nano") + offset,
            corrected(send, "corrected_start_time_unix_nano"),
            "raw kept"
        );
    }

    #[tokio::test]
    async fn roundtrips_list_timings_with_the_offset_taken_out() {
        let (_dir, app, base) = app_with_exchanges().await;
        let (status, body) = get_json(
            &app,
            "/api/ws/roundtrips?session_id=sess-1&message_type=chat",
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let list = body["roundtrips"].as_array().expect("roundtrips");
        assert_eq!(list.len(), 12);
        let first = list.last().expect("oldest last");
        assert_eq!(first["trace_id"], hex::encode([1u8; 16]));
        assert_eq!(first["client_send_time_unix_nano"], base.to_string());
        assert_eq!(
            (first["session_id"].as_str(), first["user_id"].as_str()),
            (Some("sess-1"), Some("u-9"))
        );
        assert_eq!(
            (first["service"].as_str(), first["server_service"].as_str()),
            (Some("web"), Some("api"))
        );
        assert_eq!(first["server_ns"], 4 * MS);
        assert_eq!(first["total_ns"], 10 * MS);
        assert_eq!(first["client_processing_ns"], MS);
        let uplink = first["uplink_ns"].as_i64().expect("uplink");
        assert!((uplink - 3 * MS).abs() <= MS / 2, "uplink {uplink}");
        assert_eq!(
            first["uplink_ns"].as_i64().unwrap_or(0) + first["downlink_ns"].as_i64().unwrap_or(0),
            6 * MS
        );
        assert_eq!(list.iter().filter(|r| r["error"] == true).count(), 1);
        let (status, _) = get_json(&app, "/api/ws/roundtrips?limit=0").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn latency_series_and_message_types() {
        let (_dir, app, base) = app_with_exchanges().await;
        let uri = format!(
            "/api/ws/latency?start={}&end={}&step=20s",
            base - MS,
            base + 20_000 * MS
        );
        let (status, body) = get_json(&app, &uri).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["step_ns"], 20_000 * MS);
        let bucket = &body["series"][0];
        assert_eq!(bucket["count"], 13);
        // Percentiles come from histograms: within 1% of the exact ones.
        for (got, want) in [
            (&bucket["server"]["p50"], 4 * MS),
            (&bucket["total"]["p50"], 10 * MS),
            (&bucket["total"]["p99"], 87 * MS),
        ] {
            let got = got.as_i64().expect("a duration");
            assert!((got - want).abs() * 100 <= want, "{got} against {want}");
        }
        // A window and step of whole minutes is answered from the stored per-minute rollups:
        // the same numbers as the round trips added up as they are read.
        let minute = 60_000 * MS;
        let start = (base - MS).div_euclid(minute) * minute;
        let uri = format!(
            "/api/ws/latency?start={start}&end={}&step=2m",
            start + 2 * minute
        );
        let (status, rolled) = get_json(&app, &uri).await;
        assert_eq!(status, StatusCode::OK, "{rolled}");
        for key in ["count", "total", "uplink", "server", "downlink"] {
            assert_eq!(rolled["series"][0][key], bucket[key], "{key}");
        }
        let (status, body) = get_json(&app, "/api/ws/latency?step=1ms").await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_step"))
        );

        let (status, body) = get_json(&app, "/api/ws/message-types").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let types = body["types"].as_array().expect("types");
        assert_eq!(types[0]["message_type"], "chat", "slowest first");
        assert_eq!(
            (types[0]["count"].as_u64(), types[0]["errors"].as_u64()),
            (Some(12), Some(1))
        );
        assert_eq!(types[1]["message_type"], "run_agent");
        assert_eq!(types[1]["example_trace_id"], hex::encode([40u8; 16]));
    }

    #[tokio::test]
    async fn rates_count_messages_and_errors_per_type_and_step() {
        let (_dir, app, base) = app_with_exchanges().await;
        let uri = format!(
            "/api/ws/rates?start={}&end={}&step=10s",
            base - MS,
            base + 20_000 * MS
        );
        let (status, body) = get_json(&app, &uri).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["step_ns"], 10_000 * MS);
        assert_eq!(body["start_time_unix_nano"], (base - MS).to_string());
        let types = body["types"].as_array().expect("types");
        assert_eq!(types[0]["message_type"], "chat", "busiest first");
        assert_eq!(types[0]["count"], json!([12, 0, 0]));
        assert_eq!(types[0]["errors"], json!([1, 0, 0]));
        assert_eq!(types[1]["message_type"], "run_agent");
        assert_eq!(types[1]["count"], json!([1, 0, 0]));
        let (status, body) = get_json(&app, "/api/ws/rates?step=1ms").await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_step"))
        );
    }

    /// Chat sends the browser counted without a span: 30 two seconds after the exchanges
    /// began, with 2 failed replies and every round trip 200 ms; 20 a minute before the window;
    /// receives of `price` alone; items the SDK dropped (and a backend's record of the same
    /// name, which does not count).
    fn counted_chat(base: i64) -> Vec<LogRecord> {
        use crate::correlate::bin_bounds;
        use crate::testing::browser_event;
        use tracewire_semconv::{attribute, event};

        let bin = bin_bounds().partition_point(|&low| low <= 200 * MS as u64);
        let rtt = format!("{bin}:30");
        let counted = |at: i64, kind: &str, sent: &str, errors: &str, rtt: &str| {
            browser_event(
                event::WS_MESSAGE_RATE,
                at,
                &[
                    (attribute::URL_FULL, "ws://app/ws"),
                    (attribute::WS_MESSAGE_TYPE, kind),
                    (attribute::WS_COUNTED_SENT, sent),
                    (attribute::WS_COUNTED_RECEIVED, "30"),
                    (attribute::WS_COUNTED_ERRORS, errors),
                    (attribute::WS_COUNTED_RTT, rtt),
                ],
            )
        };
        let dropped = |n: &str| {
            browser_event(
                event::TRACEWIRE_DROPPED,
                base + 3_000 * MS,
                &[(attribute::TRACEWIRE_DROPPED_COUNT, n)],
            )
        };
        let mut backend = dropped("1000");
        backend.resource_attributes.clear();
        vec![
            counted(base + 2_000 * MS, "chat", "30", "2", &rtt),
            counted(base - 60_000 * MS, "chat", "20", "0", ""),
            counted(base + 2_000 * MS, "price", "0", "0", ""),
            dropped("5"),
            dropped("7"),
            backend,
        ]
    }

    #[tokio::test]
    async fn counted_messages_join_the_counts_and_percentiles_of_every_answer() {
        let (_dir, app, base) = app_with_exchanges_and(counted_chat).await;
        let window = format!("start={}&end={}", base - MS, base + 20_000 * MS);
        let (status, body) = get_json(&app, &format!("/api/ws/message-types?{window}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["dropped"], 12, "browser records only");
        let types = body["types"].as_array().expect("types");
        assert_eq!(types.len(), 2, "no row for receives alone: {body}");
        let chat = &types[0];
        assert_eq!(chat["message_type"], "chat", "now the slowest");
        assert_eq!(
            [
                &chat["count"],
                &chat["traced"],
                &chat["counted"],
                &chat["errors"]
            ],
            [42, 12, 30, 3]
        );
        // 30 of 42 round trips took 200 ms: the median is one of them.
        let p50 = chat["p50_total_ns"].as_i64().expect("p50");
        assert!((p50 - 200 * MS).abs() * 100 <= 200 * MS, "{p50}");
        assert_eq!(
            [
                &types[1]["count"],
                &types[1]["traced"],
                &types[1]["counted"]
            ],
            [1, 1, 0]
        );

        let (status, body) = get_json(&app, &format!("/api/ws/latency?{window}&step=20s")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let bucket = &body["series"][0];
        assert_eq!([&bucket["count"], &bucket["counted"]], [43, 30]);
        let p50 = bucket["total"]["p50"].as_i64().expect("p50");
        assert!((p50 - 200 * MS).abs() * 100 <= 200 * MS, "{p50}");
        // The legs are of traced round trips only.
        let server = bucket["server"]["p99"].as_i64().expect("server");
        assert!((server - 4 * MS).abs() * 100 <= 4 * MS, "{bucket}");
        let (_, run) = get_json(
            &app,
            &format!("/api/ws/latency?{window}&step=20s&message_type=run_agent"),
        )
        .await;
        assert_eq!(
            [&run["series"][0]["count"], &run["series"][0]["counted"]],
            [1, 0]
        );
        // From the stored per-minute rollups, the counted messages are added alike.
        let minute = 60_000 * MS;
        let start = (base - MS).div_euclid(minute) * minute;
        let (_, rolled) = get_json(
            &app,
            &format!(
                "/api/ws/latency?start={start}&end={}&step=2m",
                start + 2 * minute
            ),
        )
        .await;
        assert_eq!(rolled["series"][0]["total"], bucket["total"], "{rolled}");
        assert_eq!(
            [
                &rolled["series"][0]["count"],
                &rolled["series"][0]["counted"]
            ],
            [43, 30]
        );

        let (status, body) = get_json(&app, &format!("/api/ws/rates?{window}&step=10s")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["types"][0]["message_type"], "chat");
        assert_eq!(body["types"][0]["count"], json!([42, 0, 0]));
        assert_eq!(body["types"][0]["counted"], json!([30, 0, 0]));
        assert_eq!(body["types"][0]["errors"], json!([3, 0, 0]));
        assert_eq!(body["types"][1]["counted"], json!([0, 0, 0]));
    }

    #[tokio::test]
    async fn session_time_line_and_hot_endpoints() {
        let (_dir, app, _) = app_with_exchanges().await;
        let (status, body) = get_json(&app, "/api/sessions/sess-1").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["user_id"], "u-9");
        let offset = body["clock_offset_ns"].as_i64().expect("offset");
        assert!((offset - OFFSET).abs() <= MS / 2);
        let events = body["events"].as_array().expect("events");
        assert_eq!(events.iter().filter(|e| e["kind"] == "message").count(), 39);
        assert_eq!(events.iter().filter(|e| e["kind"] == "request").count(), 2);
        let (status, body) = get_json(
            &app,
            "/api/traces?session_id=sess-1&attr=ws.message.type=run_agent",
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["traces"].as_array().map(Vec::len), Some(1));
        assert_eq!(body["traces"][0]["trace_id"], hex::encode([40u8; 16]));
        let (status, body) = get_json(&app, "/api/traces?user_id=u-9&limit=100").await;
        assert_eq!(
            (status, body["traces"].as_array().map(Vec::len)),
            (StatusCode::OK, Some(13))
        );
        let (status, _) = get_json(&app, "/api/sessions/nobody").await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        let (status, body) = get_json(&app, "/api/endpoints/hot?window=5m").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["routes"][0]["route"], "GET /api/agents");
        assert_eq!(body["routes"][0]["requests"], 1000);
        assert_eq!(body["routes"][0]["sessions"], 2);
        assert_eq!(body["sessions"][0]["session_id"], "sess-1");
        assert_eq!(body["sessions"][0]["requests"], 600);
        let (_, body) = get_json(&app, "/api/endpoints/hot?window=10s").await;
        assert_eq!(
            body["routes"].as_array().map(Vec::len),
            Some(0),
            "outside the window"
        );
    }
}

#[tokio::test]
async fn live_tail_streams_new_spans_of_the_chosen_service_over_a_real_socket() {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;

    let (_dir, store, metrics) = temp_store(1_000).await;
    let app = router(Api {
        alerts: crate::testing::alerts(&store),
        store: Arc::clone(&store),
        metrics,
        ready: Arc::new(AtomicBool::new(true)),
        reads: Default::default(),
        guard: Default::default(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let (mut socket, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/api/live?service=web"))
            .await
            .expect("upgrades");
    // The subscription exists once the upgrade answered; spans stored from now on stream out.
    store_spans(
        &store,
        vec![
            span(5, 1, None, "api", "GET /x", 1_000, 10),
            span(5, 2, Some(1), "web", "click", 1_100, 5),
        ],
    )
    .await;
    let message = tokio::time::timeout(std::time::Duration::from_secs(5), socket.next())
        .await
        .expect("a span within 5 s")
        .expect("open")
        .expect("frame");
    let Message::Text(text) = message else {
        panic!("text frame expected, got {message:?}")
    };
    let span: Value = serde_json::from_str(text.as_str()).expect("json");
    assert_eq!(span["service_name"], "web", "the api span was filtered out");
    assert_eq!(span["name"], "click");
    assert_eq!(span["source"], "backend");
    assert_eq!(span["start_time_unix_nano"], "1100");
    server.abort();
}

/// A correlation step that cannot finish (here a trigger added outside the collector refuses
/// its writes) is logged; correlation reads still answer with what was derived.
#[tokio::test]
async fn correlation_reads_answer_when_the_correlation_step_fails() {
    let (dir, store, metrics) = temp_store(100).await;
    store_spans(&store, crate::testing::one_exchange(0)).await;
    let app = router(Api {
        alerts: crate::testing::alerts(&store),
        store: Arc::clone(&store),
        metrics,
        ready: Arc::new(AtomicBool::new(true)),
        reads: Default::default(),
        guard: Default::default(),
    });
    let uri = "/api/ws/roundtrips?start=0&end=1000000000";
    let (status, before) = get_json(&app, uri).await;
    assert_eq!(status, StatusCode::OK, "{before}");
    assert_eq!(before["roundtrips"].as_array().map(Vec::len), Some(1));

    let conn = rusqlite::Connection::open(dir.path().join("tw.db")).expect("opens");
    conn.execute_batch(
        "CREATE TRIGGER refuse BEFORE DELETE ON ws_pending BEGIN SELECT RAISE(ABORT, 'no'); END; \
         INSERT INTO ws_pending (tenant, trace_id) SELECT tenant, trace_id FROM spans LIMIT 1;",
    )
    .expect("damages");
    let (status, after) = get_json(&app, uri).await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_eq!(after, before);
}
