//! A browser session's time line: its spans and log records as one list of events in time
//! order, each classified as a connection, a message, a request, an error, a log or another
//! span (`docs/semantic-conventions.md` names what the SDK records).

use tracewire_semconv::{attribute, event, span as operation};

use crate::model::{Attributes, LogRecord, SpanKind, SpanRecord, StatusCode};

/// OpenTelemetry severity number of ERROR.
const SEVERITY_ERROR: i32 = 17;

/// What an event of a session's time line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// The WebSocket's handshake or its close (`ws.connect`, `ws.close`).
    Connection,
    /// A WebSocket message (any other `ws.` span).
    Message,
    /// An HTTP request: a CLIENT span, or a request-rate record.
    Request,
    /// Any other span.
    Span,
    /// An error log: severity ERROR or above, `ws.error`, or an exception.
    Error,
    /// Any other log record.
    Log,
}

impl EventKind {
    /// The kind's name in the query API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connection => "connection",
            Self::Message => "message",
            Self::Request => "request",
            Self::Span => "span",
            Self::Error => "error",
            Self::Log => "log",
        }
    }
}

/// One event of a session's time line, borrowed from the span or log record it shows.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionEvent<'a> {
    /// When, unix nanoseconds (browser clock).
    pub time_ns: i64,
    /// What it is.
    pub kind: EventKind,
    /// The span's name, or the log's event name or body.
    pub name: &'a str,
    /// Its trace, or empty.
    pub trace_id: &'a str,
    /// Its span, or empty.
    pub span_id: &'a str,
    /// The span's duration; 0 for a log record.
    pub duration_ns: i64,
    /// The span's status; `Error` for an error log, else `Unset`.
    pub status_code: StatusCode,
    /// The span's or log record's attributes.
    pub attributes: &'a Attributes,
}

impl<'a> SessionEvent<'a> {
    /// A span of the session.
    pub fn of_span(span: &'a SpanRecord) -> Self {
        let kind = if span.name.starts_with(operation::WS_CONNECT)
            || span.name.starts_with(operation::WS_CLOSE)
        {
            EventKind::Connection
        } else if span.name.starts_with(operation::WS_PREFIX) {
            EventKind::Message
        } else if span.kind == SpanKind::Client {
            EventKind::Request
        } else {
            EventKind::Span
        };
        Self {
            time_ns: span.start_ns,
            kind,
            name: &span.name,
            trace_id: &span.trace_id,
            span_id: &span.span_id,
            duration_ns: span.duration_ns,
            status_code: span.status_code,
            attributes: &span.span_attributes,
        }
    }

    /// A log record of the session.
    pub fn of_log(log: &'a LogRecord) -> Self {
        let error = log.severity_number >= SEVERITY_ERROR
            || log.event_name == event::WS_ERROR
            || log.log_attributes.contains_key(attribute::EXCEPTION_TYPE);
        let (kind, name) = if error {
            (
                EventKind::Error,
                if log.body.is_empty() {
                    log.event_name.as_str()
                } else {
                    log.body.as_str()
                },
            )
        } else if log.event_name == event::HTTP_CLIENT_REQUEST_RATE {
            (EventKind::Request, log.event_name.as_str())
        } else {
            (
                EventKind::Log,
                if log.event_name.is_empty() {
                    log.body.as_str()
                } else {
                    log.event_name.as_str()
                },
            )
        };
        Self {
            time_ns: log.timestamp_ns,
            kind,
            name,
            trace_id: &log.trace_id,
            span_id: &log.span_id,
            duration_ns: 0,
            status_code: if error {
                StatusCode::Error
            } else {
                StatusCode::Unset
            },
            attributes: &log.log_attributes,
        }
    }
}

/// The session's spans and log records as events in time order. Ties (a reply and its
/// processing start together) are ordered by trace, span and name, the same on every store.
pub fn session_timeline<'a>(
    spans: &'a [SpanRecord],
    logs: &'a [LogRecord],
) -> Vec<SessionEvent<'a>> {
    let mut events: Vec<SessionEvent<'a>> = spans
        .iter()
        .map(SessionEvent::of_span)
        .chain(logs.iter().map(SessionEvent::of_log))
        .collect();
    events.sort_by_key(|e| (e.time_ns, e.trace_id, e.span_id, e.name));
    events
}

/// The session's user: `user.id` of its newest span that has one, else of its newest log.
pub fn session_user<'a>(spans: &'a [SpanRecord], logs: &'a [LogRecord]) -> Option<&'a str> {
    spans
        .iter()
        .rev()
        .find_map(|s| s.span_attributes.get(attribute::USER_ID))
        .or_else(|| {
            logs.iter()
                .rev()
                .find_map(|l| l.log_attributes.get(attribute::USER_ID))
        })
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::span;

    fn log(event_name: &str, severity_number: i32, body: &str) -> LogRecord {
        LogRecord {
            tenant: String::new(),
            timestamp_ns: 5,
            observed_ns: 0,
            trace_id: String::new(),
            span_id: String::new(),
            trace_flags: 0,
            severity_text: String::new(),
            severity_number,
            service_name: "web".into(),
            body: body.into(),
            scope_name: String::new(),
            scope_version: String::new(),
            resource_attributes: Attributes::new(),
            log_attributes: Attributes::new(),
            event_name: event_name.into(),
        }
    }

    #[test]
    fn spans_and_logs_are_classified_and_ordered_in_time() {
        let mut fetch = span(1, 3, None, "web", "GET", 4, 1);
        fetch.kind = SpanKind::Client;
        let spans = [
            span(1, 1, None, "web", "ws.connect", 1, 1),
            span(1, 2, None, "web", "ws.send chat", 2, 1),
            fetch,
            span(1, 4, None, "web", "render", 20, 1),
        ];
        let mut exception = log("", 9, "");
        exception
            .log_attributes
            .insert(attribute::EXCEPTION_TYPE.into(), "TypeError".into());
        let mut logs = [
            log("", 17, "boom"),
            log(event::WS_ERROR, 9, ""),
            exception,
            log(event::HTTP_CLIENT_REQUEST_RATE, 9, ""),
            log("", 9, "hello"),
        ];
        for (at, log) in (5..).zip(&mut logs) {
            log.timestamp_ns = at;
        }
        let kinds: Vec<(&str, &str)> = session_timeline(&spans, &logs)
            .iter()
            .map(|e| (e.kind.as_str(), e.name))
            .collect();
        assert_eq!(
            kinds,
            [
                ("connection", "ws.connect"),
                ("message", "ws.send chat"),
                ("request", "GET"),
                ("error", "boom"),
                ("error", "ws.error"),
                ("error", ""),
                ("request", "http.client.request_rate"),
                ("log", "hello"),
                ("span", "render"),
            ]
        );
    }
}
