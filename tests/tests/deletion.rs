//! Deleting a user's or a session's data on real collector processes, on SQLite and on
//! ClickHouse: `DELETE /api/users/{id}` and `DELETE /api/sessions/{id}` with an admin token
//! remove the subject's spans, logs, round trips and session offsets in the caller's tenant and
//! bring the dashboards (rollups) up to date, while other users and the other tenant (with the
//! same ids) keep everything; rows still in the ClickHouse spool never reach ClickHouse; the
//! `delete` command does the same from the shell while the collector runs.

use std::process::Command;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use prost::Message;
use reqwest::blocking::Client;
use serde_json::Value as Json;
use tracewire_e2e::access::tenant;
use tracewire_e2e::clickhouse_store::{
    ClickHouseTest, logs_request, now_ns, trace_id, traces_request, wait_until,
};
use tracewire_e2e::collector::{Collector, binary};
use tracewire_e2e::http_client;

const ACME_KEY: &str = "twsk_deletion_acme_key_001";
const ACME_ADMIN: &str = "twat_deletion_acme_admin_1";
const ACME_READ: &str = "twrt_deletion_acme_read_01";
const GLOBEX_KEY: &str = "twsk_deletion_globex_key_1";
const GLOBEX_ADMIN: &str = "twat_deletion_globex_adm_1";

fn access_text() -> String {
    let read = format!(
        "[[tenants.read_tokens]]\ntoken_sha256 = \"{}\"\n",
        tracewire_e2e::access::sha256(ACME_READ)
    );
    tenant("acme", ACME_KEY, ACME_ADMIN, "admin")
        + &read
        + &tenant("globex", GLOBEX_KEY, GLOBEX_ADMIN, "admin")
}

fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(value.to_owned())),
        }),
        ..Default::default()
    }
}

/// Eight WebSocket exchanges (traces 1 to 8, sessions `sess-0` and `sess-1` by parity): the
/// browser spans of traces 1 to 4 are user `u-a`'s, of 5 to 8 `u-b`'s. Six log records of
/// `sess-1`: three in trace 2, one of `u-a` without a trace.
fn requests(base: u64) -> (Vec<u8>, Vec<u8>) {
    let mut traces: ExportTraceServiceRequest = traces_request(1, 8, 4, base);
    for resource in &mut traces.resource_spans {
        for scope in &mut resource.scope_spans {
            for span in &mut scope.spans {
                if span.attributes.iter().any(|kv| kv.key == "session.id") {
                    let t = u64::from_be_bytes(span.trace_id[8..].try_into().expect("8 bytes"));
                    span.attributes
                        .push(text("user.id", if t <= 4 { "u-a" } else { "u-b" }));
                }
            }
        }
    }
    let mut logs: ExportLogsServiceRequest = logs_request(2, 6, base);
    for resource in &mut logs.resource_logs {
        for scope in &mut resource.scope_logs {
            scope.log_records[1].attributes.push(text("user.id", "u-a"));
        }
    }
    (traces.encode_to_vec(), logs.encode_to_vec())
}

fn send(http: &Client, collector: &Collector, key: &str, (traces, logs): &(Vec<u8>, Vec<u8>)) {
    for (path, body) in [("/v1/traces", traces), ("/v1/logs", logs)] {
        let response = http
            .post(collector.otlp_url(path))
            .header("content-type", "application/x-protobuf")
            .header("x-tracewire-key", key)
            .body(body.clone())
            .send()
            .expect("answer");
        assert_eq!(response.status().as_u16(), 200, "{path}");
    }
}

fn call(
    http: &Client,
    collector: &Collector,
    method: &str,
    path: &str,
    token: &str,
) -> (u16, Json) {
    let url = collector.api_url(path);
    let request = match method {
        "DELETE" => http.delete(url),
        _ => http.get(url),
    };
    let response = request.bearer_auth(token).send().expect("api answers");
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Json::Null))
}

/// `(traces found of 1 to 8, round trips, round trips the latency series counts)` as `token`
/// reads them.
fn holdings(http: &Client, collector: &Collector, token: &str, base: u64) -> (Vec<u64>, u64, u64) {
    let found = (1..=8)
        .filter(|t| {
            let path = format!("/api/traces/{}", hex::encode(trace_id(*t)));
            call(http, collector, "GET", &path, token).0 == 200
        })
        .collect();
    let window = format!("start={base}&end={}", now_ns());
    let trips = call(
        http,
        collector,
        "GET",
        &format!("/api/ws/roundtrips?{window}&limit=1000"),
        token,
    )
    .1;
    let series = call(
        http,
        collector,
        "GET",
        &format!("/api/ws/latency?{window}&step=1m"),
        token,
    )
    .1;
    let counted = series["series"].as_array().map_or(0, |s| {
        s.iter().map(|b| b["count"].as_u64().unwrap_or(0)).sum()
    });
    (
        found,
        trips["roundtrips"].as_array().map_or(0, |r| r.len() as u64),
        counted,
    )
}

fn counts(body: &Json) -> [u64; 4] {
    ["spans", "logs", "round_trips", "session_offsets"]
        .map(|k| body["deleted"][k].as_u64().unwrap_or(u64::MAX))
}

/// The whole flow on one collector; `settle` waits until the store has derived everything.
fn users_and_sessions_are_deleted_in_their_tenant_only(collector: &Collector, name: &str) {
    let http = http_client();
    let base = now_ns() - 600_000_000_000;
    let data = requests(base);
    send(&http, collector, ACME_KEY, &data);
    send(&http, collector, GLOBEX_KEY, &data);
    let all: Vec<u64> = (1..=8).collect();
    for token in [ACME_ADMIN, GLOBEX_ADMIN] {
        assert!(
            wait_until(Duration::from_secs(60), || holdings(
                &http, collector, token, base
            ) == (all.clone(), 8, 8)),
            "{name}: never settled: {:?}\n{}",
            holdings(&http, collector, token, base),
            collector.log()
        );
    }

    let events = |token| {
        call(&http, collector, "GET", "/api/sessions/sess-1", token).1["events"]
            .as_array()
            .map_or(0, Vec::len)
    };
    let before = events(ACME_ADMIN);
    let (status, body) = call(&http, collector, "DELETE", "/api/users/u-a", ACME_READ);
    assert_eq!(
        (status, &body["error"]["code"]),
        (403, &Json::from("admin_required")),
        "{name}"
    );
    let (status, body) = call(&http, collector, "DELETE", "/api/users/u-a", ACME_ADMIN);
    assert_eq!(status, 200, "{name}: {body}\n{}", collector.log());
    assert_eq!(body["tenant"], "acme");
    assert_eq!(body["user_id"], "u-a");
    // 4 traces of 4 spans; 3 logs of trace 2 and one of u-a's own; 4 round trips; both
    // sessions keep an offset from u-b's round trips.
    assert_eq!(counts(&body), [16, 4, 4, 0], "{name}: {body}");
    assert_eq!(
        holdings(&http, collector, ACME_ADMIN, base),
        ((5..=8).collect(), 4, 4),
        "{name}"
    );
    assert_eq!(
        holdings(&http, collector, GLOBEX_ADMIN, base),
        (all.clone(), 8, 8),
        "{name}"
    );
    let search = call(
        &http,
        collector,
        "GET",
        "/api/traces?user_id=u-a",
        ACME_ADMIN,
    )
    .1;
    assert_eq!(search["traces"], Json::Array(Vec::new()), "{name}");
    // sess-1 lost the two browser spans of traces 1 and 3 each, and four log records.
    assert_eq!(before - events(ACME_ADMIN), 8, "{name}");
    assert_eq!(events(GLOBEX_ADMIN), before, "{name}");

    let (status, body) = call(
        &http,
        collector,
        "DELETE",
        "/api/sessions/sess-0",
        ACME_ADMIN,
    );
    assert_eq!(status, 200, "{name}: {body}");
    assert_eq!(body["session_id"], "sess-0");
    assert_eq!(
        counts(&body),
        [8, 0, 2, 1],
        "{name}: traces 6 and 8: {body}"
    );
    assert_eq!(
        holdings(&http, collector, ACME_ADMIN, base),
        (vec![5, 7], 2, 2),
        "{name}"
    );
    let (status, body) = call(&http, collector, "GET", "/api/sessions/sess-0", ACME_ADMIN);
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &Json::from("session_not_found")),
        "{name}"
    );
    assert_eq!(
        holdings(&http, collector, GLOBEX_ADMIN, base),
        (all, 8, 8),
        "{name}"
    );

    // From the shell, while the collector runs: u-b in acme.
    let output = Command::new(binary())
        .args(collector.args())
        .args(["delete", "--user", "u-b", "--tenant", "acme"])
        .output()
        .expect("runs");
    let said = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{name}: {said}");
    assert!(
        said.contains("8 spans") && said.contains("2 round trips"),
        "{name}: {said}"
    );
    assert_eq!(
        holdings(&http, collector, ACME_ADMIN, base),
        (Vec::new(), 0, 0),
        "{name}"
    );
    assert_eq!(
        holdings(&http, collector, GLOBEX_ADMIN, base).0.len(),
        8,
        "{name}"
    );
}

#[test]
fn deletion_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let access = dir.path().join("access.toml");
    std::fs::write(&access, access_text()).expect("write");
    let access = access.display().to_string();
    let collector = Collector::start(&dir.path().join("tw.db"), &["--access", &access]);
    users_and_sessions_are_deleted_in_their_tenant_only(&collector, "sqlite");
}

#[test]
fn deletion_on_clickhouse() {
    let test = ClickHouseTest::start("deletion");
    let access = test.dir.path().join("access.toml");
    std::fs::write(&access, access_text()).expect("write");
    let access = access.display().to_string();
    let collector = test.collector("50ms", &["--access", &access]);
    users_and_sessions_are_deleted_in_their_tenant_only(&collector, "clickhouse");
}

#[test]
fn rows_still_in_the_clickhouse_spool_are_deleted_before_shipping() {
    let test = ClickHouseTest::start("deletion_in_the_spool");
    let access = test.dir.path().join("access.toml");
    std::fs::write(&access, access_text()).expect("write");
    let access = access.display().to_string();
    // Nothing ships for an hour: everything waits in the spool.
    let mut collector = test.collector("1h", &["--access", &access]);
    let http = http_client();
    let base = now_ns() - 600_000_000_000;
    send(&http, &collector, ACME_KEY, &requests(base));
    let (status, body) = call(&http, &collector, "DELETE", "/api/users/u-a", ACME_ADMIN);
    assert_eq!(status, 200, "{body}\n{}", collector.log());
    assert_eq!(
        counts(&body)[..2],
        [16, 4],
        "spans and logs taken from the spool: {body}"
    );
    // SIGTERM ships the rest; a new collector reads it back.
    assert!(collector.terminate().success());
    let collector = test.collector("50ms", &["--access", &access]);
    assert!(
        wait_until(Duration::from_secs(60), || holdings(
            &http, &collector, ACME_ADMIN, base
        ) == ((5..=8).collect(), 4, 4)),
        "{:?}\n{}",
        holdings(&http, &collector, ACME_ADMIN, base),
        collector.log()
    );
}
