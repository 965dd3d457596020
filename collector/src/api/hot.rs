//! `GET /api/endpoints/hot`: request rates per route and per session and route, from the
//! browser SDK's request-rate records (`docs/semantic-conventions.md`).

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tracewire_semconv::{attribute, event};

use super::error::ApiError;
use super::params::duration_ns;
use super::scope::ReadScope;
use super::state::Api;
use super::window::now_ns;
use crate::model::EventQuery;

/// `window` of the report when not given, and the longest accepted.
const DEFAULT_HOT_WINDOW_NS: i64 = 5 * 60 * 1_000_000_000;
const MAX_HOT_WINDOW_NS: i64 = 24 * 3_600 * 1_000_000_000;
/// Rows per list in the report.
const HOT_ROWS: usize = 50;
/// Records read for one report at most.
const MAX_RATE_RECORDS: usize = 100_000;

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
    let Query(p) = params.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
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
            event_name: event::HTTP_CLIENT_REQUEST_RATE.to_owned(),
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
