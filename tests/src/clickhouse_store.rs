//! Support for the ClickHouse store tests: a front per test with the test's own database, OTLP
//! requests with every kind of span field, HTTP helpers and polling.

use std::path::Path;
use std::time::{Duration, Instant};

use clickhouse::Client;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, any_value::Value};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use tempfile::TempDir;
use tracewire_collector::testing::otlp::{self, attr, browser_resource, text};
use tracewire_semconv::{attribute, event, resource};

use crate::clickhouse_front::ClickHouseFront;
use crate::collector::Collector;

/// A ClickHouse front in its own directory, and the database of one test.
pub struct ClickHouseTest {
    /// Holds the front's data and the spool; removed on drop.
    pub dir: TempDir,
    /// The running front.
    pub front: ClickHouseFront,
    /// The test's database (named after the test).
    pub database: String,
}

impl ClickHouseTest {
    /// Starts a front for the test `name`; the database is created by the collector.
    pub fn start(name: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let front = ClickHouseFront::start(dir.path().join("clickhouse")).expect("front starts");
        Self {
            dir,
            front,
            database: name.to_owned(),
        }
    }

    /// Starts a front that serves HTTPS with `cert` and `key`, for the test `name`.
    pub fn start_tls(name: &str, cert: &Path, key: &Path) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let front = ClickHouseFront::start_tls(dir.path().join("clickhouse"), cert, key)
            .expect("front starts");
        Self {
            dir,
            front,
            database: name.to_owned(),
        }
    }

    /// Starts a collector process storing in the test's database, with its spool in the test
    /// directory, INSERTs after at most `batch_delay`, on free loopback ports, and `extra` flags.
    pub fn collector(&self, batch_delay: &str, extra: &[&str]) -> Collector {
        let mut args: Vec<String> = [
            "--otlp-listen",
            "127.0.0.1:0",
            "--api-listen",
            "127.0.0.1:0",
            "--clickhouse-batch-delay",
            batch_delay,
        ]
        .map(str::to_owned)
        .to_vec();
        args.extend([
            "--store".to_owned(),
            self.store_url(),
            "--spool-dir".to_owned(),
            self.spool_dir().display().to_string(),
        ]);
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        Collector::start_with_args(args)
    }

    /// The `--store` value for the test database.
    pub fn store_url(&self) -> String {
        format!("clickhouse:{}/{}", self.front.url(), self.database)
    }

    /// The spool directory for the test.
    pub fn spool_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("spool")
    }

    /// A client on the test database.
    pub fn client(&self) -> Client {
        self.front.client().with_database(&self.database)
    }

    /// A SQLite database path in the test directory.
    pub fn sqlite_path(&self) -> std::path::PathBuf {
        self.dir.path().join("tw.db")
    }
}

pub use crate::now_ns;

/// Trace id `n` (16 bytes).
pub fn trace_id(n: u64) -> Vec<u8> {
    let mut id = vec![0xab; 8];
    id.extend_from_slice(&n.to_be_bytes());
    id
}

/// Span id `n` of trace `t` (8 bytes, never zero).
pub fn span_id(t: u64, n: u64) -> Vec<u8> {
    ((t << 16) | (n + 1)).to_be_bytes().to_vec()
}

/// A trace export with `traces` traces of `spans` spans each, starting at `base_ns`, trace ids
/// from `first_trace`. Two services: `web` is a browser (`telemetry.sdk.language = webjs`) whose
/// root span is a `ws.send chat` that `api` continues (`ws.receive chat`), with the reply back in
/// the browser as the third span, as the correlation endpoints expect. Every span has attributes
/// of each type, and some spans have events, links, trace state, error status, each span kind,
/// and scope name and version.
pub fn traces_request(
    first_trace: u64,
    traces: u64,
    spans: u64,
    base_ns: u64,
) -> ExportTraceServiceRequest {
    let mut by_service: [Vec<Span>; 2] = [Vec::new(), Vec::new()];
    for t in first_trace..first_trace + traces {
        let trace_start = base_ns + t * 10_000_000;
        for s in 0..spans {
            let start = trace_start + s * 1_000_003;
            let (name, kind) = match s {
                0 => ("ws.send chat".to_owned(), 4),
                1 => ("ws.receive chat".to_owned(), 5),
                2 => ("ws.receive chat.reply".to_owned(), 5),
                _ => (
                    format!("op {}", s % 3),
                    i32::try_from(s % 6).expect("small"),
                ),
            };
            let mut attributes = vec![
                text(attribute::HTTP_ROUTE, format!("/r/{}", t % 4)),
                attr("http.status_code", Value::IntValue(200 + (s % 2) as i64)),
                attr("sampled", Value::BoolValue(s % 2 == 0)),
                attr("ratio", Value::DoubleValue(0.5)),
            ];
            if s % 2 == 0 {
                attributes.push(text(attribute::SESSION_ID, format!("sess-{}", t % 2)));
                attributes.push(text(attribute::WS_MESSAGE_TYPE, "chat"));
            }
            let span = Span {
                trace_id: trace_id(t),
                span_id: span_id(t, s),
                parent_span_id: match s {
                    0 => Vec::new(),
                    1 => span_id(t, 0),
                    _ => span_id(t, 1),
                },
                trace_state: if s == 1 {
                    "vendor=x".into()
                } else {
                    String::new()
                },
                name,
                kind,
                start_time_unix_nano: start,
                end_time_unix_nano: start + 500_000 * (s + 1) + t,
                attributes,
                events: if s % 2 == 0 {
                    vec![Event {
                        time_unix_nano: start + 10,
                        name: "retry".into(),
                        attributes: vec![text("attempt", "2")],
                        ..Default::default()
                    }]
                } else {
                    Vec::new()
                },
                links: if s == 2 {
                    vec![Link {
                        trace_id: trace_id(t + 1000),
                        span_id: span_id(t + 1000, 0),
                        trace_state: "a=b".into(),
                        attributes: vec![text("link.kind", "follows")],
                        ..Default::default()
                    }]
                } else {
                    Vec::new()
                },
                status: Some(Status {
                    message: if t % 3 == 0 && s == 1 {
                        "boom".into()
                    } else {
                        String::new()
                    },
                    code: if t % 3 == 0 && s == 1 { 2 } else { 0 },
                }),
                ..Default::default()
            };
            by_service[usize::from(s % 2 == 1)].push(span);
        }
    }
    let resource_spans = by_service
        .into_iter()
        .zip(["web", "api"])
        .map(|(spans, service)| ResourceSpans {
            resource: Some(Resource {
                attributes: if service == "web" {
                    browser_resource(service)
                } else {
                    vec![
                        text(resource::SERVICE_NAME, service),
                        text("host.name", "h1"),
                    ]
                },
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "tracewire-test".into(),
                    version: "1.0".into(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest { resource_spans }
}

/// A logs export with `count` records of browser session `sess-1`, some tied to trace `trace`,
/// every third one an `http.client.request_rate` event.
pub fn logs_request(trace: u64, count: u64, base_ns: u64) -> ExportLogsServiceRequest {
    let log_records = (0..count)
        .map(|i| LogRecord {
            time_unix_nano: base_ns + i,
            observed_time_unix_nano: base_ns + i + 5,
            severity_number: 9,
            severity_text: "INFO".into(),
            body: Some(AnyValue {
                value: Some(Value::StringValue(format!("line {i}"))),
            }),
            attributes: vec![
                text("i", i.to_string()),
                text(attribute::SESSION_ID, "sess-1"),
                text(attribute::HTTP_ROUTE, format!("/r/{}", i % 2)),
                text(attribute::HTTP_CLIENT_REQUEST_COUNT, (i + 1).to_string()),
            ],
            event_name: if i % 3 == 0 {
                event::HTTP_CLIENT_REQUEST_RATE.into()
            } else {
                String::new()
            },
            trace_id: if i % 2 == 0 {
                trace_id(trace)
            } else {
                Vec::new()
            },
            span_id: if i % 2 == 0 {
                span_id(trace, 0)
            } else {
                Vec::new()
            },
            ..Default::default()
        })
        .collect();
    otlp::logs_request(vec![text(resource::SERVICE_NAME, "api")], log_records)
}

/// Polls `check` every 50 ms until it is true or `timeout` passes; answers the last result.
pub fn wait_until(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Rows in `table` and distinct `(TraceId, SpanId)` in it (or distinct rows for logs).
pub async fn count_rows(client: &Client, table: &str) -> (u64, u64) {
    let sql = match table {
        "otel_traces" => "SELECT count(), uniqExact(TraceId, SpanId) FROM otel_traces".to_owned(),
        _ => format!("SELECT count(), count() FROM {table}"),
    };
    client
        .query(&sql)
        .fetch_one::<(u64, u64)>()
        .await
        .unwrap_or((0, 0))
}

/// Files in `dir` (not recursive), for looking at the spool.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().is_file())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}
