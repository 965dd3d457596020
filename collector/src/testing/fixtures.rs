//! Records to store: spans with a given identity and timing, browser spans, a whole
//! WebSocket exchange across browser and backend, and log records.

use tracewire_semconv::{attribute, resource};

use crate::model::{Attributes, LogRecord, SpanKind, SpanRecord, StatusCode};

/// A span record with the given identity and timing; other fields plain.
pub fn span(
    trace: u8,
    span: u8,
    parent: Option<u8>,
    service: &str,
    name: &str,
    start_ns: i64,
    duration_ns: i64,
) -> SpanRecord {
    SpanRecord {
        tenant: String::new(),
        trace_id: hex::encode([trace; 16]),
        span_id: hex::encode([span; 8]),
        parent_span_id: parent.map(|p| hex::encode([p; 8])).unwrap_or_default(),
        trace_state: String::new(),
        name: name.to_owned(),
        kind: SpanKind::Server,
        service_name: service.to_owned(),
        start_ns,
        duration_ns,
        status_code: StatusCode::Unset,
        status_message: String::new(),
        scope_name: String::new(),
        scope_version: String::new(),
        resource_attributes: Attributes::from([(
            resource::SERVICE_NAME.to_owned(),
            service.to_owned(),
        )]),
        span_attributes: Attributes::new(),
        events: Vec::new(),
        links: Vec::new(),
    }
}

/// One millisecond in nanoseconds.
const MS: i64 = 1_000_000;

/// A browser span (the SDK's resource, session `sess-1`) of this kind.
pub fn browser(mut s: SpanRecord, kind: SpanKind) -> SpanRecord {
    s.kind = kind;
    s.resource_attributes.insert(
        resource::TELEMETRY_SDK_LANGUAGE.into(),
        resource::BROWSER_SDK_LANGUAGE.into(),
    );
    s.span_attributes
        .insert(attribute::SESSION_ID.into(), "sess-1".into());
    s
}

/// One exchange in trace 1: the browser send S at 0 (browser clock), the backend span B at
/// 3 ms + offset with a db child, the reply R at 10 ms (browser clock) and its processing P.
pub fn one_exchange(offset: i64) -> Vec<SpanRecord> {
    let send = browser(
        span(1, 1, None, "web", "ws.send chat", 0, 0),
        SpanKind::Producer,
    );
    let mut server = span(
        1,
        2,
        Some(1),
        "api",
        "ws.receive chat",
        3 * MS + offset,
        4 * MS,
    );
    server.kind = SpanKind::Consumer;
    let db = span(1, 3, Some(2), "api", "db.query", 4 * MS + offset, 2 * MS);
    let reply = browser(
        span(1, 4, Some(2), "web", "ws.receive chat.reply", 10 * MS, 0),
        SpanKind::Consumer,
    );
    let process = browser(
        span(1, 5, Some(4), "web", "ws.process chat.reply", 10 * MS, MS),
        SpanKind::Consumer,
    );
    vec![process, reply, db, server, send]
}

/// A payload-free connection in trace 1, as `docs/semantic-conventions.md` describes it: the
/// browser's `ws.connect` C (span 0x10) is the parent of every message span, and two exchanges
/// are shaped like [`one_exchange`], 10 ms and 20 ms later: browser send `n` (spans 0x11, 0x12)
/// is received by the backend (0x21, 0x22, with a db child 0x31, 0x32) at 3 ms + offset after
/// it, which sends the reply (0x41, 0x42) that the browser receives (0x51, 0x52) 10 ms after
/// the send and processes (0x61, 0x62). Message `n` is number `n` both ways.
pub fn payload_free_connection(offset: i64) -> Vec<SpanRecord> {
    let connect = browser(
        span(1, 0x10, None, "web", "ws.connect", 0, MS),
        SpanKind::Internal,
    );
    let mut spans = vec![connect];
    for n in 1..=2u8 {
        let at = i64::from(n) * 10 * MS;
        let send = numbered(
            browser(
                span(1, 0x10 + n, Some(0x10), "web", "ws.send chat", at, 0),
                SpanKind::Producer,
            ),
            n,
        );
        let mut server = numbered(
            span(
                1,
                0x20 + n,
                Some(0x10),
                "api",
                "ws.receive chat",
                at + 3 * MS + offset,
                4 * MS,
            ),
            n,
        );
        server.kind = SpanKind::Consumer;
        let db = span(
            1,
            0x30 + n,
            Some(0x20 + n),
            "api",
            "db.query",
            at + 4 * MS + offset,
            2 * MS,
        );
        let mut reply_send = numbered(
            span(
                1,
                0x40 + n,
                Some(0x20 + n),
                "api",
                "ws.send chat.reply",
                at + 6 * MS + offset,
                0,
            ),
            n,
        );
        reply_send.kind = SpanKind::Producer;
        let reply = numbered(
            browser(
                span(
                    1,
                    0x50 + n,
                    Some(0x10),
                    "web",
                    "ws.receive chat.reply",
                    at + 10 * MS,
                    0,
                ),
                SpanKind::Consumer,
            ),
            n,
        );
        let process = browser(
            span(
                1,
                0x60 + n,
                Some(0x50 + n),
                "web",
                "ws.process chat.reply",
                at + 10 * MS,
                MS,
            ),
            SpanKind::Consumer,
        );
        spans.extend([send, server, db, reply_send, reply, process]);
    }
    spans
}

/// The span id of [`payload_free_connection`]'s `ws.connect` span.
pub fn payload_free_connection_id() -> String {
    hex::encode([0x10; 8])
}

/// A span of [`payload_free_connection`]'s connection with this sequence number.
pub fn numbered(mut s: SpanRecord, sequence: u8) -> SpanRecord {
    s.span_attributes.insert(
        attribute::WS_CONNECTION_SPAN_ID.into(),
        payload_free_connection_id(),
    );
    s.span_attributes
        .insert(attribute::WS_MESSAGE_SEQUENCE.into(), sequence.to_string());
    s
}

/// A log record of `service` at `time_ns` with this severity number and body; no trace, the
/// service's resource, other fields plain.
pub fn log(service: &str, time_ns: i64, severity_number: i32, body: &str) -> LogRecord {
    LogRecord {
        tenant: String::new(),
        timestamp_ns: time_ns,
        observed_ns: time_ns,
        trace_id: String::new(),
        span_id: String::new(),
        trace_flags: 0,
        severity_text: String::new(),
        severity_number,
        service_name: service.to_owned(),
        body: body.to_owned(),
        scope_name: String::new(),
        scope_version: String::new(),
        resource_attributes: Attributes::from([(
            resource::SERVICE_NAME.to_owned(),
            service.to_owned(),
        )]),
        log_attributes: Attributes::new(),
        event_name: String::new(),
    }
}

/// A browser log record (the SDK's resource, service `web`, session `sess-1`) of the event
/// `event_name` at `time_ns`, with these attributes.
pub fn browser_event(event_name: &str, time_ns: i64, attributes: &[(&str, &str)]) -> LogRecord {
    let mut record = log("web", time_ns, 9, "");
    record.event_name = event_name.to_owned();
    record.resource_attributes.insert(
        resource::TELEMETRY_SDK_LANGUAGE.into(),
        resource::BROWSER_SDK_LANGUAGE.into(),
    );
    record
        .log_attributes
        .insert(attribute::SESSION_ID.into(), "sess-1".into());
    record.log_attributes.extend(
        attributes
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    record
}
