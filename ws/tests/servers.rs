//! The helper inside real WebSocket servers (axum and tokio-tungstenite), driven by a real
//! WebSocket client, with spans recorded by the OpenTelemetry SDK.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::ws::{Message as AxumMessage, WebSocket, WebSocketUpgrade};
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use opentelemetry::trace::{SpanKind, TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, Tracer};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tracewire_ws::{Incoming, reply_text};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const BROWSER_SPAN: &str = "00f067aa0ba902b7";

fn tracer() -> (InMemorySpanExporter, Tracer) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    (exporter, provider.tracer("ws-test"))
}

/// What both servers do per message: join the trace, reply with the server's context.
fn handle(tracer: &Tracer, text: &str) -> String {
    let incoming = Incoming::parse(text).expect("JSON message");
    let cx = incoming.start_span(tracer);
    let kind = incoming.message_type().unwrap_or("unknown").to_owned();
    let reply = reply_text(
        json!({"type": format!("{kind}.reply"), "echo": incoming.payload()}),
        &cx,
    );
    cx.span().end();
    reply
}

/// Sends one browser-like message over a real WebSocket and checks the server's span and reply.
async fn exchange_and_check(addr: SocketAddr, exporter: &InMemorySpanExporter) {
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .expect("connects");
    let sent = format!(
        r#"{{"trace_context":{{"traceparent":"00-{TRACE}-{BROWSER_SPAN}-01"}},"type":"run_agent","id":7}}"#
    );
    socket
        .send(Message::Text(sent.into()))
        .await
        .expect("sends");
    let reply = loop {
        match socket.next().await.expect("reply").expect("frame") {
            Message::Text(t) => break t.to_string(),
            _ => continue,
        }
    };
    let reply: Value = serde_json::from_str(&reply).expect("JSON reply");
    assert_eq!(reply["type"], "run_agent.reply");
    assert_eq!(
        reply["echo"],
        json!({"type": "run_agent", "id": 7}),
        "context field removed from the payload"
    );

    let spans = exporter.get_finished_spans().expect("spans");
    assert_eq!(spans.len(), 1);
    let server = &spans[0];
    assert_eq!(server.name, "ws.receive run_agent");
    assert_eq!(server.span_kind, SpanKind::Consumer);
    assert_eq!(server.span_context.trace_id().to_string(), TRACE);
    assert_eq!(server.parent_span_id.to_string(), BROWSER_SPAN);
    let expected = format!("00-{TRACE}-{}-01", server.span_context.span_id());
    assert_eq!(
        reply["trace_context"]["traceparent"], expected,
        "the reply continues from the server span"
    );
}

#[tokio::test]
async fn axum_websocket_server_joins_the_browser_trace() {
    let (exporter, tracer) = tracer();
    let app = Router::new().route(
        "/ws",
        get(move |upgrade: WebSocketUpgrade| {
            let tracer = tracer.clone();
            async move {
                upgrade.on_upgrade(move |mut socket: WebSocket| async move {
                    while let Some(Ok(AxumMessage::Text(text))) = socket.recv().await {
                        let reply = handle(&tracer, text.as_str());
                        if socket.send(AxumMessage::Text(reply.into())).await.is_err() {
                            break;
                        }
                    }
                })
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    exchange_and_check(addr, &exporter).await;
    server.abort();
}

#[tokio::test]
async fn tokio_tungstenite_server_joins_the_browser_trace() {
    let (exporter, tracer) = tracer();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accepts");
        let mut socket = tokio_tungstenite::accept_async(stream)
            .await
            .expect("handshake");
        while let Some(Ok(Message::Text(text))) = socket.next().await {
            let reply = handle(&tracer, text.as_str());
            if socket.send(Message::Text(reply.into())).await.is_err() {
                break;
            }
        }
    });
    exchange_and_check(addr, &exporter).await;
    server.abort();
}
