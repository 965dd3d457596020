//! End-to-end tests of the collector process: a real OpenTelemetry SDK sending to it, crash
//! safety, bad input over real sockets, retention, shutdown and command-line errors.

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::write::GzEncoder;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use rand::RngCore;
use reqwest::blocking::Response;
use serde_json::Value as Json;
use tracewire_collector::testing::otlp::{text, traces_request};
use tracewire_e2e::collector::{Collector, binary};
use tracewire_e2e::{http_client as client, now_ns, otel_send};
use tracewire_semconv::resource;

/// A request with `count` spans in one fresh random trace; returns it and the trace id.
fn request(count: usize, start_ns: u64) -> (ExportTraceServiceRequest, String) {
    let mut trace_id = vec![0u8; 16];
    rand::rng().fill_bytes(&mut trace_id);
    let spans = (0..count)
        .map(|i| Span {
            trace_id: trace_id.clone(),
            span_id: (i as u64 + 1).to_be_bytes().to_vec(),
            parent_span_id: if i == 0 {
                vec![]
            } else {
                1u64.to_be_bytes().to_vec()
            },
            name: format!("step {i}"),
            kind: 1,
            start_time_unix_nano: start_ns + i as u64,
            end_time_unix_nano: start_ns + 1_000_000,
            ..Default::default()
        })
        .collect();
    let request = traces_request(vec![text(resource::SERVICE_NAME, "e2e")], spans);
    (request, hex::encode(trace_id))
}

fn post(
    collector: &Collector,
    content_type: &str,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> Response {
    let mut req = client()
        .post(collector.otlp_url("/v1/traces"))
        .header("content-type", content_type);
    if let Some(encoding) = encoding {
        req = req.header("content-encoding", encoding);
    }
    req.body(body).send().expect("collector answers")
}

fn trace_json(collector: &Collector, trace_id: &str) -> (u16, Json) {
    let response = client()
        .get(collector.api_url(&format!("/api/traces/{trace_id}")))
        .send()
        .expect("api answers");
    let status = response.status().as_u16();
    (status, response.json().expect("JSON body"))
}

#[test]
fn spans_from_the_opentelemetry_python_sdk_read_back_with_every_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start(&dir.path().join("tw.db"), &[]);
    let output = otel_send(&collector.otlp, |_| {});
    let sent: Json = serde_json::from_slice(&output.stdout).expect("script prints JSON");
    let sent = sent["spans"].as_array().expect("spans");
    assert_eq!(sent.len(), 2);
    let trace_id = sent[0]["trace_id"].as_str().expect("trace id");
    let (status, stored) = trace_json(&collector, trace_id);
    assert_eq!(status, 200, "{stored}\n{}", collector.log());
    let stored = stored["spans"].as_array().expect("spans");
    assert_eq!(stored.len(), 2);
    for expected in sent {
        let actual = stored
            .iter()
            .find(|s| s["span_id"] == expected["span_id"])
            .unwrap_or_else(|| panic!("span {} missing", expected["span_id"]));
        for (field, value) in expected.as_object().expect("object") {
            assert_eq!(
                &actual[field], value,
                "field {field} of span {}",
                expected["name"]
            );
        }
    }
    assert_eq!(stored[0]["name"], "GET /agents", "ordered by start");
    assert_eq!(stored[1]["attributes"]["db.system"], "sqlite");
}

#[test]
fn acknowledged_batch_survives_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut collector = Collector::start(&dir.path().join("tw.db"), &[]);
    let (req, trace_id) = request(500, now_ns());
    let response = post(
        &collector,
        "application/x-protobuf",
        None,
        req.encode_to_vec(),
    );
    assert_eq!(response.status().as_u16(), 200);
    collector.kill();
    collector.restart();
    let (status, body) = trace_json(&collector, &trace_id);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["spans"].as_array().expect("spans").len(), 500);
}

/// Asserts the collector still serves: health is fine and a valid batch is stored.
fn assert_still_serving(collector: &Collector) {
    let health = client()
        .get(collector.api_url("/healthz"))
        .send()
        .expect("api answers");
    assert_eq!(health.status().as_u16(), 200);
    let (req, trace_id) = request(1, now_ns());
    assert_eq!(
        post(
            collector,
            "application/x-protobuf",
            None,
            req.encode_to_vec()
        )
        .status()
        .as_u16(),
        200
    );
    assert_eq!(trace_json(collector, &trace_id).0, 200);
}

#[test]
fn bad_input_gets_the_right_4xx_and_the_collector_keeps_serving() {
    let dir = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start(&dir.path().join("tw.db"), &["--max-body", "256KiB"]);

    let mut random = vec![0u8; 4096];
    rand::rng().fill_bytes(&mut random);
    random[0] = 0xff; // an invalid wire type, so the bytes cannot decode by chance
    let (valid, _) = request(20, now_ns());
    let encoded = valid.encode_to_vec();
    let truncated = encoded[..encoded.len() - 7].to_vec();
    let mut bomb = GzEncoder::new(Vec::new(), Compression::best());
    bomb.write_all(&vec![b'{'; 64 << 20]).expect("gzip");
    let bomb = bomb.finish().expect("gzip");
    assert!(bomb.len() < 256 << 10, "the bomb itself is under the limit");

    type Case = (
        &'static str,
        &'static str,
        Option<&'static str>,
        Vec<u8>,
        u16,
    );
    let cases: Vec<Case> = vec![
        (
            "random bytes",
            "application/x-protobuf",
            None,
            random.clone(),
            400,
        ),
        (
            "truncated protobuf",
            "application/x-protobuf",
            None,
            truncated,
            400,
        ),
        (
            "wrong JSON types",
            "application/json",
            None,
            br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":true}]}]}]}"#
                .to_vec(),
            400,
        ),
        (
            "not JSON",
            "application/json",
            None,
            b"{\"resourceSpans\": [".to_vec(),
            400,
        ),
        (
            "corrupt gzip",
            "application/x-protobuf",
            Some("gzip"),
            random,
            400,
        ),
        (
            "body over the limit",
            "application/x-protobuf",
            None,
            vec![0u8; 300 << 10],
            413,
        ),
        ("gzip bomb", "application/json", Some("gzip"), bomb, 413),
        (
            "unknown media type",
            "text/xml",
            None,
            b"<spans/>".to_vec(),
            415,
        ),
    ];
    for (what, content_type, encoding, body, expected) in cases {
        let response = post(&collector, content_type, encoding, body);
        assert_eq!(response.status().as_u16(), expected, "{what}");
        assert_still_serving(&collector);
    }

    let json = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[
        {"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b71692033","name":"short span id"},
        {"traceId":"0af7651916cd43dd8448eb211c8031","spanId":"b7ad6b7169203331","name":"short trace id"},
        {"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","name":"fine"}]}]}]}"#;
    let response = post(
        &collector,
        "application/json",
        None,
        json.as_bytes().to_vec(),
    );
    assert_eq!(response.status().as_u16(), 200);
    let answer: Json = response.json().expect("JSON");
    assert_eq!(answer["partialSuccess"]["rejectedSpans"], 2);
    let (status, body) = trace_json(&collector, "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(
        (status, body["spans"][0]["name"].as_str()),
        (200, Some("fine"))
    );
    assert_still_serving(&collector);
}

#[test]
fn expired_rows_are_deleted_in_the_background() {
    let dir = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start(&dir.path().join("tw.db"), &["--retention", "10s"]);
    let (old, old_id) = request(3, now_ns() - 3_600_000_000_000);
    let (fresh, fresh_id) = request(3, now_ns());
    assert_eq!(
        post(
            &collector,
            "application/x-protobuf",
            None,
            old.encode_to_vec()
        )
        .status()
        .as_u16(),
        200
    );
    assert_eq!(
        post(
            &collector,
            "application/x-protobuf",
            None,
            fresh.encode_to_vec()
        )
        .status()
        .as_u16(),
        200
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while trace_json(&collector, &old_id).0 != 404 {
        assert!(
            Instant::now() < deadline,
            "expired trace still there; log:\n{}",
            collector.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(trace_json(&collector, &fresh_id).0, 200, "fresh trace kept");
}

#[test]
fn sigterm_drains_and_exits_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut collector = Collector::start(&dir.path().join("tw.db"), &[]);
    let (req, trace_id) = request(50, now_ns());
    assert_eq!(
        post(
            &collector,
            "application/x-protobuf",
            None,
            req.encode_to_vec()
        )
        .status()
        .as_u16(),
        200
    );
    let status = collector.terminate();
    assert!(
        status.success(),
        "exit status {status:?}; log:\n{}",
        collector.log()
    );
    assert!(collector.log().contains("Stopped"));
    collector.restart();
    assert_eq!(trace_json(&collector, &trace_id).0, 200);
}

#[test]
fn bad_flags_and_config_files_exit_2_with_one_clear_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "retention = \"forever\"\n").expect("write");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--store".into(), "postgres://x".into()], "--store"),
        (
            vec!["--otlp-listen".into(), "nowhere".into()],
            "--otlp-listen",
        ),
        (vec!["--max-body".into(), "huge".into()], "--max-body"),
        (
            vec!["--cors-origin".into(), "example.com".into()],
            "--cors-origin",
        ),
        (
            vec!["--config".into(), config.display().to_string()],
            "retention",
        ),
        (vec!["--no-such-flag".into()], "--no-such-flag"),
    ];
    for (args, names) in cases {
        let output = Command::new(binary()).args(&args).output().expect("runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(names), "{args:?}: {stderr}");
    }
}

#[test]
fn environment_variables_configure_the_collector() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("env/tw.db");
    let mut child = Command::new(binary())
        .env("TRACEWIRE_OTLP_LISTEN", "127.0.0.1:0")
        .env("TRACEWIRE_OTLP_GRPC_LISTEN", "127.0.0.1:0")
        .env("TRACEWIRE_API_LISTEN", "127.0.0.1:0")
        .env("TRACEWIRE_STORE", format!("sqlite:{}", db.display()))
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !db.exists() {
        assert!(Instant::now() < deadline, "TRACEWIRE_STORE was not used");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}
