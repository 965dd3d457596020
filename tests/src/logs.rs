//! Log records for the log search tests: a corpus whose bodies use words of very different
//! frequencies, in mixed case, with non-ASCII characters and punctuation, where many records
//! share a time; the browser SDK's exception record as it sends it; the queries both stores
//! must answer alike; and the real OpenTelemetry Python SDK's logging handler
//! (`tests/python/otel_logs.py`).

use std::path::Path;
use std::process::Command;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tracewire_semconv::{attribute, resource};

/// Words with very different frequencies, mixed case, non-ASCII and punctuation.
const WORDS: [(&str, u32); 13] = [
    ("agent", 60),
    ("Timeout", 30),
    ("RETRY", 20),
    ("connection", 15),
    ("reset", 12),
    ("user-id", 8),
    ("straße", 5),
    ("Über", 5),
    ("deadlock", 2),
    ("Zeppelin", 1),
    ("a—b", 2),
    ("x_y", 3),
    ("503", 4),
];
const SEPARATORS: [&str; 5] = [" ", ", ", "/", ": ", " -- "];

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

fn word(rng: &mut StdRng) -> &'static str {
    let total: u32 = WORDS.iter().map(|(_, w)| w).sum();
    let mut pick = rng.random_range(0..total);
    for (word, weight) in WORDS {
        if pick < weight {
            return word;
        }
        pick -= weight;
    }
    WORDS[0].0
}

/// `count` records from `base_ns` on, about four per millisecond (so many share a time), over
/// three services and every level, some in traces and browser sessions.
pub fn corpus(count: usize, base_ns: u64) -> ExportLogsServiceRequest {
    let mut rng = StdRng::seed_from_u64(16);
    let mut by_service: Vec<Vec<LogRecord>> = vec![Vec::new(), Vec::new(), Vec::new()];
    for i in 0..count {
        let words = rng.random_range(1..8);
        let body = (0..words)
            .map(|w| {
                let sep = if w == 0 {
                    ""
                } else {
                    SEPARATORS[rng.random_range(0..SEPARATORS.len())]
                };
                format!("{sep}{}", word(&mut rng))
            })
            .collect::<String>();
        let severity = [0, 1, 5, 9, 9, 9, 13, 17, 21][rng.random_range(0..9)];
        let mut attributes = vec![kv("i", &i.to_string())];
        if rng.random_range(0..3) == 0 {
            attributes.push(kv(
                attribute::SESSION_ID,
                &format!("sess-{}", rng.random_range(0..3)),
            ));
        }
        let traced = rng.random_range(0..4) == 0;
        let record = LogRecord {
            time_unix_nano: base_ns + (i as u64 / 4) * 1_000_000,
            observed_time_unix_nano: base_ns + (i as u64 / 4) * 1_000_000 + 7,
            severity_number: severity,
            body: Some(AnyValue {
                value: Some(Value::StringValue(body)),
            }),
            attributes,
            // Trace ids 00…01 to 00…04 and span ids 00…01, 00…02.
            trace_id: if traced {
                let mut id = vec![0u8; 16];
                id[15] = rng.random_range(1..5u8);
                id
            } else {
                Vec::new()
            },
            span_id: if traced {
                let mut id = vec![0u8; 8];
                id[7] = rng.random_range(1..3u8);
                id
            } else {
                Vec::new()
            },
            ..Default::default()
        };
        by_service[rng.random_range(0..3)].push(record);
    }
    let resource_logs = ["api", "web", "worker"]
        .iter()
        .zip(by_service)
        .map(|(service, log_records)| ResourceLogs {
            resource: Some(Resource {
                attributes: vec![kv(resource::SERVICE_NAME, service)],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records,
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    ExportLogsServiceRequest { resource_logs }
}

/// The queries (`GET /api/logs` query strings) the log search tests run on both stores:
/// words common and rare, phrases, prefixes, exclusions, and every other filter.
pub fn corpus_queries() -> Vec<String> {
    let text = [
        "agent",
        "AGENT timeout",
        "zeppelin",
        "deadlock",
        "%22connection+reset%22",
        "%22reset+connection%22",
        "time*",
        "%22connection+re%22*",
        "agent+-retry",
        "-agent",
        "-%22connection+reset%22+-time*",
        "user-id",
        "user_id",
        "x_y",
        "stra%C3%9Fe",
        "%C3%BCber",
        "%C3%9Cber",
        "a%E2%80%94b",
        "503+agent",
        "nothing-here",
    ];
    let mut queries: Vec<String> = text.iter().map(|q| format!("q={q}")).collect();
    queries.extend(
        [
            "",
            "limit=7",
            "q=agent&limit=3",
            "service=api&service=worker&q=agent",
            "severity=info&severity=fatal&severity=unspecified",
            "severity=error&q=timeout",
            "trace_id=00000000000000000000000000000002",
            "trace_id=00000000000000000000000000000002&span_id=0000000000000001",
            "session_id=sess-1&q=agent",
            "attr.i=17",
        ]
        .iter()
        .map(|q| (*q).to_owned()),
    );
    queries
}

/// The browser SDK's record of an uncaught error, as `sdk-wasm` sends it today: event
/// `exception`, severity 17, the session, the active trace.
pub fn browser_exception(
    time_ns: u64,
    session: &str,
    trace_id: [u8; 16],
    span_id: [u8; 8],
) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![
                    kv(resource::SERVICE_NAME, "agent-dashboard"),
                    kv(
                        resource::TELEMETRY_SDK_LANGUAGE,
                        resource::BROWSER_SDK_LANGUAGE,
                    ),
                ],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    time_unix_nano: time_ns,
                    severity_number: 17,
                    severity_text: "ERROR".into(),
                    event_name: "exception".into(),
                    body: Some(AnyValue {
                        value: Some(Value::StringValue(
                            "TypeError: agent list is undefined".into(),
                        )),
                    }),
                    attributes: vec![
                        kv(attribute::EXCEPTION_TYPE, "TypeError"),
                        kv("exception.message", "agent list is undefined"),
                        kv(attribute::SESSION_ID, session),
                    ],
                    trace_id: trace_id.to_vec(),
                    span_id: span_id.to_vec(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// Sends the records of `tests/python/otel_logs.py` to every collector at `otlp` (the same
/// records, timestamps included) through the OpenTelemetry Python SDK; what it printed.
pub fn send_with_python_sdk(otlp: &[&str]) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/otel_logs.py");
    let python =
        std::env::var(crate::clickhouse_front::PYTHON_ENV).unwrap_or_else(|_| "python3".to_owned());
    let output = Command::new(python)
        .arg(script)
        .args(otlp)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "otel_logs.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("otel_logs.py prints JSON")
}
