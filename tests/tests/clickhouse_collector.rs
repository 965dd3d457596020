//! Collector processes with the ClickHouse store, against the real ClickHouse engine (chDB
//! behind the test front): the same OTLP into a SQLite collector and a ClickHouse collector gives
//! identical JSON on every query endpoint; a ClickHouse outage in the middle of a stream loses
//! and duplicates nothing; a full spool answers 503 with `Retry-After` and SIGTERM keeps the
//! spool for the next start; the `schema` subcommand prints the DDL.

use std::process::Command;
use std::time::Duration;

use prost::Message;
use reqwest::blocking::{Client, Response};
use serde_json::Value as Json;
use tracewire_e2e::clickhouse_store::{
    ClickHouseTest, count_rows, logs_request, now_ns, trace_id, traces_request, wait_until,
};
use tracewire_e2e::collector::{Collector, binary};

fn http() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

fn post(collector: &Collector, path: &str, content_type: &str, body: Vec<u8>) -> Response {
    http()
        .post(collector.otlp_url(path))
        .header("content-type", content_type)
        .body(body)
        .send()
        .expect("collector answers")
}

fn get(collector: &Collector, path: &str) -> (u16, Json) {
    let response = http()
        .get(collector.api_url(path))
        .send()
        .expect("api answers");
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Json::Null))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn span_rows(test: &ClickHouseTest) -> (u64, u64) {
    runtime().block_on(count_rows(&test.client(), "otel_traces"))
}

#[test]
fn sqlite_and_clickhouse_collectors_answer_identical_json() {
    let test = ClickHouseTest::start("sqlite_and_clickhouse_identical");
    let sqlite = Collector::start(&test.sqlite_path(), &[]);
    let clickhouse = test.collector("50ms", &[]);
    let base = now_ns() - 600_000_000_000;
    let requests = [
        (
            "application/x-protobuf",
            traces_request(1, 8, 4, base).encode_to_vec(),
        ),
        (
            "application/json",
            serde_json::to_vec(&traces_request(9, 3, 6, base + 2_000_000_000)).expect("json"),
        ),
        (
            "application/x-protobuf",
            traces_request(12, 5, 1, base + 4_000_000_000).encode_to_vec(),
        ),
    ];
    for collector in [&sqlite, &clickhouse] {
        for (content_type, body) in &requests {
            let response = post(collector, "/v1/traces", content_type, body.clone());
            assert_eq!(response.status().as_u16(), 200, "{}", collector.log());
        }
        let logs = logs_request(1, 4, base).encode_to_vec();
        let response = post(collector, "/v1/logs", "application/x-protobuf", logs);
        assert_eq!(response.status().as_u16(), 200);
    }
    // Rates are per second of the window: the same fixed window for both collectors; and one of
    // whole minutes, which SQLite answers from its per-minute rollups.
    let window = format!("start={base}&end={}", now_ns());
    let minute = 60_000_000_000;
    let whole = format!(
        "start={}&end={}",
        base / minute * minute,
        (now_ns() / minute + 1) * minute
    );
    let minutes = format!("{whole}&step=1m");
    let services = format!("/api/services?{window}");
    let expected = get(&sqlite, &services).1;
    assert!(
        wait_until(Duration::from_secs(20), || get(&clickhouse, &services).1
            == expected),
        "services never matched: {} vs {}\n{}",
        get(&clickhouse, &services).1,
        expected,
        clickhouse.log()
    );
    let mut paths: Vec<String> = (1..=16)
        .map(|t| format!("/api/traces/{}", hex::encode(trace_id(t))))
        .collect();
    let start = base + 30_000_000;
    paths.extend([
        "/api/traces/0123456789abcdef0123456789abcdef".to_owned(),
        "/api/traces/not-an-id".to_owned(),
        "/api/traces".to_owned(),
        "/api/traces?limit=5".to_owned(),
        "/api/traces?service=api&limit=100".to_owned(),
        "/api/traces?name=ws.receive%20chat".to_owned(),
        "/api/traces?status=error".to_owned(),
        "/api/traces?min_duration_ms=2&max_duration_ms=3".to_owned(),
        format!("/api/traces?start={start}&end={}", start + 50_000_000),
        "/api/traces?service=api&name=ws.receive%20chat&status=error".to_owned(),
        "/api/traces?bogus=1".to_owned(),
        "/api/traces?service=api&parent_service=web".to_owned(),
        services.clone(),
        format!("/api/services?{window}&step=7s"),
        format!("/api/services?{minutes}"),
        format!("/api/services/api/operations?{window}&step=3s"),
        format!("/api/services/web/operations?{minutes}"),
        format!("/api/services/api/operations?{minutes}"),
        "/api/services/nobody/operations".to_owned(),
        "/api/services/api/operations?step=0".to_owned(),
        format!("/api/dependencies?{window}"),
        format!("/api/dependencies?{whole}"),
        format!("/api/ws/roundtrips?{window}&limit=1000"),
        format!("/api/ws/roundtrips?{window}&session_id=sess-1&message_type=chat"),
        format!("/api/ws/roundtrips?{window}&service=web&limit=3"),
        format!("/api/ws/latency?{window}&step=1s"),
        format!("/api/ws/message-types?{window}"),
        "/api/sessions/sess-0".to_owned(),
        "/api/sessions/sess-1".to_owned(),
        "/api/sessions/nobody".to_owned(),
        "/api/endpoints/hot?window=1h".to_owned(),
    ]);
    // Round trips and clock offsets are derived as the shipper ships: wait for them.
    let correlation: Vec<&String> = paths
        .iter()
        .filter(|p| p.starts_with("/api/ws/") || p.starts_with("/api/sessions/"))
        .collect();
    assert!(
        wait_until(Duration::from_secs(60), || correlation.iter().all(|p| get(
            &clickhouse,
            p
        )
            == get(&sqlite, p))),
        "correlation answers never matched\n{}",
        clickhouse.log()
    );
    for path in &paths {
        let (sqlite_status, sqlite_body) = get(&sqlite, path);
        let (clickhouse_status, clickhouse_body) = get(&clickhouse, path);
        assert_eq!(
            (clickhouse_status, &clickhouse_body),
            (sqlite_status, &sqlite_body),
            "{path}"
        );
    }
    assert_eq!(
        get(&sqlite, "/api/traces/0123456789abcdef0123456789abcdef").0,
        404
    );
    // Span metrics: api's CONSUMER spans (ws.receive chat) and web's (the replies), and the
    // calls between them both ways.
    let operations = get(
        &clickhouse,
        &format!("/api/services/api/operations?{minutes}"),
    )
    .1;
    assert_eq!(
        operations["operations"][0]["name"], "ws.receive chat",
        "{operations}"
    );
    assert_eq!(operations["operations"][0]["calls"], 11, "{operations}");
    let edges = get(&clickhouse, &format!("/api/dependencies?{whole}")).1;
    let pairs: Vec<(&str, &str)> = edges["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| {
            (
                e["from"].as_str().unwrap_or(""),
                e["to"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(pairs, [("api", "web"), ("web", "api")], "{edges}");
    assert_eq!(get(&sqlite, "/api/services/nobody/operations").0, 404);
    // The correlation endpoints found the browser exchanges and the session.
    assert_eq!(get(&clickhouse, "/api/sessions/sess-1").0, 200);
    let types = get(&clickhouse, &format!("/api/ws/message-types?{window}")).1;
    // Traces 12 to 16 have no backend span, so 8 + 3 exchanges.
    assert_eq!(types["types"][0]["count"], 11, "{types}");
    let all = get(&clickhouse, "/api/traces?limit=100").1;
    assert_eq!(all["traces"].as_array().map(Vec::len), Some(16));
    let logs: u64 = runtime()
        .block_on(count_rows(&test.client(), "otel_logs"))
        .0;
    assert_eq!(logs, 4);
}

#[test]
fn clickhouse_outage_loses_nothing_and_duplicates_nothing() {
    let mut test = ClickHouseTest::start("clickhouse_outage");
    let mut collector = test.collector("50ms", &[]);
    let base = now_ns() - 60_000_000_000;
    let mut sent = 0;
    for round in 0..30u64 {
        if round == 10 {
            test.front.stop().expect("front stops");
        }
        if round == 20 {
            test.front.restart().expect("front restarts");
        }
        let body = traces_request(round * 20, 20, 3, base).encode_to_vec();
        let response = post(&collector, "/v1/traces", "application/x-protobuf", body);
        assert_eq!(
            response.status().as_u16(),
            200,
            "round {round}: the spool takes the batch while ClickHouse is down"
        );
        sent += 60;
        std::thread::sleep(Duration::from_millis(30));
    }
    assert!(
        wait_until(Duration::from_secs(30), || span_rows(&test).0 >= sent),
        "only {:?} of {sent} spans arrived\n{}",
        span_rows(&test),
        collector.log()
    );
    // Give a stray duplicate time to show up, then check every span is there exactly once.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(span_rows(&test), (sent, sent));
    assert!(collector.log().contains("ClickHouse insert failed"));
    assert!(collector.terminate().success());
}

#[test]
fn collector_starts_and_survives_kill_9_while_clickhouse_is_down() {
    let mut test = ClickHouseTest::start("survives_kill_9_while_down");
    // ClickHouse is down before the first start: the schema waits for it, ingest does not.
    test.front.stop().expect("front stops");
    let mut collector = test.collector("50ms", &[]);
    assert!(
        collector
            .log()
            .contains("ClickHouse is unreachable at start")
    );
    let body = traces_request(1, 50, 4, now_ns() - 60_000_000_000).encode_to_vec();
    let response = post(&collector, "/v1/traces", "application/x-protobuf", body);
    assert_eq!(response.status().as_u16(), 200);
    collector.kill();
    // Restarted while ClickHouse is still down, it keeps the spool and takes more.
    let restarted = test.collector("50ms", &[]);
    let body = traces_request(51, 10, 4, now_ns() - 60_000_000_000).encode_to_vec();
    let response = post(&restarted, "/v1/traces", "application/x-protobuf", body);
    assert_eq!(response.status().as_u16(), 200);
    test.front.restart().expect("front restarts");
    assert!(
        wait_until(Duration::from_secs(30), || span_rows(&test).0 >= 240),
        "only {:?} of 240 spans arrived\n{}",
        span_rows(&test),
        restarted.log()
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(span_rows(&test), (240, 240));
    assert_eq!(
        get(
            &restarted,
            &format!("/api/traces/{}", hex::encode(trace_id(51)))
        )
        .0,
        200
    );
}

#[test]
fn full_spool_answers_503_and_sigterm_keeps_the_spool_for_the_next_start() {
    let mut test = ClickHouseTest::start("full_spool_answers_503");
    let mut collector = test.collector("50ms", &["--spool-max-bytes", "64KiB"]);
    test.front.stop().expect("front stops");
    let base = now_ns() - 60_000_000_000;
    let mut accepted = 0;
    let mut refused = None;
    for round in 0..50u64 {
        let body = traces_request(round * 10, 10, 2, base).encode_to_vec();
        let response = post(&collector, "/v1/traces", "application/x-protobuf", body);
        match response.status().as_u16() {
            200 => accepted += 20,
            503 => {
                refused = Some(response);
                break;
            }
            other => panic!("unexpected {other}"),
        }
    }
    let refused = refused.expect("the spool fills up and ingest answers 503");
    assert!(accepted > 0);
    assert_eq!(
        refused
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let metrics = http()
        .get(collector.api_url("/metrics"))
        .send()
        .and_then(Response::text)
        .expect("metrics");
    assert!(
        metrics.contains(
            r#"tracewire_refused_items_total{signal="traces",reason="store_unavailable"} 20"#
        ),
        "{metrics}"
    );
    assert!(metrics.contains("tracewire_spool_bytes "), "{metrics}");

    // SIGTERM while ClickHouse is still down: the final ship is bounded, the spool stays.
    assert!(collector.terminate().success(), "{}", collector.log());
    assert!(collector.log().contains("the rest ships at the next start"));
    test.front.restart().expect("front restarts");
    let restarted = test.collector("50ms", &["--spool-max-bytes", "64KiB"]);
    assert!(
        wait_until(Duration::from_secs(30), || span_rows(&test).0 >= accepted),
        "only {:?} of {accepted} spans arrived\n{}",
        span_rows(&test),
        restarted.log()
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(span_rows(&test), (accepted, accepted));
}

#[test]
fn schema_subcommand_prints_the_single_server_and_cluster_ddl() {
    let run = |args: &[&str]| {
        Command::new(binary())
            .arg("schema")
            .args(args)
            .output()
            .expect("runs")
    };
    let single = run(&["--store", "clickhouse:http://127.0.0.1:1/tw"]);
    assert!(single.status.success());
    let single = String::from_utf8_lossy(&single.stdout);
    assert!(single.contains("CREATE TABLE IF NOT EXISTS `tw`.`otel_traces` ("));
    assert!(single.contains("CREATE TABLE IF NOT EXISTS `tw`.`tracewire_ws_round_trips` ("));
    assert!(single.contains("ENGINE = ReplacingMergeTree(Version)"));
    assert!(!single.contains("ON CLUSTER"));
    let cluster = run(&[
        "--store",
        "clickhouse:http://127.0.0.1:1/tw",
        "--clickhouse-cluster",
        "prod",
    ]);
    let cluster = String::from_utf8_lossy(&cluster.stdout);
    assert!(cluster.contains("ON CLUSTER `prod`"), "{cluster}");
    assert!(cluster.contains("cityHash64(TraceId)"), "{cluster}");
    let sqlite = run(&["--store", "sqlite:/tmp/x.db"]);
    assert_eq!(sqlite.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&sqlite.stderr).contains("--store"));
}
