//! The deployment in examples/deploy cannot run here (no Docker engine), so this checks what can
//! be checked without it: the compose file uses only flags, variables, ports and volumes the
//! collector accepts; Grafana's provisioning points at the compose services and the dashboard at
//! the provisioned datasource; and every SQL statement of the dashboard runs on the real
//! ClickHouse engine against data the collector wrote, with plausible answers.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value as Json;
use tracewire_e2e::clickhouse_store::{ClickHouseTest, count_rows, wait_until};
use tracewire_e2e::collector::{Collector, binary};
use tracewire_e2e::exchanges::{MS, SESSION, SPANS_PER_EXCHANGE, exchanges, request_rates};
use tracewire_e2e::workspace_root;

fn deploy(path: &str) -> PathBuf {
    workspace_root().join("examples/deploy").join(path)
}

fn yaml(path: &str) -> Json {
    let text = std::fs::read_to_string(deploy(path)).expect("file exists");
    serde_yaml_ng::from_str(&text).expect("valid YAML")
}

/// The provisioned dashboards.
const DASHBOARDS: [&str; 2] = ["tracewire-websockets.json", "tracewire-services.json"];

fn dashboard(file: &str) -> Json {
    let text = std::fs::read_to_string(deploy(&format!("grafana/dashboards/{file}")))
        .expect("dashboard exists");
    serde_json::from_str(&text).expect("valid JSON")
}

/// A panel's queries (none for a row).
fn targets(panel: &Json) -> impl Iterator<Item = &Json> {
    panel["targets"].as_array().into_iter().flatten()
}

fn strings(value: &Json) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The port of a `host:port` listen address.
fn port(addr: &str) -> &str {
    addr.rsplit(':').next().unwrap_or_default()
}

#[test]
fn compose_file_uses_only_what_the_collector_accepts() {
    let compose = yaml("docker-compose.yml");
    let services = &compose["services"];
    let collector = &services["collector"];
    let help = String::from_utf8(
        Command::new(binary())
            .arg("--help")
            .output()
            .expect("runs")
            .stdout,
    )
    .expect("utf-8");

    let command = strings(&collector["command"]);
    assert!(!command.is_empty(), "the collector service has a command");
    let flag_value = |flag: &str| {
        command
            .iter()
            .position(|c| c == flag)
            .and_then(|i| command.get(i + 1))
            .cloned()
            .unwrap_or_else(|| panic!("{flag} is not set in the compose file"))
    };
    for flag in command.iter().filter(|c| c.starts_with("--")) {
        assert!(
            help.lines()
                .any(|line| line.trim_start().starts_with(&format!("{flag} "))),
            "{flag} is not a collector flag"
        );
    }
    if let Some(environment) = collector["environment"].as_object() {
        for key in environment.keys() {
            assert!(
                help.contains(&format!("[env: {key}=")),
                "{key} is not a collector variable"
            );
        }
    }

    // Every listener is published, and nothing else is.
    let listeners: BTreeSet<String> = ["--otlp-listen", "--otlp-grpc-listen", "--api-listen"]
        .iter()
        .map(|f| port(&flag_value(f)).to_owned())
        .collect();
    let published: BTreeSet<String> = strings(&collector["ports"])
        .iter()
        .map(|p| port(p).to_owned())
        .collect();
    assert_eq!(published, listeners);

    // The spool, which holds acknowledged batches, lives on a declared volume.
    let spool = flag_value("--spool-dir");
    let declared = compose["volumes"].as_object().expect("top-level volumes");
    let on_volume = strings(&collector["volumes"]).iter().any(|v| {
        let (source, target) = v.split_once(':').expect("source:target");
        declared.contains_key(source) && spool.starts_with(target)
    });
    assert!(on_volume, "--spool-dir {spool} is not on a named volume");

    // The store URL names the ClickHouse service, its database and its credentials.
    let store = flag_value("--store");
    let clickhouse = &services["clickhouse"]["environment"];
    let expected = format!(
        "clickhouse:http://{}:{}@clickhouse:8123/{}",
        clickhouse["CLICKHOUSE_USER"].as_str().expect("user"),
        clickhouse["CLICKHOUSE_PASSWORD"]
            .as_str()
            .expect("password"),
        clickhouse["CLICKHOUSE_DB"].as_str().expect("database"),
    );
    assert_eq!(store, expected);
    let schema = Command::new(binary())
        .args(["schema", "--store", &store])
        .output()
        .expect("runs");
    assert!(
        schema.status.success(),
        "the collector accepts the store URL: {}",
        String::from_utf8_lossy(&schema.stderr)
    );

    // Grafana: its provisioning folders exist and its datasource points at the same ClickHouse.
    for volume in strings(&services["grafana"]["volumes"]) {
        let (source, _) = volume.split_once(':').expect("source:target");
        if source.starts_with("./") {
            assert!(deploy(source).exists(), "{source} is missing");
        } else {
            assert!(
                declared.contains_key(source),
                "volume {source} is not declared"
            );
        }
    }
    let datasource = &yaml("grafana/provisioning/datasources/clickhouse.yml")["datasources"][0];
    let json = &datasource["jsonData"];
    assert!(
        services[json["host"].as_str().expect("host")].is_object(),
        "the datasource host is a service"
    );
    assert_eq!(json["username"], clickhouse["CLICKHOUSE_USER"]);
    assert_eq!(
        datasource["secureJsonData"]["password"],
        clickhouse["CLICKHOUSE_PASSWORD"]
    );
    assert_eq!(json["defaultDatabase"], clickhouse["CLICKHOUSE_DB"]);
    assert_eq!(json["traces"]["defaultTable"], "otel_traces");
    assert_eq!(json["logs"]["defaultTable"], "otel_logs");

    let uid = datasource["uid"].as_str().expect("uid");
    let mut uids = BTreeSet::new();
    for file in DASHBOARDS {
        let dashboard = dashboard(file);
        assert!(
            uids.insert(dashboard["uid"].to_string()),
            "{file}: uid taken"
        );
        for panel in dashboard["panels"].as_array().expect("panels") {
            for target in targets(panel) {
                assert_eq!(target["datasource"]["uid"], uid, "panel {}", panel["title"]);
            }
        }
        for variable in dashboard["templating"]["list"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if variable["type"] == "query" {
                assert_eq!(
                    variable["datasource"]["uid"], uid,
                    "{file}: {}",
                    variable["name"]
                );
            }
        }
    }
}

/// The dashboard's SQL with Grafana's ClickHouse macros expanded for a window, a trace id and
/// the services chosen (quoted, comma-separated, as `${service:singlequote}` expands).
fn expand(sql: &str, from_ns: u64, to_ns: u64, trace_id: &str, services: &str) -> String {
    let mut out = sql
        .replace("${service:singlequote}", services)
        .replace("$__interval_s", "60")
        .replace(
            "$__fromTime",
            &format!("toDateTime({})", from_ns / 1_000_000_000),
        )
        .replace(
            "$__toTime",
            &format!("toDateTime({})", to_ns / 1_000_000_000),
        )
        .replace("${trace_id}", trace_id);
    for (macro_name, template) in [
        (
            "$__timeFilter(",
            "{col} >= fromUnixTimestamp64Nano(toInt64(FROM)) AND {col} <= fromUnixTimestamp64Nano(toInt64(TO))",
        ),
        (
            "$__timeInterval(",
            "toStartOfInterval({col}, INTERVAL 60 second)",
        ),
    ] {
        while let Some(start) = out.find(macro_name) {
            let open = start + macro_name.len();
            let close = open + out[open..].find(')').expect("closing parenthesis");
            let column = out[open..close].to_owned();
            let expanded = template
                .replace("{col}", &column)
                .replace("FROM", &from_ns.to_string())
                .replace("TO", &to_ns.to_string());
            out.replace_range(start..=close, &expanded);
        }
    }
    out
}

/// The rows a statement answers on the test's database (JSON objects); fails the test on an
/// error, naming `what`.
fn rows_of(ch: &ClickHouseTest, sql: &str, what: &str) -> Vec<Json> {
    let response = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
        .post(format!(
            "{}/?database={}&default_format=JSONEachRow",
            ch.front.url(),
            ch.database
        ))
        .body(sql.to_owned())
        .send()
        .expect("front answers");
    let status = response.status();
    let text = response.text().expect("body");
    assert!(status.is_success(), "{what} failed: {text}\n{sql}");
    text.lines()
        .map(|l| serde_json::from_str(l).expect("JSON row"))
        .collect()
}

/// A collector storing in `ch`'s ClickHouse database, holding twelve WebSocket exchanges of the
/// last minute (browser `web` and backend `agent-backend`) and request-rate records, once they
/// reached ClickHouse; with the start of the data and now.
fn collector_with_data(ch: &ClickHouseTest) -> (Collector, u64, u64) {
    let collector = ch.collector("50ms", &[]);
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    let now = u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_nanos(),
    )
    .expect("fits");
    let base = now - 60_000 * MS;
    let post = |path: &str, body: Vec<u8>| {
        let response = http
            .post(collector.otlp_url(path))
            .header("content-type", "application/x-protobuf")
            .body(body)
            .send()
            .expect("collector answers");
        assert_eq!(response.status().as_u16(), 200);
    };
    for x in exchanges(12, base) {
        post("/v1/traces", x.browser);
        post("/v1/traces", x.backend);
    }
    post(
        "/v1/logs",
        request_rates(
            base,
            &[
                (HOT_ROUTE, 900, SESSION),
                ("GET https://app.example.com/api/me", 4, SESSION),
            ],
        ),
    );
    let client = ch.client();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let landed = wait_until(Duration::from_secs(60), || {
        runtime.block_on(count_rows(&client, "otel_traces")).0 >= 12 * SPANS_PER_EXCHANGE
            && runtime.block_on(count_rows(&client, "otel_logs")).0 >= 2
    });
    assert!(
        landed,
        "the collector's data did not reach ClickHouse; log:\n{}",
        collector.log()
    );
    (collector, base, now)
}

/// The route the request-rate records flood.
const HOT_ROUTE: &str = "GET https://app.example.com/api/agents";

#[test]
fn dashboard_sql_runs_on_clickhouse_against_collector_data() {
    let ch = ClickHouseTest::start("dashboard_sql");
    let (_collector, base, now) = collector_with_data(&ch);
    let trace_id = hex::encode([3u8; 16]);
    let mut answers = Vec::new();
    for panel in dashboard("tracewire-websockets.json")["panels"]
        .as_array()
        .expect("panels")
    {
        for target in targets(panel) {
            let sql = expand(
                target["rawSql"].as_str().expect("rawSql"),
                base - 60_000 * MS,
                now,
                &trace_id,
                "",
            );
            let rows = rows_of(&ch, &sql, &format!("panel {}", panel["title"]));
            assert!(
                !rows.is_empty(),
                "panel {} returned nothing",
                panel["title"]
            );
            answers.push(rows);
        }
    }

    // Round trips: 2 ms up, 5 ms server, 2 ms down for most; the offset is taken out.
    let round_trips = answers[0]
        .iter()
        .find(|r| r["total p50 (ms)"].as_f64() == Some(9.0))
        .expect("a 9 ms median");
    assert_eq!(round_trips["server p50 (ms)"].as_f64(), Some(5.0));
    assert_eq!(round_trips["uplink p50 (ms)"].as_f64(), Some(2.0));
    assert_eq!(round_trips["downlink p50 (ms)"].as_f64(), Some(2.0));
    // Errors: two of twelve backend spans failed.
    let failed: f64 = answers[2]
        .iter()
        .filter_map(|r| r["error ratio"].as_f64())
        .sum();
    assert!(failed > 0.0);
    // Slowest types: the slow uplinks (40 ms) make the p95.
    assert_eq!(answers[3][0]["p95 total (ms)"].as_f64(), Some(47.0));
    // Hot endpoints: the flooded route first.
    assert_eq!(answers[4][0]["route"], HOT_ROUTE);
    assert_eq!(answers[4][0]["requests"], 900);
    // The trace panel shows the chosen trace's spans.
    assert_eq!(answers[5].len(), SPANS_PER_EXCHANGE as usize);
    assert!(answers[5].iter().all(|r| r["traceID"] == trace_id.as_str()));
}

/// A number from a JSON row, whether ClickHouse wrote it as a number or (64-bit) as a string.
fn num(value: &Json) -> f64 {
    value
        .as_f64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("not a number: {value}"))
}

#[test]
fn services_dashboard_sql_runs_on_clickhouse_against_collector_data() {
    let ch = ClickHouseTest::start("services_dashboard_sql");
    let (collector, base, now) = collector_with_data(&ch);
    let (from, to) = (base - 60_000 * MS, now);
    let dashboard = dashboard("tracewire-services.json");
    assert_eq!(dashboard["title"], "Tracewire: services");

    // The service variable lists the services with SERVER or CONSUMER spans; "All" picks each.
    let variable = &dashboard["templating"]["list"][0];
    assert_eq!(variable["name"], "service");
    let sql = expand(variable["query"].as_str().expect("query"), from, to, "", "");
    let services: Vec<String> = rows_of(&ch, &sql, "the service variable")
        .iter()
        .map(|row| {
            let value = row.as_object().and_then(|o| o.values().next());
            value.and_then(Json::as_str).expect("a name").to_owned()
        })
        .collect();
    assert_eq!(services, ["agent-backend", "web"]);
    let all: Vec<String> = services.iter().map(|s| format!("'{s}'")).collect();

    // Every panel's SQL runs; each panel of the services row answers something.
    let mut answers = std::collections::BTreeMap::new();
    let mut row = String::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        if panel["type"] == "row" {
            row = panel["title"].as_str().unwrap_or_default().to_owned();
        }
        for target in targets(panel) {
            let sql = expand(
                target["rawSql"].as_str().expect("rawSql"),
                from,
                to,
                "",
                &all.join(", "),
            );
            let what = format!("panel {} ({})", panel["title"], target["refId"]);
            let rows = rows_of(&ch, &sql, &what);
            if row.starts_with("Services and operations") {
                assert!(!rows.is_empty(), "{what} returned nothing");
            }
            let title = panel["title"].as_str().unwrap_or_default();
            let reference = target["refId"].as_str().unwrap_or_default();
            answers.insert(format!("{title}/{reference}"), rows);
        }
    }

    // The operations table counts what the collector's API counts, per service and operation.
    let window = format!("start={from}&end={to}");
    let api = |path: &str| -> Json {
        reqwest::blocking::get(collector.api_url(path))
            .expect("api answers")
            .json()
            .expect("json")
    };
    let operations = &answers["Operations/A"];
    for service in &services {
        let expected = &api(&format!("/api/services/{service}/operations?{window}"))["operations"];
        for op in expected.as_array().expect("operations") {
            let row = operations
                .iter()
                .find(|r| r["service"] == service.as_str() && r["operation"] == op["name"])
                .unwrap_or_else(|| panic!("{service} {} missing", op["name"]));
            assert_eq!(num(&row["calls"]), num(&op["calls"]), "{row}");
            assert_eq!(num(&row["errors"]), num(&op["errors"]), "{row}");
        }
        let listed = operations
            .iter()
            .filter(|r| r["service"] == service.as_str());
        assert_eq!(listed.count(), expected.as_array().map_or(0, Vec::len));
    }
    // agent-backend: six messages of each type, one of each failed; 5 ms each.
    let chat = operations
        .iter()
        .find(|r| r["operation"] == "ws.receive chat")
        .expect("chat");
    assert_eq!((num(&chat["calls"]), num(&chat["errors"])), (6.0, 1.0));
    assert!((num(&chat["p95 (ms)"]) - 5.0).abs() < 0.01, "{chat}");

    // Requests per second per service add up to the calls over the range.
    for service in &services {
        let requests: f64 = answers["Request rate per service/A"]
            .iter()
            .filter(|r| r["service"] == service.as_str())
            .map(|r| num(&r["requests/s"]) * 60.0)
            .sum();
        let calls = num(&api(&format!("/api/services?{window}"))["services"]
            .as_array()
            .expect("services")
            .iter()
            .find(|s| s["name"] == service.as_str())
            .expect("listed")["calls"]);
        assert!(
            (requests - calls).abs() < 1e-6,
            "{service}: {requests} against {calls}"
        );
    }
    let ratio: f64 = answers["Error ratio per service/A"]
        .iter()
        .filter(|r| r["service"] == "agent-backend")
        .map(|r| num(&r["error ratio"]))
        .sum();
    assert!(ratio > 0.0);

    // The calls between services are those of the collector's dependency map.
    let edges = api(&format!("/api/dependencies?{window}"));
    let table: Vec<(String, String, f64, f64)> = answers["Service dependencies/A"]
        .iter()
        .map(|r| {
            let name = |k: &str| r[k].as_str().expect("name").to_owned();
            (
                name("from"),
                name("to"),
                num(&r["calls"]),
                num(&r["errors"]),
            )
        })
        .collect();
    let expected: Vec<(String, String, f64, f64)> = edges["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| {
            let name = |k: &str| e[k].as_str().expect("name").to_owned();
            (
                name("from"),
                name("to"),
                num(&e["calls"]),
                num(&e["errors"]),
            )
        })
        .collect();
    assert_eq!(table, expected);
    assert_eq!(
        expected
            .iter()
            .map(|e| (e.0.as_str(), e.1.as_str(), e.2, e.3))
            .collect::<Vec<_>>(),
        [
            ("agent-backend", "web", 12.0, 0.0),
            ("web", "agent-backend", 12.0, 2.0)
        ]
    );
    // The node graph: a node per service, an edge per pair.
    let nodes: Vec<&str> = answers["Service map/nodes"]
        .iter()
        .map(|r| r["id"].as_str().expect("id"))
        .collect();
    assert_eq!(nodes, ["agent-backend", "web"]);
    assert_eq!(answers["Service map/edges"].len(), 2);
}
