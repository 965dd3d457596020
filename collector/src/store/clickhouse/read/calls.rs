//! Span metrics on ClickHouse ([`crate::spanmetrics`]), added up by the engine from
//! `otel_traces`: one query per read, grouped by step and pair of names, so one row per bucket
//! and pair comes back instead of every span. Nothing is stored for it, so any window and step
//! is answered. Durations are binned by [`BINS_SQL`] exactly as [`crate::correlate::Histogram`]
//! bins them in Rust, so the answers equal SQLite's.
//!
//! MergeTree does not deduplicate by key: a span a client sent twice (a retry after a lost
//! 200) is counted twice here, once by SQLite, as the services read counts it.

use clickhouse::{Client, Row};
use serde::Deserialize;

use super::super::error::ClickHouseError;
use super::rollups::{BINS_SQL, bounds, histogram};
use crate::model::CallQuery;
use crate::spanmetrics::{CallRollups, Calls};

/// The filter of [`operations_sql`] by service.
pub(super) const SERVICE_FILTER: &str = " AND ServiceName = {service:String}";

/// The window of `otel_traces` by span start.
const WINDOW: &str = "Timestamp >= fromUnixTimestamp64Nano({start_ns:Int64}) \
    AND Timestamp < fromUnixTimestamp64Nano({end_ns:Int64})";

/// SERVER and CONSUMER spans of a window per bucket, service and operation, of one service
/// when `filters` is [`SERVICE_FILTER`].
pub(super) fn operations_sql(filters: &str) -> String {
    format!(
        "WITH {{bounds:Array(UInt64)}} AS bounds \
         SELECT bucket, toString(ServiceName) AS first, toString(SpanName) AS second, \
             count() AS calls, countIf(error) AS errors, \
             sumMap([bins[1]], [toUInt64(1)]) AS durations \
         FROM ( \
             SELECT intDiv(toUnixTimestamp64Nano(Timestamp) - {{start_ns:Int64}}, \
                     {{step_ns:Int64}}) AS bucket, \
                 ServiceName, SpanName, StatusCode = 'Error' AS error, \
                 [toInt64(Duration)] AS durations, {BINS_SQL} \
             FROM otel_traces \
             WHERE Tenant = {{tenant:String}} AND SpanKind IN ('Server', 'Consumer') \
             AND {WINDOW}{filters}) \
         GROUP BY bucket, ServiceName, SpanName"
    )
}

/// Dependency calls of a window per bucket, caller and callee: each span of the window with a
/// parent joined with that parent (`ANY LEFT`: one, even if it was stored twice, for every span;
/// `ANY INNER` would keep one span per parent, dropping the siblings). Parents are looked
/// for among the spans of the window's traces (`traces`), within the time those traces span
/// (`otel_traces_trace_id_ts`, whose `End` is truncated to the second), so that days of other
/// traces are skipped; `GLOBAL` lets the same SQL run on `Distributed` tables. The bounds are
/// `DateTime64(9)`: compared with a `DateTime`, ClickHouse (26.9) prunes by the sort key's
/// `toDateTime(Timestamp)` wrongly and drops the rows of the bound's last second.
pub(super) fn dependencies_sql() -> String {
    format!(
        "WITH {{bounds:Array(UInt64)}} AS bounds, \
             traces AS (SELECT TraceId FROM otel_traces \
                 WHERE Tenant = {{tenant:String}} AND ParentSpanId != '' AND {WINDOW}) \
         SELECT bucket, toString(p.ServiceName) AS first, toString(c.ServiceName) AS second, \
             count() AS calls, countIf(c.error) AS errors, \
             sumMap([bins[1]], [toUInt64(1)]) AS durations \
         FROM ( \
             SELECT TraceId, ParentSpanId, ServiceName, \
                 intDiv(toUnixTimestamp64Nano(Timestamp) - {{start_ns:Int64}}, \
                     {{step_ns:Int64}}) AS bucket, \
                 StatusCode = 'Error' AS error, \
                 [toInt64(Duration)] AS durations, {BINS_SQL} \
             FROM otel_traces \
             WHERE Tenant = {{tenant:String}} AND ParentSpanId != '' AND {WINDOW}) AS c \
         GLOBAL ANY LEFT JOIN ( \
             SELECT TraceId, SpanId, ServiceName FROM otel_traces \
             WHERE Tenant = {{tenant:String}} AND TraceId GLOBAL IN traces \
             AND Timestamp >= (SELECT toDateTime64(min(Start), 9) \
                 FROM otel_traces_trace_id_ts WHERE TraceId GLOBAL IN traces) \
             AND Timestamp < (SELECT toDateTime64(max(End), 9) + INTERVAL 1 SECOND \
                 FROM otel_traces_trace_id_ts WHERE TraceId GLOBAL IN traces) \
         ) AS p ON c.TraceId = p.TraceId AND c.ParentSpanId = p.SpanId \
         WHERE p.SpanId != '' AND p.ServiceName != c.ServiceName \
         GROUP BY bucket, first, second"
    )
}

/// Whether a service has any span.
pub(super) const HAS_SERVICE_SQL: &str = "SELECT count() FROM (SELECT 1 FROM otel_traces \
    WHERE Tenant = {tenant:String} AND ServiceName = {service:String} LIMIT 1)";

/// One (bucket, pair) of [`operations_sql`] or [`dependencies_sql`].
#[derive(Row, Deserialize)]
struct CallsRow {
    bucket: i64,
    first: String,
    second: String,
    calls: u64,
    errors: u64,
    durations: (Vec<i32>, Vec<u64>),
}

/// Runs `sql` for `q`'s window (`service` bound when given) and adds its rows up per step.
async fn added_up(
    client: &Client,
    tenant: &str,
    q: &CallQuery,
    sql: &str,
) -> Result<CallRollups, ClickHouseError> {
    let mut out = CallRollups::new(q.start_ns, q.step_ns, q.buckets);
    // Spans after the last bucket are left out by the query, not after it.
    let mut query = client
        .query(sql)
        .param("tenant", tenant)
        .param("start_ns", q.start_ns)
        .param("end_ns", q.end_ns.min(out.end_ns()))
        .param("step_ns", out.step_ns())
        .param("bounds", bounds());
    if let Some(service) = &q.service {
        query = query.param("service", service);
    }
    for row in query.fetch_all::<CallsRow>().await? {
        let calls = Calls {
            count: row.calls,
            errors: row.errors,
            durations: histogram(row.durations),
        };
        let start_ns = q.start_ns + row.bucket * out.step_ns();
        out.add(start_ns, &row.first, &row.second, &calls);
    }
    Ok(out)
}

/// SERVER and CONSUMER spans of `q`'s window added up per step, service and operation.
pub(in super::super) async fn operations(
    client: &Client,
    tenant: &str,
    q: &CallQuery,
) -> Result<CallRollups, ClickHouseError> {
    let filter = q.service.as_ref().map_or("", |_| SERVICE_FILTER);
    added_up(client, tenant, q, &operations_sql(filter)).await
}

/// Dependency calls of `q`'s window added up per step, caller and callee.
pub(in super::super) async fn dependencies(
    client: &Client,
    tenant: &str,
    q: &CallQuery,
) -> Result<CallRollups, ClickHouseError> {
    let q = CallQuery {
        service: None,
        ..q.clone()
    };
    added_up(client, tenant, &q, &dependencies_sql()).await
}

/// Whether any span of `service` is stored.
pub(in super::super) async fn has_service(
    client: &Client,
    tenant: &str,
    service: &str,
) -> Result<bool, ClickHouseError> {
    let found: u64 = client
        .query(HAS_SERVICE_SQL)
        .param("tenant", tenant)
        .param("service", service)
        .fetch_one()
        .await?;
    Ok(found > 0)
}
