//! The demo backend end to end: browser-style messages over a real WebSocket to the
//! agent-backend process, which continues their traces and exports to a real collector.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tracewire_e2e::agent_backend::AgentBackend;
use tracewire_e2e::collector::Collector;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const BROWSER_SEND: &str = "00f067aa0ba902b7";

/// Polls the trace until `ready` holds for its spans (spans arrive in batches).
async fn wait_for_trace(
    collector: &Collector,
    trace_id: &str,
    ready: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let url = collector.api_url(&format!("/api/traces/{trace_id}"));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let response = reqwest::get(&url).await.expect("api answers");
        if response.status().is_success() {
            let body: Value = response.json().await.expect("json");
            let spans = body["spans"].as_array().cloned().unwrap_or_default();
            if ready(&spans) {
                return spans;
            }
        }
        assert!(
            Instant::now() < deadline,
            "trace {trace_id} incomplete; log:\n{}",
            collector.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn find<'a>(spans: &'a [Value], name: &str) -> &'a Value {
    spans
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no span {name} in {spans:#?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn backend_continues_browser_messages_and_exports_the_whole_trace() {
    let dir = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start(&dir.path().join("tw.db"), &[]);
    let backend = AgentBackend::start(&collector.otlp, &[]);
    let (mut socket, _) = tokio_tungstenite::connect_async(backend.ws_url())
        .await
        .expect("connects");

    let message = json!({
        "trace_context": {"traceparent": format!("00-{TRACE}-{BROWSER_SEND}-01")},
        "type": "run_agent", "agent_id": "coder", "id": 1
    });
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .expect("sends");
    let mut replies = Vec::new();
    while replies.len() < 5 {
        if let Message::Text(text) = socket.next().await.expect("open").expect("frame") {
            replies.push(serde_json::from_str::<Value>(text.as_str()).expect("json"));
        }
    }
    let types: Vec<_> = replies
        .iter()
        .map(|r| r["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        types,
        [
            "run_started",
            "agent_progress",
            "agent_progress",
            "agent_progress",
            "run_finished"
        ]
    );
    assert_eq!(replies[0]["id"], 1, "request id echoed");
    for reply in &replies {
        let traceparent = reply["trace_context"]["traceparent"]
            .as_str()
            .expect("context in every message");
        assert!(
            traceparent.starts_with(&format!("00-{TRACE}-")),
            "{traceparent}"
        );
    }

    let spans = wait_for_trace(&collector, TRACE, |spans| spans.len() >= 8).await;
    let receive = find(&spans, "ws.receive run_agent");
    assert_eq!(receive["kind"], "Consumer");
    assert_eq!(receive["parent_span_id"], BROWSER_SEND);
    assert_eq!(receive["service_name"], "agent-backend");
    let receive_id = receive["span_id"].as_str().expect("id");
    assert_eq!(
        replies[0]["trace_context"]["traceparent"],
        format!("00-{TRACE}-{receive_id}-01"),
        "the reply carries the backend span's context"
    );
    assert_eq!(find(&spans, "SELECT agents")["parent_span_id"], receive_id);
    let client = spans
        .iter()
        .find(|s| s["name"] == "GET /tools/{agent}" && s["kind"] == "Client")
        .expect("HTTP client span");
    assert_eq!(client["parent_span_id"], receive_id);
    let server = spans
        .iter()
        .find(|s| s["name"] == "GET /tools/{agent}" && s["kind"] == "Server")
        .expect("tools server span");
    assert_eq!(server["service_name"], "agent-tools");
    assert_eq!(
        server["parent_span_id"], client["span_id"],
        "traceparent crossed the HTTP hop"
    );
    let pushes = spans
        .iter()
        .filter(|s| s["kind"] == "Producer" && s["parent_span_id"] == receive_id)
        .count();
    assert_eq!(pushes, 4);

    // The failing path: an error reply, and an error status in its trace.
    let failing = "0af7651916cd43dd8448eb211c80319c";
    let message = json!({
        "trace_context": {"traceparent": format!("00-{failing}-b7ad6b7169203331-01")},
        "type": "run_agent", "agent_id": "flaky"
    });
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .expect("sends");
    let reply = loop {
        if let Message::Text(text) = socket.next().await.expect("open").expect("frame") {
            break serde_json::from_str::<Value>(text.as_str()).expect("json");
        }
    };
    assert_eq!(reply["type"], "error");
    let spans = wait_for_trace(&collector, failing, |spans| spans.len() >= 2).await;
    assert_eq!(find(&spans, "ws.receive run_agent")["status_code"], "Error");
    assert_eq!(
        find(&spans, "SELECT agents")["status_message"],
        "database is locked"
    );

    // A clean close from the client is answered with the same code (the handshake completes).
    let frame = tokio_tungstenite::tungstenite::protocol::CloseFrame {
        code: 4000.into(),
        reason: "bye".into(),
    };
    socket.close(Some(frame)).await.expect("close sent");
    let answer = loop {
        match socket.next().await {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => continue,
            other => panic!("no close frame from the server: {other:?}"),
        }
    };
    assert_eq!(answer.map(|f| u16::from(f.code)), Some(4000));
}
