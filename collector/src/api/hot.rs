//! `GET /api/endpoints/hot`: request rates per route and per session and route, from the
//! browser SDK's request-rate records ([`crate::rates`]).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::error::ApiError;
use super::params::duration_ns;
use super::scope::ReadScope;
use super::state::Api;
use super::window::now_ns;
use crate::rates::Rates;

/// `window` of the report when not given, and the longest accepted.
const DEFAULT_HOT_WINDOW_NS: i64 = 5 * 60 * 1_000_000_000;
const MAX_HOT_WINDOW_NS: i64 = 24 * 3_600 * 1_000_000_000;
/// Rows per list in the report.
const HOT_ROWS: usize = 50;

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
    let rates = Rates::read(&api.store.reader(scope), now_ns(), window_ns).await?;
    let routes: Vec<HotRoute> = rates
        .routes
        .into_iter()
        .take(HOT_ROWS)
        .map(|r| HotRoute {
            route: r.route,
            requests: r.requests,
            rate_per_s: r.rate_per_s,
            sessions: r.sessions,
        })
        .collect();
    let sessions: Vec<HotSession> = rates
        .sessions
        .into_iter()
        .take(HOT_ROWS)
        .map(|s| HotSession {
            session_id: s.session_id,
            route: s.route,
            requests: s.requests,
            rate_per_s: s.rate_per_s,
        })
        .collect();
    Ok(
        Json(json!({ "window_ns": window_ns, "routes": routes, "sessions": sessions }))
            .into_response(),
    )
}
