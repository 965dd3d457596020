//! Correlation across collector instances: results must not depend on which collector received
//! which span. Two collector processes share one SQLite file and each receives half of every
//! trace's spans; a third collector receives everything into its own file. All three must
//! answer every correlation endpoint identically.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use reqwest::blocking::Client;
use serde_json::Value as Json;
use tracewire_e2e::collector::Collector;

const MS: u64 = 1_000_000;
/// The backend's clock runs this far ahead of the browser's.
const OFFSET: u64 = 2_000 * MS;

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

struct Side {
    resource: Vec<KeyValue>,
    spans: Vec<Span>,
}

fn request(side: Side) -> Vec<u8> {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: side.resource,
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: side.spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn span(
    trace: u8,
    id: u8,
    parent: Option<u8>,
    name: &str,
    kind: i32,
    start: u64,
    duration: u64,
    attrs: Vec<KeyValue>,
) -> Span {
    Span {
        trace_id: vec![trace; 16],
        span_id: vec![id; 8],
        parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
        name: name.into(),
        kind,
        start_time_unix_nano: start,
        end_time_unix_nano: start + duration,
        attributes: attrs,
        ..Default::default()
    }
}

/// Browser and backend spans of `count` exchanges: (browser spans, backend spans) per trace.
fn exchanges(count: u8, base: u64) -> Vec<(Vec<Span>, Vec<Span>)> {
    (1..=count)
        .map(|n| {
            let at = base + u64::from(n) * 300 * MS;
            let up = if n % 3 == 0 { 40 * MS } else { 2 * MS };
            let message_type = if n % 2 == 0 { "chat" } else { "run_agent" };
            let browser_attrs = || {
                vec![
                    kv("session.id", "sess-42"),
                    kv("ws.message.type", message_type),
                    kv("url.full", "ws://app/ws"),
                ]
            };
            let t2 = at + up + OFFSET;
            let t4 = t2 + 5 * MS - OFFSET + 2 * MS;
            let browser = vec![
                span(
                    n,
                    1,
                    None,
                    &format!("ws.send {message_type}"),
                    4,
                    at,
                    0,
                    browser_attrs(),
                ),
                span(n, 3, Some(2), "ws.receive reply", 5, t4, 0, browser_attrs()),
                span(
                    n,
                    4,
                    Some(3),
                    "ws.process reply",
                    5,
                    t4,
                    MS,
                    browser_attrs(),
                ),
            ];
            let backend = vec![
                span(
                    n,
                    2,
                    Some(1),
                    &format!("ws.receive {message_type}"),
                    5,
                    t2,
                    5 * MS,
                    vec![],
                ),
                span(n, 5, Some(2), "SELECT agents", 3, t2 + MS, 2 * MS, vec![]),
            ];
            (browser, backend)
        })
        .collect()
}

fn browser_resource() -> Vec<KeyValue> {
    vec![
        kv("service.name", "web"),
        kv("telemetry.sdk.language", "webjs"),
    ]
}

fn backend_resource() -> Vec<KeyValue> {
    vec![kv("service.name", "agent-backend")]
}

fn send(client: &Client, collector: &Collector, side: Side) {
    let response = client
        .post(collector.otlp_url("/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(request(side))
        .send()
        .expect("collector answers");
    assert_eq!(response.status().as_u16(), 200);
}

fn get(client: &Client, collector: &Collector, path: &str) -> Json {
    let response = client
        .get(collector.api_url(path))
        .send()
        .expect("api answers");
    assert_eq!(response.status().as_u16(), 200, "{path}");
    response.json().expect("json")
}

#[test]
fn two_collectors_sharing_a_store_answer_like_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let shared = dir.path().join("shared.db");
    let first = Collector::start(&shared, &[]);
    let second = Collector::start(&shared, &[]);
    let single = Collector::start(&dir.path().join("single.db"), &[]);
    let client = Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");

    let now = u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_nanos(),
    )
    .expect("fits");
    let base = now - 60_000 * MS;
    for (n, (browser, backend)) in exchanges(12, base).into_iter().enumerate() {
        // Each trace is split: its browser half goes to one shared-store collector, its backend
        // half to the other, alternating which gets which.
        let (to_browser, to_backend) = if n % 2 == 0 {
            (&first, &second)
        } else {
            (&second, &first)
        };
        send(
            &client,
            to_browser,
            Side {
                resource: browser_resource(),
                spans: browser.clone(),
            },
        );
        send(
            &client,
            to_backend,
            Side {
                resource: backend_resource(),
                spans: backend.clone(),
            },
        );
        send(
            &client,
            &single,
            Side {
                resource: browser_resource(),
                spans: browser,
            },
        );
        send(
            &client,
            &single,
            Side {
                resource: backend_resource(),
                spans: backend,
            },
        );
    }

    let window = format!("start={}&end={}", base, base + 10_000 * MS);
    let paths = [
        format!("/api/ws/roundtrips?{window}"),
        format!("/api/ws/roundtrips?{window}&message_type=chat&session_id=sess-42"),
        format!("/api/ws/latency?{window}&step=1s"),
        format!("/api/ws/message-types?{window}"),
        "/api/sessions/sess-42".to_owned(),
        format!("/api/traces/{}", hex::encode([3u8; 16])),
    ];
    for path in &paths {
        let expected = get(&client, &single, path);
        assert_eq!(
            get(&client, &first, path),
            expected,
            "{path} via the first collector"
        );
        assert_eq!(
            get(&client, &second, path),
            expected,
            "{path} via the second collector"
        );
    }

    let roundtrips = get(&client, &first, &paths[0]);
    let list = roundtrips["roundtrips"].as_array().expect("list");
    assert_eq!(list.len(), 12);
    for record in list {
        let offset = record["clock_offset_ns"].as_i64().expect("offset");
        assert!(
            (offset - OFFSET as i64).abs() <= 5 * MS as i64,
            "offset {offset}"
        );
        assert_eq!(record["server_ns"], 5 * MS);
        assert_eq!(
            record["total_ns"].as_i64().expect("total")
                - record["server_ns"].as_i64().expect("server"),
            record["uplink_ns"].as_i64().expect("up")
                + record["downlink_ns"].as_i64().expect("down")
        );
    }
}
