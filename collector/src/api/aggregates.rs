//! Aggregates of the WebSocket messages of a window: latency percentiles per step
//! (`GET /api/ws/latency`), per message type (`GET /api/ws/message-types`) and message rates
//! per step and type (`GET /api/ws/rates`). They add up the store's rollups when it keeps them
//! for the window, else the round trips themselves, read once for concurrent requests, and the
//! messages the browser counted without a span ([`crate::counted`]).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::error::ApiError;
use super::scope::ReadScope;
use super::shared::caught_up;
use super::state::Api;
use super::window::{Stepped, Window, Windowed};
use crate::correlate::{Percentiles, Rollups};
use crate::counted;
use crate::model::{RollupQuery, RoundTripQuery};
use crate::store::{Reader, Scope};

/// Round trips aggregated by the latency, rate and message-type endpoints at most (the newest).
const MAX_AGGREGATED: usize = 1_000_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LatencyParams {
    message_type: Option<String>,
}

#[derive(Serialize)]
struct Bucket {
    time_unix_nano: String,
    count: u64,
    counted: u64,
    total: Option<Percentiles>,
    uplink: Option<Percentiles>,
    server: Option<Percentiles>,
    downlink: Option<Percentiles>,
}

/// The messages of a window (of one message type when given) added up per step: the round
/// trips from the store's rollups when it keeps them for this window, else from the newest
/// round trips (at most [`MAX_AGGREGATED`]), read once for concurrent requests of the same
/// window; both give the same answer for the same round trips. Then the messages the browser
/// counted without a span ([`counted`]), each at its record's time.
async fn added_up(api: &Api, scope: Scope, query: RollupQuery) -> Result<Rollups, ApiError> {
    let reader = api.store.reader(scope);
    let mut rollups = round_trips(api, &reader, &query).await?;
    counted::add_counted(&reader, &query, &mut rollups).await?;
    Ok(rollups)
}

/// The round trips alone, as [`added_up`] adds them up.
async fn round_trips(
    api: &Api,
    reader: &Reader<'_>,
    query: &RollupQuery,
) -> Result<Rollups, ApiError> {
    if reader.keeps_rollups_for(query) {
        caught_up(&api.store).await;
        if let Some(rollups) = reader.rollups(query).await? {
            return Ok(rollups);
        }
    }
    let points = api
        .reads
        .points(
            &api.store,
            reader,
            RoundTripQuery {
                message_type: query.message_type.clone(),
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
    Stepped {
        params: p,
        window,
        step_ns,
        buckets,
    }: Stepped<LatencyParams>,
) -> Result<Response, ApiError> {
    let start_ns = window.start_ns;
    let rollups = added_up(
        &api,
        scope,
        window.rollups(p.message_type, step_ns, buckets),
    )
    .await?;
    let series: Vec<Bucket> = rollups
        .per_bucket()
        .iter()
        .enumerate()
        .map(|(i, r)| Bucket {
            time_unix_nano: (start_ns + i as i64 * step_ns).to_string(),
            count: r.count,
            counted: r.counted,
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
pub(super) struct MessageTypeParams {}

#[derive(Serialize)]
struct MessageTypeView {
    message_type: String,
    count: u64,
    traced: u64,
    counted: u64,
    errors: u64,
    rate_per_s: f64,
    p50_total_ns: Option<i64>,
    p95_total_ns: Option<i64>,
    example_trace_id: String,
    slowest_trace_id: Option<String>,
}

/// `GET /api/ws/message-types`: count (traced and counted), error count, rate and latency per
/// message type, slowest first, and the items the browser SDK dropped in the window.
pub(super) async fn message_types(
    State(api): State<Api>,
    ReadScope(scope): ReadScope,
    Windowed { window, .. }: Windowed<MessageTypeParams>,
) -> Result<Response, ApiError> {
    let Window { start_ns, end_ns } = window;
    let dropped = counted::dropped(&api.store.reader(scope.clone()), start_ns, end_ns).await?;
    // One step over the whole window.
    let rollups = added_up(&api, scope, window.rollups(None, end_ns - start_ns, 1)).await?;
    let seconds = (end_ns - start_ns) as f64 / 1e9;
    let mut views: Vec<MessageTypeView> = rollups
        .per_type()
        .into_iter()
        .map(|(message_type, r)| {
            let pct = r.total.percentiles();
            MessageTypeView {
                count: r.count,
                traced: r.count.saturating_sub(r.counted),
                counted: r.counted,
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
    Ok(Json(json!({ "types": views, "dropped": dropped })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RateParams {}

/// Message types listed by name in a rate series; the rest are summed as [`OTHER_TYPES`].
const RATE_TYPES: usize = 10;
/// The series that sums the message types beyond the busiest [`RATE_TYPES`].
const OTHER_TYPES: &str = "(other)";

#[derive(Serialize)]
struct RateSeries {
    message_type: String,
    count: Vec<u64>,
    counted: Vec<u64>,
    errors: Vec<u64>,
}

impl RateSeries {
    fn new(message_type: &str, buckets: usize) -> Self {
        Self {
            message_type: message_type.to_owned(),
            count: vec![0; buckets],
            counted: vec![0; buckets],
            errors: vec![0; buckets],
        }
    }

    fn add(&mut self, index: usize, count: u64, counted: u64, errors: u64) {
        self.count[index] += count;
        self.counted[index] += counted;
        self.errors[index] += errors;
    }
}

/// `GET /api/ws/rates`: messages (and of them those counted without a span) and failed messages
/// per step and message type, the busiest
/// [`RATE_TYPES`] types by name and the rest summed.
pub(super) async fn rates(
    State(api): State<Api>,
    ReadScope(scope): ReadScope,
    Stepped {
        window,
        step_ns: step,
        buckets,
        ..
    }: Stepped<RateParams>,
) -> Result<Response, ApiError> {
    let start_ns = window.start_ns;
    let rollups = added_up(&api, scope, window.rollups(None, step, buckets)).await?;
    let mut by_type: BTreeMap<&str, RateSeries> = BTreeMap::new();
    for (index, kind, r) in rollups.cells() {
        by_type
            .entry(kind)
            .or_insert_with(|| RateSeries::new(kind, buckets))
            .add(index, r.count, r.counted, r.errors);
    }
    let mut types: Vec<RateSeries> = by_type.into_values().collect();
    types.sort_by_key(|t| std::cmp::Reverse(t.count.iter().sum::<u64>()));
    if types.len() > RATE_TYPES {
        let mut other = RateSeries::new(OTHER_TYPES, buckets);
        for t in types.drain(RATE_TYPES..) {
            for i in 0..buckets {
                other.add(i, t.count[i], t.counted[i], t.errors[i]);
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
