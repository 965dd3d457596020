//! Hostile clients on a real socket against the collector process: header floods, slow
//! clients, thousands of connections, bodies built to blow up in memory, deep nesting, huge
//! attribute maps and names, invalid UTF-8. Each gets the answer the README documents, and the
//! process stays within its stated memory bound and keeps serving.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::write::GzEncoder;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value::Value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use serde_json::Value as Json;
use tracewire_e2e::collector::Collector;
use tracewire_e2e::raw_http::{self, RawResponse, closed_by_peer, connect, post_head};
use tracewire_e2e::{http_client, now_ns};

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";
/// The in-flight memory budget the memory test runs with.
const BUDGET: u64 = 256 << 20;
/// The peak resident memory the collector must stay under with that budget: the budget plus
/// what the process takes on its own (runtime, SQLite cache, buffers of idle connections).
const MEMORY_BOUND: u64 = BUDGET + (192 << 20);
/// The longest any single answer may take here; the timeouts under test are 1 s.
const ANSWER: Duration = Duration::from_secs(10);

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn string(key: &str, value: &str) -> KeyValue {
    kv(key, Value::StringValue(value.into()))
}

fn span(trace: [u8; 16], id: u64, name: &str) -> Span {
    let now = now_ns();
    Span {
        trace_id: trace.to_vec(),
        span_id: id.to_be_bytes().to_vec(),
        name: name.into(),
        start_time_unix_nano: now,
        end_time_unix_nano: now + 1_000,
        ..Default::default()
    }
}

fn traces(resource: Vec<KeyValue>, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: resource,
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn random_trace() -> [u8; 16] {
    let mut id: [u8; 16] = rand::random();
    id[0] |= 1;
    id
}

fn send(collector: &Collector, path: &str, content_type: &str, body: &[u8]) -> RawResponse {
    let mut stream = connect(&collector.otlp, ANSWER).expect("connects");
    raw_http::post(&mut stream, &collector.otlp, path, content_type, body).expect("answered")
}

fn stored_trace(collector: &Collector, trace: [u8; 16]) -> Option<Json> {
    let response = http_client()
        .get(collector.api_url(&format!("/api/traces/{}", hex::encode(trace))))
        .send()
        .expect("api answers");
    (response.status().as_u16() == 200).then(|| response.json().expect("JSON"))
}

fn assert_still_serving(collector: &Collector) {
    let trace = random_trace();
    let request = traces(vec![], vec![span(trace, 1, "still serving")]);
    let answer = send(collector, "/v1/traces", PROTOBUF, &request.encode_to_vec());
    assert_eq!(answer.status, 200, "{}", collector.log());
    assert!(stored_trace(collector, trace).is_some());
}

/// Sends a request with `count` extra header fields; answers the status.
fn with_headers(collector: &Collector, count: usize) -> u16 {
    let body = traces(vec![], vec![span(random_trace(), 1, "x")]).encode_to_vec();
    let headers: Vec<String> = (0..count).map(|i| format!("x-h{i}: v")).collect();
    let mut stream = connect(&collector.otlp, ANSWER).expect("connects");
    let mut request = post_head(
        &collector.otlp,
        "/v1/traces",
        PROTOBUF,
        body.len(),
        &headers,
    );
    request.extend_from_slice(&body);
    // The collector may answer and close before it has read everything.
    let _ = stream.write_all(&request);
    raw_http::read_response(&mut stream)
        .expect("answered")
        .status
}

#[test]
fn a_flood_of_headers_gets_431() {
    let dir = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start(&dir.path().join("tw.db"), &["--otlp-max-headers", "20"]);
    assert_eq!(with_headers(&collector, 10_000), 431);
    assert_eq!(with_headers(&collector, 30), 431);
    // Up to the limit (the request's own three fields included) is fine.
    assert_eq!(with_headers(&collector, 15), 200);
}

#[test]
fn a_body_trickled_byte_by_byte_gets_408_and_the_connection_closes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start(&dir.path().join("tw.db"), &["--otlp-body-timeout", "1s"]);
    let body = traces(vec![], vec![span(random_trace(), 1, "slow")]).encode_to_vec();
    let mut stream = connect(&collector.otlp, ANSWER).expect("connects");
    stream
        .write_all(&post_head(
            &collector.otlp,
            "/v1/traces",
            PROTOBUF,
            body.len(),
            &[],
        ))
        .expect("head sent");
    let mut writer = stream.try_clone().expect("clone");
    let started = Instant::now();
    // One byte every 200 ms: the whole body would take far longer than the timeout.
    let trickle = std::thread::spawn(move || {
        for byte in body {
            if writer.write_all(&[byte]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    let answer = raw_http::read_response(&mut stream).expect("answered");
    assert_eq!(answer.status, 408);
    assert_eq!(answer.header("connection"), Some("close"));
    assert!(started.elapsed() < ANSWER);
    assert!(closed_by_peer(&mut stream));
    trickle.join().expect("writer ends");
    assert_still_serving(&collector);
}

#[test]
fn slow_headers_and_idle_connections_are_closed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start(&dir.path().join("tw.db"), &["--otlp-header-timeout", "1s"]);

    // Connects and says nothing.
    let mut silent = connect(&collector.otlp, ANSWER).expect("connects");
    // Starts a request and trickles its headers.
    let mut slow = connect(&collector.otlp, ANSWER).expect("connects");
    slow.write_all(b"POST /v1/traces HTTP/1.1\r\nhost: x\r\n")
        .expect("sent");
    let mut writer = slow.try_clone().expect("clone");
    let trickle = std::thread::spawn(move || {
        for _ in 0..50 {
            if writer.write_all(b"x").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    // Sends one request, then stays idle on the keep-alive connection.
    let mut idle = connect(&collector.otlp, ANSWER).expect("connects");
    let body = traces(vec![], vec![span(random_trace(), 1, "x")]).encode_to_vec();
    let answer =
        raw_http::post(&mut idle, &collector.otlp, "/v1/traces", PROTOBUF, &body).expect("answer");
    assert_eq!(answer.status, 200);

    let started = Instant::now();
    for (what, stream) in [
        ("silent", &mut silent),
        ("slow headers", &mut slow),
        ("idle", &mut idle),
    ] {
        assert!(closed_by_peer(stream), "{what} connection still open");
    }
    assert!(started.elapsed() < ANSWER);
    trickle.join().expect("writer ends");
    assert_still_serving(&collector);
}

#[test]
fn connections_beyond_the_limit_get_503_with_retry_after_and_the_rest_is_served() {
    const LIMIT: usize = 100;
    const CONNECTIONS: usize = 2000;
    let dir = tempfile::tempdir().expect("tempdir");
    let limit = LIMIT.to_string();
    let collector = Collector::start(
        &dir.path().join("tw.db"),
        &["--otlp-max-connections", &limit],
    );
    let trace = random_trace();
    // Each request goes out as soon as its connection is open, and the answers are read
    // after all are out, so that every connection is open at once.
    let mut streams = Vec::with_capacity(CONNECTIONS);
    for i in 0..CONNECTIONS {
        let mut stream = connect(&collector.otlp, ANSWER).expect("connects");
        let body = traces(vec![], vec![span(trace, i as u64 + 1, "crowd")]).encode_to_vec();
        let mut request = post_head(&collector.otlp, "/v1/traces", PROTOBUF, body.len(), &[]);
        request.extend_from_slice(&body);
        let sent = stream.write_all(&request).is_ok();
        streams.push((stream, sent));
    }
    let mut spans = 0u64;
    let (mut ok, mut refused, mut closed) = (0, 0, 0);
    for (stream, sent) in &mut streams {
        match raw_http::read_response(stream) {
            Ok(answer) if *sent && answer.status == 200 => {
                ok += 1;
                spans += 1;
            }
            Ok(answer) => {
                assert_eq!(answer.status, 503, "{answer:?}");
                assert_eq!(answer.header("retry-after"), Some("1"));
                assert_eq!(answer.header("connection"), Some("close"));
                refused += 1;
            }
            // Beyond the connections being refused, new ones are closed at once (the client's
            // retry covers it as for any network error).
            Err(_) => closed += 1,
        }
    }
    assert!((1..=LIMIT).contains(&ok), "{ok} served");
    assert!(refused >= 500, "{refused} refused, {closed} closed");
    assert_eq!(ok + refused + closed, CONNECTIONS);
    let stored = stored_trace(&collector, trace).expect("the served ones are stored");
    assert_eq!(
        stored["spans"].as_array().expect("spans").len() as u64,
        spans
    );

    let peak = collector.peak_memory().expect("Linux /proc");
    eprintln!(
        "peak resident memory with {CONNECTIONS} connections: {} MiB",
        peak >> 20
    );
    assert!(peak < MEMORY_BOUND, "{} MiB", peak >> 20);
    drop(streams);
    // Once the crowd is gone, capacity is back.
    let deadline = Instant::now() + ANSWER;
    loop {
        let trace = random_trace();
        let body = traces(vec![], vec![span(trace, 1, "after")]).encode_to_vec();
        if send(&collector, "/v1/traces", PROTOBUF, &body).status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "still refusing");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Protobuf of `repeated` copies of an empty message under field 2 of ScopeSpans (spans).
fn empty_spans(count: usize) -> Vec<u8> {
    fn varint(out: &mut Vec<u8>, mut v: usize) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    let scope: Vec<u8> = std::iter::repeat_n([0x12u8, 0], count).flatten().collect();
    let mut resource_spans = vec![0x12];
    varint(&mut resource_spans, scope.len());
    resource_spans.extend_from_slice(&scope);
    let mut request = vec![0x0a];
    varint(&mut request, resource_spans.len());
    request.extend_from_slice(&resource_spans);
    request
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(data).expect("gzip");
    encoder.finish().expect("gzip")
}

fn post_gzip(collector: &Collector, body: &[u8]) -> RawResponse {
    let body = gzip(body);
    let mut stream = connect(&collector.otlp, ANSWER).expect("connects");
    let mut request = post_head(
        &collector.otlp,
        "/v1/traces",
        PROTOBUF,
        body.len(),
        &["content-encoding: gzip".to_owned()],
    );
    request.extend_from_slice(&body);
    stream.write_all(&request).expect("sent");
    raw_http::read_response(&mut stream).expect("answered")
}

/// A trace request with every string field set to a distinct seven-byte marker `<<NN>>`.
fn every_string_field(trace: [u8; 16]) -> (ExportTraceServiceRequest, usize) {
    let mut n = 0;
    let mut marker = || {
        n += 1;
        format!("<<{n:03}>")
    };
    let nested = kv(
        &marker(),
        Value::KvlistValue(KeyValueList {
            values: vec![string(&marker(), &marker())],
        }),
    );
    let array = kv(
        &marker(),
        Value::ArrayValue(ArrayValue {
            values: vec![AnyValue {
                value: Some(Value::StringValue(marker())),
            }],
        }),
    );
    let mut s = span(trace, 1, &marker());
    s.trace_state = marker();
    s.attributes = vec![string(&marker(), &marker()), nested, array];
    s.events = vec![Event {
        name: marker(),
        attributes: vec![string(&marker(), &marker())],
        ..Default::default()
    }];
    s.links = vec![Link {
        trace_id: trace.to_vec(),
        span_id: 2u64.to_be_bytes().to_vec(),
        trace_state: marker(),
        attributes: vec![string(&marker(), &marker())],
        ..Default::default()
    }];
    s.status = Some(Status {
        message: marker(),
        code: 2,
    });
    let mut request = traces(vec![string(&marker(), &marker())], vec![s]);
    request.resource_spans[0].scope_spans[0].scope = Some(InstrumentationScope {
        name: marker(),
        version: marker(),
        attributes: vec![string(&marker(), &marker())],
        ..Default::default()
    });
    request.resource_spans[0].schema_url = marker();
    (request, n)
}

/// `bytes` with the one occurrence of `marker` replaced by invalid UTF-8 of the same length.
fn spoil(bytes: &[u8], marker: &str) -> Vec<u8> {
    let at = bytes
        .windows(marker.len())
        .position(|w| w == marker.as_bytes())
        .unwrap_or_else(|| panic!("{marker} not found"));
    let mut out = bytes.to_vec();
    out[at..at + marker.len()].fill(0xff);
    out
}

#[test]
fn hostile_bodies_get_defined_answers_within_the_memory_bound() {
    let dir = tempfile::tempdir().expect("tempdir");
    let budget = format!("{}MiB", BUDGET >> 20);
    let collector = Collector::start(&dir.path().join("tw.db"), &["--otlp-max-inflight", &budget]);

    // 16 MiB of empty spans, 8 million of them, gzipped to a few kilobytes: 413.
    let bomb = empty_spans((16 << 20) / 2 - 16);
    let answer = post_gzip(&collector, &bomb);
    assert_eq!(
        answer.status,
        413,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );

    // A resource of 100,000 attributes over 2,000 spans, copied into every span: 413.
    let resource: Vec<KeyValue> = (0..100_000)
        .map(|i| string(&format!("k{i}"), "v"))
        .collect();
    let trace = random_trace();
    let spans: Vec<Span> = (0..2000).map(|i| span(trace, i + 1, "s")).collect();
    let answer = post_gzip(&collector, &traces(resource.clone(), spans).encode_to_vec());
    assert_eq!(answer.status, 413);
    assert!(stored_trace(&collector, trace).is_none());

    // The same resource on one span is stored, its map cut to the first 1,024 keys.
    let trace = random_trace();
    let mut one = span(trace, 1, "wide");
    one.attributes = resource;
    let answer = post_gzip(&collector, &traces(vec![], vec![one]).encode_to_vec());
    assert_eq!(answer.status, 200);
    let stored = stored_trace(&collector, trace).expect("stored");
    let attributes = stored["spans"][0]["attributes"]
        .as_object()
        .expect("attributes");
    assert_eq!(attributes.len(), 1024);
    assert!(attributes.contains_key("k0") && !attributes.contains_key("k99999"));

    // A 1 MiB span name is stored cut to 4 KiB.
    let trace = random_trace();
    let long = span(trace, 1, &"n".repeat(1 << 20));
    let answer = send(
        &collector,
        "/v1/traces",
        PROTOBUF,
        &traces(vec![], vec![long]).encode_to_vec(),
    );
    assert_eq!(answer.status, 200);
    let stored = stored_trace(&collector, trace).expect("stored");
    assert_eq!(
        stored["spans"][0]["name"].as_str().map(str::len),
        Some(4096)
    );

    // Nesting deeper than the decoders go: 400, in JSON and in protobuf.
    let deep_json = format!(
        r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"k","value":{}{}}}]}}}}]}}"#,
        r#"{"arrayValue":{"values":["#.repeat(5000),
        "]}}".repeat(5000)
    );
    assert_eq!(
        send(&collector, "/v1/traces", JSON, deep_json.as_bytes()).status,
        400
    );
    let mut value = AnyValue {
        value: Some(Value::StringValue("leaf".into())),
    };
    for _ in 0..200 {
        value = AnyValue {
            value: Some(Value::ArrayValue(ArrayValue {
                values: vec![value],
            })),
        };
    }
    let trace = random_trace();
    let mut deep = span(trace, 1, "deep");
    deep.attributes = vec![KeyValue {
        key: "k".into(),
        value: Some(value),
        ..Default::default()
    }];
    let answer = send(
        &collector,
        "/v1/traces",
        PROTOBUF,
        &traces(vec![], vec![deep]).encode_to_vec(),
    );
    assert_eq!(answer.status, 400);

    // Invalid UTF-8 in any string field, protobuf or JSON: 400, nothing stored.
    let trace = random_trace();
    let (request, markers) = every_string_field(trace);
    let protobuf = request.encode_to_vec();
    let json = serde_json::to_vec(&request).expect("JSON");
    for n in 1..=markers {
        let marker = format!("<<{n:03}>");
        for (content_type, body) in [(PROTOBUF, &protobuf), (JSON, &json)] {
            let answer = send(
                &collector,
                "/v1/traces",
                content_type,
                &spoil(body, &marker),
            );
            assert_eq!(answer.status, 400, "{content_type} with {marker} spoiled");
        }
    }
    let log = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    severity_text: "<<001>".into(),
                    body: Some(AnyValue {
                        value: Some(Value::StringValue("<<002>".into())),
                    }),
                    event_name: "<<003>".into(),
                    attributes: vec![string("<<004>", "<<005>")],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let protobuf = log.encode_to_vec();
    for n in 1..=5 {
        let marker = format!("<<{n:03}>");
        let answer = send(&collector, "/v1/logs", PROTOBUF, &spoil(&protobuf, &marker));
        assert_eq!(answer.status, 400, "log with {marker} spoiled");
    }
    assert!(stored_trace(&collector, trace).is_none());
    // And the same request unspoiled is fine.
    assert_eq!(
        send(&collector, "/v1/traces", PROTOBUF, &request.encode_to_vec()).status,
        200
    );

    let peak = collector.peak_memory().expect("Linux /proc");
    eprintln!("peak resident memory: {} MiB", peak >> 20);
    assert!(
        peak < MEMORY_BOUND,
        "peak resident memory {} MiB is over the {} MiB bound",
        peak >> 20,
        MEMORY_BOUND >> 20
    );
    assert_still_serving(&collector);
}

#[test]
fn memory_budget_refuses_concurrent_large_requests_with_503_not_500() {
    // A 2 MiB budget holds one 1 MiB body at a time: of many sent at once, some get 503 with
    // `Retry-After`, none anything but 200 or 503, and each 200 is stored.
    let dir = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start(
        &dir.path().join("tw.db"),
        &["--max-body", "1MiB", "--otlp-max-inflight", "2MiB"],
    );
    let mut streams = Vec::new();
    let mut traces_sent = Vec::new();
    for _ in 0..20 {
        let trace = random_trace();
        let mut s = span(trace, 1, "big");
        s.attributes = vec![string("payload", &"p".repeat(200 << 10))];
        let body = traces(vec![], vec![s]).encode_to_vec();
        let mut stream = connect(&collector.otlp, ANSWER).expect("connects");
        // Heads first, bodies after: all twenty are in flight together.
        stream
            .write_all(&post_head(
                &collector.otlp,
                "/v1/traces",
                PROTOBUF,
                body.len(),
                &[],
            ))
            .expect("head");
        streams.push((stream, body));
        traces_sent.push(trace);
    }
    for (stream, body) in &mut streams {
        let _ = stream.write_all(body);
    }
    let (mut ok, mut busy) = (0, 0);
    for ((stream, _), trace) in streams.iter_mut().zip(&traces_sent) {
        let answer = raw_http::read_response(stream).expect("answered");
        match answer.status {
            200 => {
                ok += 1;
                assert!(stored_trace(&collector, *trace).is_some());
            }
            503 => {
                assert_eq!(answer.header("retry-after"), Some("1"));
                busy += 1;
            }
            other => panic!("status {other}: {}", String::from_utf8_lossy(&answer.body)),
        }
    }
    assert!(ok >= 1 && busy >= 1, "{ok} stored, {busy} refused");
    let mut leftover = [0u8; 1];
    for (stream, _) in &mut streams {
        stream
            .set_read_timeout(Some(Duration::from_millis(10)))
            .expect("timeout");
        let _ = stream.read(&mut leftover);
    }
    assert_still_serving(&collector);
}
