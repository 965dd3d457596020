//! The collector's ClickHouse store against the real ClickHouse engine (chDB behind the test
//! front): schema creation and migration, inserts through the spool, every query compared with
//! the SQLite store on the same input, every shipped SQL statement run on the engine, rejected
//! data moved aside, deduplication of a re-sent INSERT, the correlation step deriving round
//! trips and session clock offsets as a trace's spans arrive, and rollups added up by the engine
//! exactly as Rust adds up the round trips.

use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use tracewire_collector::correlate::{Rollups, bin_bounds};
use tracewire_collector::decode::{Encoding, decode_logs, decode_traces};
use tracewire_collector::metrics::Metrics;
use tracewire_collector::model::{Batch, RollupQuery, RoundTripQuery, TraceQuery};
use tracewire_collector::store::Store;
use tracewire_collector::store::clickhouse::{ClickHouseConfig, Layout, query_statements};
use tracewire_collector::testing::{reads, store_batch};
use tracewire_e2e::clickhouse_store::{
    ClickHouseTest, count_rows, files_in, logs_request, now_ns, traces_request,
};
use tracewire_e2e::exchanges::{MS, OFFSET_NS, SESSION, exchanges, session_exchanges};

/// ClickHouse settings for a test: its database, its spool, short batching delay.
fn config(test: &ClickHouseTest) -> ClickHouseConfig {
    let mut config = ClickHouseConfig::from_url(&format!("{}/{}", test.front.url(), test.database))
        .expect("valid url");
    config.spool.dir = test.spool_dir();
    config.options.batch_delay = Duration::from_millis(20);
    config
}

fn spans_batch(first_trace: u64, traces: u64, spans: u64, base_ns: u64) -> Batch {
    let request = traces_request(first_trace, traces, spans, base_ns).encode_to_vec();
    decode_traces(&request, Encoding::Protobuf)
        .expect("decodes")
        .batch
}

async fn wait_rows(test: &ClickHouseTest, table: &str, rows: u64) {
    let client = test.client();
    // Generous: the front shares two cores with whatever else runs.
    for _ in 0..1200 {
        if count_rows(&client, table).await.0 >= rows {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{table} never reached {rows} rows");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_is_created_with_the_exporter_columns_and_reopening_keeps_it() {
    let test = ClickHouseTest::start("schema_is_created");
    let metrics = Arc::new(Metrics::default());
    let store = Store::open_clickhouse(&config(&test), 100, Arc::clone(&metrics))
        .await
        .expect("opens");
    store.shutdown().await.expect("stops");
    let client = test.client();
    let columns: Vec<(String, String)> = client
        .query(
            "SELECT name, type FROM system.columns WHERE database = currentDatabase() \
             AND table = 'otel_traces' ORDER BY position",
        )
        .fetch_all()
        .await
        .expect("columns");
    let expected = [
        ("Timestamp", "DateTime64(9)"),
        ("TraceId", "String"),
        ("SpanId", "String"),
        ("ParentSpanId", "String"),
        ("TraceState", "String"),
        ("SpanName", "LowCardinality(String)"),
        ("SpanKind", "LowCardinality(String)"),
        ("ServiceName", "LowCardinality(String)"),
        ("ResourceAttributes", "Map(LowCardinality(String), String)"),
        ("ScopeName", "String"),
        ("ScopeVersion", "String"),
        ("SpanAttributes", "Map(LowCardinality(String), String)"),
        ("Duration", "UInt64"),
        ("StatusCode", "LowCardinality(String)"),
        ("StatusMessage", "String"),
        ("Events.Timestamp", "Array(DateTime64(9))"),
        ("Events.Name", "Array(LowCardinality(String))"),
        (
            "Events.Attributes",
            "Array(Map(LowCardinality(String), String))",
        ),
        ("Links.TraceId", "Array(String)"),
        ("Links.SpanId", "Array(String)"),
        ("Links.TraceState", "Array(String)"),
        (
            "Links.Attributes",
            "Array(Map(LowCardinality(String), String))",
        ),
        ("Tenant", "LowCardinality(String)"),
    ];
    let columns: Vec<(&str, &str)> = columns
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    assert_eq!(columns, expected);
    let tables: Vec<String> = client
        .query("SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name")
        .fetch_all()
        .await
        .expect("tables");
    assert_eq!(
        tables,
        [
            "otel_logs",
            "otel_metrics_exponential_histogram",
            "otel_metrics_gauge",
            "otel_metrics_histogram",
            "otel_metrics_sum",
            "otel_metrics_summary",
            "otel_traces",
            "otel_traces_trace_id_ts",
            "otel_traces_trace_id_ts_mv",
            "tracewire_alert_claims",
            "tracewire_alert_history",
            "tracewire_alert_notifications",
            "tracewire_alert_rules",
            "tracewire_alert_silences",
            "tracewire_alert_states",
            "tracewire_schema_migrations",
            "tracewire_ws_round_trips",
            "tracewire_ws_session_offsets"
        ]
    );
    let ttl: String = client
        .query("SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'otel_traces'")
        .fetch_one()
        .await
        .expect("engine");
    assert!(
        ttl.contains("TTL toDateTime(Timestamp) + toIntervalSecond(604800)"),
        "{ttl}"
    );
    assert!(ttl.contains("ttl_only_drop_parts = 1"), "{ttl}");

    // Reopening with another retention migrates nothing and moves the TTL.
    let mut shorter = config(&test);
    shorter.retention = Duration::from_secs(3600);
    let store = Store::open_clickhouse(&shorter, 100, Arc::clone(&metrics))
        .await
        .expect("reopens");
    store.shutdown().await.expect("stops");
    let versions: Vec<u32> = client
        .query("SELECT version FROM tracewire_schema_migrations ORDER BY version")
        .fetch_all()
        .await
        .expect("versions");
    assert_eq!(versions, [1, 2, 3, 4, 5]);
    let ttl: String = client
        .query("SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'otel_logs'")
        .fetch_one()
        .await
        .expect("engine");
    assert!(
        ttl.contains("TTL TimestampTime + toIntervalSecond(3600)"),
        "{ttl}"
    );

    // A collector that may not create the schema refuses a database without it.
    let mut elsewhere = config(&test);
    elsewhere.server.database = "schema_is_created_empty".into();
    elsewhere.options.create_schema = false;
    test.front
        .create_database("schema_is_created_empty")
        .await
        .expect("creates");
    let err = Store::open_clickhouse(&elsewhere, 100, metrics)
        .await
        .err()
        .expect("refused");
    assert!(
        err.to_string().contains("tracewire-collector schema"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_spans_read_back_exactly_as_from_sqlite() {
    let test = ClickHouseTest::start("stored_spans_read_back");
    let metrics = Arc::new(Metrics::default());
    let clickhouse = Store::open_clickhouse(&config(&test), 10_000, Arc::clone(&metrics))
        .await
        .expect("opens");
    let sqlite = Store::open(
        &tracewire_collector::store::StoreUrl::Sqlite(test.sqlite_path()),
        10_000,
        Arc::new(Metrics::default()),
    )
    .await
    .expect("opens");
    let base = now_ns() - 3_600_000_000_000;
    let batches = [
        spans_batch(1, 6, 5, base),
        spans_batch(7, 4, 3, base + 1_000_000_000),
        // A client retry of a batch already stored: SQLite keeps one copy, reads must agree.
        spans_batch(1, 1, 5, base),
    ];
    let logs = decode_logs(
        &logs_request(1, 6, base).encode_to_vec(),
        Encoding::Protobuf,
    )
    .expect("decodes")
    .batch;
    for batch in batches.iter().chain([&logs]) {
        store_batch(&clickhouse, batch.clone()).await;
        store_batch(&sqlite, batch.clone()).await;
    }
    wait_rows(&test, "otel_traces", 6 * 5 + 4 * 3 + 5).await;
    wait_rows(&test, "otel_logs", 6).await;

    let first_trace = hex::encode(tracewire_e2e::clickhouse_store::trace_id(1));
    for id in 1..=10 {
        let id = hex::encode(tracewire_e2e::clickhouse_store::trace_id(id));
        let from_clickhouse = reads(&clickhouse).trace(&id).await.expect("reads");
        assert!(!from_clickhouse.is_empty());
        assert_eq!(
            from_clickhouse,
            reads(&sqlite).trace(&id).await.expect("reads"),
            "trace {id}"
        );
    }
    let spans = reads(&clickhouse).trace(&first_trace).await.expect("reads");
    assert_eq!(spans.len(), 5, "the retried batch is read once");
    assert!(
        spans
            .iter()
            .any(|s| !s.events.is_empty() && !s.span_attributes.is_empty())
    );
    assert!(spans.iter().any(|s| !s.links.is_empty()));
    assert!(
        reads(&clickhouse)
            .trace(&hex::encode([7u8; 16]))
            .await
            .expect("reads")
            .is_empty()
    );

    let window_start = i64::try_from(base).expect("fits") + 25_000_000;
    let queries = [
        TraceQuery {
            limit: 20,
            ..Default::default()
        },
        TraceQuery {
            limit: 3,
            ..Default::default()
        },
        TraceQuery {
            service: Some("api".into()),
            limit: 20,
            ..Default::default()
        },
        TraceQuery {
            name: Some("ws.receive chat".into()),
            limit: 20,
            ..Default::default()
        },
        TraceQuery {
            errors_only: true,
            limit: 20,
            ..Default::default()
        },
        TraceQuery {
            min_duration_ns: Some(2_000_000),
            max_duration_ns: Some(2_500_000),
            limit: 20,
            ..Default::default()
        },
        TraceQuery {
            start_ns: Some(window_start),
            end_ns: Some(window_start + 40_000_000),
            limit: 20,
            ..Default::default()
        },
        TraceQuery {
            service: Some("nobody".into()),
            limit: 20,
            ..Default::default()
        },
        TraceQuery {
            // A value that would break spliced SQL is only ever a bound parameter.
            name: Some("x' OR '1'='1".into()),
            limit: 20,
            ..Default::default()
        },
    ];
    for query in &queries {
        let from_clickhouse = reads(&clickhouse).search(query).await.expect("search");
        assert_eq!(
            from_clickhouse,
            reads(&sqlite).search(query).await.expect("search"),
            "{query:?}"
        );
    }
    assert_eq!(
        reads(&clickhouse)
            .search(&queries[0])
            .await
            .expect("search")
            .len(),
        10
    );
    assert_eq!(
        reads(&clickhouse)
            .search(&queries[4])
            .await
            .expect("search")
            .len(),
        3,
        "traces 3, 6 and 9 have an error span"
    );
    let from_clickhouse = reads(&clickhouse).services().await.expect("services");
    assert_eq!(from_clickhouse.len(), 2);
    let mut sqlite_services = reads(&sqlite).services().await.expect("services");
    // MergeTree keeps the retried copy: service counts include it (see docs/clickhouse.md).
    for service in &mut sqlite_services {
        service.span_count += if service.name == "web" { 3 } else { 2 };
    }
    assert_eq!(from_clickhouse, sqlite_services);

    // Trace by id finds spans through the window in `otel_traces_trace_id_ts`.
    test.client()
        .query("TRUNCATE TABLE otel_traces_trace_id_ts")
        .execute()
        .await
        .expect("truncates");
    assert!(
        reads(&clickhouse)
            .trace(&first_trace)
            .await
            .expect("reads")
            .is_empty()
    );

    clickhouse.shutdown().await.expect("stops");
    sqlite.shutdown().await.expect("stops");
    let text = metrics.render(0, 0);
    assert!(
        text.contains(r#"tracewire_stored_items_total{signal="traces"} 47"#),
        "{text}"
    );
    assert!(text.contains("tracewire_spool_bytes 0"), "{text}");
    assert!(
        files_in(&test.spool_dir()).iter().all(|f| f == "id"),
        "spool emptied: {:?}",
        files_in(&test.spool_dir())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shipped_sql_statement_runs_on_the_engine() {
    let test = ClickHouseTest::start("every_shipped_sql_statement");
    let server = test.front.client();
    let mut config = config(&test);
    // The single-server DDL runs as shipped, statement by statement, in a fresh database.
    for statement in Layout::new(&config).statements() {
        server
            .query_raw(&statement)
            .execute()
            .await
            .unwrap_or_else(|e| panic!("{e}\n{statement}"));
    }
    // That is all a collector that may not touch the schema needs: it opens and stores.
    let mut owned = config.clone();
    owned.options.create_schema = false;
    let store = Store::open_clickhouse(&owned, 100, Arc::new(Metrics::default()))
        .await
        .expect("opens on the DDL applied by hand");
    store_batch(&store, spans_batch(1, 1, 2, now_ns())).await;
    store.shutdown().await.expect("ships and stops");
    assert_eq!(count_rows(&test.client(), "otel_traces").await.0, 2);
    // The cluster DDL needs a cluster and ZooKeeper; the engine parses and formats each
    // statement, which proves it is valid ClickHouse SQL.
    config.options.cluster = Some("tracewire_cluster".into());
    let cluster_statements = Layout::new(&config).statements();
    assert!(cluster_statements.iter().any(|s| s.contains("ON CLUSTER")));
    for statement in &cluster_statements {
        let formatted: String = server
            .query_raw("SELECT formatQuerySingleLine({sql:String})")
            .param("sql", statement)
            .fetch_one()
            .await
            .unwrap_or_else(|e| panic!("{e}\n{statement}"));
        assert!(!formatted.is_empty());
    }
    // Every query (trace, search with every filter on, services, correlation reads, alert
    // records) runs
    // against the schema.
    let client = test.client();
    for statement in query_statements() {
        client
            .query_raw(&statement)
            .param("tenant", "")
            .param("trace_id", "ab")
            .param("from_ns", 0i64)
            .param("to_ns", i64::MAX)
            .param("service", "web")
            .param("name", "op")
            .param("parent_service", "web")
            .param("min_duration_ns", 1i64)
            .param("max_duration_ns", 10i64)
            .param("start_ns", 0i64)
            .param("end_ns", 10i64)
            .param("limit", 20u64)
            .param("session_id", "sess-1")
            .param("message_type", "chat")
            .param("trace_ids", vec!["ab".to_owned()])
            .param("sessions", vec!["sess-1".to_owned()])
            .param("samples", 1000u64)
            .param("event_name", "http.client.request_rate")
            .param("step_ns", 1_000i64)
            .param("bounds", vec![1_000u64, u64::MAX])
            .param("start", 0i64)
            .param("end", 10i64)
            .param("search", "req")
            .param("k0", "route")
            .param("v0", "/x")
            .param("k1", "method")
            .param("v1", "GET")
            .param("rule", "poll storm")
            .param("slot", 0i64)
            .param("after", 0i64)
            .fetch_bytes("TabSeparated")
            .expect("starts")
            .collect()
            .await
            .unwrap_or_else(|e| panic!("{e}\n{statement}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_data_is_moved_aside_counted_and_the_rest_is_stored() {
    let test = ClickHouseTest::start("rejected_data_is_moved_aside");
    let metrics = Arc::new(Metrics::default());
    let mut config = config(&test);
    // Long enough that the three batches below go out in one INSERT.
    config.options.batch_delay = Duration::from_millis(400);
    let store = Store::open_clickhouse(&config, 10_000, Arc::clone(&metrics))
        .await
        .expect("opens");
    // An operator's constraint makes ClickHouse refuse some rows as bad data.
    test.client()
        .query("ALTER TABLE otel_traces ADD CONSTRAINT no_poison CHECK SpanName != 'poison'")
        .execute()
        .await
        .expect("constraint");
    let base = now_ns();
    let good = spans_batch(1, 2, 2, base);
    let mut poisoned = spans_batch(3, 1, 3, base);
    poisoned.spans[1].name = "poison".into();
    let after = spans_batch(4, 2, 2, base);
    for batch in [good, poisoned, after] {
        store_batch(&store, batch).await;
    }
    wait_rows(&test, "otel_traces", 8).await;
    store.shutdown().await.expect("stops");
    assert_eq!(count_rows(&test.client(), "otel_traces").await, (8, 8));
    let text = metrics.render(0, 0);
    assert!(
        text.contains(r#"tracewire_moved_aside_items_total{signal="traces"} 3"#),
        "{text}"
    );
    let rejected = files_in(&test.spool_dir().join("rejected"));
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    let aside = std::fs::read(test.spool_dir().join("rejected").join(&rejected[0])).expect("reads");
    assert!(
        aside.windows(6).any(|w| w == b"poison"),
        "the poisoned batch"
    );
    assert_eq!(
        files_in(&test.spool_dir()),
        ["id"],
        "nothing else is left in the spool"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resent_insert_is_stored_once_and_an_identical_new_batch_is_not_swallowed() {
    let test = ClickHouseTest::start("resent_insert_is_stored_once");
    let mut config = config(&test);
    // Nothing ships before shutdown, so the spool file can be copied first.
    config.options.batch_delay = Duration::from_secs(3600);
    let store = Store::open_clickhouse(&config, 10_000, Arc::new(Metrics::default()))
        .await
        .expect("opens");
    let batch = spans_batch(1, 2, 3, now_ns());
    store_batch(&store, batch.clone()).await;
    let spooled: Vec<String> = files_in(&test.spool_dir())
        .into_iter()
        .filter(|f| f.ends_with(".spans"))
        .collect();
    assert_eq!(spooled.len(), 1);
    let copy = std::fs::read(test.spool_dir().join(&spooled[0])).expect("reads");
    store.shutdown().await.expect("ships at shutdown");
    assert_eq!(count_rows(&test.client(), "otel_traces").await.0, 6);

    // A crash after ClickHouse stored the INSERT but before the spool file was deleted: the
    // file and the shipping record are still there at the next start.
    std::fs::write(test.spool_dir().join(&spooled[0]), &copy).expect("restores");
    std::fs::write(
        test.spool_dir().join("shipping-spans"),
        format!("{0} {0}\n", spooled[0]),
    )
    .expect("records");
    config.options.batch_delay = Duration::from_millis(20);
    let store = Store::open_clickhouse(&config, 10_000, Arc::new(Metrics::default()))
        .await
        .expect("reopens");
    for _ in 0..750 {
        if files_in(&test.spool_dir()) == ["id"] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(files_in(&test.spool_dir()), ["id"], "re-sent and settled");
    assert_eq!(
        count_rows(&test.client(), "otel_traces").await.0,
        6,
        "the re-sent INSERT is deduplicated by its token"
    );

    // The same rows accepted again later are a new spool file with a new token: stored, not
    // mistaken for a retry (block-content deduplication alone would drop them).
    store_batch(&store, batch).await;
    wait_rows(&test, "otel_traces", 12).await;
    store.shutdown().await.expect("stops");
    assert_eq!(count_rows(&test.client(), "otel_traces").await, (12, 6));
}

/// A spool file as collectors before 0.2 wrote it: `TWSPOOL1`, row count, CRC-32, JSON lines.
fn json_lines_spool_file(lines: &[String]) -> Vec<u8> {
    let payload: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let mut data = b"TWSPOOL1".to_vec();
    data.extend_from_slice(&u32::try_from(lines.len()).expect("fits").to_le_bytes());
    data.extend_from_slice(&crc32fast::hash(payload.as_bytes()).to_le_bytes());
    data.extend_from_slice(payload.as_bytes());
    data
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spool_files_of_older_collectors_are_shipped_and_correlated() {
    let test = ClickHouseTest::start("older_spool_files_are_shipped");
    let (trace, send, server) = ("ab".repeat(16), "01".repeat(8), "02".repeat(8));
    let t = now_ns() - 60_000 * MS;
    let span = |span_id: &str, parent: &str, name: &str, kind: &str, resource: &str, start: u64| {
        format!(
            r#"{{"Timestamp":{start},"TraceId":"{trace}","SpanId":"{span_id}","ParentSpanId":"{parent}","TraceState":"","SpanName":"{name}","SpanKind":"{kind}","ServiceName":"svc","ResourceAttributes":{resource},"ScopeName":"","ScopeVersion":"","SpanAttributes":[["k","v"]],"Duration":1000,"StatusCode":"Unset","StatusMessage":"","Events.Timestamp":[{start}],"Events.Name":["e"],"Events.Attributes":[[["n","1"]]],"Links.TraceId":[],"Links.SpanId":[],"Links.TraceState":[],"Links.Attributes":[],"Tenant":""}}"#
        )
    };
    let spans = [
        span(
            &send,
            "",
            "ws.send chat",
            "Producer",
            r#"[["service.name","web"],["telemetry.sdk.language","webjs"]]"#,
            t,
        ),
        span(
            &server,
            &send,
            "ws.receive chat",
            "Server",
            r#"[["service.name","api"]]"#,
            t + 1_000,
        ),
    ];
    let log = format!(
        r#"{{"Timestamp":{t},"TraceId":"{trace}","SpanId":"{server}","TraceFlags":1,"SeverityText":"INFO","SeverityNumber":9,"ServiceName":"api","Body":"hello","ResourceAttributes":[],"ScopeName":"","ScopeVersion":"","LogAttributes":[["a","b"]],"EventName":"","ObservedTimestamp":{t},"Tenant":""}}"#
    );
    std::fs::create_dir_all(test.spool_dir()).expect("spool dir");
    let name = format!("{:020x}-{:012}", 1, 0);
    std::fs::write(
        test.spool_dir().join(format!("{name}.spans")),
        json_lines_spool_file(&spans),
    )
    .expect("writes");
    std::fs::write(
        test.spool_dir().join(format!("{name}.logs")),
        json_lines_spool_file(&[log]),
    )
    .expect("writes");
    let store = Store::open_clickhouse(&config(&test), 10_000, Arc::new(Metrics::default()))
        .await
        .expect("opens");
    wait_shipped(&test).await;
    wait_rows(&test, "otel_logs", 1).await;
    let reader = reads(&store);
    let stored = reader.trace(&trace).await.expect("reads");
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().all(|s| s.span_attributes["k"] == "v"
        && s.events.len() == 1
        && s.events[0].attributes["n"] == "1"));
    let all = RoundTripQuery {
        start_ns: 0,
        end_ns: i64::MAX,
        limit: 10,
        ..Default::default()
    };
    let round_trips = reader.round_trips(&all).await.expect("reads");
    assert_eq!(round_trips.len(), 1, "the old file's traces are correlated");
    assert_eq!(round_trips[0].0.server_span_id, server);
    store.shutdown().await.expect("stops");
    assert_eq!(
        files_in(&test.spool_dir()),
        ["id"],
        "nothing is left behind"
    );
}

/// Waits until the shipper settled every spooled span file (and so ran the correlation step for
/// them: it runs before the files are removed).
async fn wait_shipped(test: &ClickHouseTest) {
    for _ in 0..1200 {
        if !files_in(&test.spool_dir())
            .iter()
            .any(|f| f.ends_with(".spans"))
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the spool never emptied: {:?}", files_in(&test.spool_dir()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trips_and_session_offsets_are_derived_as_a_trace_arrives_in_parts() {
    let test = ClickHouseTest::start("round_trips_are_derived");
    let clickhouse = Store::open_clickhouse(&config(&test), 10_000, Arc::new(Metrics::default()))
        .await
        .expect("opens");
    let sqlite = Store::open(
        &tracewire_collector::store::StoreUrl::Sqlite(test.sqlite_path()),
        10_000,
        Arc::new(Metrics::default()),
    )
    .await
    .expect("opens");
    let decode = |body: &[u8]| {
        decode_traces(body, Encoding::Protobuf)
            .expect("decodes")
            .batch
    };
    let all = RoundTripQuery {
        start_ns: 0,
        end_ns: i64::MAX,
        limit: 100,
        ..Default::default()
    };
    let xs = exchanges(4, now_ns() - 60_000 * MS);

    // First INSERT: the backend's spans alone. No send span, so no round trip.
    for x in &xs {
        store_batch(&clickhouse, decode(&x.backend)).await;
    }
    wait_shipped(&test).await;
    assert_eq!(count_rows(&test.client(), "otel_traces").await.0, 8);
    assert!(
        reads(&clickhouse)
            .round_trips(&all)
            .await
            .expect("reads")
            .is_empty()
    );

    // Second INSERT: the browser's sends. Round trips without a reply, so no clock offset.
    let (mut sends, mut replies) = (Batch::default(), Batch::default());
    for x in &xs {
        for span in decode(&x.browser).spans {
            if span.name.starts_with("ws.send") {
                sends.spans.push(span);
            } else {
                replies.spans.push(span);
            }
        }
    }
    store_batch(&clickhouse, sends.clone()).await;
    wait_shipped(&test).await;
    let first = reads(&clickhouse).round_trips(&all).await.expect("reads");
    assert_eq!(first.len(), 4);
    assert!(
        first
            .iter()
            .all(|(r, offset)| r.times.client_receive_ns.is_none()
                && r.version == 3
                && *offset == 0)
    );
    assert_eq!(
        reads(&clickhouse)
            .session_offset(SESSION)
            .await
            .expect("reads"),
        None
    );

    // Third INSERT: the replies. The fuller derivation replaces the first, and the session's
    // offset is estimated.
    store_batch(&clickhouse, replies.clone()).await;
    wait_shipped(&test).await;
    let full = reads(&clickhouse).round_trips(&all).await.expect("reads");
    assert_eq!(full.len(), 4, "each round trip once");
    assert!(
        full.iter()
            .all(|(r, _)| r.receive_span_id.is_some() && r.version == 5)
    );
    let offset = reads(&clickhouse)
        .session_offset(SESSION)
        .await
        .expect("reads")
        .expect("estimated");
    assert!(
        (offset.offset_ns - OFFSET_NS as i64).abs() <= 5 * MS as i64,
        "{offset:?}"
    );
    assert!(full.iter().all(|(_, o)| *o == offset.offset_ns));

    // SQLite, given the same spans, derives the same (it does not keep versions).
    for x in &xs {
        store_batch(&sqlite, decode(&x.backend)).await;
    }
    store_batch(&sqlite, sends).await;
    store_batch(&sqlite, replies).await;
    assert!(
        sqlite
            .derive(Duration::from_secs(10))
            .await
            .expect("derives")
    );
    let unversioned = |list: Vec<(tracewire_collector::model::RoundTrip, i64)>| {
        list.into_iter()
            .map(|(r, o)| (tracewire_collector::model::RoundTrip { version: 0, ..r }, o))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        unversioned(full.clone()),
        unversioned(reads(&sqlite).round_trips(&all).await.expect("reads"))
    );
    assert_eq!(
        Some(offset),
        reads(&sqlite).session_offset(SESSION).await.expect("reads")
    );
    let filtered = RoundTripQuery {
        session_id: Some(SESSION.into()),
        service: Some("web".into()),
        message_type: Some("chat".into()),
        limit: 1,
        ..all.clone()
    };
    assert_eq!(
        unversioned(
            reads(&clickhouse)
                .round_trips(&filtered)
                .await
                .expect("reads")
        ),
        unversioned(reads(&sqlite).round_trips(&filtered).await.expect("reads"))
    );
    assert_eq!(
        reads(&clickhouse)
            .round_trip_points(&filtered)
            .await
            .expect("reads"),
        reads(&sqlite)
            .round_trip_points(&filtered)
            .await
            .expect("reads")
    );

    // A derivation from fewer spans (another collector that read before the replies arrived)
    // and an estimate from fewer round trips, stored last, replace nothing.
    let client = test.client();
    client
        .query(
            "INSERT INTO tracewire_ws_round_trips (Tenant, TraceId, SendSpanId, ServerSpanId, \
             ServiceName, ServerServiceName, ClientSendTime, ServerReceiveTime, ServerDoneTime, \
             Error, Version) SELECT Tenant, TraceId, SendSpanId, ServerSpanId, ServiceName, \
             ServerServiceName, ClientSendTime, ServerReceiveTime, ServerDoneTime, Error, 3 \
             FROM tracewire_ws_round_trips FINAL",
        )
        .execute()
        .await
        .expect("inserts");
    client
        .query(
            "INSERT INTO tracewire_ws_session_offsets (Tenant, SessionId, ClockOffset, Samples, \
             Version) VALUES ('', {session:String}, 0, 1, 1)",
        )
        .param("session", SESSION)
        .execute()
        .await
        .expect("inserts");
    assert_eq!(
        reads(&clickhouse).round_trips(&all).await.expect("reads"),
        full
    );
    assert_eq!(
        reads(&clickhouse)
            .session_offset(SESSION)
            .await
            .expect("reads"),
        Some(offset)
    );
    clickhouse.shutdown().await.expect("stops");
    sqlite.shutdown().await.expect("stops");
}

/// Asserts that ClickHouse's rollups of `q` ([`Reader::rollups`](tracewire_collector::store::Reader::rollups), added up by the engine) equal
/// the round trips of `q` added up in Rust; answers them.
async fn assert_rollups_as_of_points(store: &Store, q: &RollupQuery) -> Rollups {
    let points = reads(store)
        .round_trip_points(&RoundTripQuery {
            message_type: q.message_type.clone(),
            start_ns: q.start_ns,
            end_ns: q.end_ns,
            limit: 1_000_000,
            ..Default::default()
        })
        .await
        .expect("reads");
    assert!(reads(store).keeps_rollups_for(q), "{q:?}");
    let rollups = reads(store)
        .rollups(q)
        .await
        .expect("reads")
        .expect("added up by ClickHouse");
    assert_eq!(
        rollups,
        Rollups::of_points(q.start_ns, q.step_ns, q.buckets, &points),
        "{q:?}"
    );
    rollups
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollups_added_up_by_clickhouse_equal_the_round_trips_added_up() {
    let test = ClickHouseTest::start("rollups_added_up");
    let store = Store::open_clickhouse(&config(&test), 10_000, Arc::new(Metrics::default()))
        .await
        .expect("opens");
    let decode = |body: &[u8]| {
        decode_traces(body, Encoding::Protobuf)
            .expect("decodes")
            .batch
    };
    // Whole seconds, so the first window below is aligned and the others are not.
    let base = (now_ns() - 60_000 * MS) / 1_000_000_000 * 1_000_000_000;
    // Two sessions whose backends' clocks differ: 2 s ahead and 750 ms behind. Three exchanges
    // get no reply; every fifth fails (5, 10, 15).
    let sessions = [
        ("sess-ahead", 2_000 * MS as i64, 1..=8),
        ("sess-behind", -750 * MS as i64, 9..=16),
    ];
    let without_reply = [3, 4, 11];
    let mut batch = Batch::default();
    for (session, offset_ns, numbers) in sessions.clone() {
        for (n, x) in numbers
            .clone()
            .zip(session_exchanges(session, offset_ns, numbers, base))
        {
            batch.spans.extend(decode(&x.backend).spans);
            batch.spans.extend(
                decode(&x.browser)
                    .spans
                    .into_iter()
                    .filter(|s| !without_reply.contains(&n) || s.name.starts_with("ws.send")),
            );
        }
    }
    store_batch(&store, batch).await;
    wait_shipped(&test).await;
    for (session, offset_ns, _) in sessions {
        let offset = reads(&store)
            .session_offset(session)
            .await
            .expect("reads")
            .expect("estimated");
        assert!(
            (offset.offset_ns - offset_ns).abs() <= 5 * MS as i64,
            "{session}: {offset:?}"
        );
    }

    let s = 1_000_000_000i64;
    let base = base as i64;
    let window =
        |start_ns: i64, end_ns: i64, step_ns: i64, message_type: Option<&str>| RollupQuery {
            message_type: message_type.map(str::to_owned),
            start_ns,
            end_ns,
            step_ns,
            buckets: usize::try_from((end_ns - start_ns + step_ns - 1) / step_ns).expect("fits"),
        };
    let aligned = assert_rollups_as_of_points(&store, &window(base, base + 6 * s, s, None)).await;
    let all = &aligned.per_bucket();
    assert_eq!(all.iter().map(|r| r.count).sum::<u64>(), 16);
    assert_eq!(all.iter().map(|r| r.errors).sum::<u64>(), 3);
    assert_eq!(all.iter().map(|r| r.total.count()).sum::<u64>(), 13);
    assert_eq!(aligned.cells().count(), 10, "two types in most seconds");
    let ms = MS as i64;
    for q in [
        window(base + 450 * ms, base + 4_100 * ms, 700 * ms, None),
        window(base + ms, base + 5 * s, 1_300 * ms, Some("chat")),
        window(base + ms, base + 5 * s, 1_300 * ms, Some("no-such-type")),
        // The message-types view: one step over the window.
        window(base, base + 10 * s, 10 * s, None),
        // Fewer buckets than the window holds: the rest is left out.
        RollupQuery {
            buckets: 3,
            ..window(base, base + 10 * s, s, None)
        },
    ] {
        assert_rollups_as_of_points(&store, &q).await;
    }
    store.shutdown().await.expect("stops");
}

/// A round trip as the correlation step would store it, written straight to the table.
#[derive(clickhouse::Row, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct StoredRoundTrip {
    tenant: String,
    trace_id: String,
    send_span_id: String,
    server_span_id: String,
    receive_span_id: Option<String>,
    session_id: Option<String>,
    user_id: Option<String>,
    url: Option<String>,
    message_type: Option<String>,
    service_name: String,
    server_service_name: String,
    client_send_time: i64,
    server_receive_time: i64,
    server_done_time: i64,
    client_receive_time: Option<i64>,
    client_processing_duration: Option<i64>,
    error: bool,
    version: u64,
}

/// A stored round trip with its times `t1`..`t4` as nanoseconds after `at`.
fn stored(
    trace_id: String,
    session_id: Option<&str>,
    message_type: Option<&str>,
    at: i64,
    [t1, t2, t3]: [i64; 3],
    t4: Option<i64>,
) -> StoredRoundTrip {
    StoredRoundTrip {
        tenant: String::new(),
        trace_id,
        send_span_id: "send".into(),
        server_span_id: "server".into(),
        receive_span_id: None,
        session_id: session_id.map(str::to_owned),
        user_id: None,
        url: None,
        message_type: message_type.map(str::to_owned),
        service_name: "web".into(),
        server_service_name: "api".into(),
        client_send_time: at + t1,
        server_receive_time: at + t2,
        server_done_time: at + t3,
        client_receive_time: t4.map(|t| at + t),
        client_processing_duration: None,
        error: false,
        version: 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollups_bin_and_clamp_in_clickhouse_exactly_as_in_rust() {
    let test = ClickHouseTest::start("rollups_bin_and_clamp");
    let store = Store::open_clickhouse(&config(&test), 10_000, Arc::new(Metrics::default()))
        .await
        .expect("opens");
    let at = ((now_ns() - 600_000 * MS) / 1_000_000_000 * 1_000_000_000) as i64;
    let mut rows = Vec::new();

    // Every bin bound and round(1000·1.02^k) and their neighbours, positive and negative, each
    // value its own message type: total −v, server v; uplink v, server −v; total and downlink v.
    let mut values: Vec<i64> = bin_bounds()
        .iter()
        .map(|&b| b as i64)
        .chain((0..1_300).map(|k| (1_000.0 * 1.02f64.powi(k)).round() as i64))
        .flat_map(|v| [v - 1, v, v + 1])
        .chain([0, 1, 999])
        .filter(|v| *v <= 1_000_000_000_000_000_000)
        .collect();
    values.sort_unstable();
    values.dedup();
    assert!(values.len() > 5_000);
    for (i, v) in values.iter().copied().enumerate() {
        let kind = format!("v{v}");
        let kind = Some(kind.as_str());
        rows.push(stored(format!("a{i}"), None, kind, at, [0, 0, v], Some(-v)));
        rows.push(stored(format!("b{i}"), None, kind, at, [0, v, 0], None));
        rows.push(stored(format!("c{i}"), None, kind, at, [0, 0, 0], Some(v)));
    }

    // Uplink clamped to 0 and to the network delay, a reply before the backend was done, a
    // session with no stored offset and round trips with no session or no type, in milliseconds
    // from `at` + 10 ms·j. `sess-skewed`'s stored offset is 100 ms.
    let ms = MS as i64;
    let clamp = |j: i64, session, kind, times: [i64; 3], reply: Option<i64>| {
        let mut row = stored(
            format!("clamp{j}"),
            session,
            kind,
            at + 10 * ms * j,
            times.map(|t| t * ms),
            reply.map(|t| t * ms),
        );
        row.error = j % 3 == 0;
        row
    };
    let (skewed, unknown) = (Some("sess-skewed"), Some("sess-unknown"));
    rows.extend([
        clamp(0, skewed, Some("clamp"), [0, 50, 60], Some(130)),
        clamp(1, skewed, Some("clamp"), [0, 300, 310], Some(50)),
        clamp(2, skewed, Some("clamp"), [0, 100, 200], Some(20)),
        clamp(3, skewed, Some("clamp"), [0, 150, 160], None),
        clamp(4, unknown, Some("clamp"), [0, -40, -30], None),
        clamp(5, unknown, Some("clamp"), [0, 40, 45], Some(90)),
        clamp(6, None, Some("clamp"), [0, 7, 9], Some(12)),
        clamp(7, skewed, None, [0, 130, 135], Some(70)),
    ]);
    // Ties: the same send-to-reply time and send time; the greater trace id is the slowest and
    // the newest.
    for trace in ["tie-b", "tie-a"] {
        rows.push(stored(
            trace.into(),
            None,
            Some("tie"),
            at + 95 * ms,
            [0, ms, 2 * ms],
            Some(5 * ms),
        ));
    }

    let client = test.client();
    let mut insert = client
        .insert::<StoredRoundTrip>("tracewire_ws_round_trips")
        .await
        .expect("inserts");
    for row in &rows {
        insert.write(row).await.expect("writes");
    }
    insert.end().await.expect("inserted");
    // An estimate from fewer round trips, stored last by another collector, replaces nothing:
    // 100 ms counts, not 999 ms.
    for (offset_ns, version) in [(100 * MS, 2u64), (999 * MS, 1)] {
        client
            .query(
                "INSERT INTO tracewire_ws_session_offsets (Tenant, SessionId, ClockOffset, \
                 Samples, Version) VALUES ('', 'sess-skewed', {offset:Int64}, 1, {version:UInt64})",
            )
            .param("offset", offset_ns as i64)
            .param("version", version)
            .execute()
            .await
            .expect("inserts");
    }

    let s = 1_000_000_000i64;
    let one = assert_rollups_as_of_points(
        &store,
        &RollupQuery {
            message_type: None,
            start_ns: at,
            end_ns: at + s,
            step_ns: s,
            buckets: 1,
        },
    )
    .await;
    assert_eq!(one.per_bucket()[0].count, rows.len() as u64);
    let tie = &one.per_type()["tie"];
    assert_eq!(tie.slowest, Some((5 * ms, "tie-b".to_owned())));
    assert_eq!(tie.newest, Some((at + 95 * ms, "tie-b".to_owned())));
    for message_type in [None, Some("clamp".to_owned())] {
        assert_rollups_as_of_points(
            &store,
            &RollupQuery {
                message_type,
                start_ns: at + 3 * ms,
                end_ns: at + 200 * ms,
                step_ns: 30 * ms,
                buckets: 7,
            },
        )
        .await;
    }
    store.shutdown().await.expect("stops");
}
