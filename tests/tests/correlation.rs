//! Correlation across collector instances and stores: results must not depend on which
//! collector received which span, nor on the store. Collectors that share one store and each
//! receive half of every trace's spans must answer every correlation endpoint exactly like one
//! collector that received everything, on SQLite and on ClickHouse.

use std::time::Duration;

use reqwest::blocking::Client;
use tracewire_e2e::clickhouse_store::ClickHouseTest;
use tracewire_e2e::collector::{Collector, get_json as get, post_traces as post};
use tracewire_e2e::exchanges::{MS, OFFSET_NS, SERVER_NS, SESSION, SPANS_PER_EXCHANGE, exchanges};
use tracewire_e2e::{http_client as client, now_ns};

const EXCHANGES: u8 = 12;

fn base_ns() -> u64 {
    now_ns() - 60_000 * MS
}

/// Sends every exchange whole to `single` and split between `first` and `second`.
fn send_split(
    client: &Client,
    base: u64,
    single: &Collector,
    first: &Collector,
    second: &Collector,
) {
    for (n, x) in exchanges(EXCHANGES, base).into_iter().enumerate() {
        let (to_browser, to_backend) = if n % 2 == 0 {
            (first, second)
        } else {
            (second, first)
        };
        post(client, to_browser, &x.browser);
        post(client, to_backend, &x.backend);
        post(client, single, &x.browser);
        post(client, single, &x.backend);
    }
}

fn paths(base: u64) -> Vec<String> {
    let window = format!("start={}&end={}", base, base + 10_000 * MS);
    vec![
        format!("/api/ws/roundtrips?{window}"),
        format!("/api/ws/roundtrips?{window}&message_type=chat&session_id={SESSION}"),
        format!("/api/ws/latency?{window}&step=1s"),
        format!("/api/ws/message-types?{window}"),
        format!("/api/sessions/{SESSION}"),
        format!("/api/traces/{}", hex::encode([3u8; 16])),
        format!("/api/traces?session_id={SESSION}&attr=ws.message.type=chat&limit=50"),
        "/api/traces?attr=service.name=agent-backend&status=error".to_owned(),
    ]
}

fn assert_same_answers(client: &Client, base: u64, expected: &Collector, others: &[&Collector]) {
    for path in paths(base) {
        let want = get(client, expected, &path);
        for (i, other) in others.iter().enumerate() {
            assert_eq!(get(client, other, &path), want, "{path} via collector {i}");
        }
    }
    let roundtrips = get(client, expected, &paths(base)[0]);
    let list = roundtrips["roundtrips"].as_array().expect("list");
    assert_eq!(list.len(), usize::from(EXCHANGES));
    assert_eq!(list.iter().filter(|r| r["error"] == true).count(), 2);
    for record in list {
        let offset = record["clock_offset_ns"].as_i64().expect("offset");
        assert!(
            (offset - OFFSET_NS as i64).abs() <= 5 * MS as i64,
            "offset {offset}"
        );
        assert_eq!(record["server_ns"], SERVER_NS);
        let (total, server) = (
            record["total_ns"].as_i64().expect("total"),
            record["server_ns"].as_i64().expect("server"),
        );
        let (up, down) = (
            record["uplink_ns"].as_i64().expect("up"),
            record["downlink_ns"].as_i64().expect("down"),
        );
        assert_eq!(total - server, up + down);
    }
}

#[test]
fn two_collectors_sharing_a_store_answer_like_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let shared = dir.path().join("shared.db");
    let first = Collector::start(&shared, &[]);
    let second = Collector::start(&shared, &[]);
    let single = Collector::start(&dir.path().join("single.db"), &[]);
    let client = client();
    let base = base_ns();
    send_split(&client, base, &single, &first, &second);
    assert_same_answers(&client, base, &single, &[&first, &second]);
}

#[test]
fn clickhouse_collectors_sharing_a_database_answer_like_one_sqlite_collector() {
    let ch = ClickHouseTest::start("correlation_split");
    let store = ch.store_url();
    let start_clickhouse = |spool: &str| {
        let spool = ch.dir.path().join(spool);
        Collector::start_with_args(
            [
                "--otlp-listen",
                "127.0.0.1:0",
                "--api-listen",
                "127.0.0.1:0",
                "--store",
                &store,
                "--spool-dir",
                spool.to_str().expect("utf-8"),
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        )
    };
    let first = start_clickhouse("spool-1");
    let second = start_clickhouse("spool-2");
    let sqlite = Collector::start(&ch.sqlite_path(), &[]);
    let client = client();
    let base = base_ns();
    send_split(&client, base, &sqlite, &first, &second);
    // Spooled batches reach ClickHouse in the background: wait until every span is there.
    let expected = u64::from(EXCHANGES) * SPANS_PER_EXCHANGE;
    let complete = tracewire_e2e::clickhouse_store::wait_until(Duration::from_secs(60), || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime
            .block_on(tracewire_e2e::clickhouse_store::count_rows(
                &ch.client(),
                "otel_traces",
            ))
            .0
            >= expected
    });
    assert!(
        complete,
        "spans did not reach ClickHouse; logs:\n{}\n{}",
        first.log(),
        second.log()
    );
    // Round trips and clock offsets are derived as each collector ships: wait for them.
    let derived = tracewire_e2e::clickhouse_store::wait_until(Duration::from_secs(60), || {
        paths(base).iter().all(|path| {
            let want = get(&client, &sqlite, path);
            [&first, &second]
                .iter()
                .all(|other| get(&client, other, path) == want)
        })
    });
    assert!(
        derived,
        "correlation answers never matched; logs:\n{}\n{}",
        first.log(),
        second.log()
    );
    assert_same_answers(&client, base, &sqlite, &[&first, &second]);
}
