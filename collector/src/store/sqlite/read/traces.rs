//! Reads of spans: whole traces by id, trace search, services, and a browser session's spans.
//! Filters pick from fixed SQL fragments; every user value is bound as a parameter.

use std::collections::HashSet;

use rusqlite::{Connection, OptionalExtension, ToSql};
use tracewire_semconv::resource::{BROWSER_SDK_LANGUAGE, TELEMETRY_SDK_LANGUAGE};

use super::super::encode::{SPAN_COLUMNS, select_spans};
use super::super::error::SqliteError;
use crate::model::{ServiceSummary, SpanRecord, TraceQuery, TraceSummary};

/// Trace ids bound per statement (SQLite allows 32,766 parameters; stay far below).
const IDS_PER_STATEMENT: usize = 500;

pub(in super::super) fn trace(
    conn: &Connection,
    tenant: &str,
    trace_id: &str,
) -> Result<Vec<SpanRecord>, SqliteError> {
    select_spans(
        conn,
        &format!(
            // Named: to skip the sort, the planner may walk the tenant's spans by time instead.
            "SELECT {SPAN_COLUMNS} FROM spans INDEXED BY spans_by_trace \
             WHERE tenant = ? AND trace_id = ? ORDER BY start_ns, span_id"
        ),
        &[&tenant, &trace_id],
    )
}

pub(in super::super) fn search(
    conn: &Connection,
    tenant: &str,
    q: &TraceQuery,
) -> Result<Vec<TraceSummary>, SqliteError> {
    let mut filters = String::new();
    let mut values: Vec<&dyn ToSql> = vec![&tenant];
    // Each optional filter appends a fixed clause; the placeholder numbers follow `values`.
    if let Some(service) = &q.service {
        filters.push_str(" AND service_name = ?");
        values.push(service);
    }
    if let Some(name) = &q.name {
        filters.push_str(" AND name = ?");
        values.push(name);
    }
    if let Some(parent) = &q.parent_service {
        filters.push_str(
            " AND parent_span_id != '' AND EXISTS (SELECT 1 FROM spans AS p \
             INDEXED BY spans_by_trace WHERE p.tenant = spans.tenant \
             AND p.trace_id = spans.trace_id AND p.span_id = spans.parent_span_id \
             AND p.service_name = ?)",
        );
        values.push(parent);
    }
    if let Some(min) = &q.min_duration_ns {
        filters.push_str(" AND duration_ns >= ?");
        values.push(min);
    }
    if let Some(max) = &q.max_duration_ns {
        filters.push_str(" AND duration_ns <= ?");
        values.push(max);
    }
    if q.errors_only {
        filters.push_str(" AND status_code = 'Error'");
    }
    if let Some(start) = &q.start_ns {
        filters.push_str(" AND start_ns >= ?");
        values.push(start);
    }
    if let Some(end) = &q.end_ns {
        filters.push_str(" AND start_ns < ?");
        values.push(end);
    }
    // JSON paths of the attribute keys, each bound as a value like the key's expected value.
    let paths: Vec<String> = q
        .attributes
        .iter()
        .map(|(key, _)| format!("$.\"{key}\""))
        .collect();
    for (path, (_, value)) in paths.iter().zip(&q.attributes) {
        filters.push_str(" AND (json_extract(span_attributes, ?) = ? OR json_extract(resource_attributes, ?) = ?)");
        values.extend([path as &dyn ToSql, value, path, value]);
    }
    // The newest traces first: walk matching spans from the newest (through the time index)
    // and stop at `limit` distinct traces, instead of grouping every matching span.
    let mut trace_ids: Vec<String> = Vec::with_capacity(q.limit);
    {
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT trace_id FROM spans WHERE tenant = ?{filters} ORDER BY start_ns DESC, trace_id DESC"
        ))?;
        let mut rows = stmt.query(values.as_slice())?;
        let mut seen = HashSet::new();
        while trace_ids.len() < q.limit {
            let Some(row) = rows.next()? else { break };
            let id: String = row.get(0)?;
            if seen.insert(id.clone()) {
                trace_ids.push(id);
            }
        }
    }
    if trace_ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders = vec!["?"; trace_ids.len()].join(", ");
    let sql = format!(
        "SELECT s.trace_id, min(s.start_ns), max(s.start_ns + s.duration_ns), count(*),
                max(s.status_code = 'Error'),
                (SELECT r.service_name FROM spans r WHERE r.tenant = s.tenant AND r.trace_id = s.trace_id
                 ORDER BY r.parent_span_id != '', r.start_ns LIMIT 1),
                (SELECT r.name FROM spans r WHERE r.tenant = s.tenant AND r.trace_id = s.trace_id
                 ORDER BY r.parent_span_id != '', r.start_ns LIMIT 1)
         FROM spans s
         WHERE s.tenant = ? AND s.trace_id IN ({placeholders})
         GROUP BY s.trace_id
         ORDER BY min(s.start_ns) DESC, s.trace_id"
    );
    let mut values: Vec<&dyn ToSql> = vec![&tenant];
    values.extend(trace_ids.iter().map(|id| id as &dyn ToSql));
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(values.as_slice(), |row| {
        let start: i64 = row.get(1)?;
        let end: i64 = row.get(2)?;
        Ok(TraceSummary {
            trace_id: row.get(0)?,
            start_ns: start,
            duration_ns: end - start,
            span_count: row.get::<_, i64>(3)?.unsigned_abs(),
            has_error: row.get(4)?,
            root_service: row.get(5)?,
            root_name: row.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(in super::super) fn services(
    conn: &Connection,
    tenant: &str,
) -> Result<Vec<ServiceSummary>, SqliteError> {
    let mut stmt = conn.prepare_cached(
        "SELECT service_name, count(*), max(start_ns) FROM spans WHERE tenant = ?1
         GROUP BY service_name ORDER BY service_name",
    )?;
    let rows = stmt.query_map([tenant], |row| {
        Ok(ServiceSummary {
            name: row.get(0)?,
            span_count: row.get::<_, i64>(1)?.unsigned_abs(),
            last_seen_ns: row.get(2)?,
            browser: false,
        })
    })?;
    let mut services: Vec<ServiceSummary> = rows.collect::<Result<_, _>>()?;
    // The source of each service from its newest span's resource: one lookup per service.
    let mut newest = conn.prepare_cached(&format!(
        "SELECT json_extract(resource_attributes, '$.\"{TELEMETRY_SDK_LANGUAGE}\"') \
         FROM spans INDEXED BY spans_by_service_time WHERE tenant = ?1 AND service_name = ?2 \
         ORDER BY start_ns DESC LIMIT 1"
    ))?;
    for service in &mut services {
        let language: Option<String> = newest
            .query_row([tenant, service.name.as_str()], |row| row.get(0))
            .optional()?
            .flatten();
        service.browser = language.as_deref() == Some(BROWSER_SDK_LANGUAGE);
    }
    Ok(services)
}

pub(in super::super) fn spans_of_traces(
    conn: &Connection,
    tenant: &str,
    trace_ids: &[String],
) -> Result<Vec<SpanRecord>, SqliteError> {
    let mut out = Vec::new();
    for chunk in trace_ids.chunks(IDS_PER_STATEMENT) {
        let placeholders = vec!["?"; chunk.len()].join(", ");
        let sql = format!(
            "SELECT {SPAN_COLUMNS} FROM spans WHERE tenant = ? AND trace_id IN ({placeholders})"
        );
        let mut values: Vec<&dyn ToSql> = vec![&tenant];
        values.extend(chunk.iter().map(|id| id as &dyn ToSql));
        out.extend(select_spans(conn, &sql, &values)?);
    }
    Ok(out)
}

pub(in super::super) fn session_spans(
    conn: &Connection,
    tenant: &str,
    session_id: &str,
    limit: usize,
) -> Result<Vec<SpanRecord>, SqliteError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    select_spans(
        conn,
        &format!(
            "SELECT {SPAN_COLUMNS} FROM spans INDEXED BY spans_by_session_id WHERE tenant = ? \
             AND session_id = ? ORDER BY start_ns LIMIT ?"
        ),
        &[&tenant, &session_id, &limit],
    )
}
