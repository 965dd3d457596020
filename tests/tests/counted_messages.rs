//! High-rate sockets end to end (issue 19): the browser SDK's `ws.message_rate` records (the
//! messages it counted without a span) and `tracewire.dropped` records, sent as OTLP/JSON with
//! traced round trips to real collector processes on SQLite and on ClickHouse, are added into
//! the WebSocket dashboard's answers alike on both stores: counts are traced + counted, the
//! send-to-reply percentiles include the counted round-trip times, the rates say which part was
//! counted, and the message types the items the SDK dropped.

use std::time::Duration;

use reqwest::blocking::Client;
use serde_json::{Value as Json, json};
use tracewire_collector::correlate::bin_bounds;
use tracewire_e2e::clickhouse_store::{ClickHouseTest, count_rows, wait_until};
use tracewire_e2e::collector::{Collector, get_json as get, post_otlp_json, post_traces};
use tracewire_e2e::exchanges::{MS, SPANS_PER_EXCHANGE, exchanges};
use tracewire_e2e::{http_client as client, now_ns};
use tracewire_semconv::{attribute, event, resource};

/// Round trips the browser counted: `(message type, sends, failed replies, round trips of
/// 300 ms)`, recorded 3 s after the exchanges' base time.
const COUNTED: [(&str, u64, u64, u64); 2] = [("chat", 40, 1, 40), ("run_agent", 10, 0, 0)];
/// What two `tracewire.dropped` records say the SDK dropped.
const DROPPED: [u64; 2] = [4, 3];
/// Six traced exchanges ([`exchanges`]): chat 2, 4, 6 and run_agent 1, 3, 5 (5 failed).
const TRACED: u8 = 6;

fn text(key: &str, value: &str) -> Json {
    json!({"key": key, "value": {"stringValue": value}})
}

fn int(key: &str, value: u64) -> Json {
    json!({"key": key, "value": {"intValue": value.to_string()}})
}

/// The browser's log export: OTLP/JSON as the SDK sends it.
fn browser_logs(base: u64) -> Json {
    // Every counted round trip took 300 ms: its bin of the collector's latency histogram.
    let bin = bin_bounds().partition_point(|&low| low <= 300 * MS);
    let at = (base + 3_000 * MS).to_string();
    let mut records: Vec<Json> = COUNTED
        .iter()
        .map(|&(kind, sent, errors, round_trips)| {
            let mut attributes = vec![
                text(attribute::SESSION_ID, "sess-42"),
                text(attribute::URL_FULL, "ws://app/ws"),
                text(attribute::WS_MESSAGE_TYPE, kind),
                int(attribute::WS_COUNTED_SENT, sent),
                int(attribute::WS_COUNTED_RECEIVED, sent),
                int(attribute::WS_COUNTED_SENT_BYTES, sent * 64),
                int(attribute::WS_COUNTED_RECEIVED_BYTES, sent * 128),
                int(attribute::WS_COUNTED_ERRORS, errors),
                int(attribute::WS_COUNTED_TRACED, 1),
                int(attribute::TRACEWIRE_INTERVAL_MS, 10_000),
            ];
            if round_trips > 0 {
                attributes.push(text(
                    attribute::WS_COUNTED_RTT,
                    &format!("{bin}:{round_trips}"),
                ));
            }
            json!({
                "timeUnixNano": at,
                "severityNumber": 9,
                "severityText": "INFO",
                "eventName": event::WS_MESSAGE_RATE,
                "body": {"stringValue": format!("{sent} messages counted on ws://app/ws")},
                "attributes": attributes,
            })
        })
        .collect();
    records.extend(DROPPED.iter().map(|&n| {
        json!({
            "timeUnixNano": at,
            "severityNumber": 13,
            "eventName": event::TRACEWIRE_DROPPED,
            "body": {"stringValue": format!("{n} items dropped")},
            "attributes": [
                int(attribute::TRACEWIRE_DROPPED_COUNT, n),
                text(attribute::TRACEWIRE_DROPPED_REASON, "queue_full"),
            ],
        })
    }));
    json!({"resourceLogs": [{
        "resource": {"attributes": [
            text(resource::SERVICE_NAME, "web"),
            text(resource::TELEMETRY_SDK_NAME, resource::BROWSER_SDK_NAME),
            text(resource::TELEMETRY_SDK_LANGUAGE, resource::BROWSER_SDK_LANGUAGE),
        ]},
        "scopeLogs": [{"scope": {"name": "tracewire-sdk"}, "logRecords": records}],
    }]})
}

/// The dashboard's answers over the exchanges' 10 s, and from whole minutes (SQLite's stored
/// per-minute rollups) around them.
fn paths(base: u64) -> [String; 4] {
    let window = format!("start={base}&end={}", base + 10_000 * MS);
    let minute = 60_000 * MS;
    let start = base / minute * minute;
    [
        format!("/api/ws/message-types?{window}"),
        format!("/api/ws/latency?{window}&step=10s"),
        format!("/api/ws/rates?{window}&step=1s"),
        format!(
            "/api/ws/latency?start={start}&end={}&step=2m",
            start + 2 * minute
        ),
    ]
}

fn within_one_percent(got: &Json, want: u64) -> bool {
    got.as_u64()
        .is_some_and(|got| got.abs_diff(want) * 100 <= want)
}

/// What both stores must answer, checked on one of them.
fn check(client: &Client, collector: &Collector, base: u64) {
    let [types, latency, rates, minutes] = paths(base);
    let answer = get(client, collector, &types);
    assert_eq!(answer["dropped"], DROPPED.iter().sum::<u64>(), "{answer}");
    let types = answer["types"].as_array().expect("types");
    for (kind, count, traced, counted, errors) in
        [("chat", 43, 3, 40, 1), ("run_agent", 13, 3, 10, 1)]
    {
        let t = types
            .iter()
            .find(|t| t["message_type"] == kind)
            .unwrap_or_else(|| panic!("{kind} in {answer}"));
        assert_eq!(
            [&t["count"], &t["traced"], &t["counted"], &t["errors"]],
            [count, traced, counted, errors],
            "{kind}: {t}"
        );
    }
    // chat: 9, 9 and 47 ms traced, 40 counted of 300 ms.
    let chat = &types[0];
    assert_eq!(chat["message_type"], "chat", "the slowest: {answer}");
    assert!(
        within_one_percent(&chat["p50_total_ns"], 300 * MS),
        "{chat}"
    );

    for path in [latency, minutes] {
        let answer = get(client, collector, &path);
        let series = answer["series"].as_array().expect("series");
        let bucket = series
            .iter()
            .find(|b| b["count"].as_u64() > Some(0))
            .unwrap_or_else(|| panic!("{path}: {answer}"));
        assert_eq!(
            [&bucket["count"], &bucket["counted"]],
            [56, 50],
            "{path}: {answer}"
        );
        // 46 round trips with a reply, 40 of them counted ones of 300 ms.
        assert!(
            within_one_percent(&bucket["total"]["p50"], 300 * MS),
            "{bucket}"
        );
        assert!(
            bucket["server"]["p99"].as_u64() < Some(10 * MS),
            "legs of traced round trips only: {bucket}"
        );
    }

    let answer = get(client, collector, &rates);
    let chat = answer["types"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["message_type"] == "chat"))
        .unwrap_or_else(|| panic!("{answer}"));
    // Sent 600, 1200 and 1800 ms after the base time; the record's time is 3 s after it.
    let steps = |values: [u64; 4]| {
        let mut all = vec![0u64; 10];
        all[..4].copy_from_slice(&values);
        json!(all)
    };
    assert_eq!(chat["count"], steps([1, 2, 0, 40]), "{chat}");
    assert_eq!(chat["counted"], steps([0, 0, 0, 40]), "{chat}");
    assert_eq!(chat["errors"], steps([0, 0, 0, 1]), "{chat}");
}

#[test]
fn counted_messages_join_the_dashboard_alike_on_sqlite_and_clickhouse() {
    let ch = ClickHouseTest::start("counted_messages");
    let clickhouse = ch.collector("100ms", &[]);
    let sqlite = Collector::start(&ch.sqlite_path(), &[]);
    let client = client();
    // Far enough back that the whole minutes around the exchanges have passed.
    let base = now_ns() - 180_000 * MS;
    for collector in [&sqlite, &clickhouse] {
        for e in exchanges(TRACED, base) {
            post_traces(&client, collector, &e.backend);
            post_traces(&client, collector, &e.browser);
        }
        post_otlp_json(&client, collector, "/v1/logs", &browser_logs(base));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let stored = wait_until(Duration::from_secs(60), || {
        runtime.block_on(count_rows(&ch.client(), "otel_traces")).0
            >= u64::from(TRACED) * SPANS_PER_EXCHANGE
            && runtime.block_on(count_rows(&ch.client(), "otel_logs")).0 >= 4
    });
    assert!(
        stored,
        "data did not reach ClickHouse; log:\n{}",
        clickhouse.log()
    );
    check(&client, &sqlite, base);
    // ClickHouse joins the round trips in the background: wait until it answers as SQLite does.
    let same = wait_until(Duration::from_secs(60), || {
        paths(base)
            .iter()
            .all(|path| get(&client, &clickhouse, path) == get(&client, &sqlite, path))
    });
    for path in paths(base) {
        assert_eq!(
            get(&client, &clickhouse, &path),
            get(&client, &sqlite, &path),
            "{path}; log:\n{}",
            clickhouse.log()
        );
    }
    assert!(same);
    check(&client, &clickhouse, base);
}
