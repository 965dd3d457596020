//! Log search on SQLite against the reference matcher ([`LogFilter::matches`] and the
//! documented order), on every path the store takes: the index first, the newest records one
//! by one with the index for the rest, and one by one only (while the index is being built).
//! Also the background build of the index for records stored before it existed.

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rusqlite::Connection;

use super::SqliteStore;
use super::fts::unindexed_below;
use crate::logsearch::{Level, LogFilter, LogQuery, TextQuery};
use crate::metrics::Metrics;
use crate::model::LogRecord;
use crate::signal::Signal;
use crate::store::{Scope, Store, StoreUrl};
use crate::testing::{log, store_logs, temp_store};

const T0: i64 = 1_763_700_000_000_000_000;
const MS: i64 = 1_000_000;

/// Words with very different frequencies, mixed case, non-ASCII and punctuation.
const WORDS: [(&str, u32); 12] = [
    ("alpha", 60),
    ("Beta", 40),
    ("GAMMA", 20),
    ("timeout", 10),
    ("user-id", 8),
    ("straße", 5),
    ("Über", 5),
    ("delta", 3),
    ("Rare", 1),
    ("a—b", 2),
    ("x_y", 3),
    ("42", 4),
];
const SEPARATORS: [&str; 5] = [" ", ", ", "/", ": ", " -- "];

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

/// `n` records over three services, every level, about three per millisecond (so many share
/// a time), some in traces and sessions.
fn corpus(n: usize) -> Vec<LogRecord> {
    let mut rng = StdRng::seed_from_u64(16);
    (0..n)
        .map(|i| {
            let words = rng.random_range(1..7);
            let mut body = String::new();
            for w in 0..words {
                if w > 0 {
                    body.push_str(SEPARATORS[rng.random_range(0..SEPARATORS.len())]);
                }
                body.push_str(word(&mut rng));
            }
            let service = ["api", "web", "worker"][rng.random_range(0..3)];
            let severity = [0, 1, 5, 9, 9, 9, 13, 17, 21][rng.random_range(0..9)];
            let mut record = log(service, T0 + (i as i64 / 3) * MS, severity, &body);
            if rng.random_range(0..4) == 0 {
                record.trace_id = format!("{:032x}", rng.random_range(1..4u32));
                record.span_id = format!("{:016x}", rng.random_range(1..3u32));
            }
            if rng.random_range(0..3) == 0 {
                let session = format!("sess-{}", rng.random_range(0..3));
                record.log_attributes.insert("session.id".into(), session);
            }
            record
        })
        .collect()
}

/// The sort key of the documented order, with the body.
type Key = (i64, String, String, String, i32, String);

fn key(r: &LogRecord) -> Key {
    (
        r.timestamp_ns,
        r.trace_id.clone(),
        r.span_id.clone(),
        r.service_name.clone(),
        r.severity_number,
        r.body.clone(),
    )
}

/// What the query should answer: every matching record of the window, in order.
fn expected(records: &[LogRecord], q: &LogQuery) -> Vec<Key> {
    let mut keys: Vec<Key> = records
        .iter()
        .filter(|r| q.filter.matches(r))
        .filter(|r| q.start_ns.is_none_or(|s| r.timestamp_ns >= s))
        .filter(|r| q.end_ns.is_none_or(|e| r.timestamp_ns < e))
        .map(key)
        .collect();
    keys.sort_unstable_by(|a, b| b.cmp(a));
    keys
}

/// Every record the store answers for `q`, page by page.
async fn paged(store: &Store, q: &LogQuery) -> Vec<Key> {
    let reader = store.reader(Scope::default());
    let mut q = q.clone();
    let mut out = Vec::new();
    loop {
        let page = reader.logs(&q).await.expect("reads");
        assert!(page.records.len() <= q.limit);
        out.extend(page.records.iter().map(key));
        match page.next {
            Some(next) => q.after = Some(next),
            None => return out,
        }
        assert!(out.len() < 100_000, "pages never end");
    }
}

fn queries() -> Vec<LogQuery> {
    let text = |q: &str| TextQuery::parse(q).expect("valid");
    let base = |q: &str| LogQuery {
        filter: LogFilter {
            text: text(q),
            ..LogFilter::default()
        },
        start_ns: None,
        end_ns: None,
        limit: 7,
        after: None,
    };
    let mut all: Vec<LogQuery> = [
        "",
        "alpha",
        "rare",
        "BETA gamma",
        "\"alpha beta\"",
        "gam*",
        "\"alpha be\"*",
        "alpha -beta",
        "-alpha",
        "-\"alpha beta\" -gam*",
        "user-id",
        "x_y",
        "straße",
        "über",
        "a—b",
        "42 timeout",
        "rare -alpha",
        "delta -\"alpha beta\" -gam*",
        "nothing",
    ]
    .iter()
    .map(|q| base(q))
    .collect();
    let mut filtered = base("alpha");
    filtered.filter.services = vec!["api".into(), "worker".into()];
    filtered.filter.levels = vec![Level::Info, Level::Fatal, Level::Unspecified];
    all.push(filtered);
    let mut traced = base("");
    traced.filter.trace_id = Some(format!("{:032x}", 2));
    traced.filter.span_id = Some(format!("{:016x}", 1));
    all.push(traced);
    let mut session = base("beta");
    session.filter.attributes = vec![("session.id".into(), "sess-1".into())];
    all.push(session);
    let mut window = base("alpha");
    window.start_ns = Some(T0 + 20 * MS);
    window.end_ns = Some(T0 + 90 * MS);
    window.limit = 3;
    all.push(window);
    for q in ["alpha", "beta -gamma", "-alpha"] {
        let mut big = base(q);
        big.limit = 1_000;
        all.push(big);
    }
    all
}

async fn check_all(store: &Store, records: &[LogRecord], path: &str) {
    for q in queries() {
        let want = expected(records, &q);
        assert_eq!(paged(store, &q).await, want, "{path}: {q:?}");
    }
}

#[tokio::test]
async fn every_search_path_answers_what_the_reference_matcher_selects() {
    let (dir, store, _) = temp_store(10_000).await;
    let records = corpus(600);
    store_logs(&store, records.clone()).await;
    check_all(&store, &records, "index").await;
    // While the index is being built, reads match every record one by one.
    let conn = Connection::open(dir.path().join("tw.db")).expect("opens");
    conn.execute("INSERT INTO logs_fts_backfill (below) VALUES (0)", [])
        .expect("marks");
    check_all(&store, &records, "one by one").await;
}

/// Counts per step and severity number, as the reference selects them.
fn expected_counts(records: &[LogRecord], filter: &LogFilter) -> Vec<(i64, i64, u64)> {
    let mut counts = std::collections::BTreeMap::new();
    for r in records.iter().filter(|r| filter.matches(r)) {
        *counts
            .entry((
                (r.timestamp_ns - T0) / (10 * MS),
                i64::from(r.severity_number),
            ))
            .or_insert(0) += 1;
    }
    counts.into_iter().map(|((s, n), c)| (s, n, c)).collect()
}

#[tokio::test]
async fn counts_per_step_and_severity_agree_with_the_reference() {
    let (dir, store, _) = temp_store(10_000).await;
    let records = corpus(300);
    store_logs(&store, records.clone()).await;
    let conn = Connection::open(dir.path().join("tw.db")).expect("opens");
    for unindexed in [false, true] {
        if unindexed {
            conn.execute("INSERT INTO logs_fts_backfill (below) VALUES (0)", [])
                .expect("marks");
        }
        for q in ["", "alpha", "-alpha", "\"alpha beta\" -gam*"] {
            let filter = LogFilter {
                text: TextQuery::parse(q).expect("valid"),
                levels: if q.is_empty() {
                    vec![Level::Info]
                } else {
                    vec![]
                },
                ..LogFilter::default()
            };
            let query = crate::logsearch::LogCountQuery {
                filter: filter.clone(),
                start_ns: T0,
                end_ns: T0 + 100 * MS,
                step_ns: 10 * MS,
            };
            let mut got: Vec<(i64, i64, u64)> = store
                .reader(Scope::default())
                .log_counts(&query)
                .await
                .expect("counts")
                .into_iter()
                .map(|c| (c.step, c.severity_number, c.count))
                .collect();
            got.sort_unstable();
            assert_eq!(
                got,
                expected_counts(&records, &filter),
                "{q} unindexed={unindexed}"
            );
        }
    }
}

fn integrity(path: &std::path::Path) {
    Connection::open(path)
        .expect("opens")
        .execute(
            "INSERT INTO logs_fts (logs_fts) VALUES ('integrity-check')",
            [],
        )
        .expect("the index matches the records");
}

/// How many records the index finds for `q` (an FTS5 expression).
fn indexed(conn: &Connection, q: &str) -> usize {
    conn.query_row(
        "SELECT count(*) FROM logs_fts WHERE logs_fts MATCH ?",
        [q],
        |row| row.get::<_, i64>(0),
    )
    .expect("searches") as usize
}

#[tokio::test]
async fn records_stored_before_the_index_are_indexed_in_the_background_while_ingest_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tw.db");
    let old = corpus(5_000);
    {
        let store = Store::open(
            &StoreUrl::Sqlite(path.clone()),
            10_000,
            Arc::new(Metrics::default()),
        )
        .await
        .expect("opens");
        store_logs(&store, old.clone()).await;
        store.shutdown().await.expect("stops");
    }
    // Back to schema version 5, before the index.
    Connection::open(&path)
        .expect("opens")
        .execute_batch(super::tests::BEFORE_LOG_SEARCH)
        .expect("downgrades");
    let config = super::SqliteConfig {
        path: path.clone(),
        retention: None,
    };
    let (queue, engine) = SqliteStore::open(&config, 10_000, Arc::new(Metrics::default()))
        .await
        .expect("reopens");
    let store = Store {
        queue,
        engine: Arc::clone(&engine) as _,
    };
    // A write right after the upgrade is committed while the build still has chunks to go.
    // It is indexed with its transaction; it is also old enough for the retention below.
    let new = log("api", T0 - MS, 17, "fresh alpha after the upgrade");
    store_logs(&store, vec![new.clone()]).await;
    let conn = Connection::open(&path).expect("opens");
    assert!(
        unindexed_below(&conn).expect("reads").is_some(),
        "the index was built before the write was committed"
    );
    // Answers are complete meanwhile.
    let alpha = LogQuery {
        filter: LogFilter {
            text: TextQuery::parse("alpha").expect("valid"),
            ..LogFilter::default()
        },
        start_ns: None,
        end_ns: None,
        limit: 1_000,
        after: None,
    };
    let mut records = old.clone();
    records.push(new);
    assert_eq!(paged(&store, &alpha).await, expected(&records, &alpha));
    // Retention deletes the new record (indexed) and the oldest ones (not yet) meanwhile.
    let pruned = engine
        .tasks
        .prune(T0 + 10 * MS, 10_000)
        .await
        .expect("prunes");
    assert!(pruned[Signal::Logs] > 20, "{pruned:?}");
    records.retain(|r| r.timestamp_ns >= T0 + 10 * MS);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while unindexed_below(&conn).expect("reads").is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the build never finished"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    integrity(&path);
    assert_eq!(paged(&store, &alpha).await, expected(&records, &alpha));
    let want = records.iter().filter(|r| alpha.filter.matches(r)).count();
    assert_eq!(
        indexed(&conn, "alpha"),
        want,
        "every record is indexed once"
    );
}

#[tokio::test]
async fn the_index_follows_writes_and_retention_in_their_transactions() {
    let (dir, store, engine) = super::tests::pruned_store().await;
    let records = corpus(200);
    store_logs(&store, records.clone()).await;
    let path = dir.path().join("tw.db");
    integrity(&path);
    let conn = Connection::open(&path).expect("opens");
    let all = records
        .iter()
        .filter(|r| r.body.to_lowercase().contains("alpha"))
        .count();
    assert_eq!(indexed(&conn, "alpha"), all);
    engine
        .tasks
        .prune(T0 + 30 * MS, 10_000)
        .await
        .expect("prunes");
    integrity(&path);
    let kept = records
        .iter()
        .filter(|r| r.timestamp_ns >= T0 + 30 * MS && r.body.to_lowercase().contains("alpha"))
        .count();
    assert!(kept < all);
    assert_eq!(
        indexed(&conn, "alpha"),
        kept,
        "retention took expired records out"
    );
}
