//! Payload-free connections inside a real axum WebSocket server, driven by a real WebSocket
//! client that puts the connection's `traceparent` into the handshake URL, as the browser SDK
//! does for `payloadFreeUrls`; spans recorded by the OpenTelemetry SDK.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::RawQuery;
use axum::extract::ws::{Message as AxumMessage, WebSocket, WebSocketUpgrade};
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use opentelemetry::Value as Attr;
use opentelemetry::trace::{SpanKind, TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData, Tracer};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tracewire_ws::{Frame, PayloadFree};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const FIRST_CONNECT: &str = "00f067aa0ba902b7";
const SECOND_CONNECT: &str = "1111222233334444";

/// Echoes every message unchanged; on a payload-free connection each gets its receive span and
/// the echo its send span.
async fn echo(mut socket: WebSocket, connection: Option<PayloadFree>, tracer: Tracer) {
    while let Some(Ok(message)) = socket.recv().await {
        let frame = match &message {
            AxumMessage::Text(t) => Frame::Text(t.as_str()),
            AxumMessage::Binary(b) => Frame::Binary(b),
            _ => continue,
        };
        let Some(connection) = &connection else {
            if socket.send(message.clone()).await.is_err() {
                break;
            }
            continue;
        };
        let cx = connection.receive(&tracer, frame);
        let sent = connection.send(&tracer, &cx, frame);
        let failed = socket.send(message.clone()).await.is_err();
        sent.span().end();
        cx.span().end();
        if failed {
            break;
        }
    }
}

async fn server() -> (SocketAddr, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let tracer = provider.tracer("ws-test");
    let app = Router::new().route(
        "/ws",
        get(
            move |RawQuery(query): RawQuery, upgrade: WebSocketUpgrade| {
                let tracer = tracer.clone();
                let connection = query.as_deref().and_then(PayloadFree::from_query);
                async move { upgrade.on_upgrade(move |socket| echo(socket, connection, tracer)) }
            },
        ),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, exporter)
}

/// Sends each message on a new connection to `url` and returns the replies.
async fn round_trip(url: &str, messages: &[Message]) -> Vec<Message> {
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connects");
    let mut replies = Vec::new();
    for message in messages {
        socket.send(message.clone()).await.expect("sends");
        loop {
            match socket.next().await.expect("reply").expect("frame") {
                reply @ (Message::Text(_) | Message::Binary(_)) => {
                    replies.push(reply);
                    break;
                }
                _ => continue,
            }
        }
    }
    socket.close(None).await.expect("closes");
    replies
}

fn attribute<'a>(span: &'a SpanData, key: &str) -> Option<&'a Attr> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

/// (name, kind, parent, connection span id, sequence) of a span.
type Shape = (String, SpanKind, String, Option<Attr>, Option<Attr>);

/// The shape of each span, in the order they ended.
fn shapes(spans: &[SpanData]) -> Vec<Shape> {
    spans
        .iter()
        .map(|s| {
            assert_eq!(s.span_context.trace_id().to_string(), TRACE);
            (
                s.name.to_string(),
                s.span_kind.clone(),
                s.parent_span_id.to_string(),
                attribute(s, "ws.connection.span_id").cloned(),
                attribute(s, "ws.message.sequence").cloned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn messages_are_numbered_per_connection_and_direction_and_echoed_unchanged() {
    let (addr, exporter) = server().await;
    // A protobuf-like frame, and JSON a strict server would reject if a field were added.
    let binary = Message::Binary(vec![0x08, 0x96, 0x01, 0x12, 0x02, 0xff, 0x00].into());
    let strict = Message::Text(r#"{"type":"order","qty":3}"#.into());
    let url = |connect: &str| format!("ws://{addr}/ws?room=1&traceparent=00-{TRACE}-{connect}-01");
    let first = round_trip(&url(FIRST_CONNECT), &[binary.clone(), strict.clone()]).await;
    assert_eq!(
        first,
        [binary.clone(), strict.clone()],
        "echoed byte for byte"
    );
    // A reconnect is a new connection: counting starts again from 1.
    let second = round_trip(&url(SECOND_CONNECT), std::slice::from_ref(&strict)).await;
    assert_eq!(second, [strict]);

    let spans = exporter.get_finished_spans().expect("spans");
    let shapes = shapes(&spans);
    let receive = |i: usize| spans[i].span_context.span_id().to_string();
    let conn = |c: &str| Some(Attr::from(c.to_owned()));
    let seq = |n: i64| Some(Attr::I64(n));
    assert_eq!(
        shapes,
        [
            (
                "ws.send".to_owned(),
                SpanKind::Producer,
                receive(1),
                conn(FIRST_CONNECT),
                seq(1)
            ),
            (
                "ws.receive".to_owned(),
                SpanKind::Consumer,
                FIRST_CONNECT.to_owned(),
                conn(FIRST_CONNECT),
                seq(1)
            ),
            (
                "ws.send order".to_owned(),
                SpanKind::Producer,
                receive(3),
                conn(FIRST_CONNECT),
                seq(2)
            ),
            (
                "ws.receive order".to_owned(),
                SpanKind::Consumer,
                FIRST_CONNECT.to_owned(),
                conn(FIRST_CONNECT),
                seq(2)
            ),
            (
                "ws.send order".to_owned(),
                SpanKind::Producer,
                receive(5),
                conn(SECOND_CONNECT),
                seq(1)
            ),
            (
                "ws.receive order".to_owned(),
                SpanKind::Consumer,
                SECOND_CONNECT.to_owned(),
                conn(SECOND_CONNECT),
                seq(1)
            ),
        ]
    );
}

#[tokio::test]
async fn a_handshake_without_traceparent_is_an_ordinary_connection() {
    let (addr, exporter) = server().await;
    let text = Message::Text("hello".into());
    let replies = round_trip(
        &format!("ws://{addr}/ws?room=1"),
        std::slice::from_ref(&text),
    )
    .await;
    assert_eq!(replies, [text]);
    assert!(exporter.get_finished_spans().expect("spans").is_empty());
}

#[tokio::test]
async fn tokio_tungstenite_servers_read_the_query_in_the_handshake_callback() {
    use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let tracer = provider.tracer("ws-test");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accepts");
        let mut connection = None;
        #[expect(
            clippy::result_large_err,
            reason = "the callback's error type is tungstenite's"
        )]
        let callback = |request: &Request, response: Response| {
            connection = request.uri().query().and_then(PayloadFree::from_query);
            Ok(response)
        };
        let mut socket = tokio_tungstenite::accept_hdr_async(stream, callback)
            .await
            .expect("handshake");
        let connection = connection.expect("payload-free");
        while let Some(Ok(message)) = socket.next().await {
            let Message::Binary(bytes) = &message else {
                continue;
            };
            let cx = connection.receive(&tracer, Frame::Binary(bytes));
            let sent = connection.send(&tracer, &cx, Frame::Binary(bytes));
            let failed = socket.send(message.clone()).await.is_err();
            sent.span().end();
            cx.span().end();
            if failed {
                break;
            }
        }
    });
    let binary = Message::Binary(vec![1, 2, 3].into());
    let url = format!("ws://{addr}/feed?traceparent=00-{TRACE}-{FIRST_CONNECT}-01");
    let replies = round_trip(&url, std::slice::from_ref(&binary)).await;
    assert_eq!(replies, [binary]);
    let spans = exporter.get_finished_spans().expect("spans");
    let shapes = shapes(&spans);
    assert_eq!(shapes.len(), 2);
    assert_eq!(
        shapes[1].2, FIRST_CONNECT,
        "the receive is a child of ws.connect"
    );
    assert_eq!(shapes[1].4, Some(Attr::I64(1)));
}
