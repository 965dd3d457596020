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

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer};
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
}
