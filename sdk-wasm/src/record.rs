//! What the SDK records before export: spans and log records with their attributes.

use std::borrow::Cow;

use crate::context::{SpanId, TraceId};

/// An attribute value (the OTLP `AnyValue` subset the SDK produces).
#[derive(Clone, Debug, PartialEq)]
pub enum AttrValue {
    /// UTF-8 text (borrowed when static, so recording a span does not allocate for constants).
    Str(Cow<'static, str>),
    /// Signed 64-bit integer.
    Int(i64),
    /// Double.
    Float(f64),
    /// Boolean.
    Bool(bool),
}

impl From<&'static str> for AttrValue {
    fn from(v: &'static str) -> Self {
        AttrValue::Str(Cow::Borrowed(v))
    }
}
impl From<String> for AttrValue {
    fn from(v: String) -> Self {
        AttrValue::Str(Cow::Owned(v))
    }
}
impl From<i64> for AttrValue {
    fn from(v: i64) -> Self {
        AttrValue::Int(v)
    }
}
impl From<u32> for AttrValue {
    fn from(v: u32) -> Self {
        AttrValue::Int(i64::from(v))
    }
}
impl From<f64> for AttrValue {
    fn from(v: f64) -> Self {
        AttrValue::Float(v)
    }
}
impl From<bool> for AttrValue {
    fn from(v: bool) -> Self {
        AttrValue::Bool(v)
    }
}

/// An attribute key: static for the SDK's own keys, owned for the application's.
pub type Key = Cow<'static, str>;

/// Attributes in insertion order.
pub type Attributes = Vec<(Key, AttrValue)>;

/// OTLP span kinds (the integers are the OTLP enum values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpanKind {
    /// In-process work.
    Internal = 1,
    /// Outgoing request (fetch).
    Client = 3,
    /// Message sent (WebSocket send).
    Producer = 4,
    /// Message received or processed.
    Consumer = 5,
}

/// A timed event inside a span.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanEvent {
    /// When, in ns since the Unix epoch.
    pub time_ns: u64,
    /// Event name.
    pub name: String,
    /// Event attributes.
    pub attributes: Attributes,
}

/// A finished span.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanRecord {
    /// Trace id.
    pub trace_id: TraceId,
    /// Span id.
    pub span_id: SpanId,
    /// Parent span, if any (possibly remote).
    pub parent_span_id: Option<SpanId>,
    /// Span name.
    pub name: String,
    /// Span kind.
    pub kind: SpanKind,
    /// Start, in ns since the Unix epoch.
    pub start_ns: u64,
    /// End, in ns since the Unix epoch.
    pub end_ns: u64,
    /// Attributes.
    pub attributes: Attributes,
    /// Events.
    pub events: Vec<SpanEvent>,
    /// `Some(message)` marks the span as failed.
    pub error: Option<String>,
}

/// Log severity (OTLP severity numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// INFO (9).
    Info = 9,
    /// WARN (13).
    Warn = 13,
    /// ERROR (17).
    Error = 17,
}

impl Severity {
    /// The OTLP severity text.
    pub fn text(self) -> &'static str {
        match self {
            Severity::Info => "INFO",
            Severity::Warn => "WARN",
            Severity::Error => "ERROR",
        }
    }
}

/// A log record (errors, events, SDK self-reports).
#[derive(Clone, Debug, PartialEq)]
pub struct LogRecord {
    /// When, in ns since the Unix epoch.
    pub time_ns: u64,
    /// Severity.
    pub severity: Severity,
    /// Body text.
    pub body: String,
    /// OTLP `eventName`, for structured events.
    pub event_name: Option<String>,
    /// Attributes.
    pub attributes: Attributes,
    /// Trace the record belongs to, if one was active.
    pub trace_id: Option<TraceId>,
    /// Span the record belongs to, if one was active.
    pub span_id: Option<SpanId>,
}

/// One queued telemetry item.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// A finished span, exported to `/v1/traces`.
    Span(SpanRecord),
    /// A log record, exported to `/v1/logs`.
    Log(LogRecord),
}

fn attrs_bytes(attrs: &Attributes) -> usize {
    attrs
        .iter()
        .map(|(k, v)| {
            k.len()
                + 40
                + match v {
                    AttrValue::Str(s) => s.len() + s.len() / 8,
                    _ => 24,
                }
        })
        .sum()
}

impl Item {
    /// Estimated size of the item in encoded OTLP JSON, used for the queue's byte limit. It
    /// errs on the large side (escaping, field names) so the limit is a real bound.
    pub fn approx_bytes(&self) -> usize {
        match self {
            Item::Span(s) => {
                260 + s.name.len()
                    + attrs_bytes(&s.attributes)
                    + s.events
                        .iter()
                        .map(|e| 60 + e.name.len() + attrs_bytes(&e.attributes))
                        .sum::<usize>()
                    + s.error.as_ref().map_or(0, |m| m.len() + 30)
            }
            Item::Log(l) => {
                200 + l.body.len()
                    + l.body.len() / 8
                    + attrs_bytes(&l.attributes)
                    + l.event_name.as_ref().map_or(0, |n| n.len() + 16)
            }
        }
    }
}
