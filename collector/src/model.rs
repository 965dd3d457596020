//! The collector's own records: what decode produces, what stores write and read back, and what
//! the query API is asked. Column meanings follow the OpenTelemetry ClickHouse schema.

use std::collections::BTreeMap;

use crate::signal::Signal;

mod metrics;

pub use metrics::*;

/// Attribute maps, stringified as in the OpenTelemetry ClickHouse schema (`Map(String, String)`).
pub type Attributes = BTreeMap<String, String>;

/// One span, flattened with its resource and scope.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanRecord {
    /// The tenant the span belongs to; empty for the default tenant.
    pub tenant: String,
    /// 32 lowercase hex characters.
    pub trace_id: String,
    /// 16 lowercase hex characters.
    pub span_id: String,
    /// 16 lowercase hex characters, or empty for a root span.
    pub parent_span_id: String,
    /// W3C `tracestate`.
    pub trace_state: String,
    /// Span name.
    pub name: String,
    /// Span kind.
    pub kind: SpanKind,
    /// `service.name` of the resource, `unknown_service` when absent.
    pub service_name: String,
    /// Start, unix nanoseconds.
    pub start_ns: i64,
    /// End minus start, nanoseconds; 0 when the end is before the start.
    pub duration_ns: i64,
    /// Status code.
    pub status_code: StatusCode,
    /// Status message.
    pub status_message: String,
    /// Instrumentation scope name.
    pub scope_name: String,
    /// Instrumentation scope version.
    pub scope_version: String,
    /// Resource attributes.
    pub resource_attributes: Attributes,
    /// Span attributes.
    pub span_attributes: Attributes,
    /// Span events, in the order sent.
    pub events: Vec<SpanEvent>,
    /// Span links, in the order sent.
    pub links: Vec<SpanLink>,
}

/// A span event.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SpanEvent {
    /// Unix nanoseconds.
    pub time_ns: i64,
    /// Event name.
    pub name: String,
    /// Event attributes.
    pub attributes: Attributes,
}

/// A link to another span.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SpanLink {
    /// 32 lowercase hex characters.
    pub trace_id: String,
    /// 16 lowercase hex characters.
    pub span_id: String,
    /// W3C `tracestate`.
    pub trace_state: String,
    /// Link attributes.
    pub attributes: Attributes,
}

/// One log record, flattened with its resource and scope.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    /// The tenant; empty for the default tenant.
    pub tenant: String,
    /// Unix nanoseconds: the record's time, or the observed time when the record has none.
    pub timestamp_ns: i64,
    /// Unix nanoseconds when the record was observed, 0 when unknown.
    pub observed_ns: i64,
    /// 32 lowercase hex characters, or empty.
    pub trace_id: String,
    /// 16 lowercase hex characters, or empty.
    pub span_id: String,
    /// W3C trace flags.
    pub trace_flags: u32,
    /// Severity as sent, e.g. `ERROR`.
    pub severity_text: String,
    /// OpenTelemetry severity number, 0 to 24.
    pub severity_number: i32,
    /// `service.name` of the resource.
    pub service_name: String,
    /// The body; non-string bodies as JSON.
    pub body: String,
    /// Instrumentation scope name.
    pub scope_name: String,
    /// Instrumentation scope version.
    pub scope_version: String,
    /// Resource attributes.
    pub resource_attributes: Attributes,
    /// Log attributes.
    pub log_attributes: Attributes,
    /// `event_name` of the record.
    pub event_name: String,
}

/// What one ingest request hands to the store.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Batch {
    /// Spans to store.
    pub spans: Vec<SpanRecord>,
    /// Log records to store.
    pub logs: Vec<LogRecord>,
    /// Metric data points to store.
    pub metrics: Vec<MetricPoint>,
}

impl Batch {
    /// How many records of `signal` the batch holds.
    pub fn count(&self, signal: Signal) -> usize {
        match signal {
            Signal::Traces => self.spans.len(),
            Signal::Logs => self.logs.len(),
            Signal::Metrics => self.metrics.len(),
        }
    }

    /// Records of every signal.
    pub fn len(&self) -> usize {
        Signal::ALL.into_iter().map(|s| self.count(s)).sum()
    }

    /// True when there is nothing to store.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Puts every span and log record in `tenant` (the stored form, empty for the default
    /// tenant): the tenant comes from the request's credential, never from its payload.
    pub fn assign_tenant(&mut self, tenant: &str) {
        for span in &mut self.spans {
            tenant.clone_into(&mut span.tenant);
        }
        for log in &mut self.logs {
            tenant.clone_into(&mut log.tenant);
        }
        for point in &mut self.metrics {
            tenant.clone_into(&mut point.tenant);
        }
    }
}

macro_rules! named_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $otlp:literal => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// The name used in storage and in the query API.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }

            /// Parses the stored name.
            pub fn from_name(text: &str) -> Option<Self> {
                match text {
                    $($text => Some(Self::$variant),)+
                    _ => None,
                }
            }

            /// Maps the OTLP enum value; unknown values map to the first variant.
            pub fn from_otlp(value: i32) -> Self {
                match value {
                    $($otlp => Self::$variant,)+
                    _ => named_enum!(@first $($variant)+),
                }
            }
        }
    };
    (@first $first:ident $($rest:ident)*) => { Self::$first };
}

named_enum! {
    /// Span kind, named as in the OpenTelemetry ClickHouse schema.
    SpanKind {
        /// Not specified.
        Unspecified = 0 => "Unspecified",
        /// Internal operation.
        Internal = 1 => "Internal",
        /// Server side of a request.
        Server = 2 => "Server",
        /// Client side of a request.
        Client = 3 => "Client",
        /// Sender of a message.
        Producer = 4 => "Producer",
        /// Receiver of a message.
        Consumer = 5 => "Consumer",
    }
}

named_enum! {
    /// Span status code, named as in the OpenTelemetry ClickHouse schema.
    StatusCode {
        /// Not set.
        Unset = 0 => "Unset",
        /// Explicitly OK.
        Ok = 1 => "Ok",
        /// An error.
        Error = 2 => "Error",
    }
}

/// Filters for trace search. Span-level filters select the spans that match; the traces whose
/// latest matching span is newest are returned (up to `limit`), summarised over all of their
/// spans.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraceQuery {
    /// Only spans of this service.
    pub service: Option<String>,
    /// Only spans with this name.
    pub name: Option<String>,
    /// Only spans whose parent span belongs to this service (the callee's spans of a
    /// dependency call from this service).
    pub parent_service: Option<String>,
    /// Only spans at least this long, nanoseconds.
    pub min_duration_ns: Option<i64>,
    /// Only spans at most this long, nanoseconds.
    pub max_duration_ns: Option<i64>,
    /// Only spans with status `Error`.
    pub errors_only: bool,
    /// Only spans starting at or after this time, unix nanoseconds.
    pub start_ns: Option<i64>,
    /// Only spans starting before this time, unix nanoseconds.
    pub end_ns: Option<i64>,
    /// Only spans with each of these `(key, value)` pairs among their span or resource
    /// attributes (`session.id` and `user.id` filters are attributes too).
    pub attributes: Vec<(String, String)>,
    /// At most this many traces.
    pub limit: usize,
}

/// One trace in search results.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceSummary {
    /// The trace id.
    pub trace_id: String,
    /// Service of the root span (or of the earliest span when the root is missing).
    pub root_service: String,
    /// Name of the root span (or of the earliest span).
    pub root_name: String,
    /// Earliest span start, unix nanoseconds.
    pub start_ns: i64,
    /// Latest span end minus earliest start, nanoseconds.
    pub duration_ns: i64,
    /// Number of spans stored for the trace.
    pub span_count: u64,
    /// True when any span has status `Error`.
    pub has_error: bool,
}

/// One service with its activity.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSummary {
    /// `service.name`.
    pub name: String,
    /// Spans stored for the service.
    pub span_count: u64,
    /// Latest span start, unix nanoseconds.
    pub last_seen_ns: i64,
    /// Whether its newest span was recorded in a browser by the Tracewire SDK
    /// ([`crate::correlate::Source`]).
    pub browser: bool,
}

/// Filters for round trips (browser WebSocket messages a backend continued).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoundTripQuery {
    /// Only this browser session (`session.id`).
    pub session_id: Option<String>,
    /// Only this browser service.
    pub service: Option<String>,
    /// Only this message type (`ws.message.type`).
    pub message_type: Option<String>,
    /// Sent at or after this time, unix nanoseconds.
    pub start_ns: i64,
    /// Sent before this time, unix nanoseconds.
    pub end_ns: i64,
    /// At most this many round trips, newest first.
    pub limit: usize,
}

/// A window of round trips to add up per step ([`crate::correlate::Rollups`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RollupQuery {
    /// Only this message type (`ws.message.type`).
    pub message_type: Option<String>,
    /// The first step's start, unix nanoseconds.
    pub start_ns: i64,
    /// The window's end (exclusive), unix nanoseconds.
    pub end_ns: i64,
    /// Each step's length, nanoseconds.
    pub step_ns: i64,
    /// How many steps.
    pub buckets: usize,
}

/// A window of calls to add up per step ([`crate::spanmetrics::CallRollups`]): operation calls
/// or dependency calls, by the time they started.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallQuery {
    /// Only calls of this service's operations; dependency reads take every call.
    pub service: Option<String>,
    /// The first step's start, unix nanoseconds.
    pub start_ns: i64,
    /// The window's end (exclusive), unix nanoseconds.
    pub end_ns: i64,
    /// Each step's length, nanoseconds.
    pub step_ns: i64,
    /// How many steps.
    pub buckets: usize,
}

/// The four times of a WebSocket exchange, each on its own side's clock (unix nanoseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExchangeTimes {
    /// t1: the browser sent the message (browser clock).
    pub client_send_ns: i64,
    /// t2: the backend started handling it (backend clock).
    pub server_receive_ns: i64,
    /// t3: the backend was done with it (backend clock).
    pub server_done_ns: i64,
    /// t4: the browser received the reply (browser clock), when a reply carried the trace back.
    pub client_receive_ns: Option<i64>,
    /// How long the page took to process the reply.
    pub client_processing_ns: Option<i64>,
}

/// One round trip as stored: derived from the spans of its trace by the collector's correlation
/// step (`docs/semantic-conventions.md`), identified by its trace and send span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundTrip {
    /// The tenant of the trace.
    pub tenant: String,
    /// The trace.
    pub trace_id: String,
    /// The browser's `ws.send` span.
    pub send_span_id: String,
    /// The first backend span continuing it.
    pub server_span_id: String,
    /// The browser's `ws.receive` span of the reply.
    pub receive_span_id: Option<String>,
    /// `session.id` of the send span.
    pub session_id: Option<String>,
    /// `user.id` of the send span.
    pub user_id: Option<String>,
    /// `url.full` of the send span (the socket's URL).
    pub url: Option<String>,
    /// `ws.message.type` of the send span.
    pub message_type: Option<String>,
    /// The browser service.
    pub service: String,
    /// The backend service that handled the message.
    pub server_service: String,
    /// When things happened.
    pub times: ExchangeTimes,
    /// The backend's handling or the page's processing of the reply failed.
    pub error: bool,
    /// Spans of the trace the record was derived from: a later derivation from more spans
    /// replaces an earlier one, never the other way round (ClickHouse keeps the highest). SQLite
    /// replaces a trace's records in one transaction, needs no version and reads back 0.
    pub version: u64,
}

/// What latency series and per-type aggregates read of each round trip in a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundTripPoint {
    /// The trace.
    pub trace_id: String,
    /// `ws.message.type` of the send span, empty when it had none.
    pub message_type: String,
    /// When things happened.
    pub times: ExchangeTimes,
    /// The backend's handling or the page's processing of the reply failed.
    pub error: bool,
    /// The stored clock offset of its session (server minus client), 0 when none is known.
    pub clock_offset_ns: i64,
}

/// A browser session's stored clock offset, estimated from its round trips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionOffset {
    /// Server clock minus browser clock, nanoseconds.
    pub offset_ns: i64,
    /// Round trips the estimate used.
    pub samples: u64,
}

/// Log records of one event name in a time window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventQuery {
    /// `event_name` of the records.
    pub event_name: String,
    /// At or after this time, unix nanoseconds.
    pub start_ns: i64,
    /// Before this time, unix nanoseconds.
    pub end_ns: i64,
    /// At most this many records, newest first.
    pub limit: usize,
}
