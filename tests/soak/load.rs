//! The load: OTLP/HTTP protobuf clients that behave as the OpenTelemetry exporters do. Each
//! makes batches of spans at a steady rate and sends them one at a time; a batch is retried on
//! 429, 502, 503, 504, network errors and timeouts (10 s), after `Retry-After` when given,
//! else with exponential backoff and jitter, until it is acknowledged or the run's deadline
//! passes. Every outcome is recorded with the time it happened.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use tracewire_e2e::now_ns;

/// The `service.name` of every soak span.
pub const SERVICE: &str = "soak";
/// A span's identity: trace id and span id.
pub type Key = (u128, u64);

const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const BACKOFF_MIN: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Answer {
    /// 200.
    Ok,
    /// A retryable status (429, 502, 503, 504), and whether `Retry-After` came with it.
    Retry { status: u16, retry_after: bool },
    /// Any other status: the client gives the batch up.
    Refused(u16),
    /// No answer: refused connection, reset, timeout.
    Network,
}

/// One attempt, as recorded.
#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    /// When it ended, since the start of the run.
    pub at: Duration,
    /// How it ended.
    pub answer: Answer,
    /// How long it took.
    pub took: Duration,
    /// For a 200: from the batch's first attempt to this one.
    pub since_first: Duration,
}

/// Everything the clients of one store saw.
#[derive(Default)]
pub struct Record {
    /// Spans sent at least once.
    pub sent: HashSet<Key>,
    /// Spans of batches that got a 200.
    pub acknowledged: HashSet<Key>,
    /// Every attempt.
    pub attempts: Vec<Attempt>,
    /// Batches given up: the deadline passed before a 200.
    pub abandoned: u64,
    /// Batches refused with a status a client does not retry.
    pub refused: HashMap<u16, u64>,
}

/// What one client needs.
pub struct Client {
    /// The collector's OTLP base URL.
    pub otlp: String,
    /// Tells this store's traces apart from the other's.
    pub store: u8,
    /// The client's number.
    pub id: u16,
    /// Time between two batches.
    pub interval: Duration,
    /// Spans per batch.
    pub batch: u32,
    /// The start of the run.
    pub start: Instant,
    /// New batches stop then.
    pub load_until: Instant,
    /// Retries stop then.
    pub give_up: Instant,
    /// Where outcomes go.
    pub record: Arc<Mutex<Record>>,
}

/// A batch ready to send.
struct Batch {
    body: Vec<u8>,
    keys: Vec<Key>,
}

impl Client {
    fn make(&self, seq: u64) -> Batch {
        let mut trace = [0u8; 16];
        trace[0] = 0x50;
        trace[1] = self.store;
        trace[2..4].copy_from_slice(&self.id.to_be_bytes());
        trace[4..12].copy_from_slice(&seq.to_be_bytes());
        trace[12..].copy_from_slice(&rand::random::<[u8; 4]>());
        let now = now_ns();
        let spans: Vec<Span> = (1..=u64::from(self.batch))
            .map(|i| Span {
                trace_id: trace.to_vec(),
                span_id: i.to_be_bytes().to_vec(),
                parent_span_id: if i == 1 {
                    Vec::new()
                } else {
                    1u64.to_be_bytes().to_vec()
                },
                name: format!("soak op {}", i % 5),
                kind: 2,
                start_time_unix_nano: now + i,
                end_time_unix_nano: now + 1_000_000 + i,
                attributes: vec![
                    string("http.route", "/api/soak"),
                    string("session.id", &format!("s{}", self.id)),
                ],
                ..Default::default()
            })
            .collect();
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![string("service.name", SERVICE)],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let trace = u128::from_be_bytes(trace);
        Batch {
            body: request.encode_to_vec(),
            keys: (1..=u64::from(self.batch)).map(|i| (trace, i)).collect(),
        }
    }

    /// Makes and sends batches until the load ends, then sends what is left until the
    /// deadline.
    pub async fn run(self) {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .expect("http client");
        let url = format!("{}/v1/traces", self.otlp);
        let mut queue = VecDeque::new();
        let mut seq = 0u64;
        let mut next = Instant::now();
        loop {
            let now = Instant::now();
            while next <= now && next < self.load_until {
                let batch = self.make(seq);
                seq += 1;
                lock(&self.record).sent.extend(batch.keys.iter().copied());
                queue.push_back(batch);
                next += self.interval;
            }
            match queue.pop_front() {
                Some(batch) => self.deliver(&http, &url, batch).await,
                None if now >= self.load_until => return,
                None => tokio::time::sleep_until(next.into()).await,
            }
        }
    }

    /// Sends one batch until it is acknowledged, refused or the deadline passes.
    async fn deliver(&self, http: &reqwest::Client, url: &str, batch: Batch) {
        let first = Instant::now();
        let mut backoff = BACKOFF_MIN;
        loop {
            let started = Instant::now();
            let (answer, retry_after) = attempt(http, url, &batch.body).await;
            let ended = Instant::now();
            {
                let mut record = lock(&self.record);
                record.attempts.push(Attempt {
                    at: ended - self.start,
                    answer,
                    took: ended - started,
                    since_first: ended - first,
                });
                match answer {
                    Answer::Ok => {
                        record.acknowledged.extend(batch.keys.iter().copied());
                        return;
                    }
                    Answer::Refused(status) => {
                        *record.refused.entry(status).or_default() += 1;
                        return;
                    }
                    Answer::Retry { .. } | Answer::Network => {}
                }
                if ended >= self.give_up {
                    record.abandoned += 1;
                    return;
                }
            }
            let wait = retry_after.unwrap_or(backoff);
            tokio::time::sleep(wait.mul_f64(0.8 + 0.4 * rand::random::<f64>())).await;
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }
}

/// One POST; its answer and the `Retry-After` it carried.
async fn attempt(http: &reqwest::Client, url: &str, body: &[u8]) -> (Answer, Option<Duration>) {
    let sent = http
        .post(url)
        .header("content-type", "application/x-protobuf")
        .body(body.to_vec())
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(_) => return (Answer::Network, None),
    };
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    // The whole answer is read, as exporters do, so that the connection can be reused.
    if response.bytes().await.is_err() {
        return (Answer::Network, None);
    }
    let answer = match status {
        200 => Answer::Ok,
        429 | 502 | 503 | 504 => Answer::Retry {
            status,
            retry_after: retry_after.is_some(),
        },
        other => Answer::Refused(other),
    };
    (answer, retry_after)
}

fn string(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

/// Locks a record; a client that panicked while holding it leaves it usable.
pub fn lock(record: &Mutex<Record>) -> std::sync::MutexGuard<'_, Record> {
    record.lock().unwrap_or_else(|e| e.into_inner())
}
