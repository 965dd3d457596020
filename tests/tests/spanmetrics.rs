//! Span metrics from the demo's traces, on both stores: the agent-backend example (with its
//! second service, agent-tools) exports through a tee into a SQLite collector and a ClickHouse
//! collector (the real engine behind the test front) while the test plays the browser page: it
//! sends WebSocket messages and a fetch with `traceparent` and exports the page's spans as the
//! SDK would. Request rate, errors and latency per service and operation, and the calls between
//! services, are checked against what the test sent and against the spans' own durations, and
//! both collectors answer them identically.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tracewire_e2e::agent_backend::AgentBackend;
use tracewire_e2e::clickhouse_store::{ClickHouseTest, wait_until};
use tracewire_e2e::collector::Collector;
use tracewire_e2e::tee::Tee;
use tracewire_e2e::{http_client, now_ns};

const PAGE: &str = "agent-dashboard";
const MINUTE: u64 = 60_000_000_000;

fn get(collector: &Collector, path: &str) -> (u16, Value) {
    let response = http_client()
        .get(collector.api_url(path))
        .send()
        .expect("api answers");
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

fn text(key: &str, value: &str) -> Value {
    json!({"key": key, "value": {"stringValue": value}})
}

/// The page's spans as the browser SDK exports them (OTLP/JSON, the SDK's resource).
fn page_spans(spans: Vec<Value>) -> Value {
    json!({"resourceSpans": [{
        "resource": {"attributes": [
            text("service.name", PAGE),
            text("telemetry.sdk.language", "webjs"),
            text("telemetry.sdk.name", "tracewire-sdk"),
        ]},
        "scopeSpans": [{"scope": {"name": "tracewire-sdk"}, "spans": spans}],
    }]})
}

/// One message the page sends, and what the backend does with it.
struct Sent {
    message: Value,
    /// The backend's span fails.
    fails: bool,
    /// It calls agent-tools, whose span fails when this is `Some(true)`.
    tools: Option<bool>,
}

fn run(agent: &str) -> Sent {
    let (fails, tools) = match agent {
        "flaky" => (true, None),
        "nosuch" => (true, Some(true)),
        _ => (false, Some(false)),
    };
    Sent {
        message: json!({"type": "run_agent", "agent_id": agent}),
        fails,
        tools,
    }
}

fn plain(message: Value) -> Sent {
    Sent {
        message,
        fails: false,
        tools: None,
    }
}

fn id(n: u64, len: usize) -> String {
    format!("{:0len$x}", 0x7a00_0000_0000_0000u64 + n)
}

/// Nearest-rank percentile of sorted values.
fn exact(sorted: &[i64], p: f64) -> i64 {
    let index = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

#[test]
fn red_rollups_and_the_dependency_map_from_the_demo_on_both_stores() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let test = ClickHouseTest::start("spanmetrics_demo");
    let sqlite = Collector::start(&test.sqlite_path(), &[]);
    let clickhouse = test.collector("50ms", &[]);
    let tee = runtime.block_on(Tee::start(vec![
        sqlite.otlp.clone(),
        clickhouse.otlp.clone(),
    ]));
    let backend = AgentBackend::start(&tee.url, &[]);
    let started = now_ns();

    let sent: Vec<Sent> = vec![
        run("coder"),
        run("slow"),
        run("flaky"),
        run("coder"),
        run("nosuch"),
        run("flaky"),
        run("researcher"),
        plain(json!({"type": "chat", "agent_id": "coder", "text": "hi"})),
        plain(json!({"type": "chat", "agent_id": "coder", "text": "again"})),
        plain(json!({"type": "list_agents"})),
    ];
    // The page: each message with its own trace and `ws.send` span, then the reply's
    // `ws.receive` as a child of the backend's span (from the reply's trace context).
    let mut page = Vec::new();
    runtime.block_on(async {
        let (mut socket, _) = tokio_tungstenite::connect_async(backend.ws_url())
            .await
            .expect("connects");
        for (n, s) in sent.iter().enumerate() {
            let n = n as u64 + 1;
            let (trace, send) = (id(n, 32), id(n, 16));
            let mut message = s.message.clone();
            message["trace_context"] = json!({"traceparent": format!("00-{trace}-{send}-01")});
            let at = now_ns();
            socket
                .send(Message::Text(message.to_string().into()))
                .await
                .expect("sends");
            let reply = loop {
                let Message::Text(frame) = socket.next().await.expect("open").expect("frame")
                else {
                    continue;
                };
                let reply: Value = serde_json::from_str(frame.as_str()).expect("json");
                let context = reply["trace_context"]["traceparent"].as_str().unwrap_or("");
                let pushed = ["agent_progress", "run_finished"].contains(&reply["type"].as_str().unwrap_or(""));
                if context.contains(&trace) && !pushed {
                    break reply;
                }
            };
            let parent = reply["trace_context"]["traceparent"]
                .as_str()
                .and_then(|t| t.split('-').nth(2))
                .expect("the backend's span")
                .to_owned();
            let done = now_ns();
            page.push(json!({"traceId": trace, "spanId": send, "name": format!("ws.send {}", s.message["type"].as_str().unwrap_or("")),
                "kind": 4, "startTimeUnixNano": at.to_string(), "endTimeUnixNano": at.to_string()}));
            page.push(json!({"traceId": trace, "spanId": id(n + 100, 16), "parentSpanId": parent,
                "name": format!("ws.receive {}", reply["type"].as_str().unwrap_or("")), "kind": 5,
                "startTimeUnixNano": done.to_string(), "endTimeUnixNano": (done + 1_000_000).to_string()}));
        }
        // A fetch of the agent list over HTTP, traced like the page's other requests.
        for n in [50u64, 51] {
            let (trace, span) = (id(n, 32), id(n, 16));
            let at = now_ns();
            let response = reqwest::Client::new()
                .get(format!("http://{}/api/agents", backend.addr))
                .header("traceparent", format!("00-{trace}-{span}-01"))
                .send()
                .await
                .expect("backend answers");
            assert!(response.status().is_success());
            page.push(json!({"traceId": trace, "spanId": span, "name": "GET", "kind": 3,
                "startTimeUnixNano": at.to_string(), "endTimeUnixNano": now_ns().to_string()}));
        }
        let response = reqwest::Client::new()
            .post(format!("{}/v1/traces", tee.url))
            .json(&page_spans(page.clone()))
            .send()
            .await
            .expect("tee answers");
        assert_eq!(response.status().as_u16(), 200);
    });

    // What the page's traffic makes each service do.
    let runs = sent.iter().filter(|s| s.message["type"] == "run_agent");
    let run_errors = runs.clone().filter(|s| s.fails).count();
    let tools: Vec<bool> = sent.iter().filter_map(|s| s.tools).collect();
    let tool_errors = tools.iter().filter(|f| **f).count();
    let failed_messages = sent.iter().filter(|s| s.fails).count();
    let expected_backend = json!([
        ["ws.receive run_agent", runs.count(), run_errors],
        ["GET /api/agents", 2, 0],
        ["ws.receive chat", 2, 0],
        ["ws.receive list_agents", 1, 0],
    ]);
    // Whole minutes around the test: answered from SQLite's per-minute rollups; and a window of
    // odd bounds and step: from the spans.
    let start = started / MINUTE * MINUTE - MINUTE;
    let end = (now_ns() / MINUTE + 2) * MINUTE;
    let whole = format!("start={start}&end={end}");
    let minutes = format!("{whole}&step=1m");
    let odd_window = format!("start={}&end={}", started - 3_000_000_007, end - 11);
    let odd = format!("{odd_window}&step=7s");
    let summary = |answer: &Value| -> Value {
        answer["operations"]
            .as_array()
            .map(|ops| {
                ops.iter()
                    .map(|o| json!([o["name"], o["calls"], o["errors"]]))
                    .collect()
            })
            .unwrap_or_default()
    };
    let backend_ops = format!("/api/services/agent-backend/operations?{minutes}");
    assert!(
        wait_until(Duration::from_secs(60), || summary(
            &get(&sqlite, &backend_ops).1
        ) == expected_backend),
        "agent-backend's operations: {}\nexpected {expected_backend}",
        get(&sqlite, &backend_ops).1
    );
    let tools_ops = get(
        &sqlite,
        &format!("/api/services/agent-tools/operations?{minutes}"),
    )
    .1;
    assert_eq!(
        summary(&tools_ops),
        json!([["GET /tools/{agent}", tools.len(), tool_errors]]),
        "{tools_ops}"
    );
    let page_ops = get(
        &sqlite,
        &format!("/api/services/{PAGE}/operations?{minutes}"),
    )
    .1;
    let received: u64 = page_ops["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .map(|o| o["calls"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(
        received,
        sent.len() as u64,
        "the page's reply receives: {page_ops}"
    );

    // The dependency map: the page calls the backend (messages and fetches), the backend calls
    // agent-tools and answers the page.
    let edges = get(&sqlite, &format!("/api/dependencies?{whole}")).1;
    let pairs: Vec<Value> = edges["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| json!([e["from"], e["to"], e["calls"], e["errors"]]))
        .collect();
    assert_eq!(
        pairs,
        [
            json!([PAGE, "agent-backend", sent.len() + 2, failed_messages]),
            json!(["agent-backend", PAGE, sent.len(), 0]),
            json!(["agent-backend", "agent-tools", tools.len(), tool_errors]),
        ],
        "{edges}"
    );

    // Latency: the tools service's percentiles are those of its spans' durations, within 1%
    // (the slow agent's tools take 300 ms, the others' 5 ms).
    let traces = get(&sqlite, "/api/traces?service=agent-tools&limit=100").1;
    let mut durations: Vec<i64> = Vec::new();
    for t in traces["traces"].as_array().expect("traces") {
        let trace = get(
            &sqlite,
            &format!("/api/traces/{}", t["trace_id"].as_str().expect("id")),
        )
        .1;
        durations.extend(
            trace["spans"]
                .as_array()
                .expect("spans")
                .iter()
                .filter(|s| s["service_name"] == "agent-tools")
                .map(|s| s["duration_ns"].as_i64().expect("duration")),
        );
    }
    durations.sort_unstable();
    assert_eq!(durations.len(), tools.len());
    let op = &tools_ops["operations"][0];
    for (key, p) in [("p50_ns", 0.5), ("p95_ns", 0.95), ("p99_ns", 0.99)] {
        let (got, want) = (op[key].as_i64().expect(key), exact(&durations, p));
        assert!(
            (got - want).abs() * 100 <= want,
            "{key}: {got} against {want}"
        );
    }
    // The slow agent's 300 ms, within the histogram's 1%.
    assert!(op["p99_ns"].as_i64().expect("p99") >= 297_000_000, "{op}");
    let services = get(&sqlite, &format!("/api/services?{minutes}")).1;
    let page_service = services["services"]
        .as_array()
        .expect("services")
        .iter()
        .find(|s| s["name"] == PAGE)
        .expect("the page's service");
    assert_eq!(page_service["source"], "browser");

    // ClickHouse answers every one of these exactly as SQLite does.
    let mut paths = vec![
        format!("/api/services?{minutes}"),
        format!("/api/services?{odd}"),
        format!("/api/dependencies?{whole}"),
        format!("/api/dependencies?{odd_window}"),
        "/api/traces?service=agent-tools&parent_service=agent-backend&limit=100".to_owned(),
    ];
    for service in ["agent-backend", "agent-tools", PAGE] {
        paths.push(format!("/api/services/{service}/operations?{minutes}"));
        paths.push(format!("/api/services/{service}/operations?{odd}"));
    }
    for path in &paths {
        assert!(
            wait_until(Duration::from_secs(60), || get(&clickhouse, path)
                == get(&sqlite, path)),
            "{path}: ClickHouse {} against SQLite {}\n{}",
            get(&clickhouse, path).1,
            get(&sqlite, path).1,
            clickhouse.log()
        );
    }
    drop(backend);
}
