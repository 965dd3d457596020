//! Alerts end to end with real collector processes and a real HTTP receiver: a poll storm (the
//! SDK's request-rate records) fires the hot-endpoint rule within one interval and resolves
//! once it stops; two collectors on one store (SQLite, then ClickHouse) send one notification
//! per transition on each channel (Alertmanager webhook, Slack, PagerDuty, each payload checked);
//! a receiver answering 500 gets retries.

use std::path::Path;
use std::time::Duration;

use serde_json::Value as Json;
use tracewire_e2e::clickhouse_store::ClickHouseTest;
use tracewire_e2e::collector::Collector;
use tracewire_e2e::exchanges::request_rates;
use tracewire_e2e::receiver::Receiver;
use tracewire_e2e::{http_client, now_ns};

const ROUTE: &str = "GET /api/agents";
const SESSION: &str = "sess-storm";

fn rules_file(dir: &Path, receiver: &Receiver) -> String {
    let path = dir.join("rules.toml");
    let url = &receiver.url;
    std::fs::write(
        &path,
        format!(
            r#"
[[channels]]
name = "ops"
type = "webhook"
url = "{url}/hook"

[[channels]]
name = "chat"
type = "slack"
url = "{url}/slack"

[[channels]]
name = "pager"
type = "pagerduty"
routing_key = "rk-123"
url = "{url}/pd"

[[rules]]
name = "poll storm"
condition = {{ kind = "hot_endpoint", route = "{ROUTE}", per_session = true }}
window = "2s"
op = ">"
threshold = 20
for = "0s"
severity = "critical"
labels = {{ team = "web" }}
summary = "{{{{route}}}} at {{{{value}}}}/s from session {{{{session_id}}}}"
channels = ["ops", "chat", "pager"]
"#
        ),
    )
    .expect("write rules");
    path.display().to_string()
}

fn storm(collector: &Collector) {
    let response = http_client()
        .post(collector.otlp_url("/v1/logs"))
        .header("content-type", "application/x-protobuf")
        .body(request_rates(now_ns(), &[(ROUTE, 100, SESSION)]))
        .send()
        .expect("collector answers");
    assert_eq!(response.status().as_u16(), 200);
}

fn get(collector: &Collector, path: &str) -> Json {
    http_client()
        .get(collector.api_url(path))
        .send()
        .expect("collector answers")
        .json()
        .expect("JSON")
}

fn on<'a>(received: &'a [(String, Json)], path: &str) -> Vec<&'a Json> {
    received
        .iter()
        .filter(|(p, _)| p == path)
        .map(|(_, body)| body)
        .collect()
}

/// The storm fires and resolves, and each channel gets exactly one notification of each.
fn fires_once_and_resolves(receiver: &Receiver, a: &Collector, b: &Collector) {
    storm(a);
    receiver.wait_until(Duration::from_secs(10), |r| {
        on(r, "/hook").iter().any(|b| b["status"] == "resolved")
    });
    // Stragglers from the other collector would arrive within an interval or two.
    std::thread::sleep(Duration::from_millis(800));
    let received = receiver.received();
    let hooks = on(&received, "/hook");
    assert_eq!(hooks.len(), 2, "one firing and one resolved: {hooks:#?}");
    let (firing, resolved) = (hooks[0], hooks[1]);
    assert_eq!(firing["version"], "4");
    assert_eq!(firing["status"], "firing");
    assert_eq!(firing["receiver"], "ops");
    assert_eq!(firing["groupLabels"]["alertname"], "poll storm");
    let alert = &firing["alerts"][0];
    assert_eq!(alert["status"], "firing");
    for (k, v) in [
        ("alertname", "poll storm"),
        ("severity", "critical"),
        ("team", "web"),
        ("route", ROUTE),
        ("session_id", SESSION),
    ] {
        assert_eq!(alert["labels"][k], v, "label {k}");
    }
    assert_eq!(
        alert["annotations"]["summary"],
        format!("{ROUTE} at 50/s from session {SESSION}")
    );
    assert_eq!(alert["annotations"]["value"], "50");
    assert_eq!(alert["annotations"]["threshold"], "> 20");
    assert_eq!(alert["endsAt"], "0001-01-01T00:00:00Z");
    assert!(
        alert["annotations"]["session_url"]
            .as_str()
            .is_some_and(|u| u.ends_with("/sessions/sess-storm")),
        "{alert}"
    );
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["alerts"][0]["fingerprint"], alert["fingerprint"]);
    assert_ne!(resolved["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");

    let slack = on(&received, "/slack");
    assert_eq!(slack.len(), 2, "{slack:#?}");
    let text = slack[0]["text"].as_str().expect("text");
    assert!(
        text.contains("FIRING") && text.contains("poll storm") && text.contains("Value 50"),
        "{text}"
    );
    assert!(
        slack[1]["text"]
            .as_str()
            .expect("text")
            .contains("RESOLVED")
    );

    let pd = on(&received, "/pd");
    assert_eq!(pd.len(), 2, "{pd:#?}");
    assert_eq!(pd[0]["event_action"], "trigger");
    assert_eq!(pd[0]["routing_key"], "rk-123");
    assert_eq!(pd[0]["payload"]["severity"], "critical");
    assert_eq!(pd[0]["payload"]["summary"], alert["annotations"]["summary"]);
    assert_eq!(pd[1]["event_action"], "resolve");
    assert_eq!(pd[1]["dedup_key"], pd[0]["dedup_key"]);

    // Either collector answers the same history and notification log.
    let history = get(b, "/api/alerts/history?rule=poll%20storm");
    let changes: Vec<(&str, &str)> = history["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|t| {
            (
                t["from"].as_str().unwrap_or(""),
                t["to"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(changes, [("firing", "resolved"), ("inactive", "firing")]);
    let log = get(a, "/api/alerts/notifications");
    let sent = log["notifications"]
        .as_array()
        .expect("log")
        .iter()
        .filter(|n| n["outcome"] == "sent")
        .count();
    assert_eq!(sent, 6, "{log:#}");
    let overview = get(b, "/api/alerts");
    assert_eq!(overview["rules"][0]["name"], "poll storm");
    assert_eq!(overview["rules"][0]["state"], "resolved");
}

#[test]
fn a_poll_storm_fires_once_across_two_sqlite_collectors_and_resolves() {
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver = Receiver::start();
    let rules = rules_file(dir.path(), &receiver);
    let db = dir.path().join("tw.db");
    let flags = ["--rules", rules.as_str(), "--alert-interval", "200ms"];
    let a = Collector::start(&db, &flags);
    let b = Collector::start(&db, &flags);
    fires_once_and_resolves(&receiver, &a, &b);
}

#[test]
fn a_poll_storm_fires_once_across_two_clickhouse_collectors_and_resolves() {
    let ch = ClickHouseTest::start("alerts_two_collectors");
    let receiver = Receiver::start();
    let rules = rules_file(ch.dir.path(), &receiver);
    let collector = |spool: &str| {
        let spool = ch.dir.path().join(spool).display().to_string();
        Collector::start_with_args(
            [
                "--otlp-listen",
                "127.0.0.1:0",
                "--api-listen",
                "127.0.0.1:0",
                "--clickhouse-batch-delay",
                "100ms",
                "--store",
                &ch.store_url(),
                "--spool-dir",
                &spool,
                "--rules",
                &rules,
                "--alert-interval",
                "200ms",
            ]
            .map(str::to_owned)
            .to_vec(),
        )
    };
    let a = collector("spool-a");
    let b = collector("spool-b");
    fires_once_and_resolves(&receiver, &a, &b);
}

#[test]
fn a_receiver_answering_500_gets_retries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver = Receiver::start();
    receiver.answer(500);
    let rules = rules_file(dir.path(), &receiver);
    let collector = Collector::start(
        &dir.path().join("tw.db"),
        &["--rules", rules.as_str(), "--alert-interval", "200ms"],
    );
    storm(&collector);
    let received = receiver.wait_until(Duration::from_secs(10), |r| on(r, "/hook").len() >= 3);
    assert!(on(&received, "/hook").len() >= 3, "{received:#?}");
    let firing = on(&received, "/hook");
    assert!(firing.iter().take(3).all(|b| b["status"] == "firing"));
    let log = get(&collector, "/api/alerts/notifications");
    let failed = log["notifications"]
        .as_array()
        .expect("log")
        .iter()
        .filter(|n| n["channel"] == "ops" && n["outcome"] == "failed" && n["code"] == 500)
        .count();
    assert!(failed >= 2, "{log:#}");
}
