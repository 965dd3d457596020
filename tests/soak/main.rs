//! The soak: OTLP load against a collector on SQLite and one on ClickHouse (the test front over
//! the real engine) for `SOAK_SECONDS` (600 by default), while the collectors are killed with
//! `kill -9` and restarted, ClickHouse is stopped and restarted, and the stores' filesystems
//! (small tmpfs mounts; this needs root) run out of space and get it back. Then it checks that
//! every acknowledged span is stored exactly once and nothing else is, that clients saw 503
//! with `Retry-After` (never a 500) while the disks were full, and that no SQLite or spool file
//! is damaged. It prints the answers and acknowledgement latency per stretch of the run and
//! ends with one line per store:
//!
//! ```text
//! soak: store=sqlite acknowledged=N stored=N duplicated=N lost=N
//! soak: store=clickhouse acknowledged=N stored=N duplicated=N lost=N
//! ```
//!
//! Run it with `cargo run --release -p tracewire-e2e --bin soak` after `cargo build --release
//! -p tracewire-collector` (or point `TRACEWIRE_COLLECTOR_BIN` at a collector). The exit code
//! is 0 when every check holds. Other settings: `SOAK_RATE`, `SOAK_CLIENTS`, `SOAK_KILL_EVERY`
//! (see `config.rs`).

mod config;
mod faults;
mod load;
mod report;
mod verify;

use std::net::TcpListener;
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracewire_e2e::clickhouse_front::ClickHouseFront;
use tracewire_e2e::collector::Collector;

use config::Settings;
use faults::SmallDisk;
use load::{Client, Record};
use verify::Counts;

/// How long clients keep retrying after the load ends.
const GRACE: Duration = Duration::from_secs(120);
/// How long the ClickHouse collector may take to ship its spool at the end.
const SHIP_TIMEOUT: Duration = Duration::from_secs(180);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn listen_args() -> Vec<String> {
    vec![
        "--otlp-listen".into(),
        format!("127.0.0.1:{}", free_port()),
        "--api-listen".into(),
        format!("127.0.0.1:{}", free_port()),
    ]
}

fn main() -> ExitCode {
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("soak: {e}");
            return ExitCode::from(2);
        }
    };
    let work = tempfile::Builder::new()
        .prefix("tracewire-soak-")
        .tempdir()
        .expect("work directory");
    let disks = [
        SmallDisk::mount(&work.path().join("sqlite"), "1g").expect("directory"),
        SmallDisk::mount(&work.path().join("spool"), "256m").expect("directory"),
    ];
    let disk_fault = disks.iter().all(SmallDisk::mounted);
    if !disk_fault {
        println!("soak: cannot mount tmpfs (this needs root): the out-of-space fault is skipped");
    }
    let mut front = match ClickHouseFront::start(work.path().join("clickhouse")) {
        Ok(front) => front,
        Err(e) => {
            eprintln!("soak: the ClickHouse front did not start: {e}");
            return ExitCode::from(2);
        }
    };
    let db = disks[0].path().join("tw.db");
    let spool = disks[1].path().join("spool");
    let mut sqlite_args = listen_args();
    sqlite_args.extend(["--store".into(), format!("sqlite:{}", db.display())]);
    let mut clickhouse_args = listen_args();
    clickhouse_args.extend([
        "--store".into(),
        format!("clickhouse:{}/soak", front.url()),
        "--spool-dir".into(),
        spool.display().to_string(),
        "--clickhouse-batch-delay".into(),
        "200ms".into(),
    ]);
    let collectors = [
        Arc::new(Mutex::new(Collector::start_with_args(sqlite_args))),
        Arc::new(Mutex::new(Collector::start_with_args(clickhouse_args))),
    ];
    let (ch_from, ch_to) = settings.clickhouse_outage();
    let (full_from, full_to) = settings.disk_full();
    println!(
        "soak: {} s, {} clients x {} spans/s per store, {} spans per request; kill -9 every {} s until {} s; \
         ClickHouse down {}-{} s; {}",
        settings.duration.as_secs(),
        settings.clients,
        settings.rate / settings.clients,
        settings.batch,
        settings.kill_every.as_secs(),
        settings.kills_until().as_secs(),
        ch_from.as_secs(),
        ch_to.as_secs(),
        if disk_fault {
            format!("disks full {}-{} s", full_from.as_secs(), full_to.as_secs())
        } else {
            "no disk fault".into()
        }
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let start = Instant::now();
    let records = [
        Arc::new(Mutex::new(Record::default())),
        Arc::new(Mutex::new(Record::default())),
    ];
    let interval = Duration::from_secs_f64(
        f64::from(settings.batch) * f64::from(settings.clients) / f64::from(settings.rate),
    );
    let mut clients = Vec::new();
    for (store, collector) in collectors.iter().enumerate() {
        let otlp = faults::lock(collector).otlp.clone();
        for id in 0..settings.clients {
            let client = Client {
                otlp: otlp.clone(),
                store: store as u8,
                id: id as u16,
                interval,
                batch: settings.batch,
                start,
                load_until: start + settings.duration,
                give_up: start + settings.duration + GRACE,
                record: Arc::clone(&records[store]),
            };
            clients.push(runtime.spawn(client.run()));
        }
    }
    let done = faults::run(
        &settings,
        start,
        [Arc::clone(&collectors[0]), Arc::clone(&collectors[1])],
        &mut front,
        &disks,
    );
    runtime.block_on(async {
        for client in clients {
            let _ = client.await;
        }
    });
    println!(
        "soak: load done after {:.0} s; kill -9: {} (SQLite), {} (ClickHouse); starts retried: {}; filled {} MiB",
        start.elapsed().as_secs_f64(),
        done.kills[0],
        done.kills[1],
        done.failed_starts,
        done.filled >> 20
    );

    let mut failures = Vec::new();
    // The spool ships, then both collectors drain and stop on SIGTERM.
    let shipped_by = Instant::now() + SHIP_TIMEOUT;
    while !verify::spool_leftovers(&spool)
        .iter()
        .all(|f| f.starts_with("rejected/"))
        && Instant::now() < shipped_by
    {
        std::thread::sleep(Duration::from_millis(200));
    }
    for (name, collector) in ["sqlite", "clickhouse"].iter().zip(&collectors) {
        let status = faults::lock(collector).terminate();
        if !status.success() {
            failures.push(format!("{name}: collector exited with {status} on SIGTERM"));
        }
    }
    let leftovers = verify::spool_leftovers(&spool);
    if !leftovers.is_empty() {
        failures.push(format!("clickhouse: spool not empty: {leftovers:?}"));
    }

    let sqlite_stored = match verify::sqlite(&db) {
        Ok((stored, integrity)) => {
            if integrity != "ok" {
                failures.push(format!("sqlite: integrity_check: {integrity}"));
            }
            stored
        }
        Err(e) => {
            failures.push(format!("sqlite: {e}"));
            Default::default()
        }
    };
    let clickhouse_stored = runtime
        .block_on(verify::clickhouse(&front.client().with_database("soak")))
        .unwrap_or_else(|e| {
            failures.push(format!("clickhouse: {e}"));
            Default::default()
        });

    let mut lines = Vec::new();
    for ((name, record), stored) in ["sqlite", "clickhouse"]
        .iter()
        .zip(&records)
        .zip([&sqlite_stored, &clickhouse_stored])
    {
        let record = load::lock(record);
        let mut windows = report::windows(&record.attempts, settings.duration, 10);
        report::print(name, &settings, &mut windows);
        let full = report::during(&record.attempts, settings.disk_full());
        let all = report::during(&record.attempts, (Duration::ZERO, Duration::MAX));
        println!(
            "soak: {name}: while the disks were full: {} acknowledged, {} 503 with Retry-After, {} without, {} unanswered",
            full.ok, full.retry_with_after, full.retry_without_after, full.network
        );
        if disk_fault && full.retry_with_after == 0 {
            failures.push(format!(
                "{name}: no 503 with Retry-After while the disk was full"
            ));
        }
        if all.retry_without_after > 0 {
            failures.push(format!(
                "{name}: {} retryable answers without Retry-After",
                all.retry_without_after
            ));
        }
        if !record.refused.is_empty() {
            failures.push(format!(
                "{name}: batches refused with statuses clients do not retry: {:?}",
                record.refused
            ));
        }
        if record.abandoned > 0 {
            failures.push(format!(
                "{name}: {} batches never acknowledged within {} s after the load",
                record.abandoned,
                GRACE.as_secs()
            ));
        }
        let counts = Counts::of(&record, stored);
        if !counts.exact() {
            failures.push(format!(
                "{name}: {} lost, {} duplicated, {} stored without a 200, {} never sent",
                counts.lost, counts.duplicated, counts.unacknowledged, counts.unknown
            ));
        }
        lines.push(format!(
            "soak: store={name} acknowledged={} stored={} duplicated={} lost={}",
            counts.acknowledged, counts.stored, counts.duplicated, counts.lost
        ));
    }
    drop(front);
    drop(disks);
    keep_work_on_failure(work, &failures);
    for failure in &failures {
        println!("soak: FAILED: {failure}");
    }
    for line in lines {
        println!("{line}");
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Leaves the work directory (the ClickHouse front's data) for inspection after a failure.
fn keep_work_on_failure(work: tempfile::TempDir, failures: &[String]) {
    if !failures.is_empty() {
        let kept: &Path = &work.keep();
        println!("soak: work directory kept: {}", kept.display());
    }
}
