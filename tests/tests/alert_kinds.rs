//! Alert conditions over real data, end to end: the demo's `agent-backend` process answering
//! WebSocket messages (its `slow` agent takes 300 ms) fires the WebSocket p95 rule with a link
//! to the slow message's trace, and its tools service's spans (an unknown agent fails) fire the
//! service error-ratio rule; log records matching a search fire the log-count rule and posted
//! OTLP gauges the metric rule, with their exact values. Each rule's state, value and links are
//! read from `GET /api/alerts`.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;
use serde_json::{Value as Json, json};
use tokio_tungstenite::tungstenite::Message;
use tracewire_collector::testing::otlp::{browser_resource, text, traces_request};
use tracewire_e2e::agent_backend::AgentBackend;
use tracewire_e2e::collector::Collector;
use tracewire_e2e::logs::browser_exception;
use tracewire_e2e::metrics::workload;
use tracewire_e2e::{http_client, now_ns};
use tracewire_semconv::attribute;

const RULES: &str = r#"
[[rules]]
name = "slow replies"
condition = { kind = "ws_latency", field = "total", quantile = "p95", message_type = "run_agent" }
window = "1m"
threshold = 250
summary = "run_agent p95 {{value}} ms"
channels = []

[[rules]]
name = "tools failing"
condition = { kind = "service_error_ratio", service = "agent-tools", operation = "GET /tools/{agent}" }
window = "1m"
threshold = 0.3
channels = []
"#;

/// Sends `run_agent` for `agent` as the browser SDK would (a `traceparent` of its own
/// `ws.send`), waits for the direct reply and posts the browser half of the trace: `ws.send` at
/// the send, and the reply's `ws.receive` (child of the backend span the reply names) at its
/// arrival. The trace id.
async fn run_agent(
    socket: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    collector: &Collector,
    n: u8,
    agent: &str,
) -> String {
    let trace = [0x40 + n; 16];
    let send_id = [0x10 + n; 8];
    let message = json!({
        "trace_context": {"traceparent": format!("00-{}-{}-01", hex::encode(trace), hex::encode(send_id))},
        "type": "run_agent", "agent_id": agent, "id": n,
    });
    let sent_ns = now_ns();
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .expect("sends");
    let reply = loop {
        if let Message::Text(text) = socket.next().await.expect("open").expect("frame") {
            let reply: Json = serde_json::from_str(text.as_str()).expect("json");
            if reply["id"] == n {
                break reply;
            }
        }
    };
    let replied_ns = now_ns();
    let parent = reply["trace_context"]["traceparent"]
        .as_str()
        .and_then(|t| t.split('-').nth(2))
        .and_then(|id| hex::decode(id).ok())
        .expect("the reply names the backend span");
    let attributes = || {
        vec![
            text(attribute::SESSION_ID, "sess-agents"),
            text(attribute::WS_MESSAGE_TYPE, "run_agent"),
            text(attribute::MESSAGING_SYSTEM, "websocket"),
            text(attribute::URL_FULL, "ws://app/ws"),
        ]
    };
    let span = |id: [u8; 8], parent: Vec<u8>, name: &str, kind: i32, at: u64| Span {
        trace_id: trace.to_vec(),
        span_id: id.to_vec(),
        parent_span_id: parent,
        name: name.into(),
        kind,
        start_time_unix_nano: at,
        end_time_unix_nano: at,
        attributes: attributes(),
        ..Default::default()
    };
    let spans = vec![
        span(send_id, vec![], "ws.send run_agent", 4, sent_ns),
        span(
            [0x60 + n; 8],
            parent,
            "ws.receive run_started",
            5,
            replied_ns,
        ),
    ];
    let response = reqwest::Client::new()
        .post(collector.otlp_url("/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(traces_request(browser_resource("web"), spans).encode_to_vec())
        .send()
        .await
        .expect("collector answers");
    assert_eq!(response.status().as_u16(), 200);
    hex::encode(trace)
}

fn rule<'a>(overview: &'a Json, name: &str) -> &'a Json {
    overview["rules"]
        .as_array()
        .and_then(|rules| rules.iter().find(|r| r["name"] == name))
        .unwrap_or_else(|| panic!("no rule {name}: {overview:#}"))
}

/// Reads `GET /api/alerts` (at most 20 s) until `check` holds; the answer.
fn wait_for(collector: &Collector, check: impl Fn(&Json) -> bool) -> Json {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let overview: Json = http_client()
            .get(collector.api_url("/api/alerts"))
            .send()
            .expect("collector answers")
            .json()
            .expect("JSON");
        if check(&overview) {
            return overview;
        }
        assert!(
            Instant::now() < deadline,
            "not reached: {overview:#}\nlog:\n{}",
            collector.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_slow_agent_fires_the_websocket_p95_rule_and_a_failing_tools_call_the_error_ratio_rule() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, RULES).expect("write rules");
    let collector = Collector::start(
        &dir.path().join("tw.db"),
        &[
            "--rules",
            &rules.display().to_string(),
            "--alert-interval",
            "200ms",
        ],
    );
    let backend = AgentBackend::start(&collector.otlp, &[]);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (mut socket, _) = runtime
        .block_on(tokio_tungstenite::connect_async(backend.ws_url()))
        .expect("connects");

    // A fast agent: the round trip is measured, under the threshold.
    runtime.block_on(run_agent(&mut socket, &collector, 1, "coder"));
    let overview = wait_for(&collector, |o| rule(o, "slow replies")["value"].is_number());
    let fast = rule(&overview, "slow replies");
    assert_eq!(fast["state"], "inactive", "{fast}");
    assert!(fast["value"].as_f64().is_some_and(|v| v < 250.0), "{fast}");

    // The slow agent's tools take 300 ms: the p95 goes over, and the alert links its trace.
    let slow_trace = runtime.block_on(run_agent(&mut socket, &collector, 2, "slow"));
    let overview = wait_for(&collector, |o| rule(o, "slow replies")["state"] == "firing");
    let value = rule(&overview, "slow replies")["value"]
        .as_f64()
        .expect("value");
    assert!((300.0..5_000.0).contains(&value), "{value}");
    let alert = overview["alerts"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["rule"] == "slow replies"))
        .expect("the alert");
    assert_eq!(alert["trace_id"], slow_trace.as_str(), "{alert}");
    assert_eq!(alert["labels"]["message_type"], "run_agent");
    assert_eq!(
        alert["summary"],
        format!("run_agent p95 {} ms", (value * 100.0).round() / 100.0)
    );

    // Tools: coder and slow succeeded; an unknown agent fails its tools call: 1 of 3.
    assert_eq!(rule(&overview, "tools failing")["state"], "inactive");
    runtime.block_on(run_agent(&mut socket, &collector, 3, "ghost"));
    let overview = wait_for(&collector, |o| {
        rule(o, "tools failing")["state"] == "firing"
    });
    let failing = rule(&overview, "tools failing");
    assert_eq!(failing["value"], json!(1.0 / 3.0), "{failing}");
}

fn post(collector: &Collector, path: &str, body: Vec<u8>) {
    let response = http_client()
        .post(collector.otlp_url(path))
        .header("content-type", "application/x-protobuf")
        .body(body)
        .send()
        .expect("collector answers");
    let status = response.status().as_u16();
    assert_eq!(
        status,
        200,
        "{}\n{}",
        response.text().unwrap_or_default(),
        collector.log()
    );
}

#[test]
fn log_records_matching_a_search_and_an_aggregated_metric_fire_their_rules() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        r#"
[[rules]]
name = "dashboard errors"
condition = { kind = "log_count", query = "TypeError undefined", service = "agent-dashboard" }
window = "1m"
op = ">="
threshold = 3
summary = "{{value}} errors in {{window}} matching {{query}}"
channels = []

[[rules]]
name = "host a hot"
condition = { kind = "metric", name = "temperature", agg = "max", filters = { host = "a" } }
window = "5m"
threshold = 21
channels = []

[[rules]]
name = "any host too hot"
condition = { kind = "metric", name = "temperature", agg = "max" }
window = "5m"
threshold = 40
channels = []
"#,
    )
    .expect("write rules");
    let collector = Collector::start(
        &dir.path().join("tw.db"),
        &[
            "--rules",
            &rules.display().to_string(),
            "--alert-interval",
            "200ms",
        ],
    );
    let now = now_ns();
    // Gauge points from 190 s to 70 s ago: host a 20 then 22, host b 30 then 31.
    post(
        &collector,
        "/v1/metrics",
        workload(now / 1_000_000_000 - 200).encode_to_vec(),
    );
    for i in 1..=2u8 {
        post(
            &collector,
            "/v1/logs",
            browser_exception(
                now - u64::from(i) * 1_000_000_000,
                "sess-logs",
                [i; 16],
                [i; 8],
            )
            .encode_to_vec(),
        );
    }
    // Rules are evaluated one after the other, so the overview can come between two of them.
    let overview = wait_for(&collector, |o| {
        rule(o, "dashboard errors")["value"] == json!(2.0)
            && rule(o, "host a hot")["state"] == "firing"
            && !rule(o, "any host too hot")["value"].is_null()
    });
    assert_eq!(rule(&overview, "dashboard errors")["state"], "inactive");
    assert_eq!(rule(&overview, "host a hot")["value"], json!(22.0));
    let hottest = rule(&overview, "any host too hot");
    assert_eq!(hottest["state"], "inactive");
    assert_eq!(hottest["value"], json!(31.0));

    // A third matching record reaches the threshold.
    post(
        &collector,
        "/v1/logs",
        browser_exception(now, "sess-logs", [3; 16], [3; 8]).encode_to_vec(),
    );
    let overview = wait_for(&collector, |o| {
        rule(o, "dashboard errors")["state"] == "firing"
    });
    let alert = overview["alerts"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["rule"] == "dashboard errors"))
        .expect("the alert");
    assert_eq!(alert["value"], json!(3.0));
    assert_eq!(
        alert["summary"],
        "3 errors in 1m matching TypeError undefined"
    );
    assert_eq!(alert["labels"]["query"], "TypeError undefined");
    // One transition, not one per evaluation.
    std::thread::sleep(Duration::from_millis(600));
    let history: Json = http_client()
        .get(collector.api_url("/api/alerts/history?rule=dashboard%20errors"))
        .send()
        .expect("collector answers")
        .json()
        .expect("JSON");
    let changes: Vec<(&str, &str)> = history["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|t| {
            (
                t["from"].as_str().unwrap_or(""),
                t["to"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(changes, [("inactive", "firing")]);
}
