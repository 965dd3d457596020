//! Payload-free correlation end to end: spans of payload-free connections (no context in any
//! message; the connection's context in the handshake URL, messages numbered per direction) sent
//! over OTLP to real collector processes on SQLite and on ClickHouse become the same round trips,
//! percentiles and clock offsets as messages with injected context; and the demo backends
//! (Rust and Python) serve such connections, with their spans joining synthetic browser spans.

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::blocking::Client;
use serde_json::Value as Json;
use tokio_tungstenite::tungstenite::Message;
use tracewire_e2e::agent_backend::AgentBackend;
use tracewire_e2e::clickhouse_store::{ClickHouseTest, count_rows, wait_until};
use tracewire_e2e::collector::{Collector, get_json as get, post_traces as post};
use tracewire_e2e::exchanges::{
    MS, OFFSET_NS, PayloadFreeConnection, SERVER_NS, SESSION, payload_free_connection,
};
use tracewire_e2e::{http_client as client, now_ns};

/// A connection of 12 messages, and its reconnect (a new connection, numbers from 1 again) of 5.
fn connections(base: u64) -> [PayloadFreeConnection; 2] {
    [
        payload_free_connection(0x31, 12, base),
        payload_free_connection(0x32, 5, base + 5_000 * MS),
    ]
}

fn paths(base: u64, connections: &[PayloadFreeConnection]) -> Vec<String> {
    let window = format!("start={}&end={}", base, base + 10_000 * MS);
    let mut paths = vec![
        format!("/api/ws/roundtrips?{window}"),
        format!("/api/ws/roundtrips?{window}&message_type=chat&session_id={SESSION}"),
        format!("/api/ws/latency?{window}&step=1s"),
        format!("/api/ws/message-types?{window}"),
        format!("/api/sessions/{SESSION}"),
    ];
    paths.extend(
        connections
            .iter()
            .map(|c| format!("/api/traces/{}", c.trace_id)),
    );
    paths
}

/// What both stores must answer, checked on one of them.
fn check_round_trips(
    client: &Client,
    collector: &Collector,
    base: u64,
    connections: &[PayloadFreeConnection],
) {
    let all = &paths(base, connections)[0];
    let list = get(client, collector, all)["roundtrips"]
        .as_array()
        .cloned()
        .expect("list");
    let found: BTreeSet<(String, String, String)> = list
        .iter()
        .map(|r| {
            let id = |key: &str| r[key].as_str().unwrap_or_default().to_owned();
            (
                id("send_span_id"),
                id("server_span_id"),
                id("receive_span_id"),
            )
        })
        .collect();
    let expected: BTreeSet<_> = connections.iter().flat_map(|c| c.joined.clone()).collect();
    assert_eq!(
        found, expected,
        "send n with receive n, reply by its downlink number"
    );
    assert_eq!(list.len(), 17, "the lost messages are no round trips");
    assert_eq!(list.iter().filter(|r| r["error"] == true).count(), 3);
    for record in &list {
        let offset = record["clock_offset_ns"].as_i64().expect("offset");
        assert!(
            (offset - OFFSET_NS as i64).abs() <= 5 * MS as i64,
            "offset {offset}"
        );
        assert_eq!(record["server_ns"], SERVER_NS);
        let total = record["total_ns"].as_i64().expect("total");
        let (up, down) = (
            record["uplink_ns"].as_i64().expect("up"),
            record["downlink_ns"].as_i64().expect("down"),
        );
        assert_eq!(total - SERVER_NS as i64, up + down);
        assert_eq!(record["client_processing_ns"], MS);
    }
    let chat = get(client, collector, &paths(base, connections)[1]);
    assert_eq!(chat["roundtrips"].as_array().map(Vec::len), Some(6 + 2));
    let latency = get(client, collector, &paths(base, connections)[2]);
    let series = latency["series"].as_array().expect("series");
    let counted: u64 = series.iter().filter_map(|b| b["count"].as_u64()).sum();
    assert_eq!(counted, 17, "percentiles over every round trip");
    assert!(
        series
            .iter()
            .filter(|b| b["count"].as_u64() > Some(0))
            .all(|b| b["total"]["p50"].as_i64() > Some(0)),
        "{latency}"
    );
    let session = get(client, collector, &paths(base, connections)[4]);
    let offset = session["clock_offset_ns"].as_i64().expect("session offset");
    assert!(
        (offset - OFFSET_NS as i64).abs() <= 5 * MS as i64,
        "{session}"
    );
}

#[test]
fn payload_free_connections_become_round_trips_alike_on_sqlite_and_clickhouse() {
    let ch = ClickHouseTest::start("payload_free_round_trips");
    let clickhouse = ch.collector("100ms", &[]);
    let sqlite = Collector::start(&ch.sqlite_path(), &[]);
    let client = client();
    let base = now_ns() - 60_000 * MS;
    let connections = connections(base);
    for c in &connections {
        // The backend's half first: its spans wait for the browser's.
        for collector in [&sqlite, &clickhouse] {
            post(&client, collector, &c.backend);
            post(&client, collector, &c.browser);
        }
    }
    let expected: u64 = connections.iter().map(|c| c.spans).sum();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let stored = wait_until(Duration::from_secs(60), || {
        runtime.block_on(count_rows(&ch.client(), "otel_traces")).0 >= expected
    });
    assert!(
        stored,
        "spans did not reach ClickHouse; log:\n{}",
        clickhouse.log()
    );
    check_round_trips(&client, &sqlite, base, &connections);
    let same = wait_until(Duration::from_secs(60), || {
        paths(base, &connections)
            .iter()
            .all(|path| get(&client, &clickhouse, path) == get(&client, &sqlite, path))
    });
    for path in paths(base, &connections) {
        assert_eq!(
            get(&client, &clickhouse, &path),
            get(&client, &sqlite, &path),
            "{path}; log:\n{}",
            clickhouse.log()
        );
    }
    assert!(same);
    check_round_trips(&client, &clickhouse, base, &connections);
}

/// What the synthetic browser saw of one message: its time and, for a text message, its type.
struct Seen {
    at_ns: u64,
    message_type: Option<String>,
}

impl Seen {
    fn of(message: &Message) -> Self {
        let message_type = match message {
            Message::Text(t) => serde_json::from_str::<Json>(t.as_str())
                .ok()
                .and_then(|v| v["type"].as_str().map(str::to_owned)),
            _ => None,
        };
        Self {
            at_ns: now_ns(),
            message_type,
        }
    }
}

/// The browser's spans of a payload-free connection whose messages went and came as `sent` and
/// `received` say, each numbered in its direction from 1, as the SDK records them.
fn browser_spans(
    trace: &[u8],
    connect: &[u8],
    opened_ns: u64,
    sent: &[Seen],
    received: &[Seen],
) -> Vec<u8> {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use opentelemetry_proto::tonic::trace::v1::Span;
    use prost::Message as _;
    use tracewire_collector::testing::otlp::{attr, browser_resource, text, traces_request};
    use tracewire_semconv::attribute;

    let span = |id: Vec<u8>,
                parent: &[u8],
                name: String,
                kind: i32,
                at: u64,
                sequence: Option<usize>,
                message_type: &Option<String>| {
        let mut attributes = vec![text(attribute::SESSION_ID, "sess-pf")];
        if let Some(sequence) = sequence {
            attributes.extend([
                text(attribute::WS_CONNECTION_SPAN_ID, hex::encode(connect)),
                attr(
                    attribute::WS_MESSAGE_SEQUENCE,
                    Value::IntValue(sequence as i64),
                ),
            ]);
        }
        if let Some(t) = message_type {
            attributes.push(text(attribute::WS_MESSAGE_TYPE, t));
        }
        Span {
            trace_id: trace.to_vec(),
            span_id: id,
            parent_span_id: parent.to_vec(),
            name,
            kind,
            start_time_unix_nano: at,
            end_time_unix_nano: at,
            attributes,
            ..Default::default()
        }
    };
    let named = |operation: &str, t: &Option<String>| match t {
        Some(t) => format!("{operation} {t}"),
        None => operation.to_owned(),
    };
    let mut spans = vec![span(
        connect.to_vec(),
        &[],
        "ws.connect".into(),
        1,
        opened_ns,
        None,
        &None,
    )];
    for (i, s) in sent.iter().enumerate() {
        let id = vec![0x51, i as u8 + 1, 2, 3, 4, 5, 6, 7];
        spans.push(span(
            id,
            connect,
            named("ws.send", &s.message_type),
            4,
            s.at_ns,
            Some(i + 1),
            &s.message_type,
        ));
    }
    for (i, r) in received.iter().enumerate() {
        let id = vec![0x55, i as u8 + 1, 2, 3, 4, 5, 6, 7];
        let process = vec![0x56, i as u8 + 1, 2, 3, 4, 5, 6, 7];
        spans.push(span(
            id.clone(),
            connect,
            named("ws.receive", &r.message_type),
            5,
            r.at_ns,
            Some(i + 1),
            &r.message_type,
        ));
        spans.push(span(
            process,
            &id,
            named("ws.process", &r.message_type),
            5,
            r.at_ns,
            None,
            &r.message_type,
        ));
    }
    traces_request(browser_resource("web"), spans).encode_to_vec()
}

async fn api(collector: &Collector, path: &str) -> Json {
    let response = reqwest::get(collector.api_url(path))
        .await
        .expect("api answers");
    assert!(response.status().is_success(), "{path}");
    response.json().await.expect("json")
}

/// Runs a payload-free connection against a demo backend: binary frames come back byte for
/// byte, JSON without a trace field is answered without one, and with the browser's spans every
/// message becomes a round trip with the backend's receive span and the right reply.
async fn backend_serves_payload_free_connections(start: impl FnOnce(&str) -> AgentBackend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start(&dir.path().join("tw.db"), &[]);
    let backend = start(&collector.otlp);
    let trace = [0x7a_u8; 16];
    let connect = [0x0c_u8, 1, 2, 3, 4, 5, 6, 7];
    let opened = now_ns();
    let url = format!(
        "{}?room=7&traceparent=00-{}-{}-01",
        backend.ws_url(),
        hex::encode(trace),
        hex::encode(connect)
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connects");
    let binary = Message::Binary(vec![0x08, 0x96, 0x01, 0x12, 0x03, 0xff, 0x00, 0x7b].into());
    let messages = [
        binary.clone(),
        Message::Text(r#"{"type":"chat","agent_id":"coder","text":"hi","id":2}"#.into()),
        Message::Text(r#"{"type":"list_agents"}"#.into()),
        Message::Text(r#"{"type":"run_agent","agent_id":"coder"}"#.into()),
    ];
    // The replies each message waits for: run_agent's reply is followed by 4 pushes.
    let answers = [1, 1, 1, 5];
    let (mut sent, mut received, mut replies) = (Vec::new(), Vec::new(), Vec::new());
    for (message, answers) in messages.iter().zip(answers) {
        sent.push(Seen::of(message));
        socket.send(message.clone()).await.expect("sends");
        let mut got = 0;
        while got < answers {
            let reply = socket.next().await.expect("open").expect("frame");
            if matches!(reply, Message::Text(_) | Message::Binary(_)) {
                received.push(Seen::of(&reply));
                replies.push(reply);
                got += 1;
            }
        }
    }
    assert_eq!(replies[0], binary, "binary echoed byte for byte");
    let texts: Vec<Json> = replies[1..]
        .iter()
        .map(|r| match r {
            Message::Text(t) => serde_json::from_str(t.as_str()).expect("JSON reply"),
            other => panic!("not text: {other:?}"),
        })
        .collect();
    assert_eq!(texts[0]["type"], "chat_reply");
    assert_eq!(texts[0]["id"], 2);
    assert_eq!(texts[1]["type"], "agents");
    assert_eq!(texts[2]["type"], "run_started");
    assert_eq!(texts[6]["type"], "run_finished");
    assert!(
        texts.iter().all(|t| t.get("trace_context").is_none()),
        "no context injected: {texts:?}"
    );
    socket.close(None).await.expect("closes");

    let browser = browser_spans(&trace, &connect, opened, &sent, &received);
    let response = reqwest::Client::new()
        .post(collector.otlp_url("/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(browser)
        .send()
        .await
        .expect("collector answers");
    assert_eq!(response.status().as_u16(), 200);

    // The backend exports in batches: wait for the four round trips.
    let window = format!(
        "start={}&end={}",
        opened - 1_000 * MS,
        now_ns() + 60_000 * MS
    );
    let path = format!("/api/ws/roundtrips?{window}");
    let mut list = Vec::new();
    for _ in 0..100 {
        list = api(&collector, &path).await["roundtrips"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if list.len() >= 4 && list.iter().all(|r| !r["receive_span_id"].is_null()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    list.sort_by_key(|r| r["client_send_time_unix_nano"].as_str().map(str::to_owned));
    let spans = api(&collector, &format!("/api/traces/{}", hex::encode(trace))).await["spans"]
        .as_array()
        .cloned()
        .expect("spans");
    let by_id = |id: &Json| {
        spans
            .iter()
            .find(|s| &s["span_id"] == id)
            .unwrap_or_else(|| panic!("no span {id}"))
            .clone()
    };
    let names: Vec<(String, String)> = list
        .iter()
        .map(|r| {
            let name = |key: &str| {
                by_id(&r[key])["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            };
            (name("server_span_id"), name("receive_span_id"))
        })
        .collect();
    assert_eq!(
        names,
        [
            ("ws.receive".to_owned(), "ws.receive".to_owned()),
            (
                "ws.receive chat".to_owned(),
                "ws.receive chat_reply".to_owned()
            ),
            (
                "ws.receive list_agents".to_owned(),
                "ws.receive agents".to_owned()
            ),
            (
                "ws.receive run_agent".to_owned(),
                "ws.receive run_started".to_owned()
            ),
        ],
        "round trips {list:#?}\nlog:\n{}",
        collector.log()
    );
    let connect_hex = Json::from(hex::encode(connect));
    for r in &list {
        let server = by_id(&r["server_span_id"]);
        assert_eq!(server["kind"], "Consumer");
        assert_eq!(
            server["parent_span_id"], connect_hex,
            "child of the handshake's context"
        );
        assert_eq!(server["attributes"]["ws.connection.span_id"], connect_hex);
        assert_eq!(r["error"], false);
        assert!(r["total_ns"].as_i64() > Some(0));
    }
    // Every message the backend sent has its numbered PRODUCER span, 1 to 8.
    let mut downlink: Vec<u64> = spans
        .iter()
        .filter(|s| s["kind"] == "Producer" && s["source"] == "backend")
        .map(|s| {
            assert_eq!(s["attributes"]["ws.connection.span_id"], connect_hex);
            s["attributes"]["ws.message.sequence"]
                .as_str()
                .and_then(|n| n.parse().ok())
                .expect("numbered")
        })
        .collect();
    downlink.sort_unstable();
    assert_eq!(downlink, (1..=8).collect::<Vec<u64>>());
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_backend_serves_payload_free_connections() {
    backend_serves_payload_free_connections(|otlp| AgentBackend::start(otlp, &[])).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn python_backend_serves_payload_free_connections() {
    backend_serves_payload_free_connections(AgentBackend::start_python).await;
}
