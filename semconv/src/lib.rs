//! Tracewire's semantic conventions: the names of the attributes, spans and log events that the
//! browser SDK, backends (`tracewire-ws`, any OpenTelemetry SDK) and the collector agree on, in
//! one place. `docs/semantic-conventions.md` explains what each means; a test checks that every
//! name here is documented there.
//! It also holds the latency histogram's bins ([`latency`]), in which the browser SDK counts
//! round trips and the collector reads them.
//!
//! The crate has no dependencies and does not use `std`, so code compiled to WebAssembly pays
//! nothing for it: the constants are inlined where they are used.

#![no_std]

/// Defines documented string constants and, for the documentation test, the list of them.
macro_rules! names {
    ($($(#[$doc:meta])* $name:ident = $value:literal;)+) => {
        $($(#[$doc])* pub const $name: &str = $value;)+
        /// Every name of this module, for checking them against the documentation.
        #[cfg(test)]
        pub(crate) const ALL: &[&str] = &[$($value),+];
    };
}

/// Resource attributes, and the values by which the collector tells browser telemetry apart.
pub mod resource {
    names! {
        /// The service that recorded the telemetry.
        SERVICE_NAME = "service.name";
        /// The service's version.
        SERVICE_VERSION = "service.version";
        /// The deployment environment, e.g. `prod`.
        DEPLOYMENT_ENVIRONMENT = "deployment.environment";
        /// The SDK's name; [`BROWSER_SDK_NAME`] for the Tracewire browser SDK.
        TELEMETRY_SDK_NAME = "telemetry.sdk.name";
        /// The SDK's language; [`BROWSER_SDK_LANGUAGE`] marks a browser span.
        TELEMETRY_SDK_LANGUAGE = "telemetry.sdk.language";
        /// The SDK's version.
        TELEMETRY_SDK_VERSION = "telemetry.sdk.version";
        /// The browser's user agent string.
        USER_AGENT_ORIGINAL = "user_agent.original";
        /// `telemetry.sdk.language` of the Tracewire browser SDK: spans whose resource has it
        /// are browser spans, all others backend spans.
        BROWSER_SDK_LANGUAGE = "webjs";
        /// `telemetry.sdk.name` of the Tracewire browser SDK.
        BROWSER_SDK_NAME = "tracewire-sdk";
    }
}

/// Span and log attributes.
pub mod attribute {
    names! {
        /// The browser session, on every browser span and log.
        SESSION_ID = "session.id";
        /// The application's user id, on browser spans and logs once it is set.
        USER_ID = "user.id";
        /// The socket or request URL.
        URL_FULL = "url.full";
        /// `websocket` ([`crate::value::MESSAGING_SYSTEM_WEBSOCKET`]) on every WebSocket span.
        MESSAGING_SYSTEM = "messaging.system";
        /// `send`, `receive` or `process` ([`crate::value`]).
        MESSAGING_OPERATION_TYPE = "messaging.operation.type";
        /// Message size in bytes (UTF-8 for text).
        MESSAGING_MESSAGE_BODY_SIZE = "messaging.message.body.size";
        /// The message type, the first of the type fields ([`crate::message::TYPE_FIELDS`]).
        WS_MESSAGE_TYPE = "ws.message.type";
        /// `text`, `binary`, `json` or `envelope` ([`crate::value`]).
        WS_MESSAGE_FORMAT = "ws.message.format";
        /// Whether the browser added the trace context to the message.
        WS_CONTEXT_INJECTED = "ws.context_injected";
        /// On a payload-free connection's message spans: the span id of the connection's
        /// `ws.connect` span (16 hex), the one in the handshake URL's `traceparent`.
        WS_CONNECTION_SPAN_ID = "ws.connection.span_id";
        /// On a payload-free connection's message spans: the message's number on its connection
        /// in its direction, from 1.
        WS_MESSAGE_SEQUENCE = "ws.message.sequence";
        /// The browser-side round-trip time of an exchange, milliseconds.
        WS_RTT_MS = "ws.rtt_ms";
        /// Handshake time of `ws.connect`, milliseconds.
        WS_HANDSHAKE_MS = "ws.handshake_ms";
        /// The subprotocol the server chose.
        WS_PROTOCOL = "ws.protocol";
        /// Reconnects of this URL so far.
        WS_RECONNECT_COUNT = "ws.reconnect_count";
        /// The close code of `ws.close`.
        WS_CLOSE_CODE = "ws.close.code";
        /// The close reason of `ws.close`.
        WS_CLOSE_REASON = "ws.close.reason";
        /// Whether the connection closed cleanly.
        WS_CLOSE_WAS_CLEAN = "ws.close.was_clean";
        /// The most bytes buffered for sending during the connection.
        WS_BUFFERED_AMOUNT_MAX = "ws.buffered_amount.max";
        /// Messages sent during the connection.
        WS_MESSAGES_SENT = "ws.messages.sent";
        /// Messages received during the connection.
        WS_MESSAGES_RECEIVED = "ws.messages.received";
        /// How long the connection lasted, milliseconds.
        WS_CONNECTION_DURATION_MS = "ws.connection.duration_ms";
        /// On a `ws.error` log: whether the socket had opened.
        WS_OPENED = "ws.opened";
        /// The HTTP method of a request.
        HTTP_REQUEST_METHOD = "http.request.method";
        /// The HTTP status code of a response.
        HTTP_RESPONSE_STATUS_CODE = "http.response.status_code";
        /// The route template of a request, e.g. `/api/agents/{id}`.
        HTTP_ROUTE = "http.route";
        /// On a request-rate record: requests to the route in the interval.
        HTTP_CLIENT_REQUEST_COUNT = "http.client.request.count";
        /// On a request-rate record: requests sent without a span of their own.
        HTTP_CLIENT_REQUEST_SUPPRESSED = "http.client.request.suppressed";
        /// On a request-rate or `ws.message_rate` record: the span of time it covers, milliseconds.
        TRACEWIRE_INTERVAL_MS = "tracewire.interval_ms";
        /// On a `ws.message_rate` record: sends without a span of their own.
        WS_COUNTED_SENT = "ws.counted.sent";
        /// On a `ws.message_rate` record: receives without a span of their own.
        WS_COUNTED_RECEIVED = "ws.counted.received";
        /// On a `ws.message_rate` record: the body sizes of the counted sends, bytes.
        WS_COUNTED_SENT_BYTES = "ws.counted.sent_bytes";
        /// On a `ws.message_rate` record: the body sizes of the counted receives, bytes.
        WS_COUNTED_RECEIVED_BYTES = "ws.counted.received_bytes";
        /// On a `ws.message_rate` record: counted receives whose listener threw.
        WS_COUNTED_ERRORS = "ws.counted.errors";
        /// On a `ws.message_rate` record: messages beyond the allowance that were traced anyway
        /// (one in K), informational.
        WS_COUNTED_TRACED = "ws.counted.traced";
        /// On a `ws.message_rate` record: round-trip times of counted sends that got a reply,
        /// as space-separated `k:n` pairs (n round trips in bin k of the collector's latency
        /// histogram).
        WS_COUNTED_RTT = "ws.counted.rtt";
        /// On a `tracewire.dropped` record: items dropped.
        TRACEWIRE_DROPPED_COUNT = "tracewire.dropped.count";
        /// On a `tracewire.dropped` record: why they were dropped.
        TRACEWIRE_DROPPED_REASON = "tracewire.dropped.reason";
        /// The type of an exception; a log with it is an error.
        EXCEPTION_TYPE = "exception.type";
        /// The message of an exception.
        EXCEPTION_MESSAGE = "exception.message";
        /// The stack trace of an exception.
        EXCEPTION_STACKTRACE = "exception.stacktrace";
        /// Whether the exception came from an unhandled promise rejection.
        EXCEPTION_UNHANDLED_REJECTION = "exception.unhandled_rejection";
        /// The source file of an error.
        CODE_FILEPATH = "code.filepath";
        /// The source line of an error.
        CODE_LINENO = "code.lineno";
        /// The source column of an error.
        CODE_COLUMN = "code.column";
        /// On `sse.connect`: reconnects of this EventSource before this attempt.
        SSE_RECONNECT_COUNT = "sse.reconnect_count";
        /// On `sse.receive`: where the event's trace context came from, `data` or `id`.
        SSE_CONTEXT_SOURCE = "sse.context_source";
        /// On a log captured from the browser console: the `console` method called (`error`,
        /// `warn`, ...).
        CONSOLE_METHOD = "console.method";
    }
}

/// Span names (operations); a message's span is named `<operation> <message type>`.
pub mod span {
    names! {
        /// The browser sent a message (PRODUCER).
        WS_SEND = "ws.send";
        /// A message was received: by the backend, or by the browser (CONSUMER).
        WS_RECEIVE = "ws.receive";
        /// The page's listeners handled a received message (CONSUMER).
        WS_PROCESS = "ws.process";
        /// The WebSocket handshake.
        WS_CONNECT = "ws.connect";
        /// The whole WebSocket connection, ended at `close`.
        WS_CLOSE = "ws.close";
        /// What every WebSocket span name starts with.
        WS_PREFIX = "ws.";
        /// An EventSource (Server-Sent Events) connection attempt, from `new EventSource` or
        /// the reconnect to `open` (or the failure).
        SSE_CONNECT = "sse.connect";
        /// The browser received a Server-Sent Event (CONSUMER).
        SSE_RECEIVE = "sse.receive";
    }
}

/// Event names of log records.
pub mod event {
    names! {
        /// A WebSocket `error` event in the browser.
        WS_ERROR = "ws.error";
        /// The browser's periodic request count per route, instead of a span per request.
        HTTP_CLIENT_REQUEST_RATE = "http.client.request_rate";
        /// The browser's periodic count per socket and message type of the messages it sent
        /// or received without a span.
        WS_MESSAGE_RATE = "ws.message_rate";
        /// Items the browser SDK dropped because its queue was full.
        TRACEWIRE_DROPPED = "tracewire.dropped";
    }
}

/// Attribute values with a fixed meaning.
pub mod value {
    names! {
        /// `messaging.system` of WebSocket spans.
        MESSAGING_SYSTEM_WEBSOCKET = "websocket";
        /// `messaging.system` of Server-Sent Events spans.
        MESSAGING_SYSTEM_SSE = "sse";
        /// `sse.context_source` of an event whose data carried the context.
        SSE_CONTEXT_DATA = "data";
        /// `sse.context_source` of an event whose `id` was the context.
        SSE_CONTEXT_ID = "id";
        /// `messaging.operation.type` of a sent message.
        OPERATION_SEND = "send";
        /// `messaging.operation.type` of a received message.
        OPERATION_RECEIVE = "receive";
        /// `messaging.operation.type` of the browser's listeners handling a message.
        OPERATION_PROCESS = "process";
        /// `ws.message.format` of text that is not JSON (or not instrumented).
        FORMAT_TEXT = "text";
        /// `ws.message.format` of a binary message.
        FORMAT_BINARY = "binary";
        /// `ws.message.format` of a JSON message with the context field (backend side).
        FORMAT_JSON = "json";
        /// `ws.message.format` of an enveloped message.
        FORMAT_ENVELOPE = "envelope";
    }
}

/// Where trace context travels inside a WebSocket message.
pub mod message {
    names! {
        /// The member holding the context in field mode and in an envelope (configurable).
        TRACE_CONTEXT_FIELD = "trace_context";
        /// The W3C `traceparent` inside the context member.
        TRACEPARENT = "traceparent";
        /// The W3C `tracestate` inside the context member (left out when empty).
        TRACESTATE = "tracestate";
        /// The query parameter of a payload-free socket's handshake URL that carries the W3C
        /// `traceparent` of its `ws.connect` span.
        HANDSHAKE_QUERY_PARAMETER = "traceparent";
        /// The original message inside an envelope.
        ENVELOPE_DATA = "data";
        /// The browser's send time inside an envelope, milliseconds since the epoch.
        ENVELOPE_TS = "ts";
    }

    /// The fields whose first string or number value is the message type, in order.
    pub const TYPE_FIELDS: [&str; 4] = ["type", "event", "op", "action"];
}

/// The bins of the latency histogram that the collector keeps and the browser SDK counts round
/// trips in (`ws.counted.rtt`): bin 0 below 1 µs, bin `k >= 1` from `FLOOR_NS·γ^(k−1)` to
/// `FLOOR_NS·γ^k` nanoseconds. Both sides take the bounds from here, so a duration lands in
/// the same bin on each.
pub mod latency {
    /// Each bin's upper bound is this times its lower bound (γ).
    pub const GAMMA: f64 = 1.02;
    /// Durations of less than this (1 µs) in magnitude are bin 0, nanoseconds.
    pub const FLOOR_NS: f64 = 1_000.0;

    /// Gives `each` the lower bound of each bin `k >= 1`, in order: `FLOOR_NS·γ^(k−1)`
    /// rounded up to a whole nanosecond, up to 2^63. Made by repeated multiplication, which
    /// rounds the same on every platform (`powi` need not), within a part in 10^12 of γ^k. A
    /// duration's bin is the number of bounds at or below its magnitude, compared as integers.
    pub fn bin_lower_bounds(mut each: impl FnMut(u64)) {
        const TOP: f64 = 9_223_372_036_854_775_808.0; // 2^63, a whole number
        let mut low = FLOOR_NS;
        while low <= TOP {
            // Rounded up without `f64::ceil` (not in `core`); every f64 of 2^52 or more is a
            // whole number, so this is exact.
            let whole = low as u64;
            each(whole + u64::from((whole as f64) < low));
            low *= GAMMA;
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::vec::Vec;

    const DOC: &str = include_str!("../../docs/semantic-conventions.md");

    /// Whether `name` stands in the document as a whole word: in code quotes, JSON quotes or
    /// after `=` (`telemetry.sdk.language = webjs`), not only as part of a longer name.
    fn documented(name: &str) -> bool {
        DOC.match_indices(name).any(|(at, _)| {
            let before = DOC[..at].chars().next_back();
            let after = DOC[at + name.len()..].chars().next();
            matches!(before, Some('`' | '"' | ' ' | '(' | ','))
                && !matches!(after, Some(c) if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
                && (matches!(before, Some('`' | '"')) || DOC[..at].ends_with("= "))
        })
    }

    #[test]
    fn every_name_is_documented() {
        let all = [
            super::resource::ALL,
            super::attribute::ALL,
            super::span::ALL,
            super::event::ALL,
            super::value::ALL,
            super::message::ALL,
            &super::message::TYPE_FIELDS,
        ];
        let missing: Vec<&str> = all
            .iter()
            .flat_map(|names| names.iter())
            .filter(|name| !documented(name))
            .copied()
            .collect();
        assert!(
            missing.is_empty(),
            "not in docs/semantic-conventions.md: {missing:?}"
        );
    }

    #[test]
    fn latency_bins_are_rounded_up_and_reach_two_to_the_63() {
        let mut bounds = Vec::new();
        super::latency::bin_lower_bounds(|b| bounds.push(b));
        assert_eq!(bounds[..4], [1_000, 1_020, 1_041, 1_062]);
        assert!(bounds.windows(2).all(|w| w[0] < w[1]));
        let last = *bounds.last().expect("bins");
        assert!(last <= 1 << 63 && (last as f64) * super::latency::GAMMA > 2f64.powi(63));
    }
}
