//! Query: the JSON API on the api listener (traces by id, trace search, services), plus health,
//! readiness and Prometheus metrics.

mod error;
mod params;
mod views;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

pub use error::ApiError;
use params::SearchParams;
use views::{ServiceView, SpanView, TraceSummaryView, TraceView};

use crate::metrics::Metrics;
use crate::store::Store;

/// What the API handlers share.
#[derive(Clone)]
pub struct Api {
    /// The store to read from.
    pub store: Arc<Store>,
    /// The collector's counters, for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// False while starting and once shutting down; `/readyz` reports it.
    pub ready: Arc<AtomicBool>,
}

/// The API router.
pub fn router(api: Api) -> Router {
    Router::new()
        .route("/api/traces", get(search))
        .route("/api/traces/{trace_id}", get(trace))
        .route("/api/services", get(services))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .fallback(crate::ui::serve)
        .with_state(api)
}

async fn trace(State(api): State<Api>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = params::trace_id(&id)?;
    let spans = api.store.trace(&id).await?;
    if spans.is_empty() {
        return Err(ApiError::NotFound {
            code: "trace_not_found",
            message: format!("no spans stored for trace {id}"),
        });
    }
    Ok(Json(TraceView {
        trace_id: &id,
        spans: spans.iter().map(SpanView::from).collect(),
    })
    .into_response())
}

async fn search(
    State(api): State<Api>,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) =
        params.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let query = params.into_query()?;
    let traces = api.store.search(&query).await?;
    let views: Vec<_> = traces.iter().map(TraceSummaryView::from).collect();
    Ok(Json(json!({ "traces": views })).into_response())
}

async fn services(State(api): State<Api>) -> Result<Response, ApiError> {
    let services = api.store.services().await?;
    let views: Vec<_> = services.iter().map(ServiceView::from).collect();
    Ok(Json(json!({ "services": views })).into_response())
}

async fn ready(State(api): State<Api>) -> Response {
    if api.ready.load(Ordering::Acquire) {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
    }
}

async fn metrics(State(api): State<Api>) -> Response {
    let queue = api.store.queue();
    let text = api.metrics.render(queue.depth(), queue.capacity());
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        text,
    )
        .into_response()
}

#[cfg(test)]
mod tests;
