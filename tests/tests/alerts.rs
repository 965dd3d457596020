//! Alerts end to end with real collector processes and a real HTTP receiver: a poll storm (the
//! SDK's request-rate records) fires the hot-endpoint rule within one interval and resolves
//! once it stops; two collectors on one store (SQLite, then ClickHouse) send one notification
//! per transition on each channel (Alertmanager webhook, Slack, PagerDuty, each payload checked);
//! a receiver answering 500 gets retries; e-mail reaches a real SMTP server (aiosmtpd) over
//! STARTTLS; a silence records without sending; SIGHUP reloads the rules file (a broken one
//! keeps the rules in force and logs why); a rule PUT through the API on one collector is
//! evaluated (once) by the pair until it is deleted; with an access file, each tenant's rules
//! read only its own data and its alerts, history and notifications are its own.

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

/// The value of one sample of the collector's `/metrics` (0 when absent).
fn metric(collector: &Collector, sample: &str) -> f64 {
    let text = http_client()
        .get(collector.api_url("/metrics"))
        .send()
        .expect("collector answers")
        .text()
        .expect("text");
    text.lines()
        .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
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
    // The same attempts in the collector's own metrics, by channel type.
    let retried = metric(
        &collector,
        r#"tracewire_alert_notifications_total{channel_type="webhook",outcome="failed"}"#,
    );
    assert!(retried >= 2.0, "{retried}");
    assert_eq!(
        metric(
            &collector,
            r#"tracewire_alert_notifications_total{channel_type="webhook",outcome="sent"}"#
        ),
        0.0
    );
    assert_eq!(
        metric(
            &collector,
            r#"tracewire_alert_transitions_total{to="firing"}"#
        ),
        1.0
    );
    assert!(metric(&collector, "tracewire_alert_evaluations_total") >= 1.0);
}

#[test]
fn notifications_being_retried_when_the_collector_stops_are_still_sent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver = Receiver::start();
    receiver.answer(500);
    let rules = rules_file(dir.path(), &receiver);
    let mut collector = Collector::start(
        &dir.path().join("tw.db"),
        &["--rules", rules.as_str(), "--alert-interval", "200ms"],
    );
    storm(&collector);
    let first = receiver.wait_until(Duration::from_secs(10), |r| !on(r, "/hook").is_empty());
    assert_eq!(on(&first, "/hook")[0]["status"], "firing", "{first:#?}");
    // Stopped right after the webhook's first attempt failed: its retries (250 ms, then 500 ms
    // and 1 s later) come after the collector was told to stop; from the third request on the
    // receiver takes them.
    let stopping = std::thread::spawn({
        let receiver = receiver.clone();
        move || {
            receiver.wait_until(Duration::from_secs(10), |r| on(r, "/hook").len() >= 3);
            receiver.answer(200);
        }
    });
    let status = collector.terminate();
    stopping.join().expect("joins");
    assert!(status.success(), "{status:?}\n{}", collector.log());
    let hooks = on(&receiver.received(), "/hook").len();
    assert!(hooks >= 3, "the retries went on after SIGTERM: {hooks}");
    assert!(
        !collector.log().contains("notifications not sent"),
        "{}",
        collector.log()
    );
}

/// Writes `body` as `rules.toml` in `dir`; its path.
fn write_rules(dir: &Path, body: &str) -> String {
    let path = dir.join("rules.toml");
    std::fs::write(&path, body).expect("write rules");
    path.display().to_string()
}

/// The poll storm rule of [`rules_file`] with `threshold`, notifying `channel`.
fn storm_rule(name: &str, threshold: u32, channel: &str) -> String {
    format!(
        r#"
[[rules]]
name = "{name}"
condition = {{ kind = "hot_endpoint", route = "{ROUTE}", per_session = true }}
window = "2s"
threshold = {threshold}
severity = "critical"
summary = "{{{{route}}}} at {{{{value}}}}/s"
channels = ["{channel}"]
"#
    )
}

fn webhook_channel(receiver: &Receiver) -> String {
    format!(
        "[[channels]]\nname = \"ops\"\ntype = \"webhook\"\nurl = \"{}/hook\"\n",
        receiver.url
    )
}

fn transitions(collector: &Collector, rule: &str) -> Vec<(String, String)> {
    let history = get(
        collector,
        &format!("/api/alerts/history?rule={}", rule.replace(' ', "%20")),
    );
    history["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|t| {
            (
                t["from"].as_str().unwrap_or("").to_owned(),
                t["to"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// The notification log's outcomes, newest first, once it has `count` entries (at most 10 s:
/// an attempt is logged just after the receiver has it).
fn outcomes(collector: &Collector, count: usize) -> Vec<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let logged: Vec<String> = get(collector, "/api/alerts/notifications")["notifications"]
            .as_array()
            .expect("log")
            .iter()
            .map(|n| n["outcome"].as_str().unwrap_or("").to_owned())
            .collect();
        if logged.len() >= count || std::time::Instant::now() > deadline {
            return logged;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits (at most 10 s) until the rule's history has `count` transitions.
fn wait_for_transitions(collector: &Collector, rule: &str, count: usize) -> Vec<(String, String)> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let changes = transitions(collector, rule);
        if changes.len() >= count || std::time::Instant::now() > deadline {
            return changes;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn e_mail_goes_to_a_real_smtp_server_over_starttls_on_firing_and_resolving() {
    let ca = tracewire_e2e::tls::TestCa::new("alerts SMTP CA");
    let smtp = tracewire_e2e::smtp::SmtpSink::start(&ca.server("smtp"));
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = write_rules(
        dir.path(),
        &format!(
            r#"
[[channels]]
name = "mail"
type = "email"
smtp = "{}"
ca = "{}"
from = "Tracewire <alerts@example.com>"
to = ["oncall@example.com", "web@example.com"]
{}"#,
            smtp.address,
            ca.ca().display(),
            storm_rule("poll storm", 20, "mail"),
        ),
    );
    let collector = Collector::start(
        &dir.path().join("tw.db"),
        &[
            "--rules",
            rules.as_str(),
            "--alert-interval",
            "200ms",
            "--alert-ui-url",
            "https://tw.example.com/",
        ],
    );
    storm(&collector);
    let mails = smtp.wait_until(Duration::from_secs(15), |m| m.len() >= 2);
    assert_eq!(mails.len(), 2, "one firing and one resolved: {mails:#?}");
    for mail in &mails {
        assert_eq!(mail["tls"], true, "STARTTLS before the mail: {mail}");
        assert_eq!(mail["mail_from"], "alerts@example.com");
        assert_eq!(
            mail["rcpt_tos"],
            serde_json::json!(["oncall@example.com", "web@example.com"])
        );
        assert_eq!(mail["from"], "Tracewire <alerts@example.com>");
        assert_eq!(mail["to"], "oncall@example.com, web@example.com");
        assert_eq!(mail["content_type"], "text/plain");
    }
    let summary = format!("{ROUTE} at 50/s");
    assert_eq!(
        mails[0]["subject"],
        format!("[FIRING] poll storm: {summary}")
    );
    let body = mails[0]["body"].as_str().expect("body");
    for line in [
        summary.as_str(),
        "Rule: poll storm",
        "State: firing",
        "Severity: critical",
        "Value: 50 (threshold > 20 over 2s)",
        &format!("  route = {ROUTE}"),
        &format!("  session_id = {SESSION}"),
        "Alert: https://tw.example.com/alerts?rule=poll%20storm",
        &format!("Session: https://tw.example.com/sessions/{SESSION}"),
    ] {
        assert!(
            body.lines().any(|l| l.starts_with(line)),
            "{line:?} in:\n{body}"
        );
    }
    assert_eq!(
        mails[1]["subject"],
        format!("[RESOLVED] poll storm: {summary}")
    );
    let resolved = mails[1]["body"].as_str().expect("body");
    for line in ["State: resolved", "Value: no data (threshold > 20 over 2s)"] {
        assert!(
            resolved.lines().any(|l| l == line),
            "{line:?} in:\n{resolved}"
        );
    }
    assert_eq!(outcomes(&collector, 2), ["sent", "sent"]);
    assert_eq!(
        metric(
            &collector,
            r#"tracewire_alert_notifications_total{channel_type="email",outcome="sent"}"#
        ),
        2.0
    );
}

fn wait_for_hooks(receiver: &Receiver, count: usize) -> Vec<Json> {
    let received = receiver.wait_until(Duration::from_secs(10), |r| on(r, "/hook").len() >= count);
    on(&received, "/hook").into_iter().cloned().collect()
}

fn statuses(hooks: &[Json]) -> Vec<&str> {
    hooks
        .iter()
        .map(|h| h["status"].as_str().unwrap_or(""))
        .collect()
}

#[test]
fn a_silence_records_the_alert_without_sending_and_its_end_lets_notifications_resume() {
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver = Receiver::start();
    let rules = write_rules(
        dir.path(),
        &format!(
            "{}{}",
            webhook_channel(&receiver),
            storm_rule("poll storm", 20, "ops")
        ),
    );
    let collector = Collector::start(
        &dir.path().join("tw.db"),
        &["--rules", rules.as_str(), "--alert-interval", "200ms"],
    );
    let client = http_client();
    let created: Json = client
        .post(collector.api_url("/api/alerts/silences"))
        .json(&serde_json::json!({
            "matchers": [{"name": "alertname", "value": "poll storm"}, {"name": "route", "value": ROUTE}],
            "duration": "1h",
            "comment": "deploying",
        }))
        .send()
        .expect("collector answers")
        .json()
        .expect("JSON");
    let id = created["id"].as_str().expect("silence id").to_owned();
    let listed = get(&collector, "/api/alerts/silences");
    assert_eq!(listed["silences"][0]["id"], id.as_str());
    assert_eq!(listed["silences"][0]["comment"], "deploying");

    storm(&collector);
    let changes = wait_for_transitions(&collector, "poll storm", 2);
    assert_eq!(
        changes,
        [
            ("firing".to_owned(), "resolved".to_owned()),
            ("inactive".to_owned(), "firing".to_owned())
        ]
    );
    std::thread::sleep(Duration::from_millis(600));
    assert!(on(&receiver.received(), "/hook").is_empty(), "silenced");
    assert_eq!(outcomes(&collector, 2), ["silenced", "silenced"]);
    assert_eq!(
        metric(
            &collector,
            r#"tracewire_alert_notifications_total{channel_type="webhook",outcome="silenced"}"#
        ),
        2.0
    );

    let ended = client
        .delete(collector.api_url(&format!("/api/alerts/silences/{id}")))
        .send()
        .expect("collector answers");
    assert_eq!(ended.status().as_u16(), 204);
    assert_eq!(
        get(&collector, "/api/alerts/silences")["silences"],
        serde_json::json!([])
    );
    storm(&collector);
    let hooks = wait_for_hooks(&receiver, 2);
    assert_eq!(statuses(&hooks), ["firing", "resolved"]);
    assert_eq!(
        outcomes(&collector, 4),
        ["sent", "sent", "silenced", "silenced"]
    );
    assert_eq!(
        metric(
            &collector,
            r#"tracewire_alert_notifications_total{channel_type="webhook",outcome="sent"}"#
        ),
        2.0
    );
    for (to, count) in [("firing", 2.0), ("resolved", 2.0)] {
        let sample = format!("tracewire_alert_transitions_total{{to=\"{to}\"}}");
        assert_eq!(metric(&collector, &sample), count, "{sample}");
    }
}

#[test]
fn sighup_reloads_the_rules_file_and_a_broken_one_keeps_the_rules_in_force() {
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver = Receiver::start();
    let channel = webhook_channel(&receiver);
    let rules = write_rules(
        dir.path(),
        &format!("{channel}{}", storm_rule("quiet", 1000, "ops")),
    );
    let collector = Collector::start(
        &dir.path().join("tw.db"),
        &["--rules", rules.as_str(), "--alert-interval", "200ms"],
    );
    storm(&collector);
    std::thread::sleep(Duration::from_millis(800));
    assert!(
        on(&receiver.received(), "/hook").is_empty(),
        "50/s is under 1000"
    );

    write_rules(
        dir.path(),
        &format!("{channel}{}", storm_rule("poll storm", 20, "ops")),
    );
    collector.hangup();
    collector.wait_for_log("Alert rules file reloaded", 1);
    let names: Vec<Json> = get(&collector, "/api/alerts/rules")["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| r["name"].clone())
        .collect();
    assert_eq!(names, [serde_json::json!("poll storm")]);
    storm(&collector);
    let hooks = wait_for_hooks(&receiver, 1);
    assert_eq!(hooks[0]["groupLabels"]["alertname"], "poll storm");

    write_rules(
        dir.path(),
        &format!(
            "{channel}{}",
            storm_rule("late", 20, "ops").replace("window = \"2s\"", "window = \"soon\"")
        ),
    );
    collector.hangup();
    let log = collector.wait_for_log("Alert rules file not reloaded", 1);
    assert!(
        log.contains("rule \"late\": window: 'soon' is not a duration"),
        "{log}"
    );
    let rule = get(&collector, "/api/alerts/rules")["rules"][0].clone();
    assert_eq!(rule["name"], "poll storm");
    assert_eq!(rule["threshold"], 20.0);
}

#[test]
fn a_rule_put_through_the_api_is_evaluated_by_every_collector_until_deleted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver = Receiver::start();
    let rules = write_rules(dir.path(), &webhook_channel(&receiver));
    let db = dir.path().join("tw.db");
    let flags = ["--rules", rules.as_str(), "--alert-interval", "200ms"];
    let a = Collector::start(&db, &flags);
    let b = Collector::start(&db, &flags);
    let client = http_client();
    let put = client
        .put(a.api_url("/api/alerts/rules/api%20storm"))
        .json(&serde_json::json!({
            "condition": {"kind": "hot_endpoint", "route": ROUTE, "per_session": true},
            "window": "2s",
            "op": ">=",
            "threshold": 20,
            "severity": "error",
            "labels": {"team": "api"},
            "summary": "{{route}} at {{value}}/s",
            "channels": ["ops"],
        }))
        .send()
        .expect("collector answers");
    assert_eq!(
        put.status().as_u16(),
        204,
        "{}",
        put.text().unwrap_or_default()
    );
    let seen = get(&b, "/api/alerts/rules/api%20storm");
    assert_eq!(seen["source"], "api");
    assert_eq!(seen["op"], ">=");
    assert_eq!(seen["labels"]["team"], "api");
    assert_eq!(seen["channels"], serde_json::json!(["ops"]));

    storm(&b);
    let hooks = wait_for_hooks(&receiver, 2);
    assert_eq!(statuses(&hooks), ["firing", "resolved"]);
    let alert = &hooks[0]["alerts"][0];
    assert_eq!(alert["labels"]["alertname"], "api storm");
    assert_eq!(alert["labels"]["severity"], "error");
    assert_eq!(alert["labels"]["team"], "api");
    assert_eq!(alert["annotations"]["summary"], format!("{ROUTE} at 50/s"));
    assert_eq!(alert["annotations"]["threshold"], ">= 20");
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(
        on(&receiver.received(), "/hook").len(),
        2,
        "one collector notified"
    );

    let deleted = client
        .delete(b.api_url("/api/alerts/rules/api%20storm"))
        .send()
        .expect("collector answers");
    assert_eq!(deleted.status().as_u16(), 204);
    let gone = client
        .get(a.api_url("/api/alerts/rules/api%20storm"))
        .send()
        .expect("collector answers");
    assert_eq!(gone.status().as_u16(), 404);
    assert_eq!(get(&a, "/api/alerts")["rules"], serde_json::json!([]));
    storm(&a);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        on(&receiver.received(), "/hook").len(),
        2,
        "deleted: not evaluated"
    );
}

const ACME_KEY: &str = "twsk_alerts_acme_key_0001";
const ACME_TOKEN: &str = "twrt_alerts_acme_token_01";
const GLOBEX_KEY: &str = "twsk_alerts_globex_key_01";
const GLOBEX_TOKEN: &str = "twrt_alerts_globex_tok_01";

fn as_tenant(collector: &Collector, path: &str, token: &str) -> (u16, Json) {
    let response = http_client()
        .get(collector.api_url(path))
        .bearer_auth(token)
        .send()
        .expect("collector answers");
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Json::Null))
}

fn rule_names(overview: &Json) -> Vec<&str> {
    overview["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| r["name"].as_str().unwrap_or(""))
        .collect()
}

#[test]
fn each_tenant_s_rules_read_only_its_own_data_and_its_alerts_are_its_own() {
    use tracewire_e2e::access::tenant;
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver = Receiver::start();
    let access = dir.path().join("access.toml");
    std::fs::write(
        &access,
        tenant("acme", ACME_KEY, ACME_TOKEN, "admin")
            + &tenant("globex", GLOBEX_KEY, GLOBEX_TOKEN, "admin"),
    )
    .expect("write access file");
    let rules = write_rules(
        dir.path(),
        &format!(
            "{}{}",
            webhook_channel(&receiver),
            storm_rule("acme storm", 20, "ops").replace(
                "name = \"acme storm\"",
                "name = \"acme storm\"\ntenant = \"acme\""
            )
        ),
    );
    let collector = Collector::start(
        &dir.path().join("tw.db"),
        &[
            "--access",
            &access.display().to_string(),
            "--rules",
            rules.as_str(),
            "--alert-interval",
            "200ms",
        ],
    );
    let put = http_client()
        .put(collector.api_url("/api/alerts/rules/globex%20storm"))
        .bearer_auth(GLOBEX_TOKEN)
        .json(&serde_json::json!({
            "condition": {"kind": "hot_endpoint", "route": ROUTE, "per_session": true},
            "window": "2s",
            "threshold": 20,
            "summary": "{{route}} at {{value}}/s",
            "channels": ["ops"],
        }))
        .send()
        .expect("collector answers");
    assert_eq!(put.status().as_u16(), 204);
    // Each tenant sees its own rules only.
    let (_, acme) = as_tenant(&collector, "/api/alerts", ACME_TOKEN);
    assert_eq!(rule_names(&acme), ["acme storm"]);
    let (_, globex) = as_tenant(&collector, "/api/alerts", GLOBEX_TOKEN);
    assert_eq!(rule_names(&globex), ["globex storm"]);
    let (status, _) = as_tenant(&collector, "/api/alerts/rules/globex%20storm", ACME_TOKEN);
    assert_eq!(status, 404);

    // Globex's poll storm fires globex's rule only.
    let response = http_client()
        .post(collector.otlp_url("/v1/logs"))
        .header("content-type", "application/x-protobuf")
        .header("x-tracewire-key", GLOBEX_KEY)
        .body(request_rates(now_ns(), &[(ROUTE, 100, SESSION)]))
        .send()
        .expect("collector answers");
    assert_eq!(response.status().as_u16(), 200);
    let hooks = wait_for_hooks(&receiver, 2);
    assert_eq!(statuses(&hooks), ["firing", "resolved"]);
    let alert = &hooks[0]["alerts"][0];
    assert_eq!(alert["labels"]["alertname"], "globex storm");
    assert_eq!(alert["labels"]["tenant"], "globex");
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(
        on(&receiver.received(), "/hook").len(),
        2,
        "acme's rule saw nothing"
    );

    let (_, acme) = as_tenant(&collector, "/api/alerts", ACME_TOKEN);
    assert_eq!(acme["rules"][0]["state"], "inactive", "{acme:#}");
    assert_eq!(acme["rules"][0]["value"], Json::Null, "no data of acme's");
    assert_eq!(acme["alerts"], serde_json::json!([]));
    for path in ["/api/alerts/history", "/api/alerts/notifications"] {
        let (status, body) = as_tenant(&collector, path, ACME_TOKEN);
        assert_eq!(status, 200);
        let entries = body.as_object().and_then(|o| o.values().next()).cloned();
        assert_eq!(entries, Some(serde_json::json!([])), "{path}: {body:#}");
        let (_, body) = as_tenant(&collector, path, GLOBEX_TOKEN);
        let entries = body.as_object().and_then(|o| o.values().next()).cloned();
        assert_eq!(
            entries.and_then(|e| e.as_array().map(Vec::len)),
            Some(2),
            "{path}: {body:#}"
        );
    }
}
