//! Per-minute rollups of span metrics ([`crate::spanmetrics`]): operation calls per tenant,
//! minute, service and operation in `operation_rollups`, dependency calls per tenant, minute,
//! caller and callee in `dependency_rollups`, so a services page over a day reads a few
//! thousand rows instead of every span. A span's minute can change when any span of its trace
//! arrives (a late parent from another service makes it a dependency call), so the correlation
//! step marks the minutes of every span of each trace it takes as stale
//! (`call_rollups_stale`, kept as [`super::stale`] keeps stale minutes); [`refresh`] rolls a
//! stale minute up again from its spans. The writer refreshes them when and as it refreshes the
//! round trips' rollups ([`super::rollup`]).

use std::collections::BTreeSet;

use rusqlite::{Connection, ToSql, params};

use super::error::SqliteError;
use super::read::{dependencies_of_spans, operations_of_spans};
use super::stale::CALL_ROLLUPS;
use crate::correlate::MINUTE_NS;
use crate::model::CallQuery;
use crate::spanmetrics::CallRollups;

/// Marks the minutes of every stored span of these traces stale.
pub(super) fn mark_traces(
    conn: &Connection,
    tenant: &str,
    traces: &BTreeSet<String>,
) -> Result<(), SqliteError> {
    // The minute is computed as `stale::minute_of` computes it, negative times included.
    let mut stmt = conn.prepare_cached(
        "INSERT OR IGNORE INTO call_rollups_stale (tenant, minute_ns) \
         SELECT DISTINCT ?1, start_ns - (((start_ns % 60000000000) + 60000000000) % 60000000000) \
         FROM spans INDEXED BY spans_by_trace WHERE tenant = ?1 AND trace_id = ?2",
    )?;
    for trace_id in traces {
        stmt.execute(params![tenant, trace_id])?;
    }
    Ok(())
}

/// Marks the minutes of these span start times stale.
pub(super) fn mark_minutes(
    conn: &Connection,
    tenant: &str,
    start_times: impl IntoIterator<Item = i64>,
) -> Result<(), SqliteError> {
    CALL_ROLLUPS.mark(conn, tenant, start_times)
}

/// Rolls up the oldest stale minutes that start before `before_ns` again, at most `limit`, in
/// one write transaction; returns how many (0: none was stale).
pub(super) fn refresh(
    conn: &mut Connection,
    limit: usize,
    before_ns: i64,
) -> Result<usize, SqliteError> {
    CALL_ROLLUPS.refresh(conn, limit, before_ns, roll_up)
}

/// Replaces a tenant's rollups of one minute with those of its spans.
fn roll_up(tx: &Connection, tenant: &str, minute: i64) -> Result<(), SqliteError> {
    let q = CallQuery {
        service: None,
        start_ns: minute,
        end_ns: minute + MINUTE_NS,
        step_ns: MINUTE_NS,
        buckets: 1,
    };
    store(
        tx,
        "operation_rollups",
        "service, operation",
        tenant,
        minute,
        &operations_of_spans(tx, tenant, &q)?,
    )?;
    store(
        tx,
        "dependency_rollups",
        "caller, callee",
        tenant,
        minute,
        &dependencies_of_spans(tx, tenant, &q)?,
    )
}

/// Replaces the rows of `table` (its pair of names in `pair`) of a tenant's minute.
fn store(
    tx: &Connection,
    table: &str,
    pair: &str,
    tenant: &str,
    minute: i64,
    rollups: &CallRollups,
) -> Result<(), SqliteError> {
    tx.prepare_cached(&format!(
        "DELETE FROM {table} WHERE tenant = ?1 AND minute_ns = ?2"
    ))?
    .execute(params![tenant, minute])?;
    let mut insert = tx.prepare_cached(&format!(
        "INSERT INTO {table} (tenant, minute_ns, {pair}, calls, errors, durations) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
    ))?;
    for (_, (a, b), calls) in rollups.cells() {
        let count = i64::try_from(calls.count).unwrap_or(i64::MAX);
        let errors = i64::try_from(calls.errors).unwrap_or(i64::MAX);
        let durations = calls.durations.encode();
        let values: [&dyn ToSql; 7] = [&tenant, &minute, &a, &b, &count, &errors, &durations];
        insert.execute(&values[..])?;
    }
    Ok(())
}

/// Deletes the rollups of minutes wholly before `cutoff_ns` and marks the minute it falls in
/// stale, as retention deleted some of that minute's spans.
pub(super) fn prune(conn: &Connection, cutoff_ns: i64) -> Result<(), SqliteError> {
    CALL_ROLLUPS.prune(conn, cutoff_ns)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::tests::{pruned_store, reopened_after};
    use crate::model::{CallQuery, SpanKind, SpanRecord, StatusCode, TraceQuery};
    use crate::spanmetrics::CallRollups;
    use crate::store::{Scope, Store};
    use crate::testing::{browser, span, store_spans, temp_store};

    const S: i64 = 1_000_000_000;
    const MS: i64 = 1_000_000;
    const MINUTE: i64 = 60 * S;

    /// A browser message at `at` in trace `trace`: the page's `ws.send` (web), the backend's
    /// `ws.receive` (api, `ms` long, failed when `error`), its call to the tools service
    /// (api CLIENT, tools SERVER).
    fn message(trace: u8, at: i64, ms: i64, error: bool) -> (SpanRecord, Vec<SpanRecord>) {
        let send = browser(
            span(trace, 1, None, "web", "ws.send chat", at, 0),
            SpanKind::Producer,
        );
        let mut receive = span(
            trace,
            2,
            Some(1),
            "api",
            "ws.receive chat",
            at + MS,
            ms * MS,
        );
        receive.kind = SpanKind::Consumer;
        if error {
            receive.status_code = StatusCode::Error;
        }
        let mut call = span(trace, 3, Some(2), "api", "GET /tools", at + 2 * MS, 2 * MS);
        call.kind = SpanKind::Client;
        let tools = span(trace, 4, Some(3), "tools", "GET /tools", at + 2 * MS, MS);
        (send, vec![receive, call, tools])
    }

    /// Three whole minutes from 0, a minute a step: answered from the stored minutes.
    fn minutes() -> CallQuery {
        CallQuery {
            service: None,
            start_ns: 0,
            end_ns: 3 * MINUTE,
            step_ns: MINUTE,
            buckets: 3,
        }
    }

    /// The same buckets with an end that is not a whole minute: answered from the spans.
    fn from_spans() -> CallQuery {
        CallQuery {
            end_ns: 3 * MINUTE - 1,
            ..minutes()
        }
    }

    /// After the correlation step: operation and dependency calls of [`minutes`] as stored,
    /// each asserted equal to the same read from the spans.
    async fn stored(store: &Store) -> (CallRollups, CallRollups) {
        assert!(
            store
                .derive(Duration::from_secs(10))
                .await
                .expect("derives")
        );
        let reader = store.reader(Scope::default());
        let operations = reader.operations(&minutes()).await.expect("reads");
        let dependencies = reader.dependencies(&minutes()).await.expect("reads");
        let spans = (
            reader.operations(&from_spans()).await.expect("reads"),
            reader.dependencies(&from_spans()).await.expect("reads"),
        );
        assert_eq!((&operations, &dependencies), (&spans.0, &spans.1));
        (operations, dependencies)
    }

    /// `(bucket, first, second, calls, errors)` of every cell.
    fn cells(r: &CallRollups) -> Vec<(usize, String, String, u64, u64)> {
        r.cells()
            .map(|(i, (a, b), c)| (i, a.to_owned(), b.to_owned(), c.count, c.errors))
            .collect()
    }

    fn cell(
        i: usize,
        a: &str,
        b: &str,
        calls: u64,
        errors: u64,
    ) -> (usize, String, String, u64, u64) {
        (i, a.to_owned(), b.to_owned(), calls, errors)
    }

    #[tokio::test]
    async fn stored_minutes_add_up_to_the_spans_and_follow_a_late_parent() {
        let (_dir, store, _) = temp_store(100).await;
        let (send_1, backend_1) = message(1, 10 * S, 4, false);
        let (send_2, backend_2) = message(2, 70 * S, 8, true);
        let (_, backend_3) = message(3, 75 * S, 6, false);
        store_spans(
            &store,
            [backend_1, backend_2, backend_3, vec![send_2]].concat(),
        )
        .await;
        let (operations, dependencies) = stored(&store).await;
        assert_eq!(
            cells(&operations),
            [
                cell(0, "api", "ws.receive chat", 1, 0),
                cell(0, "tools", "GET /tools", 1, 0),
                cell(1, "api", "ws.receive chat", 2, 1),
                cell(1, "tools", "GET /tools", 2, 0),
            ],
            "SERVER and CONSUMER spans only, by start"
        );
        assert_eq!(
            cells(&dependencies),
            [
                cell(0, "api", "tools", 1, 0),
                cell(1, "api", "tools", 2, 0),
                cell(1, "web", "api", 1, 1),
            ]
        );
        let p = dependencies
            .cells()
            .last()
            .expect("web to api")
            .2
            .percentiles();
        assert!(
            (p.expect("a call").p50 - 8 * MS).abs() * 100 <= 8 * MS,
            "{p:?}"
        );

        // The page's send of the first message arrives after its minute was rolled up: the
        // backend's span there becomes a call from the browser.
        store_spans(&store, vec![send_1]).await;
        let (_, dependencies) = stored(&store).await;
        assert_eq!(
            cells(&dependencies),
            [
                cell(0, "api", "tools", 1, 0),
                cell(0, "web", "api", 1, 0),
                cell(1, "api", "tools", 2, 0),
                cell(1, "web", "api", 1, 1),
            ]
        );
        let reader = store.reader(Scope::default());
        let only_api = reader
            .operations(&CallQuery {
                service: Some("api".into()),
                ..minutes()
            })
            .await
            .expect("reads");
        assert_eq!(only_api.cells().count(), 2);
        assert!(reader.has_service("tools").await.expect("reads"));
        assert!(!reader.has_service("nobody").await.expect("reads"));
        let services = reader.services().await.expect("reads");
        let browsers: Vec<_> = services
            .iter()
            .map(|s| (s.name.as_str(), s.browser))
            .collect();
        assert_eq!(browsers, [("api", false), ("tools", false), ("web", true)]);
    }

    #[tokio::test]
    async fn search_by_parent_service_finds_the_traces_of_a_dependency() {
        let (_dir, store, _) = temp_store(100).await;
        let (send_1, backend_1) = message(1, 10 * S, 4, false);
        let (_, backend_2) = message(2, 20 * S, 4, false);
        store_spans(&store, [backend_1, backend_2, vec![send_1]].concat()).await;
        let search = |service: &str, parent: &str| {
            let q = TraceQuery {
                service: Some(service.into()),
                parent_service: Some(parent.into()),
                limit: 10,
                ..TraceQuery::default()
            };
            let reader = store.reader(Scope::default());
            async move {
                let found = reader.search(&q).await.expect("searches");
                found.into_iter().map(|t| t.trace_id).collect::<Vec<_>>()
            }
        };
        let one = hex::encode([1u8; 16]);
        let two = hex::encode([2u8; 16]);
        assert_eq!(search("api", "web").await, std::slice::from_ref(&one));
        assert_eq!(search("tools", "api").await, [two, one]);
        assert!(search("api", "tools").await.is_empty());
    }

    #[tokio::test]
    async fn retention_drops_expired_minutes_and_rolls_up_the_cut_one_again() {
        let (_dir, store, engine) = pruned_store().await;
        let mut spans = Vec::new();
        for (trace, at) in [(1, 10 * S), (2, 70 * S), (3, 100 * S), (4, 150 * S)] {
            let (send, backend) = message(trace, at, 4, false);
            spans.push(send);
            spans.extend(backend);
        }
        store_spans(&store, spans).await;
        let calls = |r: &CallRollups| {
            let mut per_bucket = vec![0; r.buckets()];
            for (i, _, c) in r.cells() {
                per_bucket[i] += c.count;
            }
            per_bucket
        };
        let (operations, dependencies) = stored(&store).await;
        assert_eq!(
            (calls(&operations), calls(&dependencies)),
            (vec![2, 4, 2], vec![2, 4, 2])
        );
        engine.tasks.prune(90 * S, 100).await.expect("prunes");
        let (operations, dependencies) = stored(&store).await;
        assert_eq!(
            (calls(&operations), calls(&dependencies)),
            (vec![0, 2, 2], vec![0, 2, 2])
        );
    }

    #[tokio::test]
    async fn spans_stored_before_span_metrics_existed_are_rolled_up_after_upgrading() {
        let (send, backend) = message(1, 10 * S, 4, false);
        let (_dir, store) = reopened_after([backend, vec![send]].concat(), "").await;
        let (operations, dependencies) = stored(&store).await;
        assert_eq!(operations.cells().count(), 2);
        assert_eq!(dependencies.cells().count(), 2);
    }
}
