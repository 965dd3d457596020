//! Reads of spans on ClickHouse, answering exactly what the SQLite store answers: whole traces
//! by id, trace search, services, and a browser session's spans. Filters pick from
//! fixed SQL fragments; every user value is a server-side query parameter (`{name:Type}` bound
//! with `.param()`), never spliced into SQL.
//!
//! MergeTree does not deduplicate by key, so a span that a client sent twice (a retry after a
//! lost 200) can be stored twice; trace reads keep one row per span id and trace summaries count
//! distinct span ids, as SQLite's unique index does. Searches use `GLOBAL IN` so the same SQL
//! runs on a single server and on `Distributed` tables.

use clickhouse::{Client, Row};
use serde::Deserialize;
use tracewire_semconv::attribute::SESSION_ID;
use tracewire_semconv::resource::{BROWSER_SDK_LANGUAGE, TELEMETRY_SDK_LANGUAGE};

use super::super::encode::{SPAN_COLUMNS, SpanRow};
use super::super::error::ClickHouseError;
use super::records;
use crate::model::{ServiceSummary, SpanRecord, TraceQuery, TraceSummary};

/// Trace by id: the window from `otel_traces_trace_id_ts` (seconds; `End` is the last span's
/// start), then the spans inside it.
pub(super) const TRACE_WINDOW_SQL: &str = "SELECT count() AS found, \
    toInt64(toUnixTimestamp(min(Start))) AS first, toInt64(toUnixTimestamp(max(End))) AS last \
    FROM otel_traces_trace_id_ts WHERE TraceId = {trace_id:String}";

/// The spans of a trace inside its window, one row per span id, by start.
pub(super) fn trace_spans_sql() -> String {
    format!(
        "SELECT {SPAN_COLUMNS} FROM otel_traces \
    WHERE Tenant = {{tenant:String}} AND TraceId = {{trace_id:String}} \
    AND Timestamp >= fromUnixTimestamp64Nano({{from_ns:Int64}}) \
    AND Timestamp < fromUnixTimestamp64Nano({{to_ns:Int64}}) \
    ORDER BY Timestamp, SpanId LIMIT 1 BY SpanId"
    )
}

/// Services with span counts, last-seen times and whether their newest span was recorded by
/// the browser SDK.
pub(super) fn services_sql() -> String {
    format!(
        "SELECT toString(ServiceName) AS name, count() AS spans, \
         max(toUnixTimestamp64Nano(Timestamp)) AS last_seen, \
         toUInt8(argMax(ResourceAttributes['{TELEMETRY_SDK_LANGUAGE}'], Timestamp) \
             = '{BROWSER_SDK_LANGUAGE}') AS browser \
         FROM otel_traces WHERE Tenant = {{tenant:String}} \
         GROUP BY ServiceName ORDER BY name"
    )
}

/// Every optional search filter, in order; each is used only when its value is given.
pub(super) const SEARCH_FILTERS: [&str; 8] = [
    " AND ServiceName = {service:String}",
    " AND SpanName = {name:String}",
    " AND ParentSpanId != '' AND (TraceId, ParentSpanId) GLOBAL IN (SELECT TraceId, SpanId \
     FROM otel_traces WHERE Tenant = {tenant:String} AND ServiceName = {parent_service:String})",
    " AND Duration >= {min_duration_ns:Int64}",
    " AND Duration <= {max_duration_ns:Int64}",
    " AND StatusCode = 'Error'",
    " AND Timestamp >= fromUnixTimestamp64Nano({start_ns:Int64})",
    " AND Timestamp < fromUnixTimestamp64Nano({end_ns:Int64})",
];

/// The search statement with the given filter fragments: the newest traces with a matching
/// span, each summarised over all of its spans.
pub(super) fn search_sql(filters: &str) -> String {
    format!(
        "SELECT TraceId AS trace_id, \
             min(toUnixTimestamp64Nano(Timestamp)) AS start_ns, \
             max(toUnixTimestamp64Nano(Timestamp) + toInt64(Duration)) AS end_ns, \
             uniqExact(SpanId) AS span_count, \
             toUInt8(max(StatusCode = 'Error')) AS has_error, \
             toString(argMin(ServiceName, (ParentSpanId != '', Timestamp))) AS root_service, \
             toString(argMin(SpanName, (ParentSpanId != '', Timestamp))) AS root_name \
         FROM otel_traces \
         WHERE Tenant = {{tenant:String}} AND TraceId GLOBAL IN ( \
             SELECT TraceId FROM otel_traces WHERE Tenant = {{tenant:String}}{filters} \
             GROUP BY TraceId ORDER BY max(Timestamp) DESC, TraceId DESC LIMIT {{limit:UInt64}}) \
         GROUP BY TraceId \
         ORDER BY start_ns DESC, trace_id"
    )
}

#[derive(Row, Deserialize)]
struct WindowRow {
    found: u64,
    first: i64,
    last: i64,
}

#[derive(Row, Deserialize)]
struct SummaryRow {
    trace_id: String,
    start_ns: i64,
    end_ns: i64,
    span_count: u64,
    has_error: u8,
    root_service: String,
    root_name: String,
}

#[derive(Row, Deserialize)]
struct ServiceRow {
    name: String,
    spans: u64,
    last_seen: i64,
    browser: u8,
}

const NANOS: i64 = 1_000_000_000;

pub(in super::super) async fn trace(
    client: &Client,
    tenant: &str,
    trace_id: &str,
) -> Result<Vec<SpanRecord>, ClickHouseError> {
    let window: WindowRow = client
        .query(TRACE_WINDOW_SQL)
        .param("trace_id", trace_id)
        .fetch_one()
        .await?;
    if window.found == 0 {
        return Ok(Vec::new());
    }
    let query = client
        .query(&trace_spans_sql())
        .param("tenant", tenant)
        .param("trace_id", trace_id)
        .param("from_ns", window.first.saturating_mul(NANOS))
        // `End` is truncated to the second: the last span starts before the next one.
        .param("to_ns", window.last.saturating_add(1).saturating_mul(NANOS));
    records::<SpanRow<'_>, _>(query).await
}

pub(in super::super) async fn search(
    client: &Client,
    tenant: &str,
    q: &TraceQuery,
) -> Result<Vec<TraceSummary>, ClickHouseError> {
    let used = [
        q.service.is_some(),
        q.name.is_some(),
        q.parent_service.is_some(),
        q.min_duration_ns.is_some(),
        q.max_duration_ns.is_some(),
        q.errors_only,
        q.start_ns.is_some(),
        q.end_ns.is_some(),
    ];
    let mut filters: String = SEARCH_FILTERS
        .iter()
        .zip(used)
        .filter(|(_, used)| *used)
        .map(|(fragment, _)| *fragment)
        .collect();
    // Attribute filters: keys and values are parameters, numbered in order.
    for i in 0..q.attributes.len() {
        filters.push_str(&format!(
            " AND (SpanAttributes[{{attr_key_{i}:String}}] = {{attr_value_{i}:String}} \
             OR ResourceAttributes[{{attr_key_{i}:String}}] = {{attr_value_{i}:String}})"
        ));
    }
    let mut query = client
        .query(&search_sql(&filters))
        .param("tenant", tenant)
        .param("limit", q.limit as u64);
    if let Some(service) = &q.service {
        query = query.param("service", service);
    }
    if let Some(name) = &q.name {
        query = query.param("name", name);
    }
    if let Some(parent) = &q.parent_service {
        query = query.param("parent_service", parent);
    }
    if let Some(min) = q.min_duration_ns {
        query = query.param("min_duration_ns", min);
    }
    if let Some(max) = q.max_duration_ns {
        query = query.param("max_duration_ns", max);
    }
    if let Some(start) = q.start_ns {
        query = query.param("start_ns", start);
    }
    if let Some(end) = q.end_ns {
        query = query.param("end_ns", end);
    }
    for (i, (key, value)) in q.attributes.iter().enumerate() {
        query = query
            .param(&format!("attr_key_{i}"), key)
            .param(&format!("attr_value_{i}"), value);
    }
    let rows: Vec<SummaryRow> = query.fetch_all().await?;
    Ok(rows
        .into_iter()
        .map(|r| TraceSummary {
            trace_id: r.trace_id,
            root_service: r.root_service,
            root_name: r.root_name,
            start_ns: r.start_ns,
            duration_ns: r.end_ns - r.start_ns,
            span_count: r.span_count,
            has_error: r.has_error != 0,
        })
        .collect())
}

pub(in super::super) async fn services(
    client: &Client,
    tenant: &str,
) -> Result<Vec<ServiceSummary>, ClickHouseError> {
    let rows: Vec<ServiceRow> = client
        .query(&services_sql())
        .param("tenant", tenant)
        .fetch_all()
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| ServiceSummary {
            name: r.name,
            span_count: r.spans,
            last_seen_ns: r.last_seen,
            browser: r.browser != 0,
        })
        .collect())
}

/// Every span of the given traces.
pub(super) fn spans_of_traces_sql() -> String {
    format!(
        "SELECT {SPAN_COLUMNS} FROM otel_traces WHERE Tenant = {{tenant:String}} \
         AND TraceId IN {{trace_ids:Array(String)}} ORDER BY Timestamp LIMIT 1 BY TraceId, SpanId"
    )
}

/// Every stored span of these traces of `tenant`.
pub(in super::super) async fn spans_of_traces(
    client: &Client,
    tenant: &str,
    trace_ids: &[String],
) -> Result<Vec<SpanRecord>, ClickHouseError> {
    if trace_ids.is_empty() {
        return Ok(Vec::new());
    }
    let query = client
        .query(&spans_of_traces_sql())
        .param("tenant", tenant)
        .param("trace_ids", trace_ids);
    records::<SpanRow<'_>, _>(query).await
}

/// A browser session's spans, oldest first.
pub(super) fn session_spans_sql() -> String {
    format!(
        "SELECT {SPAN_COLUMNS} FROM otel_traces WHERE Tenant = {{tenant:String}} \
         AND SpanAttributes['{SESSION_ID}'] = {{session_id:String}} \
         ORDER BY Timestamp LIMIT 1 BY TraceId, SpanId LIMIT {{limit:UInt64}}"
    )
}

pub(in super::super) async fn session_spans(
    client: &Client,
    tenant: &str,
    session_id: &str,
    limit: usize,
) -> Result<Vec<SpanRecord>, ClickHouseError> {
    let query = client
        .query(&session_spans_sql())
        .param("tenant", tenant)
        .param("session_id", session_id)
        .param("limit", limit as u64);
    records::<SpanRow<'_>, _>(query).await
}
