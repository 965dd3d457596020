//! The agent-dashboard protocol: JSON messages over `/ws`, each continuing the browser's trace.
//!
//! | client sends | server answers |
//! |---|---|
//! | `{"type":"list_agents"}` | `{"type":"agents","agents":[…]}` |
//! | `{"type":"run_agent","agent_id":"coder"}` | `{"type":"run_started",…}`, then pushes `agent_progress` ×3 and `run_finished` |
//! | `{"type":"chat","agent_id":"coder","text":"hi"}` | `{"type":"chat_reply",…}` |
//! | anything else | `{"type":"error","message":…}` |
//! | a binary message (payload-free connections) | the same bytes, as a binary message |
//!
//! A request's `id`, when present, is echoed in its reply.
//!
//! A connection whose handshake URL has a `traceparent` query parameter (the browser SDK's
//! `payloadFreeUrls`) is payload-free: messages are read as they are, without looking for a
//! context field, replies and pushes go out unchanged, and `tracewire_ws::PayloadFree` numbers
//! the messages of each direction and gives each its span in the connection's trace.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use opentelemetry::global::BoxedTracer;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tracewire_semconv::{attribute, span, value};
use tracewire_ws::{Frame, Incoming, PayloadFree, reply_text, span_name};

use crate::network::Delays;
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
    /// Simulated network delays (`--network-delay-ms`), when on.
    pub network: Option<Delays>,
}

/// `GET /ws`: upgrades to the protocol; a `traceparent` query parameter makes the connection
/// payload-free.
pub async fn ws(
    State(app): State<App>,
    RawQuery(query): RawQuery,
    upgrade: WebSocketUpgrade,
) -> Response {
    let payload_free = query.as_deref().and_then(PayloadFree::from_query);
    upgrade.on_upgrade(move |socket| session(socket, app, payload_free.map(Arc::new)))
}

/// A message for the connection's writer, and the context it is sent in: on a payload-free
/// connection the writer gives it a `ws.send` span, child of that context, as it goes out.
struct Outgoing {
    message: Message,
    parent: Context,
}

/// One connection's way out: the writer's queue, and whether the connection is payload-free.
#[derive(Clone)]
struct Connection {
    out: mpsc::Sender<Outgoing>,
    payload_free: Option<Arc<PayloadFree>>,
}

impl Connection {
    /// Queues a message sent in `parent`; false once the connection is gone.
    async fn send(&self, message: Message, parent: &Context) -> bool {
        let parent = parent.clone();
        self.out.send(Outgoing { message, parent }).await.is_ok()
    }
}

async fn session(socket: WebSocket, app: App, payload_free: Option<Arc<PayloadFree>>) {
    let (mut sink, mut stream) = socket.split();
    let (out, mut outgoing) = mpsc::channel::<Outgoing>(256);
    let connection = Connection { out, payload_free };
    // Payload-free messages are numbered here, where they go onto the socket, so the numbers
    // follow the order the browser receives them in.
    let numbering = connection.payload_free.clone();
    let tracer = app.tracer.clone();
    let writer = tokio::spawn(async move {
        while let Some(Outgoing { message, parent }) = outgoing.recv().await {
            let sent = numbering.as_ref().and_then(|pf| {
                let frame = match &message {
                    Message::Text(t) => Frame::Text(t.as_str()),
                    Message::Binary(b) => Frame::Binary(b),
                    _ => return None,
                };
                Some(pf.send(tracer.as_ref(), &parent, frame))
            });
            let failed = sink.send(message).await.is_err();
            if let Some(cx) = sent {
                cx.span().end();
            }
            if failed {
                return;
            }
        }
        // Completes the close handshake: the reply to the client's close frame goes out here.
        let _ = sink.close().await;
    });
    while let Some(Ok(message)) = stream.next().await {
        match (message, &connection.payload_free) {
            (Message::Text(text), None) => handle(&app, text.as_str(), &connection).await,
            (Message::Text(text), Some(pf)) => {
                handle_payload_free(&app, pf, text.as_str(), &connection).await;
            }
            (Message::Binary(bytes), Some(pf)) => {
                echo_binary(&app, pf, bytes, &connection).await;
            }
            (Message::Close(_), _) => break,
            _ => {}
        }
    }
    drop(connection);
    let _ = writer.await;
}

async fn handle(app: &App, text: &str, connection: &Connection) {
    let Ok(incoming) = Incoming::parse(text) else {
        let error = json!({"type": "error", "message": "messages must be JSON"});
        connection
            .send(Message::Text(error.to_string().into()), &Context::new())
            .await;
        return;
    };
    if let Some(network) = &app.network {
        network.wait().await;
    }
    let cx = incoming.start_span(app.tracer.as_ref());
    let reply = respond(
        app,
        &cx,
        incoming.payload(),
        incoming.message_type(),
        connection,
    )
    .await;
    let text = reply_text(reply, &cx);
    send_reply(app, &cx, Message::Text(text.into()), connection).await;
}

/// A text message of a payload-free connection: read as it is (no context field is looked for
/// or removed), answered with a reply that carries no context.
async fn handle_payload_free(app: &App, pf: &PayloadFree, text: &str, connection: &Connection) {
    if let Some(network) = &app.network {
        network.wait().await;
    }
    let frame = Frame::Text(text);
    let cx = pf.receive(app.tracer.as_ref(), frame);
    let reply = match serde_json::from_str::<Value>(text) {
        Ok(payload) => {
            let message_type = pf.message_type(frame);
            respond(app, &cx, &payload, message_type.as_deref(), connection).await
        }
        Err(_) => {
            let e = "messages must be JSON";
            cx.span().set_status(Status::error(e));
            json!({"type": "error", "message": e})
        }
    };
    send_reply(
        app,
        &cx,
        Message::Text(reply.to_string().into()),
        connection,
    )
    .await;
}

/// A binary message of a payload-free connection: its type is unknown, and it is echoed byte
/// for byte as a binary reply.
async fn echo_binary(
    app: &App,
    pf: &PayloadFree,
    bytes: axum::body::Bytes,
    connection: &Connection,
) {
    if let Some(network) = &app.network {
        network.wait().await;
    }
    let cx = pf.receive(app.tracer.as_ref(), Frame::Binary(&bytes));
    send_reply(app, &cx, Message::Binary(bytes), connection).await;
}

/// The protocol's answer to a JSON message of this type; failures become error replies and
/// mark the receive span.
async fn respond(
    app: &App,
    cx: &Context,
    payload: &Value,
    message_type: Option<&str>,
    connection: &Connection,
) -> Value {
    let result = match message_type {
        Some("list_agents") => list_agents(app, cx).await,
        Some("run_agent") => run_agent(app, cx, payload, connection).await,
        Some("chat") => chat(app, cx, payload).await,
        other => Err(format!("unknown message type '{}'", other.unwrap_or(""))),
    };
    let mut reply = result.unwrap_or_else(|e| {
        cx.span().set_status(Status::error(e.clone()));
        json!({"type": "error", "message": e})
    });
    if let Some(id) = payload.get("id") {
        reply["id"] = id.clone();
    }
    reply
}

/// Sends the reply and ends the receive span in `cx`.
async fn send_reply(app: &App, cx: &Context, reply: Message, connection: &Connection) {
    match &app.network {
        None => {
            connection.send(reply, cx).await;
            cx.span().end();
        }
        // The reply's delay lies outside the span, as a slow downlink's would.
        Some(network) => {
            cx.span().end();
            network.wait().await;
            connection.send(reply, cx).await;
        }
    }
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
    connection: &Connection,
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
        connection.clone(),
        run_id,
        agent.clone(),
    ));
    Ok(json!({"type": "run_started", "run_id": run_id, "agent_id": agent, "tools": tools["tools"]}))
}

/// Server pushes of a run's progress; each is a PRODUCER span in the run's trace, and carries
/// its context so the browser's handling joins the trace too. On a payload-free connection a
/// push goes out unchanged, and the writer gives it its `ws.send` span.
async fn push_progress(
    tracer: Arc<BoxedTracer>,
    cx: Context,
    connection: Connection,
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
        if connection.payload_free.is_some() {
            if !connection
                .send(Message::Text(message.to_string().into()), &cx)
                .await
            {
                return;
            }
            continue;
        }
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
        let text = reply_text(message, &push_cx);
        let sent = connection.send(Message::Text(text.into()), &push_cx).await;
        push_cx.span().end();
        if !sent {
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
