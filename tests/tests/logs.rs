//! Log search end to end: a SQLite collector and a ClickHouse collector (the real engine behind
//! the test front) get the same logs, from the OpenTelemetry Python SDK's logging handler, as
//! the browser SDK sends its exception records, and a corpus of tricky bodies with many equal
//! timestamps. Both find them by text, severity, service, trace and session, page through
//! equal timestamps with cursors, answer malformed queries with a 400, count them per step,
//! stream a new record on the live tail, and give identical JSON for every query.

use std::time::Duration;

use futures_util::StreamExt;
use prost::Message;
use reqwest::blocking::Client;
use serde_json::Value as Json;
use tokio_tungstenite::tungstenite::Message as Frame;
use tracewire_e2e::clickhouse_store::{ClickHouseTest, now_ns, wait_until};
use tracewire_e2e::collector::Collector;
use tracewire_e2e::logs::{browser_exception, corpus, corpus_queries, send_with_python_sdk};

fn http() -> Client {
    tracewire_e2e::http_client()
}

fn clickhouse_collector(test: &ClickHouseTest) -> Collector {
    let args: Vec<String> = [
        "--otlp-listen",
        "127.0.0.1:0",
        "--api-listen",
        "127.0.0.1:0",
        "--clickhouse-batch-delay",
        "50ms",
        "--store",
        &test.store_url(),
        "--spool-dir",
        &test.spool_dir().display().to_string(),
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    Collector::start_with_args(args)
}

fn get(collector: &Collector, path: &str) -> (u16, Json) {
    let response = http()
        .get(collector.api_url(path))
        .send()
        .expect("api answers");
    (
        response.status().as_u16(),
        response.json().unwrap_or(Json::Null),
    )
}

fn post_logs(collector: &Collector, body: Vec<u8>) {
    let response = http()
        .post(collector.otlp_url("/v1/logs"))
        .header("content-type", "application/x-protobuf")
        .body(body)
        .send()
        .expect("collector answers");
    assert_eq!(response.status().as_u16(), 200, "{}", collector.log());
}

/// Every record `path` answers, following `next_cursor` page by page.
fn all_pages(collector: &Collector, path: &str) -> Vec<Json> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let joined = if path.contains('?') { "&" } else { "?" };
        let uri = match &cursor {
            Some(c) => format!("{path}{joined}cursor={c}"),
            None => path.to_owned(),
        };
        let (status, page) = get(collector, &uri);
        assert_eq!(status, 200, "{uri}: {page}");
        out.extend(page["logs"].as_array().expect("logs").iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return out,
        }
        assert!(out.len() < 100_000, "pages never end");
    }
}

fn bodies(records: &[Json]) -> Vec<&str> {
    records
        .iter()
        .map(|r| r["body"].as_str().expect("body"))
        .collect()
}

fn total(collector: &Collector) -> usize {
    all_pages(collector, "/api/logs?limit=1000").len()
}

#[test]
fn both_stores_find_the_same_logs_by_text_severity_service_trace_and_session() {
    let test = ClickHouseTest::start("logs_found_alike");
    let sqlite = Collector::start(&test.sqlite_path(), &[]);
    let clickhouse = clickhouse_collector(&test);
    let sent = send_with_python_sdk(&[&sqlite.otlp, &clickhouse.otlp]);
    let base = now_ns() - 3_600_000_000_000;
    let browser = browser_exception(base + 7, "sess-web-1", [0xab; 16], [0xcd; 8]).encode_to_vec();
    let tricky = corpus(400, base).encode_to_vec();
    for collector in [&sqlite, &clickhouse] {
        post_logs(collector, browser.clone());
        post_logs(collector, tricky.clone());
    }
    let records = sent["logs"].as_array().expect("sent").len() + 1 + 400;
    assert!(
        wait_until(Duration::from_secs(60), || total(&clickhouse) == records),
        "ClickHouse holds {} of {records}\n{}",
        total(&clickhouse),
        clickhouse.log()
    );
    assert_eq!(total(&sqlite), records);

    // What the Python SDK sent is found by text, severity, service, trace and session.
    let python = |path: &str| {
        let (status, body) = get(&sqlite, path);
        assert_eq!(status, 200, "{path}: {body}");
        body["logs"].as_array().expect("logs").clone()
    };
    let timeout = python("/api/logs?q=timeout+retrying");
    assert_eq!(
        bodies(&timeout),
        ["agent coder: Timeout after 5s, retrying"]
    );
    let warning = &timeout[0];
    assert_eq!(warning["service_name"], "py-api");
    assert_eq!(warning["severity_number"], 13);
    assert_eq!(warning["severity_text"], "WARN");
    let trace = warning["trace_id"].as_str().expect("trace id");
    assert_eq!(trace.len(), 32, "the record carries its span's trace");
    let by_trace = python(&format!("/api/logs?trace_id={trace}"));
    assert_eq!(
        bodies(&by_trace),
        [
            "agent coder: Timeout after 5s, retrying",
            "GET /api/agents 200 in 4 ms"
        ]
    );
    let errors = python("/api/logs?severity=error&severity=fatal&service=py-worker");
    assert_eq!(
        bodies(&errors),
        [
            "worker out of memory; restarting",
            "run_agent failed: connection reset by peer"
        ]
    );
    assert!(
        errors[1]["attributes"]["exception.type"]
            .as_str()
            .is_some_and(|t| t.contains("ValueError")),
        "{}",
        errors[1]
    );
    let session = python("/api/logs?session_id=sess-py-1");
    assert_eq!(
        bodies(&session),
        [
            "run_agent started for agent researcher",
            "websocket frame rejected: payload too large"
        ]
    );
    assert_eq!(python("/api/logs?user_id=u-py").len(), 2);
    assert_eq!(
        bodies(&python(
            "/api/logs?q=%22connection+reset%22+-deadlock&service=py-worker"
        )),
        ["run_agent failed: connection reset by peer"]
    );
    // The browser SDK's exception record, by its text, session and trace.
    let exception = python("/api/logs?q=TypeError+undefined&session_id=sess-web-1");
    assert_eq!(bodies(&exception), ["TypeError: agent list is undefined"]);
    assert_eq!(exception[0]["trace_id"], "ab".repeat(16));
    assert_eq!(exception[0]["event_name"], "exception");

    // Every query answers the same JSON on both stores, paged or not.
    let mut paths: Vec<String> = corpus_queries()
        .iter()
        .map(|q| format!("/api/logs?{q}"))
        .collect();
    paths.extend(
        [
            "q=timeout",
            "severity=error",
            "service=py-api",
            "session_id=sess-py-1",
            &format!("trace_id={trace}"),
            "q=TypeError&service=agent-dashboard",
        ]
        .iter()
        .map(|q| format!("/api/logs?{q}")),
    );
    let end = now_ns() + 60_000_000_000;
    for q in [
        "",
        "q=agent",
        "q=-agent&severity=info",
        "q=%22connection+reset%22",
    ] {
        paths.push(format!(
            "/api/logs/histogram?{q}&start={base}&end={end}&step=10m"
        ));
    }
    for path in &paths {
        assert_eq!(get(&clickhouse, path), get(&sqlite, path), "{path}");
    }
    for (filter, limit) in [
        ("q=agent", 6),
        ("q=", 5),
        ("q=-agent", 9),
        ("severity=info", 4),
    ] {
        let path = format!("/api/logs?{filter}&limit={limit}");
        let paged = all_pages(&sqlite, &path);
        assert_eq!(all_pages(&clickhouse, &path), paged, "{path}");
        let whole = all_pages(&sqlite, &format!("/api/logs?{filter}&limit=1000"));
        assert_eq!(paged, whole, "{path} against one page");
    }
}

#[test]
fn cursors_page_through_equal_timestamps_and_malformed_queries_are_400_on_both_stores() {
    let test = ClickHouseTest::start("logs_cursors_and_errors");
    let sqlite = Collector::start(&test.sqlite_path(), &[]);
    let clickhouse = clickhouse_collector(&test);
    // 400 records, four to a millisecond and many with equal keys.
    let tricky = corpus(400, now_ns() - 600_000_000_000).encode_to_vec();
    for collector in [&sqlite, &clickhouse] {
        post_logs(collector, tricky.clone());
    }
    assert!(
        wait_until(Duration::from_secs(60), || total(&clickhouse) == 400),
        "{}",
        clickhouse.log()
    );
    for collector in [&sqlite, &clickhouse] {
        let whole = all_pages(collector, "/api/logs?limit=1000");
        assert_eq!(whole.len(), 400);
        for limit in [1, 3, 4, 7] {
            let paged = all_pages(collector, &format!("/api/logs?limit={limit}"));
            assert_eq!(paged, whole, "pages of {limit}");
        }
        for (path, code, says) in [
            ("/api/logs?q=ok+%22open", "invalid_q", "character 4"),
            ("/api/logs?q=-", "invalid_q", "character 1"),
            ("/api/logs?q=ti*me", "invalid_q", "character 3"),
            ("/api/logs?cursor=garbage", "invalid_cursor", "cursor"),
            ("/api/logs/histogram?q=%22", "invalid_q", "character 1"),
        ] {
            let (status, body) = get(collector, path);
            assert_eq!(status, 400, "{path}: {body}");
            assert_eq!(body["error"]["code"], code, "{path}: {body}");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(says)),
                "{path}: {body}"
            );
        }
    }
}

#[test]
fn the_live_tail_streams_a_new_record_on_both_stores() {
    let test = ClickHouseTest::start("logs_live_tail");
    let sqlite = Collector::start(&test.sqlite_path(), &[]);
    let clickhouse = clickhouse_collector(&test);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for collector in [&sqlite, &clickhouse] {
        let url = collector
            .api_url("/api/logs/live?q=TypeError&session_id=sess-live")
            .replacen("http://", "ws://", 1);
        let (mut socket, _) = runtime
            .block_on(tokio_tungstenite::connect_async(url))
            .expect("upgrades");
        let other = browser_exception(now_ns(), "sess-other", [1; 16], [1; 8]);
        post_logs(collector, other.encode_to_vec());
        let mine = browser_exception(now_ns(), "sess-live", [2; 16], [2; 8]);
        post_logs(collector, mine.encode_to_vec());
        let frame = runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(10), socket.next()).await })
            .expect("a record within 10 s")
            .expect("open")
            .expect("frame");
        let Frame::Text(text) = frame else {
            panic!("text frame expected, got {frame:?}");
        };
        let record: Json = serde_json::from_str(text.as_str()).expect("json");
        assert_eq!(record["attributes"]["session.id"], "sess-live", "{record}");
        assert_eq!(record["body"], "TypeError: agent list is undefined");
        assert_eq!(record["trace_id"], "02".repeat(16));
    }
}
