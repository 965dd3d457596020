use std::sync::Arc;

use rusqlite::Connection;

use super::SqliteStore;
use super::error::SqliteError;
use crate::metrics::Metrics;
use crate::model::{SpanEvent, SpanKind, SpanLink, SpanRecord, StatusCode, TraceQuery};
use crate::signal::Signal;
use crate::store::{Store, StoreError, StoreUrl};
use crate::testing::{browser, reads, span, store_spans, temp_store};
use tracewire_semconv::attribute;

/// A SQLite store in a fresh temporary directory without retention, and its engine, which
/// prunes when asked.
pub(super) async fn pruned_store() -> (tempfile::TempDir, Store, Arc<SqliteStore>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = super::SqliteConfig {
        path: dir.path().join("tw.db"),
        retention: None,
    };
    let (queue, engine) = SqliteStore::open(&config, 100, Arc::new(Metrics::default()))
        .await
        .expect("store opens");
    let store = Store {
        queue,
        engine: Arc::clone(&engine) as _,
    };
    (dir, store, engine)
}

fn query(limit: usize) -> TraceQuery {
    TraceQuery {
        limit,
        ..Default::default()
    }
}

/// Undoes migration 11: the session index on the attribute inside the JSON again instead of the
/// `session_id` column.
macro_rules! undo_session_column {
    () => {
        "DROP INDEX spans_by_session_id; ALTER TABLE spans DROP COLUMN session_id; \
         CREATE INDEX spans_by_session ON spans \
         (tenant, json_extract(span_attributes, '$.\"session.id\"'), start_ns); "
    };
}

/// Takes a file back from schema version 11 to 10.
const BEFORE_SESSION_COLUMN: &str = concat!(undo_session_column!(), "PRAGMA user_version = 10;");

/// Takes a file back from schema version 11 to 5: without the session column, the offsets'
/// uncertainty, the alert tables, the span metrics' rollups, the metrics tables and the log
/// search index.
pub(super) const BEFORE_LOG_SEARCH: &str = concat!(
    undo_session_column!(),
    "ALTER TABLE ws_session_offsets DROP COLUMN uncertainty_ns; \
    DROP TABLE alert_claims; DROP TABLE alert_states; \
    DROP TABLE alert_history; DROP TABLE alert_notifications; DROP TABLE alert_silences; \
    DROP TABLE alert_rules; DROP TABLE operation_rollups; \
    DROP TABLE dependency_rollups; DROP TABLE call_rollups_stale; \
    DROP TABLE metrics_gauge; DROP TABLE metrics_sum; \
    DROP TABLE metrics_histogram; DROP TABLE metrics_exponential_histogram; \
    DROP TABLE metrics_summary; DROP TABLE logs_fts; DROP TABLE logs_fts_backfill; \
    DROP INDEX logs_by_tenant_time; PRAGMA user_version = 5;"
);

/// A store that held `spans` (the correlation step caught up), then had the span metrics'
/// rollups, the metrics tables and the log search index dropped and `sql` run on its file
/// while closed (taking it back to an older schema), reopened.
pub(super) async fn reopened_after(
    spans: Vec<SpanRecord>,
    sql: &str,
) -> (tempfile::TempDir, Store) {
    reopened_after_exactly(spans, &format!("{BEFORE_LOG_SEARCH} {sql}")).await
}

/// A store that held `spans` (the correlation step caught up), then had `sql` run on its file
/// (`tw.db` in the directory) while closed, reopened.
async fn reopened_after_exactly(spans: Vec<SpanRecord>, sql: &str) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tw.db");
    let url = StoreUrl::Sqlite(path.clone());
    {
        let store = Store::open(&url, 100, Arc::new(Metrics::default()))
            .await
            .expect("opens");
        store_spans(&store, spans).await;
        assert!(
            store
                .derive(std::time::Duration::from_secs(10))
                .await
                .expect("derives")
        );
        store.shutdown().await.expect("stops");
    }
    Connection::open(&path)
        .expect("opens")
        .execute_batch(sql)
        .expect("downgrades");
    let store = Store::open(&url, 100, Arc::new(Metrics::default()))
        .await
        .expect("reopens");
    (dir, store)
}

#[tokio::test]
async fn acknowledged_batch_reads_back_with_every_field() {
    let (_dir, store, _) = temp_store(100).await;
    let mut root = span(1, 1, None, "api", "GET /x", 1_000, 500);
    root.status_code = StatusCode::Error;
    root.status_message = "boom".into();
    root.span_attributes
        .insert("http.method".into(), "GET".into());
    root.events.push(SpanEvent {
        time_ns: 1_100,
        name: "retry".into(),
        attributes: [("n".to_owned(), "2".to_owned())].into(),
    });
    root.links.push(SpanLink {
        trace_id: hex::encode([9; 16]),
        span_id: hex::encode([9; 8]),
        trace_state: "a=b".into(),
        attributes: Default::default(),
    });
    let child = span(1, 2, Some(1), "db", "SELECT", 1_200, 100);
    store_spans(&store, vec![child.clone(), root.clone()]).await;
    let read = reads(&store).trace(&root.trace_id).await.expect("reads");
    assert_eq!(read, vec![root, child]);
}

/// A session's spans are found by the `session_id` column whether they were stored before it
/// existed (filled in by the migration) or after; spans of other sessions or of none are not.
#[tokio::test]
async fn session_spans_are_found_by_their_column_before_and_after_the_migration() {
    let mut other = browser(span(2, 3, None, "web", "GET", 3_000, 10), SpanKind::Client);
    other
        .span_attributes
        .insert(attribute::SESSION_ID.into(), "sess-2".into());
    let old = vec![
        browser(
            span(1, 1, None, "web", "ws.send chat", 1_000, 10),
            SpanKind::Producer,
        ),
        span(1, 2, Some(1), "api", "ws.receive chat", 1_500, 10),
        other,
    ];
    let (dir, store) = reopened_after_exactly(old.clone(), BEFORE_SESSION_COLUMN).await;
    let later = browser(span(3, 4, None, "web", "GET", 2_000, 10), SpanKind::Client);
    store_spans(&store, vec![later.clone()]).await;
    let found = reads(&store)
        .session_spans("sess-1", 10)
        .await
        .expect("reads");
    assert_eq!(found, vec![old[0].clone(), later]);
    let found = reads(&store)
        .session_spans("sess-2", 10)
        .await
        .expect("reads");
    assert_eq!(found, vec![old[2].clone()]);
    let (with_session, all): (i64, i64) = Connection::open(dir.path().join("tw.db"))
        .expect("opens")
        .query_row("SELECT count(session_id), count(*) FROM spans", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .expect("counts");
    assert_eq!(
        (with_session, all),
        (3, 4),
        "the backend span has no session, so the partial index leaves it out"
    );
}

#[tokio::test]
async fn retried_span_is_stored_once() {
    let (_dir, store, _) = temp_store(100).await;
    let s = span(1, 1, None, "api", "GET /x", 1_000, 500);
    store_spans(&store, vec![s.clone()]).await;
    store_spans(&store, vec![s.clone()]).await;
    assert_eq!(
        reads(&store).trace(&s.trace_id).await.expect("reads").len(),
        1
    );
}

#[tokio::test]
async fn data_survives_reopening_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = StoreUrl::Sqlite(dir.path().join("nested/dir/tw.db"));
    let s = span(3, 1, None, "api", "GET /x", 1_000, 500);
    {
        let store = Store::open(&url, 100, Arc::new(Metrics::default()))
            .await
            .expect("opens");
        store_spans(&store, vec![s.clone()]).await;
        store.shutdown().await.expect("stops");
        store.shutdown().await.expect("second shutdown is a no-op");
    }
    let store = Store::open(&url, 100, Arc::new(Metrics::default()))
        .await
        .expect("reopens");
    assert_eq!(
        reads(&store).trace(&s.trace_id).await.expect("reads"),
        vec![s]
    );
}

#[tokio::test]
async fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tw.db");
    Connection::open(&path)
        .expect("create")
        .pragma_update(None, "user_version", 99)
        .expect("set");
    let result = Store::open(&StoreUrl::Sqlite(path), 100, Arc::new(Metrics::default())).await;
    assert!(matches!(
        result,
        Err(StoreError::Sqlite(SqliteError::SchemaTooNew {
            found: 99,
            ..
        }))
    ));
}

#[tokio::test]
async fn prune_deletes_only_expired_rows() {
    let (_dir, store, engine) = pruned_store().await;
    let old = span(1, 1, None, "api", "old", 1_000, 1);
    let new = span(2, 1, None, "api", "new", 5_000, 1);
    store_spans(&store, vec![old.clone(), new.clone()]).await;
    let pruned = engine.tasks.prune(2_000, 10).await.expect("prunes");
    assert_eq!(pruned[Signal::Traces], 1);
    assert!(
        reads(&store)
            .trace(&old.trace_id)
            .await
            .expect("reads")
            .is_empty()
    );
    assert_eq!(
        reads(&store)
            .trace(&new.trace_id)
            .await
            .expect("reads")
            .len(),
        1
    );
}

#[tokio::test]
async fn search_filters_and_summarises_whole_traces() {
    let (_dir, store, _) = temp_store(100).await;
    let mut get_a = span(1, 2, Some(1), "api", "GET /a", 1_100, 100);
    get_a
        .span_attributes
        .insert("http.method".into(), "GET".into());
    let mut failing = span(2, 2, Some(1), "db", "SELECT", 2_100, 50);
    failing.status_code = StatusCode::Error;
    store_spans(
        &store,
        vec![
            span(1, 1, None, "web", "load", 1_000, 300),
            get_a,
            span(2, 1, None, "web", "click", 2_000, 900),
            failing,
            span(3, 1, None, "web", "scroll", 3_000, 10),
        ],
    )
    .await;
    let all = reads(&store).search(&query(10)).await.expect("search");
    let ids: Vec<_> = all.iter().map(|t| t.trace_id.clone()).collect();
    assert_eq!(
        ids,
        vec![
            hex::encode([3; 16]),
            hex::encode([2; 16]),
            hex::encode([1; 16])
        ],
        "newest first"
    );
    let first = &all[2];
    assert_eq!(
        (first.root_service.as_str(), first.root_name.as_str()),
        ("web", "load")
    );
    assert_eq!(
        (first.start_ns, first.duration_ns, first.span_count),
        (1_000, 300, 2)
    );

    let by_service = reads(&store)
        .search(&TraceQuery {
            service: Some("api".into()),
            ..query(10)
        })
        .await
        .expect("search");
    assert_eq!(by_service.len(), 1);
    assert_eq!(
        by_service[0].root_name, "load",
        "summary covers the whole trace, not only matching spans"
    );

    let errors = reads(&store)
        .search(&TraceQuery {
            errors_only: true,
            ..query(10)
        })
        .await
        .expect("search");
    assert_eq!(errors.len(), 1);
    assert!(errors[0].has_error);

    let slow = reads(&store)
        .search(&TraceQuery {
            min_duration_ns: Some(500),
            ..query(10)
        })
        .await
        .expect("search");
    assert_eq!(slow[0].root_name, "click");
    let quick = reads(&store)
        .search(&TraceQuery {
            max_duration_ns: Some(20),
            name: Some("scroll".into()),
            ..query(10)
        })
        .await
        .expect("search");
    assert_eq!(quick.len(), 1);

    let attribute = |k: &str, v: &str| vec![(k.to_owned(), v.to_owned())];
    let by_resource = reads(&store)
        .search(&TraceQuery {
            attributes: attribute("service.name", "db"),
            ..query(10)
        })
        .await
        .expect("search");
    assert_eq!(by_resource.len(), 1, "resource attributes match");
    let by_span = reads(&store)
        .search(&TraceQuery {
            attributes: attribute("http.method", "GET"),
            ..query(10)
        })
        .await
        .expect("search");
    assert_eq!(
        by_span[0].trace_id,
        hex::encode([1u8; 16]),
        "span attributes match"
    );
    let none = reads(&store)
        .search(&TraceQuery {
            attributes: attribute("service.name", "nope"),
            ..query(10)
        })
        .await
        .expect("search");
    assert!(none.is_empty());

    let window = reads(&store)
        .search(&TraceQuery {
            start_ns: Some(1_500),
            end_ns: Some(2_500),
            ..query(10)
        })
        .await
        .expect("search");
    assert_eq!(window.len(), 1);
    assert_eq!(
        reads(&store).search(&query(1)).await.expect("search").len(),
        1,
        "limit"
    );
}

#[tokio::test]
async fn services_count_spans_and_last_seen() {
    let (_dir, store, _) = temp_store(100).await;
    store_spans(
        &store,
        vec![
            span(1, 1, None, "web", "a", 1_000, 1),
            span(1, 2, Some(1), "api", "b", 1_500, 1),
            span(2, 1, None, "web", "c", 3_000, 1),
        ],
    )
    .await;
    let services = reads(&store).services().await.expect("services");
    let summary: Vec<_> = services
        .iter()
        .map(|s| (s.name.as_str(), s.span_count, s.last_seen_ns))
        .collect();
    assert_eq!(summary, vec![("api", 1, 1_500), ("web", 2, 3_000)]);
}

#[tokio::test]
async fn newest_first_search_walks_the_time_index_instead_of_sorting_everything() {
    let (dir, _store, _) = temp_store(10).await;
    let conn = Connection::open(dir.path().join("tw.db")).expect("opens");
    let plan: Vec<String> = conn
        .prepare("EXPLAIN QUERY PLAN SELECT trace_id FROM spans WHERE tenant = ? ORDER BY start_ns DESC, trace_id DESC")
        .expect("prepares")
        .query_map([""], |row| row.get::<_, String>(3))
        .expect("plan")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert!(
        plan.iter()
            .any(|step| step.contains("spans_by_tenant_time")),
        "{plan:?}"
    );
    assert!(
        !plan
            .iter()
            .any(|step| step == "USE TEMP B-TREE FOR ORDER BY"),
        "{plan:?}"
    );
}

mod correlation_step {
    use std::time::Duration;

    use super::*;
    use crate::correlate::Source;
    use crate::model::RoundTripQuery;
    use crate::testing::one_exchange;

    const MS: i64 = 1_000_000;

    fn everything() -> RoundTripQuery {
        RoundTripQuery {
            start_ns: i64::MIN,
            end_ns: i64::MAX,
            limit: 100,
            ..RoundTripQuery::default()
        }
    }

    async fn caught_up(store: &Store) {
        assert!(
            store
                .derive(Duration::from_secs(10))
                .await
                .expect("derives"),
            "caught up"
        );
    }

    fn waiting(path: &std::path::Path) -> i64 {
        Connection::open(path)
            .expect("opens")
            .query_row("SELECT count(*) FROM ws_pending", [], |row| row.get(0))
            .expect("counts")
    }

    #[tokio::test]
    async fn a_round_trip_appears_once_both_halves_of_its_trace_are_stored() {
        let (dir, store, _) = temp_store(100).await;
        let (browser, backend): (Vec<_>, Vec<_>) = one_exchange(2_000 * MS)
            .into_iter()
            .partition(|s| Source::of(s) == Source::Browser);
        store_spans(&store, browser).await;
        caught_up(&store).await;
        assert!(
            reads(&store)
                .round_trips(&everything())
                .await
                .expect("reads")
                .is_empty()
        );
        assert_eq!(
            reads(&store).session_offset("sess-1").await.expect("reads"),
            None
        );

        store_spans(&store, backend).await;
        caught_up(&store).await;
        let list = reads(&store)
            .round_trips(&everything())
            .await
            .expect("reads");
        assert_eq!(list.len(), 1);
        let (record, offset) = &list[0];
        assert_eq!(record.session_id.as_deref(), Some("sess-1"));
        assert_eq!(record.times.client_receive_ns, Some(10 * MS));
        assert_eq!(*offset, 2_000 * MS, "the session's stored offset");
        let stored = reads(&store).session_offset("sess-1").await.expect("reads");
        assert_eq!(
            stored.map(|o| (o.offset_ns, o.samples)),
            Some((2_000 * MS, 1))
        );
        let points = reads(&store)
            .round_trip_points(&everything())
            .await
            .expect("reads");
        assert_eq!(points.len(), 1);
        assert_eq!(points[0].clock_offset_ns, 2_000 * MS);
        assert_eq!(
            waiting(&dir.path().join("tw.db")),
            0,
            "nothing left waiting"
        );
    }

    #[tokio::test]
    async fn the_writer_derives_in_the_background_without_being_asked() {
        let (_dir, store, _) = temp_store(100).await;
        store_spans(&store, one_exchange(0)).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while reads(&store)
            .round_trips(&everything())
            .await
            .expect("reads")
            .is_empty()
        {
            assert!(tokio::time::Instant::now() < deadline, "never derived");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn traces_stored_before_the_correlation_step_existed_are_derived_after_upgrading() {
        // Back to schema version 3, before the correlation step.
        let (_dir, store) = reopened_after(
            one_exchange(0),
            "DROP TABLE ws_pending; DROP TABLE ws_round_trips; \
             DROP TABLE ws_session_offsets; DROP TABLE ws_rollups; \
             DROP TABLE ws_rollups_stale; PRAGMA user_version = 3;",
        )
        .await;
        caught_up(&store).await;
        assert_eq!(
            reads(&store)
                .round_trips(&everything())
                .await
                .expect("reads")
                .len(),
            1
        );
    }

    #[tokio::test]
    async fn the_step_keeps_pace_while_the_queue_never_empties() {
        let (dir, store, _) = temp_store(10_000).await;
        // 640 batches of one exchange each, queued at once: the writer is never idle until
        // the last, so only the passes it makes after each write group derive anything.
        let receipts: Vec<_> = (0..640u32)
            .map(|n| {
                let spans = one_exchange(0)
                    .into_iter()
                    .map(|mut s| {
                        s.trace_id = format!("{n:032x}");
                        s
                    })
                    .collect();
                store
                    .queue()
                    .try_submit(crate::model::Batch {
                        spans,
                        ..Default::default()
                    })
                    .expect("queue has room")
            })
            .collect();
        let mut receipts = receipts.into_iter();
        for receipt in receipts.by_ref().take(320) {
            receipt.durable().await.expect("committed");
        }
        // Five groups of 64 are stored; at most the newest group or two still wait.
        let behind = waiting(&dir.path().join("tw.db"));
        assert!(behind <= 160, "{behind} traces wait after 320 were stored");
        for receipt in receipts {
            receipt.durable().await.expect("committed");
        }
    }

    #[tokio::test]
    async fn a_trace_whose_stored_spans_do_not_parse_is_skipped_not_blocking_the_rest() {
        let (dir, store, _) = temp_store(100).await;
        store_spans(&store, one_exchange(0)).await;
        caught_up(&store).await;
        // Damage trace 1 outside the collector and queue it again, then store trace 2.
        Connection::open(dir.path().join("tw.db"))
            .expect("opens")
            .execute_batch(
                "UPDATE spans SET events = 'not json'; \
                 INSERT INTO ws_pending (tenant, trace_id) SELECT tenant, trace_id FROM spans LIMIT 1;",
            )
            .expect("damages");
        let second: Vec<_> = one_exchange(0)
            .into_iter()
            .map(|mut s| {
                s.trace_id = hex::encode([2u8; 16]);
                s
            })
            .collect();
        store_spans(&store, second).await;
        caught_up(&store).await;
        let mut traces: Vec<String> = reads(&store)
            .round_trips(&everything())
            .await
            .expect("reads")
            .into_iter()
            .map(|(r, _)| r.trace_id)
            .collect();
        traces.sort();
        // Trace 1 keeps the round trip derived before the damage.
        assert_eq!(traces, [hex::encode([1u8; 16]), hex::encode([2u8; 16])]);
        assert_eq!(waiting(dir.path().join("tw.db").as_path()), 0);
    }

    #[tokio::test]
    async fn retention_removes_expired_round_trips() {
        let (_dir, store, engine) = pruned_store().await;
        store_spans(&store, one_exchange(0)).await;
        caught_up(&store).await;
        engine.tasks.prune(i64::MAX, 10).await.expect("prunes");
        assert!(
            reads(&store)
                .round_trips(&everything())
                .await
                .expect("reads")
                .is_empty()
        );
    }
}

mod rollups {
    use std::time::Duration;

    use super::*;
    use crate::correlate::{MINUTE_NS, Rollups};
    use crate::model::{RollupQuery, RoundTripQuery, SpanRecord};
    use crate::testing::one_exchange;

    const S: i64 = 1_000_000_000;

    /// [`one_exchange`] in trace `trace`, sent at `at`, with a 40 ms clock offset.
    fn exchange(trace: u8, at: i64) -> Vec<SpanRecord> {
        one_exchange(40_000_000)
            .into_iter()
            .map(|mut s| {
                s.trace_id = hex::encode([trace; 16]);
                s.start_ns += at;
                s
            })
            .collect()
    }

    /// Three whole minutes from 0, a minute a step.
    fn window() -> RollupQuery {
        RollupQuery {
            message_type: None,
            start_ns: 0,
            end_ns: 3 * MINUTE_NS,
            step_ns: MINUTE_NS,
            buckets: 3,
        }
    }

    /// After the correlation step: the stored rollups of [`window`], and the round trips of the
    /// same window added up as they are read.
    async fn stored_and_read(store: &Store) -> (Rollups, Rollups) {
        assert!(
            store
                .derive(Duration::from_secs(10))
                .await
                .expect("derives")
        );
        let q = window();
        assert!(reads(store).keeps_rollups_for(&q));
        let stored = reads(store)
            .rollups(&q)
            .await
            .expect("reads")
            .expect("kept");
        let points = reads(store)
            .round_trip_points(&RoundTripQuery {
                start_ns: q.start_ns,
                end_ns: q.end_ns,
                limit: 1_000,
                ..RoundTripQuery::default()
            })
            .await
            .expect("reads");
        (
            stored,
            Rollups::of_points(q.start_ns, q.step_ns, q.buckets, &points),
        )
    }

    fn counts(r: &Rollups) -> Vec<u64> {
        r.per_bucket().iter().map(|b| b.count).collect()
    }

    #[tokio::test]
    async fn stored_minutes_add_up_to_the_round_trips_and_follow_late_spans() {
        let (_dir, store, _) = temp_store(100).await;
        let mut spans = Vec::new();
        for (trace, at) in [(1, 0), (2, 30 * S), (3, 70 * S), (4, 150 * S)] {
            spans.extend(exchange(trace, at));
        }
        store_spans(&store, spans).await;
        let (stored, read) = stored_and_read(&store).await;
        assert_eq!(stored, read);
        assert_eq!(counts(&stored), [2, 1, 1]);

        // A message whose reply arrives in a later batch: first without a round-trip time,
        // then with one.
        let (reply, first): (Vec<_>, Vec<_>) = exchange(5, 80 * S)
            .into_iter()
            .partition(|s| s.name.contains("reply"));
        store_spans(&store, first).await;
        let (stored, read) = stored_and_read(&store).await;
        assert_eq!(stored, read);
        assert_eq!(stored.per_bucket()[1].total.count(), 1);
        store_spans(&store, reply).await;
        let (stored, read) = stored_and_read(&store).await;
        assert_eq!(stored, read);
        assert_eq!(counts(&stored), [2, 2, 1]);
        assert_eq!(stored.per_bucket()[1].total.count(), 2);
        let uplink = stored.per_bucket()[1].uplink.percentiles().expect("uplink");
        assert!(
            (uplink.p50 - 3_000_000).abs() <= 30_000,
            "offset taken out: {uplink:?}"
        );
    }

    #[tokio::test]
    async fn retention_drops_expired_minutes_and_rolls_up_the_cut_one_again() {
        let (_dir, store, engine) = pruned_store().await;
        let mut spans = Vec::new();
        for (trace, at) in [(1, 0), (2, 70 * S), (3, 100 * S), (4, 150 * S)] {
            spans.extend(exchange(trace, at));
        }
        store_spans(&store, spans).await;
        assert_eq!(counts(&stored_and_read(&store).await.0), [1, 2, 1]);
        engine.tasks.prune(90 * S, 100).await.expect("prunes");
        let (stored, read) = stored_and_read(&store).await;
        assert_eq!(stored, read);
        assert_eq!(counts(&stored), [0, 1, 1]);
    }

    #[tokio::test]
    async fn round_trips_stored_before_rollups_existed_are_rolled_up_after_upgrading() {
        // Back to schema version 4, before rollups.
        let (_dir, store) = reopened_after(
            [exchange(1, 10 * S), exchange(2, 130 * S)].concat(),
            "DROP TABLE ws_rollups; DROP TABLE ws_rollups_stale; PRAGMA user_version = 4;",
        )
        .await;
        let (stored, read) = stored_and_read(&store).await;
        assert_eq!(stored, read);
        assert_eq!(counts(&stored), [1, 0, 1]);
    }

    #[tokio::test]
    async fn a_damaged_rollup_is_a_clear_error() {
        let (dir, store, _) = temp_store(100).await;
        store_spans(&store, exchange(1, 0)).await;
        stored_and_read(&store).await;
        Connection::open(dir.path().join("tw.db"))
            .expect("opens")
            .execute("UPDATE ws_rollups SET total = x'ff'", [])
            .expect("damages");
        let e = reads(&store).rollups(&window()).await.expect_err("damaged");
        assert!(e.to_string().contains("corrupt stored rollup"), "{e}");
    }
}
