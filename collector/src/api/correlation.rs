//! WebSocket correlation endpoints: round trips, latency percentiles over time, message types,
//! a browser session's time line, and hot HTTP endpoints. They read the round trips and session
//! clock offsets that the store's correlation step derives from stored spans (see
//! `docs/semantic-conventions.md`), and stored logs, so any collector instance answers the same.
//! Each first lets the correlation step catch up, so a batch acknowledged before the request
//! is in the answer.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tracewire_semconv::{attribute, event, span as operation};

use super::params::{duration_ns, limit, timestamp};
use super::scope::ReadScope;
use super::{Api, ApiError};
use crate::correlate::{Percentiles, Rollups};
use crate::model::{
    Attributes, EventQuery, LogRecord, RollupQuery, RoundTrip, RoundTripQuery, SpanKind,
    SpanRecord, StatusCode,
};
use crate::store::{Reader, Store};

/// The window used when `start` is not given: the last hour.
const DEFAULT_WINDOW_NS: i64 = 3_600 * 1_000_000_000;
/// Round trips listed when `limit` is not given, and the most accepted.
const DEFAULT_ROUNDTRIPS: usize = 100;
const MAX_ROUNDTRIPS: usize = 1_000;
/// Round trips aggregated by the latency, rate and message-type endpoints at most (the newest).
const MAX_AGGREGATED: usize = 1_000_000;
/// The longest a request waits for the correlation step to catch up.
const CATCH_UP: std::time::Duration = std::time::Duration::from_secs(2);
/// Most buckets in a latency series.
const MAX_BUCKETS: i64 = 1_000;
/// Buckets in a latency series when `step` is not given.
const DEFAULT_BUCKETS: i64 = 60;
/// Spans and logs in a session time line at most.
const SESSION_EVENTS: usize = 5_000;
/// `window` of the hot-endpoint report when not given, and the longest accepted.
const DEFAULT_HOT_WINDOW_NS: i64 = 5 * 60 * 1_000_000_000;
const MAX_HOT_WINDOW_NS: i64 = 24 * 3_600 * 1_000_000_000;
/// Rows per list in the hot-endpoint report.
const HOT_ROWS: usize = 50;
/// The SDK's periodic request-rate record (`docs/semantic-conventions.md`).
const REQUEST_RATE_EVENT: &str = event::HTTP_CLIENT_REQUEST_RATE;
/// Records read for one hot-endpoint report at most.
const MAX_RATE_RECORDS: usize = 100_000;

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// `start` and `end` parameters, defaulting to the last hour.
fn window(start: Option<&str>, end: Option<&str>) -> Result<(i64, i64), ApiError> {
    let end = end
        .map(|v| timestamp("end", v))
        .transpose()?
        .unwrap_or_else(now_ns);
    let start = start
        .map(|v| timestamp("start", v))
        .transpose()?
        .unwrap_or(end.saturating_sub(DEFAULT_WINDOW_NS));
    if start >= end {
        return Err(ApiError::bad_request(
            "invalid_time",
            "start must be before end",
        ));
    }
    Ok((start, end))
}

fn query_params<T>(params: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    params
        .map(|Query(p)| p)
        .map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))
}

/// Lets the store's correlation step catch up with what was stored before this request, for at
/// most [`CATCH_UP`]; after that, or when the step fails (it is logged), the answer holds what
/// the step has derived so far rather than failing.
pub(super) async fn caught_up(store: &Store) {
    match store.derive(CATCH_UP).await {
        Ok(true) => {}
        Ok(false) => tracing::debug!("correlation step behind; answering with what it derived"),
        Err(e) => {
            tracing::warn!(error = %e, "correlation step failed; answering with what it derived")
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RoundTripParams {
    session_id: Option<String>,
    service: Option<String>,
    message_type: Option<String>,
    start: Option<String>,
    end: Option<String>,
    limit: Option<String>,
}

#[derive(Serialize)]
struct RoundTripView<'a> {
    tenant: &'a str,
    trace_id: &'a str,
    send_span_id: &'a str,
    server_span_id: &'a str,
    receive_span_id: Option<&'a str>,
    session_id: Option<&'a str>,
    user_id: Option<&'a str>,
    url: Option<&'a str>,
    message_type: Option<&'a str>,
    service: &'a str,
    server_service: &'a str,
    client_send_time_unix_nano: String,
    server_receive_time_unix_nano: String,
    server_done_time_unix_nano: String,
    client_receive_time_unix_nano: Option<String>,
    total_ns: Option<i64>,
    uplink_ns: i64,
    server_ns: i64,
    downlink_ns: Option<i64>,
    client_processing_ns: Option<i64>,
    clock_offset_ns: i64,
    error: bool,
}

fn round_trip_view(r: &RoundTrip, offset_ns: i64) -> RoundTripView<'_> {
    let t = r.times.timings(offset_ns);
    RoundTripView {
        tenant: &r.tenant,
        trace_id: &r.trace_id,
        send_span_id: &r.send_span_id,
        server_span_id: &r.server_span_id,
        receive_span_id: r.receive_span_id.as_deref(),
        session_id: r.session_id.as_deref(),
        user_id: r.user_id.as_deref(),
        url: r.url.as_deref(),
        message_type: r.message_type.as_deref(),
        service: &r.service,
        server_service: &r.server_service,
        client_send_time_unix_nano: r.times.client_send_ns.to_string(),
        server_receive_time_unix_nano: r.times.server_receive_ns.to_string(),
        server_done_time_unix_nano: r.times.server_done_ns.to_string(),
        client_receive_time_unix_nano: r.times.client_receive_ns.map(|t| t.to_string()),
        total_ns: t.total_ns,
        uplink_ns: t.uplink_ns,
        server_ns: t.server_ns,
        downlink_ns: t.downlink_ns,
        client_processing_ns: t.client_processing_ns,
        clock_offset_ns: offset_ns,
        error: r.error,
    }
}

/// `GET /api/ws/roundtrips`: one record per browser message a backend continued, newest first.
pub(super) async fn roundtrips(
    State(api): State<Api>,
    ReadScope(scope): ReadScope,
    params: Result<Query<RoundTripParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let p = query_params(params)?;
    let (start_ns, end_ns) = window(p.start.as_deref(), p.end.as_deref())?;
    let query = RoundTripQuery {
        session_id: p.session_id,
        service: p.service,
        message_type: p.message_type,
        start_ns,
        end_ns,
        limit: limit(p.limit.as_deref(), DEFAULT_ROUNDTRIPS, MAX_ROUNDTRIPS)?,
    };
    caught_up(&api.store).await;
    let list = api.store.reader(scope).round_trips(&query).await?;
    let views: Vec<_> = list
        .iter()
        .map(|(r, offset)| round_trip_view(r, *offset))
        .collect();
    Ok(Json(json!({ "roundtrips": views })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LatencyParams {
    start: Option<String>,
    end: Option<String>,
    step: Option<String>,
    message_type: Option<String>,
}

#[derive(Serialize)]
struct Bucket {
    time_unix_nano: String,
    count: u64,
    total: Option<Percentiles>,
    uplink: Option<Percentiles>,
    server: Option<Percentiles>,
    downlink: Option<Percentiles>,
}

/// The round trips of a window (of one message type when given) added up per step: from the
/// store's rollups when it keeps them for this window, else from the newest round trips (at
/// most [`MAX_AGGREGATED`]), read once for concurrent requests of the same window. Both give
/// the same answer for the same round trips.
async fn added_up(api: &Api, reader: &Reader<'_>, query: RollupQuery) -> Result<Rollups, ApiError> {
    if reader.keeps_rollups_for(&query) {
        caught_up(&api.store).await;
        if let Some(rollups) = reader.rollups(&query).await? {
            return Ok(rollups);
        }
    }
    let points = api
        .reads
        .points(
            &api.store,
            reader,
            RoundTripQuery {
                message_type: query.message_type,
                start_ns: query.start_ns,
                end_ns: query.end_ns,
                limit: MAX_AGGREGATED,
                ..RoundTripQuery::default()
            },
        )
        .await?;
    Ok(Rollups::of_points(
        query.start_ns,
        query.step_ns,
        query.buckets,
        points.iter(),
    ))
}

/// `GET /api/ws/latency`: p50, p95 and p99 of total, uplink, server and downlink per step.
pub(super) async fn latency(
    State(api): State<Api>,
    ReadScope(scope): ReadScope,
    params: Result<Query<LatencyParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let p = query_params(params)?;
    let (start_ns, end_ns) = window(p.start.as_deref(), p.end.as_deref())?;
    let (step_ns, buckets) = steps(start_ns, end_ns, p.step.as_deref())?;
    let rollups = added_up(
        &api,
        &api.store.reader(scope),
        RollupQuery {
            message_type: p.message_type,
            start_ns,
            end_ns,
            step_ns,
            buckets,
        },
    )
    .await?;
    let series: Vec<Bucket> = rollups
        .per_bucket()
        .iter()
        .enumerate()
        .map(|(i, r)| Bucket {
            time_unix_nano: (start_ns + i as i64 * step_ns).to_string(),
            count: r.count,
            total: r.total.percentiles(),
            uplink: r.uplink.percentiles(),
            server: r.server.percentiles(),
            downlink: r.downlink.percentiles(),
        })
        .collect();
    Ok(Json(json!({ "step_ns": step_ns, "series": series })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MessageTypeParams {
    start: Option<String>,
    end: Option<String>,
}

#[derive(Serialize)]
struct MessageTypeView {
    message_type: String,
    count: u64,
    errors: u64,
    rate_per_s: f64,
    p50_total_ns: Option<i64>,
    p95_total_ns: Option<i64>,
    example_trace_id: String,
    slowest_trace_id: Option<String>,
}

/// `GET /api/ws/message-types`: count, error count, rate and latency per message type, slowest
/// first.
pub(super) async fn message_types(
    State(api): State<Api>,
    ReadScope(scope): ReadScope,
    params: Result<Query<MessageTypeParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let p = query_params(params)?;
    let (start_ns, end_ns) = window(p.start.as_deref(), p.end.as_deref())?;
    // One step over the whole window.
    let rollups = added_up(
        &api,
        &api.store.reader(scope),
        RollupQuery {
            message_type: None,
            start_ns,
            end_ns,
            step_ns: end_ns - start_ns,
            buckets: 1,
        },
    )
    .await?;
    let seconds = (end_ns - start_ns) as f64 / 1e9;
    let mut views: Vec<MessageTypeView> = rollups
        .per_type()
        .into_iter()
        .map(|(message_type, r)| {
            let pct = r.total.percentiles();
            MessageTypeView {
                count: r.count,
                errors: r.errors,
                rate_per_s: r.count as f64 / seconds,
                p50_total_ns: pct.map(|p| p.p50),
                p95_total_ns: pct.map(|p| p.p95),
                example_trace_id: r.newest.map(|(_, id)| id).unwrap_or_default(),
                slowest_trace_id: r.slowest.map(|(_, id)| id),
                message_type: message_type.to_owned(),
            }
        })
        .collect();
    views.sort_by(|a, b| {
        b.p95_total_ns
            .cmp(&a.p95_total_ns)
            .then_with(|| a.message_type.cmp(&b.message_type))
    });
    Ok(Json(json!({ "types": views })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RateParams {
    start: Option<String>,
    end: Option<String>,
    step: Option<String>,
}

/// Message types listed by name in a rate series; the rest are summed as [`OTHER_TYPES`].
const RATE_TYPES: usize = 10;
/// The series that sums the message types beyond the busiest [`RATE_TYPES`].
const OTHER_TYPES: &str = "(other)";

#[derive(Serialize)]
struct RateSeries {
    message_type: String,
    count: Vec<u64>,
    errors: Vec<u64>,
}

/// The step of a series over `start_ns..end_ns` and its number of buckets: `step` when given,
/// else about [`DEFAULT_BUCKETS`] buckets of at least a second; at most [`MAX_BUCKETS`].
fn steps(start_ns: i64, end_ns: i64, step: Option<&str>) -> Result<(i64, usize), ApiError> {
    let span = end_ns - start_ns;
    let step = match step {
        Some(v) => duration_ns("step", v)?,
        None => (span / DEFAULT_BUCKETS).max(1_000_000_000),
    };
    let buckets = (span + step - 1) / step;
    if buckets > MAX_BUCKETS {
        return Err(ApiError::bad_request(
            "invalid_step",
            format!("step is too small for the window: {buckets} buckets, at most {MAX_BUCKETS}"),
        ));
    }
    Ok((step, usize::try_from(buckets).unwrap_or(0)))
}

/// `GET /api/ws/rates`: messages and failed messages per step and message type, the busiest
/// [`RATE_TYPES`] types by name and the rest summed.
pub(super) async fn rates(
    State(api): State<Api>,
    ReadScope(scope): ReadScope,
    params: Result<Query<RateParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let p = query_params(params)?;
    let (start_ns, end_ns) = window(p.start.as_deref(), p.end.as_deref())?;
    let (step, buckets) = steps(start_ns, end_ns, p.step.as_deref())?;
    let rollups = added_up(
        &api,
        &api.store.reader(scope),
        RollupQuery {
            message_type: None,
            start_ns,
            end_ns,
            step_ns: step,
            buckets,
        },
    )
    .await?;
    let mut by_type: BTreeMap<&str, RateSeries> = BTreeMap::new();
    for (index, kind, r) in rollups.cells() {
        let series = by_type.entry(kind).or_insert_with(|| RateSeries {
            message_type: kind.to_owned(),
            count: vec![0; buckets],
            errors: vec![0; buckets],
        });
        series.count[index] += r.count;
        series.errors[index] += r.errors;
    }
    let mut types: Vec<RateSeries> = by_type.into_values().collect();
    types.sort_by_key(|t| std::cmp::Reverse(t.count.iter().sum::<u64>()));
    if types.len() > RATE_TYPES {
        let mut other = RateSeries {
            message_type: OTHER_TYPES.to_owned(),
            count: vec![0; buckets],
            errors: vec![0; buckets],
        };
        for t in types.drain(RATE_TYPES..) {
            for (i, (c, e)) in t.count.iter().zip(&t.errors).enumerate() {
                other.count[i] += c;
                other.errors[i] += e;
            }
        }
        types.push(other);
    }
    Ok(Json(json!({
        "step_ns": step,
        "start_time_unix_nano": start_ns.to_string(),
        "types": types,
    }))
    .into_response())
}

#[derive(Serialize)]
struct SessionEvent<'a> {
    time_unix_nano: String,
    kind: &'static str,
    name: &'a str,
    trace_id: &'a str,
    span_id: &'a str,
    duration_ns: i64,
    status_code: &'static str,
    attributes: &'a Attributes,
}

fn span_event(span: &SpanRecord) -> SessionEvent<'_> {
    let kind = if span.name.starts_with(operation::WS_CONNECT)
        || span.name.starts_with(operation::WS_CLOSE)
    {
        "connection"
    } else if span.name.starts_with(operation::WS_PREFIX) {
        "message"
    } else if span.kind == SpanKind::Client {
        "request"
    } else {
        "span"
    };
    SessionEvent {
        time_unix_nano: span.start_ns.to_string(),
        kind,
        name: &span.name,
        trace_id: &span.trace_id,
        span_id: &span.span_id,
        duration_ns: span.duration_ns,
        status_code: span.status_code.as_str(),
        attributes: &span.span_attributes,
    }
}

/// OpenTelemetry severity number of ERROR.
const SEVERITY_ERROR: i32 = 17;

fn log_event(log: &LogRecord) -> SessionEvent<'_> {
    let error = log.severity_number >= SEVERITY_ERROR
        || log.event_name == event::WS_ERROR
        || log.log_attributes.contains_key(attribute::EXCEPTION_TYPE);
    let (kind, name) = if error {
        (
            "error",
            if log.body.is_empty() {
                log.event_name.as_str()
            } else {
                log.body.as_str()
            },
        )
    } else if log.event_name == REQUEST_RATE_EVENT {
        ("request", log.event_name.as_str())
    } else {
        (
            "log",
            if log.event_name.is_empty() {
                log.body.as_str()
            } else {
                log.event_name.as_str()
            },
        )
    };
    SessionEvent {
        time_unix_nano: log.timestamp_ns.to_string(),
        kind,
        name,
        trace_id: &log.trace_id,
        span_id: &log.span_id,
        duration_ns: 0,
        status_code: if error {
            StatusCode::Error.as_str()
        } else {
            StatusCode::Unset.as_str()
        },
        attributes: &log.log_attributes,
    }
}

/// `GET /api/sessions/{session_id}`: the session's messages, requests, errors and connections
/// in time order, with its clock offset.
pub(super) async fn session(
    State(api): State<Api>,
    ReadScope(scope): ReadScope,
    Path(session_id): Path<String>,
) -> Result<Response, ApiError> {
    let reader = api.store.reader(scope);
    let spans = reader.session_spans(&session_id, SESSION_EVENTS).await?;
    let logs = reader.session_logs(&session_id, SESSION_EVENTS).await?;
    if spans.is_empty() && logs.is_empty() {
        return Err(ApiError::NotFound {
            code: "session_not_found",
            message: format!("nothing stored for session {session_id}"),
        });
    }
    caught_up(&api.store).await;
    let offset = reader.session_offset(&session_id).await?;
    let mut events: Vec<SessionEvent<'_>> = spans
        .iter()
        .map(span_event)
        .chain(logs.iter().map(log_event))
        .collect();
    // Ties (a reply and its processing start together) order the same on every store.
    events.sort_by_cached_key(|e| {
        (
            e.time_unix_nano.parse::<i64>().unwrap_or(0),
            e.trace_id.to_owned(),
            e.span_id.to_owned(),
            e.name.to_owned(),
        )
    });
    let user_id = spans
        .iter()
        .rev()
        .find_map(|s| s.span_attributes.get(attribute::USER_ID))
        .or_else(|| {
            logs.iter()
                .rev()
                .find_map(|l| l.log_attributes.get(attribute::USER_ID))
        });
    let start = spans
        .iter()
        .map(|s| s.start_ns)
        .chain(logs.iter().map(|l| l.timestamp_ns))
        .min();
    let end = spans
        .iter()
        .map(|s| s.start_ns + s.duration_ns)
        .chain(logs.iter().map(|l| l.timestamp_ns))
        .max();
    Ok(Json(json!({
        "session_id": session_id,
        "user_id": user_id,
        "clock_offset_ns": offset.map(|e| e.offset_ns),
        "clock_offset_samples": offset.map_or(0, |o| o.samples),
        "start_time_unix_nano": start.unwrap_or(0).to_string(),
        "end_time_unix_nano": end.unwrap_or(0).to_string(),
        "events": events,
    }))
    .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HotParams {
    window: Option<String>,
}

#[derive(Serialize)]
struct HotRoute {
    route: String,
    requests: u64,
    rate_per_s: f64,
    sessions: usize,
}

#[derive(Serialize)]
struct HotSession {
    session_id: String,
    route: String,
    requests: u64,
    rate_per_s: f64,
}

/// `GET /api/endpoints/hot`: request rates per route and per session and route over the last
/// `window`, from the SDK's request-rate records, busiest first.
pub(super) async fn hot_endpoints(
    State(api): State<Api>,
    ReadScope(scope): ReadScope,
    params: Result<Query<HotParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let p = query_params(params)?;
    let window_ns = match p.window.as_deref() {
        Some(v) => duration_ns("window", v)?,
        None => DEFAULT_HOT_WINDOW_NS,
    };
    if window_ns > MAX_HOT_WINDOW_NS {
        return Err(ApiError::bad_request(
            "invalid_duration",
            "window must be 24h or less",
        ));
    }
    let end_ns = now_ns();
    let records = api
        .store
        .reader(scope)
        .events(&EventQuery {
            event_name: REQUEST_RATE_EVENT.to_owned(),
            start_ns: end_ns - window_ns,
            end_ns,
            limit: MAX_RATE_RECORDS,
        })
        .await?;
    let seconds = window_ns as f64 / 1e9;
    let mut routes: BTreeMap<&str, (u64, BTreeSet<&str>)> = BTreeMap::new();
    let mut sessions: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for record in &records {
        let attrs = &record.log_attributes;
        let route = attrs.get(attribute::HTTP_ROUTE).map_or("", String::as_str);
        let count = attrs
            .get(attribute::HTTP_CLIENT_REQUEST_COUNT)
            .and_then(|c| c.parse::<u64>().ok())
            .unwrap_or(1);
        let session = attrs.get(attribute::SESSION_ID).map_or("", String::as_str);
        let entry = routes.entry(route).or_default();
        entry.0 += count;
        entry.1.insert(session);
        *sessions.entry((session, route)).or_default() += count;
    }
    let mut route_rows: Vec<HotRoute> = routes
        .into_iter()
        .map(|(route, (requests, sessions))| HotRoute {
            route: route.to_owned(),
            requests,
            rate_per_s: requests as f64 / seconds,
            sessions: sessions.len(),
        })
        .collect();
    route_rows.sort_by(|a, b| {
        b.requests
            .cmp(&a.requests)
            .then_with(|| a.route.cmp(&b.route))
    });
    route_rows.truncate(HOT_ROWS);
    let mut session_rows: Vec<HotSession> = sessions
        .into_iter()
        .map(|((session, route), requests)| HotSession {
            session_id: session.to_owned(),
            route: route.to_owned(),
            requests,
            rate_per_s: requests as f64 / seconds,
        })
        .collect();
    session_rows.sort_by(|a, b| {
        b.requests
            .cmp(&a.requests)
            .then_with(|| a.session_id.cmp(&b.session_id))
    });
    session_rows.truncate(HOT_ROWS);
    Ok(
        Json(json!({ "window_ns": window_ns, "routes": route_rows, "sessions": session_rows }))
            .into_response(),
    )
}
