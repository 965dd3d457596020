//! The agent-dashboard protocol: JSON messages over `/ws`, each continuing the browser's trace.
//!
//! | client sends | server answers |
//! |---|---|
//! | `{"type":"list_agents"}` | `{"type":"agents","agents":[…]}` |
//! | `{"type":"run_agent","agent_id":"coder"}` | `{"type":"run_started",…}`, then pushes `agent_progress` ×3 and `run_finished` |
//! | `{"type":"chat","agent_id":"coder","text":"hi"}` | `{"type":"chat_reply",…}` |
//! | anything else | `{"type":"error","message":…}` |
//!
//! A request's `id`, when present, is echoed in its reply.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use opentelemetry::global::BoxedTracer;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tracewire_semconv::{attribute, span, value};
use tracewire_ws::{Incoming, reply_text, span_name};

use crate::{propagation, work};

/// Progress pushes per agent run.
const RUN_STEPS: u64 = 3;

/// What every connection shares.
#[derive(Clone)]
pub struct App {
    /// The backend's tracer.
    pub tracer: Arc<BoxedTracer>,
    /// Client for the tools service.
    pub http: reqwest::Client,
    /// Base URL of the tools service.
    pub tools_url: String,
    /// Run ids.
    pub runs: Arc<AtomicU64>,
}

/// `GET /ws`: upgrades to the protocol.
pub async fn ws(State(app): State<App>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| session(socket, app))
}

async fn session(socket: WebSocket, app: App) {
    let (mut sink, mut stream) = socket.split();
    let (out, mut outgoing) = mpsc::channel::<String>(256);
    let writer = tokio::spawn(async move {
        while let Some(text) = outgoing.recv().await {
            if sink.send(Message::Text(text.into())).await.is_err() {
                return;
            }
        }
        // Completes the close handshake: the reply to the client's close frame goes out here.
        let _ = sink.close().await;
    });
    while let Some(Ok(message)) = stream.next().await {
        match message {
            Message::Text(text) => handle(&app, text.as_str(), &out).await,
            Message::Close(_) => break,
            _ => {}
        }
    }
    drop(out);
    let _ = writer.await;
}

async fn handle(app: &App, text: &str, out: &mpsc::Sender<String>) {
    let Ok(incoming) = Incoming::parse(text) else {
        let _ = out
            .send(json!({"type": "error", "message": "messages must be JSON"}).to_string())
            .await;
        return;
    };
    let cx = incoming.start_span(app.tracer.as_ref());
    let payload = incoming.payload();
    let result = match incoming.message_type() {
        Some("list_agents") => list_agents(app, &cx).await,
        Some("run_agent") => run_agent(app, &cx, payload, out).await,
        Some("chat") => chat(app, &cx, payload).await,
        other => Err(format!("unknown message type '{}'", other.unwrap_or(""))),
    };
    let mut reply = result.unwrap_or_else(|e| {
        cx.span().set_status(Status::error(e.clone()));
        json!({"type": "error", "message": e})
    });
    if let Some(id) = payload.get("id") {
        reply["id"] = id.clone();
    }
    let _ = out.send(reply_text(reply, &cx)).await;
    cx.span().end();
}

async fn list_agents(app: &App, cx: &Context) -> Result<Value, String> {
    work::db_query(&app.tracer, cx, "agents", "SELECT * FROM agents", None).await?;
    Ok(json!({"type": "agents", "agents": work::agents()}))
}

fn agent_id(payload: &Value) -> Result<String, String> {
    payload
        .get("agent_id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| "agent_id is missing".to_owned())
}

async fn run_agent(
    app: &App,
    cx: &Context,
    payload: &Value,
    out: &mpsc::Sender<String>,
) -> Result<Value, String> {
    let agent = agent_id(payload)?;
    work::db_query(
        &app.tracer,
        cx,
        "agents",
        "SELECT * FROM agents WHERE id = ?",
        Some(&agent),
    )
    .await?;
    let tools = work::fetch_tools(&app.tracer, cx, &app.http, &app.tools_url, &agent).await?;
    let run_id = app.runs.fetch_add(1, Ordering::Relaxed) + 1;
    tokio::spawn(push_progress(
        app.tracer.clone(),
        cx.clone(),
        out.clone(),
        run_id,
        agent.clone(),
    ));
    Ok(json!({"type": "run_started", "run_id": run_id, "agent_id": agent, "tools": tools["tools"]}))
}

/// Server pushes of a run's progress; each is a PRODUCER span in the run's trace, and carries
/// its context so the browser's handling joins the trace too.
async fn push_progress(
    tracer: Arc<BoxedTracer>,
    cx: Context,
    out: mpsc::Sender<String>,
    run_id: u64,
    agent: String,
) {
    for step in 1..=RUN_STEPS + 1 {
        tokio::time::sleep(Duration::from_millis(40)).await;
        let message = if step <= RUN_STEPS {
            json!({"type": "agent_progress", "run_id": run_id, "step": step, "of": RUN_STEPS})
        } else {
            json!({"type": "run_finished", "run_id": run_id, "agent_id": agent, "result": "done"})
        };
        let kind = message["type"].as_str().unwrap_or("push").to_owned();
        let span = tracer
            .span_builder(span_name(span::WS_SEND, Some(&kind)))
            .with_kind(SpanKind::Producer)
            .with_attributes([
                KeyValue::new(
                    attribute::MESSAGING_SYSTEM,
                    value::MESSAGING_SYSTEM_WEBSOCKET,
                ),
                KeyValue::new(attribute::MESSAGING_OPERATION_TYPE, value::OPERATION_SEND),
                KeyValue::new(attribute::WS_MESSAGE_TYPE, kind),
            ])
            .start_with_context(tracer.as_ref(), &cx);
        let push_cx = cx.with_span(span);
        let sent = out.send(reply_text(message, &push_cx)).await;
        push_cx.span().end();
        if sent.is_err() {
            return;
        }
    }
}

async fn chat(app: &App, cx: &Context, payload: &Value) -> Result<Value, String> {
    let agent = agent_id(payload)?;
    let text = payload
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or_default();
    work::db_query(
        &app.tracer,
        cx,
        "messages",
        "SELECT text FROM messages WHERE agent = ?",
        Some(&agent),
    )
    .await?;
    Ok(json!({"type": "chat_reply", "agent_id": agent, "text": format!("{agent} heard: {text}")}))
}

/// `GET /api/agents`: the same list over HTTP, continuing the caller's `traceparent`.
pub async fn agents_http(State(app): State<App>, headers: HeaderMap) -> Response {
    let parent = propagation::extract(&headers);
    let span = app
        .tracer
        .span_builder("GET /api/agents")
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new(attribute::HTTP_REQUEST_METHOD, "GET"),
            KeyValue::new(attribute::HTTP_ROUTE, "/api/agents"),
        ])
        .start_with_context(app.tracer.as_ref(), &parent);
    let cx = parent.with_span(span);
    let result = work::db_query(&app.tracer, &cx, "agents", "SELECT * FROM agents", None).await;
    cx.span().end();
    match result {
        Ok(()) => Json(json!({"agents": work::agents()})).into_response(),
        Err(e) => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": e})),
        )
            .into_response(),
    }
}
