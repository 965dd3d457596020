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

/// Log severity: the six levels of `log()`, as OTLP severity numbers (the first number of each
/// OTLP range: TRACE 1-4, DEBUG 5-8, INFO 9-12, WARN 13-16, ERROR 17-20, FATAL 21-24).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// TRACE (1).
    Trace = 1,
    /// DEBUG (5).
    Debug = 5,
    /// INFO (9).
    Info = 9,
    /// WARN (13).
    Warn = 13,
    /// ERROR (17).
    Error = 17,
    /// FATAL (21).
    Fatal = 21,
}

impl Severity {
    /// The OTLP severity text.
    pub fn text(self) -> &'static str {
        match self {
            Severity::Trace => "TRACE",
            Severity::Debug => "DEBUG",
            Severity::Info => "INFO",
            Severity::Warn => "WARN",
            Severity::Error => "ERROR",
            Severity::Fatal => "FATAL",
        }
    }

    /// The level named `trace`, `debug`, `info`, `warn`, `error` or `fatal` (the names of the
    /// JavaScript `log()`), or `None`.
    pub fn from_name(name: &str) -> Option<Severity> {
        Some(match name {
            "trace" => Severity::Trace,
            "debug" => Severity::Debug,
            "info" => Severity::Info,
            "warn" => Severity::Warn,
            "error" => Severity::Error,
            "fatal" => Severity::Fatal,
            _ => return None,
        })
    }

    /// The level of a captured `console.<method>` call ([`CONSOLE_METHODS`]), or `None` for a
    /// method the SDK does not capture.
    pub fn of_console_method(method: &str) -> Option<Severity> {
        match method {
            "log" => Some(Severity::Info),
            "trace" | "debug" | "info" | "warn" | "error" => Severity::from_name(method),
            _ => None,
        }
    }
}

/// The `console` methods that `captureConsole` accepts.
pub const CONSOLE_METHODS: [&str; 6] = ["trace", "debug", "log", "info", "warn", "error"];

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_map_to_otlp_severity_numbers_and_texts() {
        let levels: Vec<(u8, &str)> = ["trace", "debug", "info", "warn", "error", "fatal"]
            .iter()
            .map(|n| Severity::from_name(n).expect("level"))
            .map(|s| (s as u8, s.text()))
            .collect();
        assert_eq!(
            levels,
            [
                (1, "TRACE"),
                (5, "DEBUG"),
                (9, "INFO"),
                (13, "WARN"),
                (17, "ERROR"),
                (21, "FATAL")
            ]
        );
        assert_eq!(Severity::from_name("WARN"), None);
        assert_eq!(Severity::from_name("warning"), None);
    }

    #[test]
    fn console_methods_have_a_level_and_others_do_not() {
        for m in CONSOLE_METHODS {
            assert!(Severity::of_console_method(m).is_some(), "{m}");
        }
        assert_eq!(Severity::of_console_method("log"), Some(Severity::Info));
        assert_eq!(Severity::of_console_method("error"), Some(Severity::Error));
        assert_eq!(Severity::of_console_method("fatal"), None);
        assert_eq!(Severity::of_console_method("table"), None);
    }
}
