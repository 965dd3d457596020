//! The second small service the backend calls over HTTP: `GET /tools/{agent}`. It continues
//! the caller's trace from the `traceparent` header under its own service name.

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use opentelemetry::KeyValue;
use opentelemetry::global::BoxedTracer;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer};
use serde_json::json;
use tokio::net::TcpListener;
use tracewire_semconv::attribute;

use crate::propagation;

/// Starts the tools service on a free loopback port; returns its base URL.
pub async fn start(tracer: BoxedTracer) -> std::io::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let app = Router::new()
        .route("/tools/{agent}", get(tools))
        .with_state(std::sync::Arc::new(tracer));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("agent-tools: {e}");
        }
    });
    Ok(url)
}

async fn tools(
    State(tracer): State<std::sync::Arc<BoxedTracer>>,
    Path(agent): Path<String>,
    headers: HeaderMap,
) -> Response {
    let parent = propagation::extract(&headers);
    let span = tracer
        .span_builder("GET /tools/{agent}")
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new(attribute::HTTP_REQUEST_METHOD, "GET"),
            KeyValue::new(attribute::HTTP_ROUTE, "/tools/{agent}"),
        ])
        .start_with_context(tracer.as_ref(), &parent);
    let cx = parent.with_span(span);
    // The slow path of the demo: this agent's tools take a while to list.
    let delay = if agent == "slow" { 300 } else { 5 };
    tokio::time::sleep(Duration::from_millis(delay)).await;
    let response = match agent.as_str() {
        "researcher" => Json(json!({"tools": ["search", "summarise"]})).into_response(),
        "coder" => Json(json!({"tools": ["compile", "test"]})).into_response(),
        "slow" | "flaky" => Json(json!({"tools": ["think"]})).into_response(),
        _ => {
            cx.span().set_status(Status::error("unknown agent"));
            (
                StatusCode::NOT_FOUND,
                Json(json!({"error": "unknown agent"})),
            )
                .into_response()
        }
    };
    cx.span().set_attribute(KeyValue::new(
        attribute::HTTP_RESPONSE_STATUS_CODE,
        i64::from(response.status().as_u16()),
    ));
    cx.span().end();
    response
}
