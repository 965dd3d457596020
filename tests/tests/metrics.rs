//! Metrics end to end: the same OTLP metrics into a SQLite collector and a ClickHouse collector
//! (the real engine behind the test front) give identical JSON from `/api/metrics` and
//! `/api/metrics/series`, and those answers are the values worked out here by hand; bad
//! requests are clear 400s; the ClickHouse tables have the exporter's columns and types.

use std::time::Duration;

use prost::Message;
use serde_json::{Value as Json, json};
use tracewire_e2e::clickhouse_store::{ClickHouseTest, wait_until};
use tracewire_e2e::collector::Collector;
use tracewire_e2e::metrics::workload;
use tracewire_e2e::{http_client, now_ns};

const NS: u64 = 1_000_000_000;

fn send(collector: &Collector, body: Vec<u8>) {
    let response = http_client()
        .post(collector.otlp_url("/v1/metrics"))
        .header("content-type", "application/x-protobuf")
        .body(body)
        .send()
        .expect("collector answers");
    assert_eq!(response.status(), 200, "{:?}", response.text());
}

fn get(collector: &Collector, path: &str) -> (u16, Json) {
    let response = http_client()
        .get(collector.api_url(path))
        .send()
        .expect("collector answers");
    let status = response.status().as_u16();
    (status, response.json().expect("JSON"))
}

/// The values of the only series of an answer (`null` as `None`).
fn values(answer: &Json) -> Vec<Option<f64>> {
    let series = answer["series"].as_array().expect("series");
    assert_eq!(series.len(), 1, "{answer}");
    points(&series[0])
}

fn points(series: &Json) -> Vec<Option<f64>> {
    series["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|p| p["value"].as_f64())
        .collect()
}

fn close(got: &[Option<f64>], want: &[Option<f64>]) -> bool {
    got.len() == want.len()
        && got.iter().zip(want).all(|(g, w)| match (g, w) {
            (Some(g), Some(w)) => (g - w).abs() < 1e-9,
            (None, None) => true,
            _ => false,
        })
}

#[test]
fn sqlite_and_clickhouse_answer_metric_queries_alike_and_as_worked_out() {
    let ch = ClickHouseTest::start("metrics_series");
    let sqlite = Collector::start(&ch.sqlite_path(), &[]);
    let clickhouse = ch.collector("50ms", &[]);
    let base = now_ns() / NS / 60 * 60 - 600;
    let body = workload(base).encode_to_vec();
    send(&sqlite, body.clone());
    send(&clickhouse, body);
    assert!(
        wait_until(Duration::from_secs(30), || {
            get(&clickhouse, "/api/metrics").1["metrics"]
                .as_array()
                .is_some_and(|m| m.len() == 7)
        }),
        "ClickHouse has the metrics; log:\n{}",
        clickhouse.log()
    );

    let (status, catalog) = get(&sqlite, "/api/metrics");
    assert_eq!(status, 200, "{catalog}");
    assert_eq!(get(&clickhouse, "/api/metrics").1, catalog);
    let temperature = &catalog["metrics"].as_array().expect("metrics")[6];
    assert_eq!(
        temperature,
        &json!({"name": "temperature", "type": "gauge", "unit": "Cel",
                "description": "temperature of the test", "services": ["svc"],
                "attribute_keys": ["host"]})
    );
    let found = get(&sqlite, "/api/metrics?q=LAT&service=svc").1;
    assert_eq!(found["metrics"][0]["name"], "latency");
    assert_eq!(found["metrics"][0]["type"], "histogram");
    assert_eq!(get(&clickhouse, "/api/metrics?q=LAT&service=svc").1, found);
    assert_eq!(
        get(&sqlite, "/api/metrics?service=nobody").1["metrics"],
        json!([])
    );

    let window = format!("start={base}000000000&end={}000000000&step=60s", base + 300);
    let null = None;
    let cases: Vec<(&str, Vec<Option<f64>>)> = vec![
        (
            "name=temperature&agg=avg",
            vec![Some(25.0), Some(22.0), Some(31.0), null, null],
        ),
        (
            "name=temperature&agg=max",
            vec![Some(30.0), Some(22.0), Some(31.0), null, null],
        ),
        (
            "name=temperature&agg=last&attr.host=b",
            vec![Some(30.0), null, Some(31.0), null, null],
        ),
        (
            "name=requests&agg=increase",
            vec![Some(6.0), Some(4.0), Some(5.0), Some(4.0), null],
        ),
        (
            "name=requests&agg=rate&service=svc&attr.route=/a",
            vec![
                Some(0.1),
                Some(4.0 / 60.0),
                Some(5.0 / 60.0),
                Some(4.0 / 60.0),
                null,
            ],
        ),
        (
            "name=bytes&agg=increase",
            vec![Some(100.0), Some(75.0), null, null, null],
        ),
        (
            "name=active&agg=last",
            vec![Some(5.0), Some(3.0), null, null, null],
        ),
        (
            "name=active&agg=increase",
            vec![Some(5.0), Some(-2.0), null, null, null],
        ),
        (
            "name=latency&agg=count",
            vec![Some(6.0), null, null, null, null],
        ),
        (
            "name=latency&agg=p50",
            vec![Some(32.5), null, null, null, null],
        ),
        (
            "name=latency&agg=p99",
            vec![Some(98.65), null, null, null, null],
        ),
        (
            "name=latency&agg=rate",
            vec![Some(0.1), null, null, null, null],
        ),
        (
            "name=sizes&agg=p50",
            vec![Some(2.0), null, null, null, null],
        ),
        (
            "name=sizes&agg=count",
            vec![Some(4.0), null, null, null, null],
        ),
        (
            "name=rpc&agg=count",
            vec![Some(4.0), null, null, null, null],
        ),
        // The default aggregation of a counter is its rate.
        (
            "name=requests",
            vec![
                Some(0.1),
                Some(4.0 / 60.0),
                Some(5.0 / 60.0),
                Some(4.0 / 60.0),
                null,
            ],
        ),
    ];
    for (query, want) in cases {
        let path = format!("/api/metrics/series?{query}&{window}");
        let (status, answer) = get(&sqlite, &path);
        assert_eq!(status, 200, "{query}: {answer}");
        assert!(close(&values(&answer), &want), "{query}: {answer}");
        assert_eq!(get(&clickhouse, &path).1, answer, "{query}");
        assert_eq!(
            answer["series"][0]["points"][1]["time_unix_nano"],
            ((base + 60) * NS).to_string()
        );
    }

    let path = format!("/api/metrics/series?name=temperature&agg=avg&group_by=host&{window}");
    let (_, grouped) = get(&sqlite, &path);
    assert_eq!(get(&clickhouse, &path).1, grouped);
    let series = grouped["series"].as_array().expect("series");
    assert_eq!(series[0]["labels"], json!({"host": "a"}));
    assert!(close(
        &points(&series[0]),
        &[Some(20.0), Some(22.0), None, None, None]
    ));
    assert_eq!(series[1]["labels"], json!({"host": "b"}));
    assert!(close(
        &points(&series[1]),
        &[Some(30.0), None, Some(31.0), None, None]
    ));

    for (query, code) in [
        ("name=nothing", "unknown_metric"),
        ("agg=avg", "missing_name"),
        ("name=temperature&step=0s", "invalid_duration"),
        ("name=temperature&step=1ms", "invalid_step"),
        ("name=requests&agg=avg", "type_mismatch"),
        ("name=temperature&agg=p95", "type_mismatch"),
        ("name=latency&agg=increase", "type_mismatch"),
        ("name=temperature&agg=median", "invalid_agg"),
        ("name=temperature&type=sum", "type_mismatch"),
        ("name=temperature&colour=red", "invalid_query"),
    ] {
        let path = format!(
            "/api/metrics/series?{query}&start={base}000000000&end={}000000000",
            base + 300
        );
        let (status, answer) = get(&sqlite, &path);
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (400, Some(code)),
            "{query}: {answer}"
        );
        assert_eq!(get(&clickhouse, &path), (status, answer), "{query}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_tables_have_the_exporter_columns_and_types() {
    let ch = ClickHouseTest::start("metrics_columns");
    // The collector creates the schema before it listens.
    let collector = ch.collector("50ms", &[]);
    let shared = [
        ("ResourceAttributes", "Map(LowCardinality(String), String)"),
        ("ResourceSchemaUrl", "String"),
        ("ScopeName", "String"),
        ("ScopeVersion", "String"),
        ("ScopeAttributes", "Map(LowCardinality(String), String)"),
        ("ScopeDroppedAttrCount", "UInt32"),
        ("ScopeSchemaUrl", "String"),
        ("ServiceName", "LowCardinality(String)"),
        ("MetricName", "LowCardinality(String)"),
        ("MetricDescription", "String"),
        ("MetricUnit", "String"),
        ("Attributes", "Map(LowCardinality(String), String)"),
        ("StartTimeUnix", "DateTime"),
        ("TimeUnix", "DateTime"),
    ];
    let exemplars = [
        (
            "Exemplars.FilteredAttributes",
            "Array(Map(LowCardinality(String), String))",
        ),
        ("Exemplars.TimeUnix", "Array(DateTime)"),
        ("Exemplars.Value", "Array(Float64)"),
        ("Exemplars.SpanId", "Array(String)"),
        ("Exemplars.TraceId", "Array(String)"),
    ];
    let histogram_tail = [
        ("Flags", "UInt32"),
        ("Min", "Float64"),
        ("Max", "Float64"),
        ("AggregationTemporality", "Int32"),
    ];
    let own: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "otel_metrics_gauge",
            [&[("Value", "Float64"), ("Flags", "UInt32")][..], &exemplars].concat(),
        ),
        (
            "otel_metrics_sum",
            [
                &[("Value", "Float64"), ("Flags", "UInt32")][..],
                &exemplars,
                &[("AggregationTemporality", "Int32"), ("IsMonotonic", "Bool")],
            ]
            .concat(),
        ),
        (
            "otel_metrics_histogram",
            [
                &[
                    ("Count", "UInt64"),
                    ("Sum", "Float64"),
                    ("BucketCounts", "Array(UInt64)"),
                    ("ExplicitBounds", "Array(Float64)"),
                ][..],
                &exemplars,
                &histogram_tail,
            ]
            .concat(),
        ),
        (
            "otel_metrics_exponential_histogram",
            [
                &[
                    ("Count", "UInt64"),
                    ("Sum", "Float64"),
                    ("Scale", "Int32"),
                    ("ZeroCount", "UInt64"),
                    ("PositiveOffset", "Int32"),
                    ("PositiveBucketCounts", "Array(UInt64)"),
                    ("NegativeOffset", "Int32"),
                    ("NegativeBucketCounts", "Array(UInt64)"),
                ][..],
                &exemplars,
                &histogram_tail,
            ]
            .concat(),
        ),
        (
            "otel_metrics_summary",
            vec![
                ("Count", "UInt64"),
                ("Sum", "Float64"),
                ("ValueAtQuantiles.Quantile", "Array(Float64)"),
                ("ValueAtQuantiles.Value", "Array(Float64)"),
                ("Flags", "UInt32"),
            ],
        ),
    ];
    let client = ch.client();
    for (table, columns) in own {
        let found: Vec<(String, String)> = client
            .query(
                "SELECT name, type FROM system.columns WHERE database = currentDatabase() \
                 AND table = ? ORDER BY position",
            )
            .bind(table)
            .fetch_all()
            .await
            .expect("columns");
        let mut want: Vec<(&str, &str)> = shared.to_vec();
        want.extend(columns);
        want.push(("Tenant", "LowCardinality(String)"));
        let found: Vec<(&str, &str)> = found
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        assert_eq!(found, want, "{table}");
    }
    drop(collector);
}

/// Runs `tests/python/otel_metrics.py` against `endpoint`; answers what it says the collector
/// should hold.
fn python_sdk(protocol: &str, endpoint: &str, service: &str) -> Json {
    let output = std::process::Command::new("python3")
        .arg(tracewire_e2e::workspace_root().join("tests/python/otel_metrics.py"))
        .args([protocol, endpoint, service])
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "otel_metrics.py {protocol} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON from otel_metrics.py")
}

#[test]
fn python_sdk_metrics_and_traces_over_http_and_grpc_reach_both_stores() {
    let ch = ClickHouseTest::start("metrics_python_sdk");
    let sqlite = Collector::start(&ch.sqlite_path(), &[]);
    let clickhouse = ch.collector("50ms", &[]);
    let start = now_ns() - 600 * NS;
    for collector in [&sqlite, &clickhouse] {
        for (protocol, endpoint) in [("http", &collector.otlp), ("grpc", &collector.grpc)] {
            let service = format!("py-{protocol}");
            let sent = python_sdk(protocol, endpoint, &service);
            let end = now_ns() + 120 * NS;
            let window = format!(
                "start={start}&end={end}&step={}&service={service}",
                end - start
            );
            let catalog = format!("/api/metrics?service={service}");
            assert!(
                wait_until(Duration::from_secs(30), || {
                    get(collector, &catalog).1["metrics"]
                        .as_array()
                        .is_some_and(|m| m.len() == 4)
                }),
                "{protocol}: the metrics arrive; log:\n{}",
                collector.log()
            );
            let metrics = get(collector, &catalog).1;
            for metric in metrics["metrics"].as_array().expect("metrics") {
                let name = metric["name"].as_str().expect("name");
                assert_eq!(metric["type"], sent["metrics"][name], "{protocol} {name}");
                assert_eq!(metric["services"], json!([service]));
            }
            let series = |query: &str| {
                let (status, answer) =
                    get(collector, &format!("/api/metrics/series?{query}&{window}"));
                assert_eq!(status, 200, "{protocol} {query}: {answer}");
                answer
            };
            let by_route = series("name=py.requests&agg=increase&group_by=route");
            for s in by_route["series"].as_array().expect("series") {
                let route = s["labels"]["route"].as_str().expect("route");
                assert_eq!(
                    points(s),
                    [sent["increase"][route].as_f64()],
                    "{protocol} {route}"
                );
            }
            assert_eq!(by_route["series"].as_array().map(Vec::len), Some(2));
            assert_eq!(
                values(&series("name=py.active&agg=last")),
                [sent["active_last"].as_f64()]
            );
            assert_eq!(
                values(&series("name=py.latency&agg=count")),
                [sent["latency_count"].as_f64()]
            );
            assert_eq!(
                values(&series("name=py.temperature&agg=last&attr.host=a")),
                [sent["temperature_last"].as_f64()]
            );
            let trace_id = sent["trace_id"].as_str().expect("trace id");
            assert!(
                wait_until(Duration::from_secs(30), || {
                    get(collector, &format!("/api/traces/{trace_id}")).0 == 200
                }),
                "{protocol}: the trace arrives"
            );
            let trace = get(collector, &format!("/api/traces/{trace_id}")).1;
            assert_eq!(trace["spans"][0]["name"], "GET /py", "{trace}");
        }
    }
}
