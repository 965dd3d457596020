//! The "realistic" work behind each message: a simulated database query and an HTTP call to
//! the tools service, each its own CLIENT span, with deterministic slow and failing paths
//! (agent `slow` is slow, agent `flaky` fails) so demos and tests can rely on them.

use std::time::Duration;

use opentelemetry::global::BoxedTracer;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use serde_json::{Value, json};
use tracewire_semconv::attribute;

/// The agents the dashboard shows.
pub fn agents() -> Value {
    json!([
        {"id": "researcher", "name": "Researcher", "status": "idle"},
        {"id": "coder", "name": "Coder", "status": "idle"},
        {"id": "slow", "name": "Slow thinker", "status": "idle"},
        {"id": "flaky", "name": "Flaky agent", "status": "degraded"},
    ])
}

/// A database query, simulated by a short sleep; agent `flaky` makes it fail.
pub async fn db_query(
    tracer: &BoxedTracer,
    cx: &Context,
    table: &str,
    statement: &str,
    agent: Option<&str>,
) -> Result<(), String> {
    let span = tracer
        .span_builder(format!("SELECT {table}"))
        .with_kind(SpanKind::Client)
        .with_attributes([
            KeyValue::new("db.system.name", "sqlite"),
            KeyValue::new("db.query.text", statement.to_owned()),
            KeyValue::new("db.collection.name", table.to_owned()),
        ])
        .start_with_context(tracer, cx);
    let cx = cx.with_span(span);
    tokio::time::sleep(Duration::from_millis(3)).await;
    let result = if agent == Some("flaky") {
        Err("database is locked".to_owned())
    } else {
        Ok(())
    };
    if let Err(e) = &result {
        cx.span().set_status(Status::error(e.clone()));
    }
    cx.span().end();
    result
}

/// Asks the tools service which tools an agent has, propagating the trace in `traceparent`.
pub async fn fetch_tools(
    tracer: &BoxedTracer,
    cx: &Context,
    http: &reqwest::Client,
    tools_url: &str,
    agent: &str,
) -> Result<Value, String> {
    let url = format!("{tools_url}/tools/{agent}");
    let span = tracer
        .span_builder("GET /tools/{agent}")
        .with_kind(SpanKind::Client)
        .with_attributes([
            KeyValue::new(attribute::HTTP_REQUEST_METHOD, "GET"),
            KeyValue::new(attribute::URL_FULL, url.clone()),
        ])
        .start_with_context(tracer, cx);
    let cx = cx.with_span(span);
    let mut headers = reqwest::header::HeaderMap::new();
    crate::propagation::inject(&cx, &mut headers);
    let result = async {
        let response = http
            .get(&url)
            .headers(headers)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        cx.span().set_attribute(KeyValue::new(
            attribute::HTTP_RESPONSE_STATUS_CODE,
            i64::from(response.status().as_u16()),
        ));
        let response = response.error_for_status().map_err(|e| e.to_string())?;
        response.json::<Value>().await.map_err(|e| e.to_string())
    }
    .await;
    if let Err(e) = &result {
        cx.span().set_status(Status::error(e.clone()));
    }
    cx.span().end();
    result
}
