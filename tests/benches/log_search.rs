//! Log search benchmark (not a test): a million log records of realistic shape (six services,
//! every level, bodies of 50 to 500 bytes from a Zipf-distributed vocabulary with ids and
//! numbers, 60% in traces) over the last 24 hours, stored in SQLite and in ClickHouse (the real
//! engine behind the test front); then `GET /api/logs` through the query API's handler for a
//! rare word, a common word, a phrase and a service plus severity filter over the 24 hours,
//! repeated, with p50 and p99 of each, and the histogram of the same.
//!
//! `cargo bench -p tracewire-e2e --bench log_search`. `BENCH_LOGS` (default 1000000) sets the
//! records, `BENCH_REPEAT` (default 200) the runs of each query, `BENCH_STORES` (default
//! `sqlite,clickhouse`) the stores; `BENCH_SQLITE_FILE` keeps the SQLite file there and reuses
//! it when it exists. ClickHouse needs the Python packages of `tests/requirements.txt`.

#![allow(missing_docs, clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use axum::body::{Body, to_bytes};
use axum::http::Request;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tower::ServiceExt;
use tracewire_collector::api::{Api, router};
use tracewire_collector::metrics::Metrics;
use tracewire_collector::model::{Attributes, Batch, LogRecord};
use tracewire_collector::store::Store;
use tracewire_collector::store::StoreUrl;
use tracewire_collector::store::clickhouse::ClickHouseConfig;
use tracewire_e2e::clickhouse_front::ClickHouseFront;

const DAY_NS: u64 = 24 * 3_600 * 1_000_000_000;
const SERVICES: [(&str, u32); 6] = [
    ("agent-backend", 30),
    ("web-app", 25),
    ("checkout", 15),
    ("auth", 12),
    ("search", 10),
    ("billing", 8),
];
/// (severity number, text, weight in 1000).
const LEVELS: [(i32, &str, u32); 6] = [
    (9, "INFO", 700),
    (5, "DEBUG", 120),
    (13, "WARN", 100),
    (17, "ERROR", 70),
    (21, "FATAL", 5),
    (1, "TRACE", 5),
];

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pick<T: Copy>(rng: &mut StdRng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut n = rng.random_range(0..total);
    for &(item, weight) in items {
        if n < weight {
            return item;
        }
        n -= weight;
    }
    items[0].0
}

/// A vocabulary of pronounceable words, sampled by a Zipf law (a few words are everywhere,
/// most are rare).
struct Vocabulary {
    words: Vec<String>,
    cumulative: Vec<f64>,
}

impl Vocabulary {
    fn new(rng: &mut StdRng, size: usize) -> Self {
        const SYLLABLES: [&str; 24] = [
            "ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "qu", "ba", "de", "fi", "go", "ha",
            "je", "ko", "lu", "ma", "no", "pe", "ri", "su", "ta", "ze",
        ];
        let words = (0..size)
            .map(|_| {
                let n = rng.random_range(2..5);
                (0..n)
                    .map(|_| SYLLABLES[rng.random_range(0..SYLLABLES.len())])
                    .collect()
            })
            .collect();
        let mut total = 0.0;
        let cumulative = (1..=size)
            .map(|rank| {
                total += 1.0 / (rank as f64).powf(1.07);
                total
            })
            .collect();
        Self { words, cumulative }
    }

    fn word(&self, rng: &mut StdRng) -> &str {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let x = rng.random_range(0.0..total);
        let i = self.cumulative.partition_point(|c| *c < x);
        &self.words[i.min(self.words.len() - 1)]
    }
}

/// One record's body: a line of its service's kind, then filler words up to 50 to 500 bytes.
/// `request` is in about 30% of bodies, `connection reset by peer` in 2%, `deadlock` in 0.01%.
fn body(rng: &mut StdRng, vocabulary: &Vocabulary, service: &str) -> String {
    let n = rng.random_range(1..100_000u32);
    let mut line = match service {
        "agent-backend" => format!("agent run {n} step {}: tool call finished", n % 17),
        "web-app" => format!("ws.send chat {n} queued, {} pending", n % 9),
        "checkout" => format!("POST /api/cart/{n} 200 in {} ms", n % 400),
        "auth" => format!("user u-{n} signed in from 10.0.{}.{}", n % 255, n % 7),
        "search" => format!("query {n} matched {} documents", n % 1000),
        _ => format!("invoice inv-{n:06} charged {}.{:02} EUR", n % 300, n % 100),
    };
    if rng.random_range(0..10) < 3 {
        line.push_str(" after request");
    }
    if rng.random_range(0..100) < 2 {
        line.push_str(": connection reset by peer");
    }
    if rng.random_range(0..10_000) == 0 {
        line.push_str(" deadlock detected");
    }
    let target = 50 + (rng.random_range(0.0f64..1.0).powi(2) * 450.0) as usize;
    while line.len() < target {
        line.push(' ');
        line.push_str(vocabulary.word(rng));
    }
    line.truncate(500);
    while !line.is_char_boundary(line.len()) {
        line.pop();
    }
    line
}

/// `count` records over the 24 hours before `end_ns`, in rough time order.
fn records(count: usize, end_ns: u64) -> Vec<LogRecord> {
    let mut rng = StdRng::seed_from_u64(1_000_000);
    let vocabulary = Vocabulary::new(&mut rng, 5_000);
    let start_ns = end_ns - DAY_NS;
    (0..count)
        .map(|i| {
            let service = pick(&mut rng, &SERVICES);
            let (severity_number, severity_text) = {
                let levels: Vec<((i32, &str), u32)> =
                    LEVELS.iter().map(|&(n, t, w)| ((n, t), w)).collect();
                pick(&mut rng, &levels)
            };
            // Milliseconds, as most SDKs record them: many records share a time.
            let at = start_ns + (DAY_NS / count as u64) * i as u64;
            let time_ns = (at + rng.random_range(0..50_000_000)) / 1_000_000 * 1_000_000;
            let traced = rng.random_range(0..10) < 6;
            let mut log_attributes = Attributes::new();
            if service == "web-app" {
                log_attributes.insert(
                    "session.id".into(),
                    format!("sess-{}", rng.random_range(0..5_000)),
                );
            }
            log_attributes.insert("code.lineno".into(), rng.random_range(1..900).to_string());
            LogRecord {
                tenant: String::new(),
                timestamp_ns: time_ns as i64,
                observed_ns: time_ns as i64 + 1_000,
                trace_id: if traced {
                    format!("{:032x}", rng.random::<u128>())
                } else {
                    String::new()
                },
                span_id: if traced {
                    format!("{:016x}", rng.random::<u64>())
                } else {
                    String::new()
                },
                trace_flags: u32::from(traced),
                severity_text: severity_text.into(),
                severity_number,
                service_name: service.into(),
                body: body(&mut rng, &vocabulary, service),
                scope_name: "bench".into(),
                scope_version: "1.0".into(),
                resource_attributes: Attributes::from([
                    ("service.name".to_owned(), service.to_owned()),
                    ("host.name".to_owned(), format!("node-{}", i % 8)),
                ]),
                log_attributes,
                event_name: String::new(),
            }
        })
        .collect()
}

fn batches(records: Vec<LogRecord>, size: usize) -> Vec<Batch> {
    let mut out = Vec::new();
    let mut records = records.into_iter().peekable();
    while records.peek().is_some() {
        out.push(Batch {
            logs: records.by_ref().take(size).collect(),
            ..Batch::default()
        });
    }
    out
}

/// Answers `uri` through the handler; the time and the body.
async fn time_get(app: &axum::Router, uri: &str) -> (Duration, serde_json::Value) {
    let started = Instant::now();
    let response = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let took = started.elapsed();
    assert!(
        status.is_success(),
        "{uri}: {status} {}",
        String::from_utf8_lossy(&bytes)
    );
    (took, serde_json::from_slice(&bytes).unwrap())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1e3
}

/// Runs each query `repeat` times, round robin, and prints p50 and p99 of each, and of its
/// histogram.
async fn measure(store: Arc<Store>, name: &str, end_ns: u64, repeat: usize) {
    let app = router(Api {
        alerts: tracewire_collector::testing::alerts(&store),
        store,
        metrics: Arc::new(Metrics::default()),
        ready: Arc::new(AtomicBool::new(true)),
        reads: Default::default(),
        guard: Default::default(),
    });
    let window = format!("start={}&end={end_ns}", end_ns - DAY_NS);
    let queries = [
        ("rare word", "q=deadlock"),
        ("common word", "q=request"),
        ("phrase", "q=%22connection+reset%22"),
        ("service + severity", "service=checkout&severity=error"),
    ];
    for (label, filter) in queries {
        let (_, counts) = time_get(&app, &format!("/api/logs/histogram?{filter}&{window}")).await;
        let (_, page) = time_get(&app, &format!("/api/logs?{filter}&{window}&limit=100")).await;
        println!(
            "{name}: {label} ({filter}) matches {} records; a page holds {}",
            counts["total"],
            page["logs"].as_array().map_or(0, Vec::len)
        );
    }
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); queries.len() * 2];
    for _ in 0..repeat {
        for (i, (_, filter)) in queries.iter().enumerate() {
            let (took, _) = time_get(&app, &format!("/api/logs?{filter}&{window}&limit=100")).await;
            times[i].push(took);
            let (took, _) = time_get(&app, &format!("/api/logs/histogram?{filter}&{window}")).await;
            times[queries.len() + i].push(took);
        }
    }
    println!("| store | query | page of 100: p50 | p99 | histogram: p50 | p99 |");
    println!("|---|---|---|---|---|---|");
    for (i, (label, _)) in queries.iter().enumerate() {
        let mut page = times[i].clone();
        let mut histogram = times[queries.len() + i].clone();
        page.sort();
        histogram.sort();
        println!(
            "| {name} | {label} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms |",
            percentile(&page, 0.5),
            percentile(&page, 0.99),
            percentile(&histogram, 0.5),
            percentile(&histogram, 0.99),
        );
    }
}

fn main() {
    let count = env("BENCH_LOGS", 1_000_000);
    let repeat = env("BENCH_REPEAT", 200);
    let stores = std::env::var("BENCH_STORES").unwrap_or_else(|_| "sqlite,clickhouse".into());
    let end_ns = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    )
    .unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    println!("log search bench: {count} records over 24 h, each query {repeat} times");
    let started = Instant::now();
    let generated = records(count, end_ns);
    // The window ends at the newest record the run generated, so reused files still fit.
    let end_ns = generated
        .iter()
        .map(|r| r.timestamp_ns as u64)
        .max()
        .unwrap_or(end_ns)
        + 1;
    let bytes: usize = generated.iter().map(|r| r.body.len()).sum();
    println!(
        "generated in {:.1} s, bodies {:.0} bytes on average",
        started.elapsed().as_secs_f64(),
        bytes as f64 / count as f64
    );

    if stores.contains("sqlite") {
        let path = std::env::var("BENCH_SQLITE_FILE")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|_| dir.path().join("logs.db"));
        if !path.exists() {
            let started = Instant::now();
            tracewire_collector::store::sqlite::insert_directly(
                &path,
                &batches(generated.clone(), 10_000),
            )
            .unwrap();
            println!(
                "sqlite: stored in {:.1} s ({:.0} records/s, with the search index)",
                started.elapsed().as_secs_f64(),
                count as f64 / started.elapsed().as_secs_f64()
            );
        }
        runtime.block_on(async {
            let store = Store::open(&StoreUrl::Sqlite(path), 1_000, Arc::new(Metrics::default()))
                .await
                .unwrap();
            let store = Arc::new(store);
            measure(Arc::clone(&store), "SQLite", end_ns, repeat).await;
            store.shutdown().await.unwrap();
        });
    }
    if stores.contains("clickhouse") {
        let front = ClickHouseFront::start(dir.path().join("clickhouse")).unwrap();
        let mut config =
            ClickHouseConfig::from_url(&format!("{}/bench_logs", front.url())).unwrap();
        config.spool.dir = dir.path().join("spool");
        runtime.block_on(async {
            let started = Instant::now();
            for batch in batches(generated.clone(), 100_000) {
                tracewire_collector::store::clickhouse::insert_directly(&config, &[batch])
                    .await
                    .unwrap();
            }
            println!(
                "clickhouse: stored in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            let store = Arc::new(
                Store::open_clickhouse(&config, 1_000, Arc::new(Metrics::default()))
                    .await
                    .unwrap(),
            );
            measure(Arc::clone(&store), "ClickHouse", end_ns, repeat / 4).await;
            store.shutdown().await.unwrap();
        });
        drop(front);
    }
}
