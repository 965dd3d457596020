//! Two tenants on one collector, on each store: each reads exactly what a collector holding only
//! its own data would answer, on every query endpoint (traces by id, search, services, round
//! trips, latency, rates, message types, sessions, hot endpoints) and on the live tail, although
//! both sent the same trace ids and session ids. Rows stored without an access file stay
//! readable by the tenant `default`.

use std::time::Duration;

use futures_util::StreamExt;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message;
use reqwest::blocking::Client;
use serde_json::{Value as Json, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tracewire_e2e::access::tenant;
use tracewire_e2e::clickhouse_store::{
    ClickHouseTest, logs_request, now_ns, trace_id, traces_request, wait_until,
};
use tracewire_e2e::collector::Collector;
use tracewire_e2e::exchanges::message_rates;
use tracewire_e2e::http_client;

const ACME_KEY: &str = "twsk_tenants_acme_key_0001";
const ACME_TOKEN: &str = "twrt_tenants_acme_token_001";
const GLOBEX_KEY: &str = "twsk_tenants_globex_key_001";
const GLOBEX_TOKEN: &str = "twrt_tenants_globex_token_1";

fn access_file(dir: &std::path::Path) -> String {
    let path = dir.join("access.toml");
    let text = tenant("acme", ACME_KEY, ACME_TOKEN, "read")
        + &tenant("globex", GLOBEX_KEY, GLOBEX_TOKEN, "read");
    std::fs::write(&path, text).expect("write access file");
    path.display().to_string()
}

/// One tenant's data, as OTLP protobuf bodies: its traces (ids from 1), its logs and the
/// browser's counted chat messages (ten per log record).
struct Data {
    traces: Vec<u8>,
    logs: Vec<u8>,
    counted: Vec<u8>,
}

fn shift_service(request: &mut ExportTraceServiceRequest, service: &str, by_ns: u64) {
    for resource in &mut request.resource_spans {
        let named = resource.resource.as_ref().is_some_and(|r| {
            r.attributes.iter().any(|kv| {
                kv.key == "service.name"
                    && matches!(&kv.value.as_ref().and_then(|v| v.value.as_ref()),
                        Some(Value::StringValue(s)) if s == service)
            })
        });
        if !named {
            continue;
        }
        for scope in &mut resource.scope_spans {
            for span in &mut scope.spans {
                span.start_time_unix_nano += by_ns;
                span.end_time_unix_nano += by_ns;
                for event in &mut span.events {
                    event.time_unix_nano += by_ns;
                }
            }
        }
    }
}

fn data(base: u64, traces: u64, spans: u64, skew_ns: u64, log_trace: u64, logs: u64) -> Data {
    let mut request = traces_request(1, traces, spans, base);
    shift_service(&mut request, "web", skew_ns);
    Data {
        traces: request.encode_to_vec(),
        logs: logs_request(log_trace, logs, base).encode_to_vec(),
        counted: message_rates(base + 1_000_000_000, &[("chat", 10 * logs as i64, 1)]),
    }
}

fn send(http: &Client, collector: &Collector, key: Option<&str>, data: &Data) {
    for (path, body) in [
        ("/v1/traces", &data.traces),
        ("/v1/logs", &data.logs),
        ("/v1/logs", &data.counted),
    ] {
        let mut request = http
            .post(collector.otlp_url(path))
            .header("content-type", "application/x-protobuf")
            .body(body.clone());
        if let Some(key) = key {
            request = request.header("x-tracewire-key", key);
        }
        let response = request.send().expect("answer");
        assert_eq!(response.status().as_u16(), 200, "{path}");
    }
}

fn get(http: &Client, collector: &Collector, path: &str, token: Option<&str>) -> (u16, Json) {
    let mut request = http.get(collector.api_url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().expect("api answers");
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Json::Null))
}

/// Every query endpoint, over a fixed window so that rates compare.
fn paths(base: u64, end: u64) -> Vec<String> {
    let window = format!("start={base}&end={end}");
    let mut paths: Vec<String> = (1..=10)
        .map(|t| format!("/api/traces/{}", hex::encode(trace_id(t))))
        .collect();
    paths.extend([
        "/api/traces?limit=100".to_owned(),
        "/api/traces?service=api&limit=100".to_owned(),
        "/api/traces?status=error".to_owned(),
        "/api/traces?session_id=sess-1".to_owned(),
        format!("/api/services?{window}"),
        format!("/api/services?{window}&step=1m"),
        format!("/api/services/api/operations?{window}"),
        format!("/api/dependencies?{window}"),
        format!("/api/ws/roundtrips?{window}&limit=1000"),
        format!("/api/ws/roundtrips?{window}&session_id=sess-0"),
        format!("/api/ws/latency?{window}&step=1s"),
        format!("/api/ws/latency?{window}&step=1m"),
        format!("/api/ws/rates?{window}&step=1m"),
        format!("/api/ws/message-types?{window}"),
        "/api/sessions/sess-0".to_owned(),
        "/api/sessions/sess-1".to_owned(),
        "/api/endpoints/hot?window=1h".to_owned(),
    ]);
    paths
}

/// Replaces every `"tenant": "default"` in `body` by `id`.
fn rename_tenant(body: &mut Json, id: &str) {
    match body {
        Json::Object(map) => {
            for (key, value) in map.iter_mut() {
                if key == "tenant" && value == "default" {
                    *value = json!(id);
                } else {
                    rename_tenant(value, id);
                }
            }
        }
        Json::Array(items) => items.iter_mut().for_each(|v| rename_tenant(v, id)),
        _ => {}
    }
}

/// Each tenant of `shared` answers every path as a collector holding only its data does.
fn each_tenant_sees_only_its_own(shared: &Collector, name: &str) {
    let http = http_client();
    let dir = tempfile::tempdir().expect("tempdir");
    let base = now_ns() - 600_000_000_000;
    let end = now_ns();
    // The same trace ids (1 to 6) and sessions in both tenants; globex's browser clock is 70 ms
    // ahead, so mixed-up clock offsets would show; acme counted 40 chat messages, globex 70.
    let acme = data(base, 6, 4, 0, 1, 4);
    let globex = data(base, 9, 5, 70_000_000, 2, 7);
    let alone = [
        ("acme", ACME_KEY, ACME_TOKEN, &acme, "acme.db"),
        ("globex", GLOBEX_KEY, GLOBEX_TOKEN, &globex, "globex.db"),
    ]
    .map(|(id, key, token, data, db)| {
        (
            id,
            key,
            token,
            data,
            Collector::start(&dir.path().join(db), &[]),
        )
    });
    for (_, key, _, data, reference) in &alone {
        send(&http, shared, Some(key), data);
        send(&http, reference, None, data);
    }
    let paths = paths(base, end);
    for (id, _, token, _, reference) in &alone {
        // Alone, a tenant's round trips say `default`; shared, they name the tenant.
        let reference_get = |path: &str| {
            let (status, mut body) = get(&http, reference, path, None);
            rename_tenant(&mut body, id);
            (status, body)
        };
        let matches = |path: &String| get(&http, shared, path, Some(token)) == reference_get(path);
        // The ClickHouse store derives round trips as it ships: wait for every answer to settle.
        let settled = wait_until(Duration::from_secs(60), || paths.iter().all(matches));
        for path in &paths {
            let ours = get(&http, shared, path, Some(token));
            let alone = reference_get(path);
            assert_eq!(
                ours,
                alone,
                "{name}: {path} for the tenant of {token} (settled: {settled})\n{}",
                shared.log()
            );
        }
    }
    // Each tenant's dashboard counts its own counted messages, and only those.
    let counted = |token| {
        let path = format!("/api/ws/message-types?start={base}&end={end}");
        let types = get(&http, shared, &path, Some(token)).1;
        types["types"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["message_type"] == "chat"))
            .map(|t| t["counted"].clone())
    };
    assert_eq!(
        (counted(ACME_TOKEN), counted(GLOBEX_TOKEN)),
        (Some(json!(40)), Some(json!(70))),
        "{name}"
    );
    // The same trace id holds different spans in each tenant; a trace only globex sent is a 404
    // for acme, exactly as if it did not exist.
    let shared_trace = format!("/api/traces/{}", hex::encode(trace_id(2)));
    let spans = |token| {
        get(&http, shared, &shared_trace, Some(token)).1["spans"]
            .as_array()
            .map(Vec::len)
    };
    assert_eq!(
        (spans(ACME_TOKEN), spans(GLOBEX_TOKEN)),
        (Some(4), Some(5)),
        "{name}"
    );
    let only_globex = format!("/api/traces/{}", hex::encode(trace_id(8)));
    assert_eq!(get(&http, shared, &only_globex, Some(GLOBEX_TOKEN)).0, 200);
    let (status, body) = get(&http, shared, &only_globex, Some(ACME_TOKEN));
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &json!("trace_not_found")),
        "{name}"
    );
    let offset = |token| {
        get(&http, shared, "/api/sessions/sess-0", Some(token)).1["clock_offset_ns"].as_i64()
    };
    assert_ne!(
        offset(ACME_TOKEN),
        offset(GLOBEX_TOKEN),
        "{name}: offsets per tenant"
    );
}

/// The live tail with `token` sees a span acme sends and not one globex sends.
fn live_tail_is_per_tenant(shared: &Collector) {
    let http = http_client();
    let url = format!("{}/api/live", shared.api.replacen("http", "ws", 1));
    let mut request = url.into_client_request().expect("request");
    request.headers_mut().insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {ACME_TOKEN}")).expect("ascii"),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("live tail");
        let span = |name: &str| {
            let start = now_ns();
            json!({ "resourceSpans": [{ "resource": { "attributes": [{ "key": "service.name", "value": { "stringValue": "live" } }] },
                "scopeSpans": [{ "spans": [{ "traceId": format!("{:032x}", start), "spanId": "0000000000000001", "name": name, "kind": 2,
                    "startTimeUnixNano": start.to_string(), "endTimeUnixNano": (start + 1000).to_string() }] }] }] })
            .to_string()
        };
        for (key, name) in [(GLOBEX_KEY, "globex span"), (ACME_KEY, "acme span")] {
            let http = http.clone();
            let url = shared.otlp_url("/v1/traces");
            let body = span(name);
            let key = key.to_owned();
            let status = tokio::task::spawn_blocking(move || {
                http.post(url)
                    .header("content-type", "application/json")
                    .header("x-tracewire-key", key)
                    .body(body)
                    .send()
                    .expect("answer")
                    .status()
                    .as_u16()
            })
            .await
            .expect("sender");
            assert_eq!(status, 200);
        }
        let first = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a span within 10 s")
            .expect("open")
            .expect("message");
        let span: Json = serde_json::from_str(first.to_text().expect("text")).expect("json");
        assert_eq!(span["name"], "acme span", "globex's span was sent first and must not show");
    });
}

#[test]
fn two_tenants_on_sqlite_each_see_only_their_own_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let access = access_file(dir.path());
    let shared = Collector::start(&dir.path().join("shared.db"), &["--access", &access]);
    each_tenant_sees_only_its_own(&shared, "sqlite");
    live_tail_is_per_tenant(&shared);
}

#[test]
fn two_tenants_on_clickhouse_each_see_only_their_own_data() {
    let test = ClickHouseTest::start("two_tenants");
    let access = access_file(test.dir.path());
    let shared = test.collector("50ms", &["--access", &access]);
    each_tenant_sees_only_its_own(&shared, "clickhouse");
    live_tail_is_per_tenant(&shared);
}

#[test]
fn rows_stored_without_an_access_file_stay_readable_by_the_default_tenant() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("tw.db");
    let http = http_client();
    let base = now_ns() - 60_000_000_000;
    let before = data(base, 3, 3, 0, 1, 2);
    let mut open = Collector::start(&db, &[]);
    send(&http, &open, None, &before);
    let trace = format!("/api/traces/{}", hex::encode(trace_id(1)));
    let (status, expected) = get(&http, &open, &trace, None);
    assert_eq!(status, 200);
    open.terminate();

    let path = dir.path().join("access.toml");
    std::fs::write(
        &path,
        tenant("default", ACME_KEY, ACME_TOKEN, "read")
            + &tenant("globex", GLOBEX_KEY, GLOBEX_TOKEN, "read"),
    )
    .expect("write");
    let access = path.display().to_string();
    let guarded = Collector::start(&db, &["--access", &access]);
    assert_eq!(
        get(&http, &guarded, &trace, Some(ACME_TOKEN)),
        (200, expected)
    );
    assert_eq!(get(&http, &guarded, &trace, Some(GLOBEX_TOKEN)).0, 404);
    // And what the default tenant's key sends now joins the same rows.
    let after = data(base + 1_000_000_000, 1, 2, 0, 1, 1);
    let mut request = ExportTraceServiceRequest::decode(after.traces.as_slice()).expect("decode");
    for resource in &mut request.resource_spans {
        for scope in &mut resource.scope_spans {
            for span in &mut scope.spans {
                span.trace_id = trace_id(77);
            }
        }
    }
    let after = Data {
        traces: request.encode_to_vec(),
        logs: after.logs,
        counted: after.counted,
    };
    send(&http, &guarded, Some(ACME_KEY), &after);
    let listed = get(&http, &guarded, "/api/traces?limit=100", Some(ACME_TOKEN)).1;
    assert_eq!(
        listed["traces"].as_array().map(Vec::len),
        Some(4),
        "{listed}"
    );
}
