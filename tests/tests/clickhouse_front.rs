//! The official `clickhouse` crate against the test-only ClickHouse HTTP front (real engine via chDB).
//!
//! Proves that the front is a faithful enough ClickHouse for the collector's ClickHouse store: typed
//! RowBinary inserts (LZ4 and uncompressed, with and without validation) into the OpenTelemetry
//! `otel_traces` schema, typed reads, server-side query parameters, ClickHouse error codes, insert
//! deduplication tokens and data that survives a killed and restarted front.

use clickhouse::Compression;
use clickhouse::error::Error;
use clickhouse::{Client, Row};
use serde::{Deserialize, Serialize};
use tracewire_e2e::clickhouse_front::ClickHouseFront;

/// The `otel_traces` table as the OpenTelemetry Collector's ClickHouse exporter lays it out,
/// plus a deduplication window so that `insert_deduplication_token` works on plain MergeTree.
const CREATE_OTEL_TRACES: &str = "
CREATE TABLE IF NOT EXISTS otel_traces (
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(T64, ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    Links Nested (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1
) ENGINE = MergeTree
PARTITION BY toDate(Timestamp)
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp), Timestamp)
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000
";

/// One `otel_traces` row; `Nested` columns are parallel arrays named `Events.Timestamp` and so on.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SpanRow {
    /// `DateTime64(9)`: nanoseconds since the Unix epoch.
    timestamp: i64,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    trace_state: String,
    span_name: String,
    span_kind: String,
    service_name: String,
    resource_attributes: Vec<(String, String)>,
    scope_name: String,
    scope_version: String,
    span_attributes: Vec<(String, String)>,
    duration: u64,
    status_code: String,
    status_message: String,
    #[serde(rename = "Events.Timestamp")]
    events_timestamp: Vec<i64>,
    #[serde(rename = "Events.Name")]
    events_name: Vec<String>,
    #[serde(rename = "Events.Attributes")]
    events_attributes: Vec<Vec<(String, String)>>,
    #[serde(rename = "Links.TraceId")]
    links_trace_id: Vec<String>,
    #[serde(rename = "Links.SpanId")]
    links_span_id: Vec<String>,
    #[serde(rename = "Links.TraceState")]
    links_trace_state: Vec<String>,
    #[serde(rename = "Links.Attributes")]
    links_attributes: Vec<Vec<(String, String)>>,
}

const BASE_NANOS: i64 = 1_763_700_000_123_456_789;

fn attrs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A span with distinct ids, timestamps at nanosecond precision, maps, events and a link.
fn span(n: u32, route: &str) -> SpanRow {
    let start = BASE_NANOS + i64::from(n) * 1_000_001;
    SpanRow {
        timestamp: start,
        trace_id: format!("{:032x}", 0xabc0 + n / 2),
        span_id: format!("{:016x}", 0x5000 + n),
        parent_span_id: if n.is_multiple_of(2) {
            String::new()
        } else {
            format!("{:016x}", 0x5000 + n - 1)
        },
        trace_state: "vendor=x".to_owned(),
        span_name: format!("GET {route}"),
        span_kind: "Server".to_owned(),
        service_name: "checkout".to_owned(),
        resource_attributes: attrs(&[("service.name", "checkout"), ("host.name", "h1")]),
        scope_name: "tracewire".to_owned(),
        scope_version: "0.1.0".to_owned(),
        span_attributes: attrs(&[("http.route", route), ("http.status_code", "200")]),
        duration: 1_000 * u64::from(n + 1),
        status_code: if n == 3 { "Error" } else { "Unset" }.to_owned(),
        status_message: if n == 3 { "it's \"broken\"\n\t\\" } else { "" }.to_owned(),
        events_timestamp: vec![start + 7, start + 9],
        events_name: vec!["ws.send".to_owned(), "ws.receive".to_owned()],
        events_attributes: vec![attrs(&[("bytes", "12")]), Vec::new()],
        links_trace_id: vec![format!("{:032x}", 0xdead)],
        links_span_id: vec![format!("{:016x}", 0xbeef)],
        links_trace_state: vec![String::new()],
        links_attributes: vec![attrs(&[("link.kind", "follows")])],
    }
}

async fn insert_rows(client: &Client, rows: &[SpanRow], token: Option<&str>) {
    let mut insert = client
        .insert::<SpanRow>("otel_traces")
        .await
        .expect("start insert");
    if let Some(token) = token {
        insert = insert.with_setting("insert_deduplication_token", token);
    }
    for row in rows {
        insert.write(row).await.expect("write row");
    }
    insert.end().await.expect("end insert");
}

async fn all_rows(client: &Client) -> Vec<SpanRow> {
    client
        .query("SELECT ?fields FROM otel_traces ORDER BY SpanId, Timestamp")
        .fetch_all::<SpanRow>()
        .await
        .expect("fetch all rows")
}

async fn count(client: &Client) -> u64 {
    client
        .query("SELECT count() FROM otel_traces")
        .fetch_one::<u64>()
        .await
        .expect("count rows")
}

fn expect_code(err: Error, code: u32) {
    match err {
        Error::BadResponse(message) => assert!(
            message.starts_with(&format!("Code: {code}. DB::Exception:")),
            "expected ClickHouse error {code}, got {message:?}"
        ),
        other => panic!("expected ClickHouse error {code}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_crate_round_trips_otel_spans_through_the_front() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut front = ClickHouseFront::start(dir.path().join("chdb")).expect("start front");
    let client = front
        .create_database("clickhouse_crate_round_trips")
        .await
        .expect("create database");
    client
        .query(CREATE_OTEL_TRACES)
        .execute()
        .await
        .expect("create otel_traces");

    // LZ4-compressed RowBinaryWithNamesAndTypes inserts (the crate's defaults), read back typed.
    let mut expected: Vec<SpanRow> = (0..4).map(|n| span(n, "/cart/{id}")).collect();
    insert_rows(&client, &expected, None).await;
    assert_eq!(all_rows(&client).await, expected);

    // Uncompressed body and plain RowBinary (validation off) take other paths through the front.
    let plain = client
        .clone()
        .with_compression(Compression::None)
        .with_validation(false);
    let more = vec![span(4, "/users/{id}'s \\profile"), span(5, "/users/{id}")];
    insert_rows(&plain, &more, None).await;
    expected.extend(more);
    assert_eq!(all_rows(&plain).await, expected);

    // Server-side parameters, with a value that needs escaping.
    let by_route = client
        .query(
            "SELECT ?fields FROM otel_traces \
             WHERE SpanAttributes['http.route'] = {route:String} AND Duration >= {min:UInt64} \
             ORDER BY SpanId",
        )
        .param("route", "/users/{id}'s \\profile")
        .param("min", 1_000_u64)
        .fetch_all::<SpanRow>()
        .await
        .expect("query with parameters");
    assert_eq!(by_route, vec![span(4, "/users/{id}'s \\profile")]);

    // Errors carry ClickHouse's code.
    let err = client
        .query("SELECT * FROM no_such_table")
        .execute()
        .await
        .expect_err("unknown table must fail");
    expect_code(err, 60);
    let err = client
        .query("SELEC 1")
        .execute()
        .await
        .expect_err("syntax error must fail");
    expect_code(err, 62);
    let err = client
        .query("SELECT {n:UInt8}")
        .param("n", "not a number")
        .execute()
        .await
        .expect_err("bad parameter must fail");
    expect_code(err, 457);

    // The same batch twice with one deduplication token lands once; another token lands again.
    let batch = vec![span(10, "/pay"), span(11, "/pay")];
    let before = count(&client).await;
    insert_rows(&client, &batch, Some("batch-10")).await;
    insert_rows(&client, &batch, Some("batch-10")).await;
    assert_eq!(
        count(&client).await,
        before + 2,
        "retried batch stored twice"
    );
    insert_rows(&client, &batch, Some("batch-10-again")).await;
    assert_eq!(count(&client).await, before + 4, "new token must not dedup");
    expected.extend(batch.iter().cloned());
    expected.extend(batch.iter().cloned());
    expected.sort_by(|a, b| (&a.span_id, a.timestamp).cmp(&(&b.span_id, b.timestamp)));
    // Settings are per request: the token must not leak into the next one.
    let token = client
        .query("SELECT getSetting('insert_deduplication_token')")
        .fetch_one::<String>()
        .await
        .expect("read setting");
    assert_eq!(token, "");

    // Killed and restarted on the same data directory and port: the data is still there.
    let url = front.url();
    front.restart().expect("restart front");
    assert_eq!(front.url(), url);
    assert_eq!(all_rows(&client).await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_users_get_clickhouse_answers_from_the_front() {
    let dir = tempfile::tempdir().expect("temp dir");
    let front = ClickHouseFront::start(dir.path().join("chdb")).expect("start front");
    front
        .create_database("plain_http_users")
        .await
        .expect("create database");
    let http = reqwest::Client::new();
    let url = front.url();

    let ping = http.get(format!("{url}/ping")).send().await.expect("ping");
    assert_eq!(ping.status(), 200);
    assert_eq!(ping.text().await.expect("ping body"), "Ok.\n");

    let get = http
        .get(format!("{url}/?query=SELECT%201%2B1"))
        .send()
        .await
        .expect("GET query");
    assert_eq!(get.text().await.expect("GET body"), "2\n");

    let json = http
        .post(format!(
            "{url}/?database=plain_http_users&default_format=JSONEachRow"
        ))
        .body("SELECT number AS n, currentDatabase() AS db FROM system.numbers LIMIT 2")
        .send()
        .await
        .expect("POST query");
    assert_eq!(json.status(), 200);
    assert_eq!(
        json.text().await.expect("JSON body"),
        "{\"n\":0,\"db\":\"plain_http_users\"}\n{\"n\":1,\"db\":\"plain_http_users\"}\n"
    );

    let missing = http
        .post(format!("{url}/?database=plain_http_users"))
        .body("SELECT * FROM nowhere")
        .send()
        .await
        .expect("POST bad query");
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing
            .headers()
            .get("X-ClickHouse-Exception-Code")
            .and_then(|v| v.to_str().ok()),
        Some("60")
    );
    assert!(
        missing
            .text()
            .await
            .expect("error body")
            .starts_with("Code: 60. DB::Exception:")
    );

    let unknown_setting = http
        .post(format!("{url}/?no_such_setting=1"))
        .body("SELECT 1")
        .send()
        .await
        .expect("POST with unknown setting");
    assert_eq!(unknown_setting.status(), 404);
    assert_eq!(
        unknown_setting
            .headers()
            .get("X-ClickHouse-Exception-Code")
            .and_then(|v| v.to_str().ok()),
        Some("115")
    );
}
