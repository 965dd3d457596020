//! Query: the JSON API on the api listener (traces by id, trace search, services), plus health,
//! readiness and Prometheus metrics.

mod correlation;
mod error;
mod live;
mod params;
mod scope;
mod shared;
mod views;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tracewire_semconv::attribute;

pub use error::ApiError;
use scope::ReadScope;
pub use shared::SharedReads;
use views::{ServiceView, SpanView, TraceSummaryView, TraceView};

use crate::correlate::{Source, trace_offsets};
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
    /// Aggregate reads that concurrent requests share.
    pub reads: Arc<SharedReads>,
}

/// The API router.
pub fn router(api: Api) -> Router {
    Router::new()
        .route("/api/traces", get(search))
        .route("/api/traces/{trace_id}", get(trace))
        .route("/api/services", get(services))
        .route("/api/ws/roundtrips", get(correlation::roundtrips))
        .route("/api/ws/latency", get(correlation::latency))
        .route("/api/ws/message-types", get(correlation::message_types))
        .route("/api/ws/rates", get(correlation::rates))
        .route("/api/sessions/{session_id}", get(correlation::session))
        .route("/api/endpoints/hot", get(correlation::hot_endpoints))
        .route("/api/live", get(live::live))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .fallback(crate::ui::serve)
        .with_state(api)
}

async fn trace(
    State(api): State<Api>,
    ReadScope(scope): ReadScope,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = params::trace_id(&id)?;
    let reader = api.store.reader(scope);
    let spans = reader.trace(&id).await?;
    if spans.is_empty() {
        return Err(ApiError::NotFound {
            code: "trace_not_found",
            message: format!("no spans stored for trace {id}"),
        });
    }
    // Browser spans move onto the backend's clock by their session's estimated offset.
    let mut offsets = HashMap::new();
    let sessions: BTreeSet<&str> = spans
        .iter()
        .filter(|s| Source::of(s) == Source::Browser)
        .filter_map(|s| {
            s.span_attributes
                .get(attribute::SESSION_ID)
                .map(String::as_str)
        })
        .collect();
    if !sessions.is_empty() {
        correlation::caught_up(&api.store).await;
    }
    for session in sessions {
        if let Some(stored) = reader.session_offset(session).await? {
            offsets.insert(session.to_owned(), stored.offset_ns);
        }
    }
    let shifts = trace_offsets(&spans, |session| offsets.get(session).copied());
    Ok(Json(TraceView {
        trace_id: &id,
        spans: spans
            .iter()
            .zip(shifts)
            .map(|(span, offset)| SpanView::new(span, Source::of(span), offset))
            .collect(),
    })
    .into_response())
}

async fn search(
    State(api): State<Api>,
    ReadScope(scope): ReadScope,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let query = params::search_query(raw.as_deref())?;
    let traces = api.store.reader(scope).search(&query).await?;
    let views: Vec<_> = traces.iter().map(TraceSummaryView::from).collect();
    Ok(Json(json!({ "traces": views })).into_response())
}

async fn services(
    State(api): State<Api>,
    ReadScope(scope): ReadScope,
) -> Result<Response, ApiError> {
    let services = api.store.reader(scope).services().await?;
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
