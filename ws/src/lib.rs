//! `tracewire-ws`: lets a WebSocket server join the trace of a message sent by the Tracewire
//! browser SDK, and hand its own context back in the reply, in a few lines.
//!
//! The browser puts W3C trace context into each JSON message as
//! `"trace_context": {"traceparent": "00-…", "tracestate": "…"}`, or wraps any text in an
//! envelope `{"data": …, "trace_context": {…}, "ts": <ms>}` (see `docs/semantic-conventions.md`).
//! On the server:
//!
//! ```
//! use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
//! use tracewire_ws::{Incoming, reply_text};
//!
//! let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
//! let tracer = provider.tracer("agent-backend");
//! let text = r#"{"type":"chat","text":"hi","trace_context":{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}"#;
//!
//! let incoming = Incoming::parse(text).expect("a JSON message");
//! // A CONSUMER span "ws.receive chat", child of the browser's "ws.send chat" span.
//! let cx = incoming.start_span(&tracer);
//! assert_eq!(cx.span().span_context().trace_id().to_string(), "0af7651916cd43dd8448eb211c80319c");
//! // … handle incoming.payload() …
//! let reply = reply_text(serde_json::json!({"type": "chat.reply", "text": "hello"}), &cx);
//! cx.span().end();
//! assert!(reply.contains("\"trace_context\""));
//! ```
//!
//! With axum, read `Message::Text(t)` as `Incoming::parse(t.as_str())` and send
//! `Message::Text(reply_text(v, &cx).into())`; with tokio-tungstenite the same holds for its
//! `Message::Text`.
//!
//! ## Payload-free connections
//!
//! For sockets whose messages must stay as they are (binary protocols, strict schemas), the
//! browser SDK (`payloadFreeUrls`) changes no message. It puts the context of its `ws.connect`
//! span into the handshake URL instead, as the query parameter `traceparent`, and numbers the
//! messages of each direction from 1. [`PayloadFree`] is the server's side of that: made from
//! the handshake's query string, it counts the messages the server receives and sends on the
//! connection and gives each its span, carrying `ws.connection.span_id` and
//! `ws.message.sequence`, from which the collector joins browser message n with server message
//! n. Replies are sent unchanged.
//!
//! ```
//! use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
//! use tracewire_ws::{Frame, PayloadFree};
//!
//! let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
//! let tracer = provider.tracer("agent-backend");
//! // The handshake was `GET /ws?room=7&traceparent=00-…`: axum's `RawQuery`, or `uri.query()`.
//! let query = "room=7&traceparent=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
//! let connection = PayloadFree::from_query(query).expect("a payload-free connection");
//!
//! // Message 1 in: a CONSUMER span "ws.receive", child of the browser's ws.connect span.
//! let frame = [0x08, 0x96, 0x01];
//! let cx = connection.receive(&tracer, Frame::Binary(&frame));
//! assert_eq!(cx.span().span_context().trace_id().to_string(), "0af7651916cd43dd8448eb211c80319c");
//! // Message 1 out, sent byte for byte as it is: a PRODUCER span "ws.send" under the handler.
//! let sent = connection.send(&tracer, &cx, Frame::Binary(&frame));
//! // … socket.send(Message::Binary(frame)) …
//! sent.span().end();
//! cx.span().end();
//! ```
//!
//! Call [`PayloadFree::receive`] in the order messages arrive and [`PayloadFree::send`] in the
//! order they go onto the socket (in the one task that writes to it, right before writing), so
//! the numbers are the ones the browser counts. With tokio-tungstenite, the query string is
//! `request.uri().query()` in the callback of `accept_hdr_async`.

use std::sync::atomic::{AtomicU64, Ordering};

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanId, SpanKind, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use serde_json::{Map, Value};
use tracewire_semconv::{attribute, message, span, value};

/// The JSON field that carries trace context, unless configured otherwise.
pub const DEFAULT_FIELD: &str = message::TRACE_CONTEXT_FIELD;

/// The JSON fields read, in order, for a message's type, unless configured otherwise.
pub const DEFAULT_TYPE_FIELDS: [&str; 4] = message::TYPE_FIELDS;

/// Longest message type used in span names; longer ones are cut so names stay short.
const MAX_TYPE_LEN: usize = 64;

/// Where trace context and the message type live in messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    /// The trace-context field, `trace_context` by default.
    pub context: String,
    /// The fields that name a message's type, first match wins.
    pub message_type: Vec<String>,
}

impl Default for Fields {
    fn default() -> Self {
        Self {
            context: DEFAULT_FIELD.to_owned(),
            message_type: DEFAULT_TYPE_FIELDS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        }
    }
}

/// An incoming WebSocket text message, read for tracing.
#[derive(Debug, Clone)]
pub struct Incoming {
    payload: Value,
    parent: Context,
    has_parent: bool,
    message_type: Option<String>,
    size: usize,
    enveloped: bool,
}

impl Incoming {
    /// Parses a JSON text message with the default [`Fields`].
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        Self::parse_with(text, &Fields::default())
    }

    /// Parses a JSON text message. An envelope is unwrapped: [`Incoming::payload`] is its
    /// `data`. The trace-context field is removed from the payload. A missing or invalid
    /// context is not an error: the span then starts a new trace.
    pub fn parse_with(text: &str, fields: &Fields) -> Result<Self, serde_json::Error> {
        let mut value: Value = serde_json::from_str(text)?;
        let mut context = None;
        let mut enveloped = false;
        if let Value::Object(obj) = &mut value {
            context = obj.remove(&fields.context);
            if is_envelope(obj) {
                enveloped = true;
                value = obj.remove(message::ENVELOPE_DATA).unwrap_or(Value::Null);
            }
        }
        let parent = context
            .as_ref()
            .and_then(Value::as_object)
            .map(|carrier| TraceContextPropagator::new().extract(&JsonCarrier(carrier)))
            .unwrap_or_default();
        let has_parent = parent.span().span_context().is_valid();
        let message_type = match &value {
            Value::Object(obj) => message_type(obj, &fields.message_type),
            _ => None,
        };
        Ok(Self {
            payload: value,
            parent,
            has_parent,
            message_type,
            size: text.len(),
            enveloped,
        })
    }

    /// The application's message, without the trace-context field and outside any envelope.
    pub fn payload(&self) -> &Value {
        &self.payload
    }

    /// Takes the payload.
    pub fn into_payload(self) -> Value {
        self.payload
    }

    /// The message type, from the first type field holding a string or number.
    pub fn message_type(&self) -> Option<&str> {
        self.message_type.as_deref()
    }

    /// True when the message carried a valid `traceparent`.
    pub fn has_parent(&self) -> bool {
        self.has_parent
    }

    /// The browser's context (its `ws.send` span), or an empty context.
    pub fn parent_context(&self) -> &Context {
        &self.parent
    }

    /// Starts the server's span for this message: kind CONSUMER, named `ws.receive <type>`,
    /// a child of the browser's send span, with the messaging attributes of the conventions.
    /// Returns a context holding it: attach it while handling, pass it to [`reply_text`], and
    /// end the span (`cx.span().end()`) when the message is handled.
    pub fn start_span<T>(&self, tracer: &T) -> Context
    where
        T: Tracer,
        T::Span: Send + Sync + 'static,
    {
        let mut attributes = vec![
            KeyValue::new(
                attribute::MESSAGING_SYSTEM,
                value::MESSAGING_SYSTEM_WEBSOCKET,
            ),
            KeyValue::new(
                attribute::MESSAGING_OPERATION_TYPE,
                value::OPERATION_RECEIVE,
            ),
            KeyValue::new(
                attribute::MESSAGING_MESSAGE_BODY_SIZE,
                i64::try_from(self.size).unwrap_or(i64::MAX),
            ),
            KeyValue::new(
                attribute::WS_MESSAGE_FORMAT,
                if self.enveloped {
                    value::FORMAT_ENVELOPE
                } else {
                    value::FORMAT_JSON
                },
            ),
        ];
        if let Some(t) = &self.message_type {
            attributes.push(KeyValue::new(attribute::WS_MESSAGE_TYPE, t.clone()));
        }
        let span = tracer
            .span_builder(span_name(span::WS_RECEIVE, self.message_type()))
            .with_kind(SpanKind::Consumer)
            .with_attributes(attributes)
            .start_with_context(tracer, &self.parent);
        self.parent.with_span(span)
    }
}

/// A WebSocket message as it goes over the wire, for the spans of a payload-free connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A text message.
    Text(&'a str),
    /// A binary message.
    Binary(&'a [u8]),
}

impl Frame<'_> {
    /// Size in bytes (UTF-8 for text).
    pub fn size(&self) -> usize {
        match self {
            Self::Text(t) => t.len(),
            Self::Binary(b) => b.len(),
        }
    }

    /// The message type, read from text that is a JSON object (only read, never changed) by
    /// the first of `fields` that holds a string or number; `None` for binary and other text.
    pub fn message_type(&self, fields: &[String]) -> Option<String> {
        let Self::Text(text) = self else {
            return None;
        };
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(obj)) => message_type(&obj, fields),
            _ => None,
        }
    }

    fn format(&self) -> &'static str {
        match self {
            Self::Text(_) => value::FORMAT_TEXT,
            Self::Binary(_) => value::FORMAT_BINARY,
        }
    }
}

/// A payload-free connection: the browser's `ws.connect` context from the handshake URL, and
/// the numbers of the messages received and sent on the connection so far. Make one per
/// connection (a reconnect is a new connection, counting from 1 again); it can be shared by the
/// tasks reading and writing the socket (`Arc<PayloadFree>`).
#[derive(Debug)]
pub struct PayloadFree {
    parent: Context,
    connection: SpanId,
    type_fields: Vec<String>,
    received: AtomicU64,
    sent: AtomicU64,
}

impl PayloadFree {
    /// The connection described by a handshake's query string (without the `?`; a leading `?`
    /// is skipped): payload-free when it has a `traceparent` parameter holding a valid W3C
    /// `traceparent`, otherwise `None` (an ordinary connection).
    pub fn from_query(query: &str) -> Option<Self> {
        let query = query.strip_prefix('?').unwrap_or(query);
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .filter(|(name, _)| *name == message::HANDSHAKE_QUERY_PARAMETER)
            .find_map(|(_, value)| Self::from_traceparent(&percent_decode(value)?))
    }

    /// The connection whose `ws.connect` span a W3C `traceparent` names, when it is valid.
    pub fn from_traceparent(traceparent: &str) -> Option<Self> {
        let carrier = Map::from_iter([(
            message::TRACEPARENT.to_owned(),
            Value::String(traceparent.to_owned()),
        )]);
        let parent = TraceContextPropagator::new().extract(&JsonCarrier(&carrier));
        let span_context = parent.span().span_context().clone();
        span_context.is_valid().then(|| Self {
            parent,
            connection: span_context.span_id(),
            type_fields: Fields::default().message_type,
            received: AtomicU64::new(0),
            sent: AtomicU64::new(0),
        })
    }

    /// Reads message types from these fields instead of the default ones.
    pub fn with_fields(mut self, fields: &Fields) -> Self {
        self.type_fields.clone_from(&fields.message_type);
        self
    }

    /// The span id of the browser's `ws.connect` span, `ws.connection.span_id` of every span.
    pub fn connection_span_id(&self) -> SpanId {
        self.connection
    }

    /// The handshake's context (the browser's `ws.connect` span), parent of the receive spans.
    pub fn parent_context(&self) -> &Context {
        &self.parent
    }

    /// The message type of a frame, read as [`Frame::message_type`] with this connection's
    /// fields.
    pub fn message_type(&self, frame: Frame<'_>) -> Option<String> {
        frame.message_type(&self.type_fields)
    }

    /// Counts a received message and starts its span: kind CONSUMER, named
    /// `ws.receive <type>`, a child of the handshake's context, with the messaging attributes,
    /// `ws.connection.span_id` and `ws.message.sequence` (this message's number, from 1).
    /// Returns a context holding it, like [`Incoming::start_span`]: attach it while handling,
    /// give it to [`PayloadFree::send`] as the parent of replies, and end the span when the
    /// message is handled.
    pub fn receive<T>(&self, tracer: &T, frame: Frame<'_>) -> Context
    where
        T: Tracer,
        T::Span: Send + Sync + 'static,
    {
        self.start(tracer, &self.parent, frame, Direction::Receive)
    }

    /// Counts a sent message and starts its span: kind PRODUCER, named `ws.send <type>`, a child
    /// of `parent` (e.g. the receive span it answers), with the messaging attributes,
    /// `ws.connection.span_id` and `ws.message.sequence`. Call it right before the message goes
    /// onto the socket, in sending order; send the message unchanged, then end the span.
    pub fn send<T>(&self, tracer: &T, parent: &Context, frame: Frame<'_>) -> Context
    where
        T: Tracer,
        T::Span: Send + Sync + 'static,
    {
        self.start(tracer, parent, frame, Direction::Send)
    }

    fn start<T>(&self, tracer: &T, parent: &Context, frame: Frame<'_>, way: Direction) -> Context
    where
        T: Tracer,
        T::Span: Send + Sync + 'static,
    {
        let (counter, operation, kind, operation_type) = match way {
            Direction::Receive => (
                &self.received,
                span::WS_RECEIVE,
                SpanKind::Consumer,
                value::OPERATION_RECEIVE,
            ),
            Direction::Send => (
                &self.sent,
                span::WS_SEND,
                SpanKind::Producer,
                value::OPERATION_SEND,
            ),
        };
        let sequence = counter.fetch_add(1, Ordering::Relaxed) + 1;
        let message_type = self.message_type(frame);
        let mut attributes = vec![
            KeyValue::new(
                attribute::MESSAGING_SYSTEM,
                value::MESSAGING_SYSTEM_WEBSOCKET,
            ),
            KeyValue::new(attribute::MESSAGING_OPERATION_TYPE, operation_type),
            KeyValue::new(
                attribute::MESSAGING_MESSAGE_BODY_SIZE,
                i64::try_from(frame.size()).unwrap_or(i64::MAX),
            ),
            KeyValue::new(attribute::WS_MESSAGE_FORMAT, frame.format()),
            KeyValue::new(
                attribute::WS_CONNECTION_SPAN_ID,
                self.connection.to_string(),
            ),
            KeyValue::new(
                attribute::WS_MESSAGE_SEQUENCE,
                i64::try_from(sequence).unwrap_or(i64::MAX),
            ),
        ];
        if let Some(t) = &message_type {
            attributes.push(KeyValue::new(attribute::WS_MESSAGE_TYPE, t.clone()));
        }
        let span = tracer
            .span_builder(span_name(operation, message_type.as_deref()))
            .with_kind(kind)
            .with_attributes(attributes)
            .start_with_context(tracer, parent);
        parent.with_span(span)
    }
}

/// Which way a message of a payload-free connection went.
#[derive(Debug, Clone, Copy)]
enum Direction {
    Receive,
    Send,
}

/// A query-string value with `%XX` escapes and `+` decoded; `None` when it is not valid.
fn percent_decode(value: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(value.len());
    let mut rest = value.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        match b {
            b'%' => {
                let hex = rest
                    .get(..2)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))?;
                bytes.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                rest = &rest[2..];
            }
            b'+' => bytes.push(b' '),
            _ => bytes.push(b),
        }
    }
    String::from_utf8(bytes).ok()
}

/// A span name `<operation> <type>`, or the bare operation when the type is unknown.
pub fn span_name(operation: &str, message_type: Option<&str>) -> String {
    match message_type {
        Some(t) => format!("{operation} {t}"),
        None => operation.to_owned(),
    }
}

fn is_envelope(obj: &Map<String, Value>) -> bool {
    obj.contains_key(message::ENVELOPE_DATA)
        && obj.get(message::ENVELOPE_TS).is_some_and(Value::is_number)
        && obj.len() == 2
}

fn message_type(obj: &Map<String, Value>, fields: &[String]) -> Option<String> {
    fields.iter().find_map(|f| match obj.get(f) {
        Some(Value::String(s)) => Some(truncate(s)),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

fn truncate(s: &str) -> String {
    let mut end = s.len().min(MAX_TYPE_LEN);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// Puts `cx`'s span context into a JSON object reply under the default field. Values that are
/// not objects are left as they are (wrap them in an object to carry context).
pub fn inject(reply: &mut Value, cx: &Context) {
    inject_with(reply, cx, DEFAULT_FIELD);
}

/// [`inject`] with a chosen field name.
pub fn inject_with(reply: &mut Value, cx: &Context, field: &str) {
    if !cx.span().span_context().is_valid() {
        return;
    }
    if let Value::Object(obj) = reply {
        let mut carrier = Map::new();
        TraceContextPropagator::new().inject_context(cx, &mut JsonCarrierMut(&mut carrier));
        obj.insert(field.to_owned(), Value::Object(carrier));
    }
}

/// A reply's text with `cx`'s context injected, ready to send as a WebSocket text message.
pub fn reply_text(mut reply: Value, cx: &Context) -> String {
    inject(&mut reply, cx);
    reply.to_string()
}

struct JsonCarrier<'a>(&'a Map<String, Value>);

impl Extractor for JsonCarrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Value::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

struct JsonCarrierMut<'a>(&'a mut Map<String, Value>);

impl Injector for JsonCarrierMut<'_> {
    fn set(&mut self, key: &str, value: String) {
        // An empty `tracestate` is left out, as the conventions say.
        if !value.is_empty() {
            self.0.insert(key.to_owned(), Value::String(value));
        }
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};

    use super::*;

    const PARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    fn tracer() -> (InMemorySpanExporter, SdkTracerProvider) {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        (exporter, provider)
    }

    #[test]
    fn server_span_is_a_consumer_child_of_the_browser_send_span() {
        let (exporter, provider) = tracer();
        let text = format!(
            r#"{{"trace_context":{{"traceparent":"{PARENT}","tracestate":"tw=1"}},"type":"chat","n":1}}"#
        );
        let incoming = Incoming::parse(&text).expect("json");
        assert!(incoming.has_parent());
        assert_eq!(
            incoming.payload(),
            &serde_json::json!({"type": "chat", "n": 1})
        );
        let cx = incoming.start_span(&provider.tracer("t"));
        cx.span().end();
        let spans = exporter.get_finished_spans().expect("spans");
        let span = &spans[0];
        assert_eq!(span.name, "ws.receive chat");
        assert_eq!(span.span_kind, SpanKind::Consumer);
        assert_eq!(
            span.span_context.trace_id().to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
        assert_eq!(span.parent_span_id.to_string(), "b7ad6b7169203331");
        assert_eq!(span.span_context.trace_state().header(), "tw=1");
        assert!(
            span.attributes
                .contains(&KeyValue::new("messaging.system", "websocket"))
        );
        assert!(
            span.attributes
                .contains(&KeyValue::new("ws.message.type", "chat"))
        );
    }

    #[test]
    fn reply_carries_the_server_span_context() {
        let (_exporter, provider) = tracer();
        let incoming = Incoming::parse(&format!(
            r#"{{"op":"sub","trace_context":{{"traceparent":"{PARENT}"}}}}"#
        ))
        .expect("json");
        let cx = incoming.start_span(&provider.tracer("t"));
        let reply: Value =
            serde_json::from_str(&reply_text(serde_json::json!({"op": "ack"}), &cx)).expect("json");
        let traceparent = reply["trace_context"]["traceparent"]
            .as_str()
            .expect("traceparent");
        let server = cx.span().span_context().clone();
        assert_eq!(
            traceparent,
            format!("00-{}-{}-01", server.trace_id(), server.span_id())
        );
        assert_eq!(reply["op"], "ack");
    }

    #[test]
    fn envelope_is_unwrapped_and_any_payload_kept() {
        let text = format!(
            r#"{{"data":"ping","trace_context":{{"traceparent":"{PARENT}"}},"ts":1700000000000.5}}"#
        );
        let incoming = Incoming::parse(&text).expect("json");
        assert_eq!(incoming.payload(), &Value::from("ping"));
        assert!(incoming.has_parent());
        let nested = Incoming::parse(r#"{"data":{"event":"move"},"ts":1}"#).expect("json");
        assert_eq!(nested.message_type(), Some("move"));
    }

    #[test]
    fn missing_or_invalid_context_starts_a_new_trace() {
        let (exporter, provider) = tracer();
        for text in [
            r#"{"type":"x"}"#,
            r#"{"type":"x","trace_context":{"traceparent":"00-zz-yy-01"}}"#,
            r#"[1,2]"#,
        ] {
            let incoming = Incoming::parse(text).expect("json");
            assert!(!incoming.has_parent());
            incoming.start_span(&provider.tracer("t")).span().end();
        }
        for span in exporter.get_finished_spans().expect("spans") {
            assert_eq!(span.parent_span_id, opentelemetry::trace::SpanId::INVALID);
            assert!(span.span_context.is_valid());
        }
        assert!(Incoming::parse("not json").is_err());
    }

    #[test]
    fn message_type_reads_the_configured_fields_and_is_cut_short() {
        let fields = Fields {
            context: "tc".into(),
            message_type: vec!["kind".into()],
        };
        let incoming = Incoming::parse_with(
            &format!(r#"{{"kind":"{}","type":"no"}}"#, "x".repeat(100)),
            &fields,
        )
        .expect("json");
        assert_eq!(incoming.message_type().map(str::len), Some(MAX_TYPE_LEN));
        assert_eq!(
            Incoming::parse(r#"{"action":7}"#)
                .expect("json")
                .message_type(),
            Some("7")
        );
        assert_eq!(span_name("ws.receive", None), "ws.receive");
    }

    #[test]
    fn non_object_replies_and_empty_contexts_are_left_alone() {
        let mut reply = Value::from("text");
        inject(&mut reply, &Context::new());
        assert_eq!(reply, Value::from("text"));
        let mut obj = serde_json::json!({"a": 1});
        inject(&mut obj, &Context::new());
        assert_eq!(obj, serde_json::json!({"a": 1}));
    }

    fn attribute<'a>(
        span: &'a opentelemetry_sdk::trace::SpanData,
        key: &str,
    ) -> Option<&'a opentelemetry::Value> {
        span.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    }

    #[test]
    fn payload_free_spans_count_each_direction_from_one() {
        let (exporter, provider) = tracer();
        let tracer = provider.tracer("t");
        let connection =
            PayloadFree::from_query(&format!("traceparent={PARENT}")).expect("payload-free");
        let first = connection.receive(&tracer, Frame::Binary(&[0, 159, 146, 150]));
        let reply = connection.send(&tracer, &first, Frame::Text(r#"{"op":"ack"}"#));
        reply.span().end();
        first.span().end();
        let second = connection.receive(&tracer, Frame::Text(r#"{"type":"chat","n":1}"#));
        second.span().end();
        let spans = exporter.get_finished_spans().expect("spans");
        let find = |name: &str| {
            spans
                .iter()
                .find(|s| s.name == name)
                .unwrap_or_else(|| panic!("no span {name}"))
        };
        let (received, sent, chat) = (
            find("ws.receive"),
            find("ws.send ack"),
            find("ws.receive chat"),
        );
        for (span, kind, sequence) in [
            (received, SpanKind::Consumer, 1),
            (sent, SpanKind::Producer, 1),
            (chat, SpanKind::Consumer, 2),
        ] {
            assert_eq!(span.span_kind, kind, "{}", span.name);
            assert_eq!(
                attribute(span, "ws.message.sequence"),
                Some(&opentelemetry::Value::I64(sequence)),
                "{}",
                span.name
            );
            assert_eq!(
                attribute(span, "ws.connection.span_id"),
                Some(&opentelemetry::Value::from("b7ad6b7169203331"))
            );
            assert_eq!(
                span.span_context.trace_id().to_string(),
                "0af7651916cd43dd8448eb211c80319c"
            );
        }
        assert_eq!(received.parent_span_id.to_string(), "b7ad6b7169203331");
        assert_eq!(chat.parent_span_id.to_string(), "b7ad6b7169203331");
        assert_eq!(sent.parent_span_id, received.span_context.span_id());
        assert_eq!(
            attribute(received, "ws.message.format"),
            Some(&opentelemetry::Value::from("binary"))
        );
        assert_eq!(attribute(received, "ws.message.type"), None);
        assert_eq!(
            attribute(received, "messaging.message.body.size"),
            Some(&opentelemetry::Value::I64(4))
        );
        assert_eq!(
            attribute(chat, "ws.message.type"),
            Some(&opentelemetry::Value::from("chat"))
        );
    }

    #[test]
    fn payload_free_types_come_from_the_configured_fields() {
        let fields = Fields {
            context: DEFAULT_FIELD.into(),
            message_type: vec!["kind".into()],
        };
        let connection = PayloadFree::from_query(&format!("traceparent={PARENT}"))
            .expect("payload-free")
            .with_fields(&fields);
        let frame = Frame::Text(r#"{"kind":"move","type":"no"}"#);
        assert_eq!(connection.message_type(frame).as_deref(), Some("move"));
        assert_eq!(
            Frame::Text("not json").message_type(&fields.message_type),
            None
        );
        assert_eq!(
            Frame::Binary(b"{\"kind\":1}").message_type(&fields.message_type),
            None
        );
    }

    #[test]
    fn handshake_query_names_the_connection_or_nothing() {
        let connection = PayloadFree::from_query(&format!("?room=7&traceparent={PARENT}&x"))
            .expect("payload-free");
        assert_eq!(
            connection.connection_span_id().to_string(),
            "b7ad6b7169203331"
        );
        assert_eq!(
            connection
                .parent_context()
                .span()
                .span_context()
                .trace_id()
                .to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
        let encoded = PARENT.replace('-', "%2D");
        assert!(PayloadFree::from_query(&format!("traceparent={encoded}")).is_some());
        for query in [
            "",
            "room=7",
            "traceparent=",
            "traceparent=00-zz-yy-01",
            "traceparent=%2",
            "trace=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "traceparent=00-00000000000000000000000000000000-b7ad6b7169203331-01",
        ] {
            assert!(PayloadFree::from_query(query).is_none(), "{query}");
        }
    }
}
