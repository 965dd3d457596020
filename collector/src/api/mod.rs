//! Query: the JSON API on the api listener, one file per topic: traces, services and their
//! span metrics ([`spanmetrics`]), round trips, their aggregates, sessions and hot endpoints,
//! log search ([`logs`]), metric queries ([`metrics`]), alerts ([`alerts`]), the live tails, and deleting a user's or
//! a session's data ([`erase`]); health, readiness and Prometheus metrics; and the embedded web
//! UI ([`ui`]) for every other path. Every request passes the [`Guard`] first.

mod aggregates;
mod alerts;
mod erase;
mod error;
mod guard;
mod hot;
mod live;
mod logs;
mod metrics;
mod params;
mod roundtrips;
mod scope;
mod sessions;
mod shared;
mod spanmetrics;
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
        .route("/api/services", get(spanmetrics::services))
        .route(
            "/api/services/{service}/operations",
            get(spanmetrics::operations),
        )
        .route("/api/dependencies", get(spanmetrics::dependencies))
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
        .route("/api/metrics", get(metrics::catalog))
        .route("/api/metrics/series", get(metrics::series))
        .route("/api/live", get(live::live))
        .route("/api/alerts", get(alerts::overview))
        .route("/api/alerts/history", get(alerts::history))
        .route("/api/alerts/notifications", get(alerts::notifications))
        .route("/api/alerts/rules", get(alerts::rules))
        .route(
            "/api/alerts/rules/{name}",
            get(alerts::rule)
                .put(alerts::put_rule)
                .delete(alerts::delete_rule),
        )
        .route(
            "/api/alerts/silences",
            get(alerts::silences).post(alerts::add_silence),
        )
        .route("/api/alerts/silences/{id}", delete(alerts::end_silence))
        .route("/api/logs", get(logs::search))
        .route("/api/logs/histogram", get(logs::histogram))
        .route("/api/logs/live", get(logs::live))
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
