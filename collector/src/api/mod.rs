//! Query: the JSON API on the api listener, one file per topic: traces, round trips, their
//! aggregates, sessions and hot endpoints, the live tail, and deleting a user's or a session's
//! data ([`erase`]); health, readiness and Prometheus metrics; and the embedded web UI ([`ui`])
//! for every other path. Every request passes the [`Guard`] first.

mod aggregates;
mod erase;
mod error;
mod guard;
mod hot;
mod live;
mod params;
mod roundtrips;
mod scope;
mod sessions;
mod shared;
mod state;
mod traces;
mod ui;
mod views;
mod window;

use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};

pub use error::ApiError;
pub use guard::{Guard, LIVE_PROTOCOL, TOKEN_PROTOCOL_PREFIX};
pub use shared::SharedReads;
pub use state::Api;

/// The API router.
pub fn router(api: Api) -> Router {
    Router::new()
        .route("/api/traces", get(traces::search))
        .route("/api/traces/{trace_id}", get(traces::trace))
        .route("/api/services", get(traces::services))
        .route("/api/ws/roundtrips", get(roundtrips::roundtrips))
        .route("/api/ws/latency", get(aggregates::latency))
        .route("/api/ws/message-types", get(aggregates::message_types))
        .route("/api/ws/rates", get(aggregates::rates))
        .route(
            "/api/sessions/{session_id}",
            get(sessions::session).delete(erase::session),
        )
        .route("/api/users/{user_id}", delete(erase::user))
        .route("/api/endpoints/hot", get(hot::hot_endpoints))
        .route("/api/live", get(live::live))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .fallback(ui::serve)
        .layer(axum::middleware::from_fn_with_state(
            std::sync::Arc::clone(&api.guard),
            guard::check,
        ))
        .with_state(api)
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
