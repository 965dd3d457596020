//! Synthetic WebSocket exchanges as OTLP requests, following docs/semantic-conventions.md: for
//! each message a browser `ws.send`, the backend's `ws.receive` child with a database child, and
//! the browser's `ws.receive` of the reply with its `ws.process`; plus the browser SDK's
//! `http.client.request_rate` and `ws.message_rate` log records. The backend's clock runs
//! [`OFFSET_NS`] ahead.

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::trace::v1::{Span, Status};
use prost::Message;
use tracewire_collector::testing::otlp::{
    attr, browser_resource, logs_request, text, traces_request,
};
use tracewire_semconv::{attribute, event, resource};

/// One millisecond in nanoseconds.
pub const MS: u64 = 1_000_000;
/// How far the backend's clock runs ahead of the browser's.
pub const OFFSET_NS: u64 = 2_000 * MS;
/// The browser session of every exchange.
pub const SESSION: &str = "sess-42";
/// Server time of every exchange's backend span.
pub const SERVER_NS: u64 = 5 * MS;

fn span(
    trace: u8,
    id: u8,
    parent: Option<u8>,
    name: &str,
    kind: i32,
    start: u64,
    duration: u64,
) -> Span {
    Span {
        trace_id: vec![trace; 16],
        span_id: vec![id; 8],
        parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
        name: name.into(),
        kind,
        start_time_unix_nano: start,
        end_time_unix_nano: start + duration,
        ..Default::default()
    }
}

fn with(mut span: Span, attributes: Vec<KeyValue>) -> Span {
    span.attributes = attributes;
    span
}

fn request(resource: Vec<KeyValue>, spans: Vec<Span>) -> Vec<u8> {
    traces_request(resource, spans).encode_to_vec()
}

/// One exchange, as the protobuf bodies of its browser half and its backend half.
pub struct Exchange {
    /// Trace id, lowercase hex.
    pub trace_id: String,
    /// `ExportTraceServiceRequest` with the browser's spans.
    pub browser: Vec<u8>,
    /// `ExportTraceServiceRequest` with the backend's spans.
    pub backend: Vec<u8>,
}

/// `count` exchanges 300 ms apart from `base_ns` (client clock): types alternate `run_agent` /
/// `chat`; every third has a slow (40 ms) uplink; every fifth backend span fails.
pub fn exchanges(count: u8, base_ns: u64) -> Vec<Exchange> {
    session_exchanges(SESSION, OFFSET_NS as i64, 1..=count, base_ns)
}

/// Exchanges as [`exchanges`] makes them, of `session`, whose backend clock runs `offset_ns`
/// ahead of the browser's (behind when negative): exchange `n` of `numbers` is trace `n` (each
/// id byte `n`), sent at `base_ns + n · 300 ms`.
pub fn session_exchanges(
    session: &str,
    offset_ns: i64,
    numbers: std::ops::RangeInclusive<u8>,
    base_ns: u64,
) -> Vec<Exchange> {
    numbers
        .map(|n| {
            let at = base_ns + u64::from(n) * 300 * MS;
            let up = if n % 3 == 0 { 40 * MS } else { 2 * MS };
            let message_type = if n % 2 == 0 { "chat" } else { "run_agent" };
            let attrs = || {
                vec![
                    text(attribute::SESSION_ID, session),
                    text(attribute::WS_MESSAGE_TYPE, message_type),
                    text(attribute::URL_FULL, "ws://app/ws"),
                ]
            };
            let t2 = (at + up).saturating_add_signed(offset_ns);
            let t4 = at + up + SERVER_NS + 2 * MS;
            let browser = vec![
                with(
                    span(n, 1, None, &format!("ws.send {message_type}"), 4, at, 0),
                    attrs(),
                ),
                with(span(n, 3, Some(2), "ws.receive reply", 5, t4, 0), attrs()),
                with(span(n, 4, Some(3), "ws.process reply", 5, t4, MS), attrs()),
            ];
            let mut server = span(
                n,
                2,
                Some(1),
                &format!("ws.receive {message_type}"),
                5,
                t2,
                SERVER_NS,
            );
            if n % 5 == 0 {
                server.status = Some(Status {
                    message: "database is locked".into(),
                    code: 2,
                });
            }
            let backend = vec![
                server,
                span(n, 5, Some(2), "SELECT agents", 3, t2 + MS, 2 * MS),
            ];
            Exchange {
                trace_id: hex::encode([n; 16]),
                browser: request(browser_resource("web"), browser),
                backend: request(vec![text(resource::SERVICE_NAME, "agent-backend")], backend),
            }
        })
        .collect()
}

/// A payload-free connection (docs/semantic-conventions.md, "Payload-free connections") as the
/// protobuf bodies of its browser half and its backend half.
pub struct PayloadFreeConnection {
    /// Trace id, lowercase hex: every span of the connection is in it.
    pub trace_id: String,
    /// Span id of the browser's `ws.connect` span, lowercase hex.
    pub connect_span_id: String,
    /// `(send, server, reply)` span ids of each message that became a round trip.
    pub joined: Vec<(String, String, String)>,
    /// Spans of both halves.
    pub spans: u64,
    /// `ExportTraceServiceRequest` with the browser's spans.
    pub browser: Vec<u8>,
    /// `ExportTraceServiceRequest` with the backend's spans.
    pub backend: Vec<u8>,
}

/// A payload-free connection in trace `trace` (each id byte), opened at `base_ns` (client
/// clock) in session [`SESSION`], whose backend clock runs [`OFFSET_NS`] ahead: the backend
/// first pushes one message (downlink 1), then `messages` messages go out 300 ms apart, each
/// answered by downlink message `n + 1`; odd ones are binary (no type), even ones `chat`; every
/// third has a slow (40 ms) uplink; every fifth backend span fails. One more message was sent as
/// the connection dropped and never reached the backend.
pub fn payload_free_connection(trace: u8, messages: u8, base_ns: u64) -> PayloadFreeConnection {
    let id = |role: u8, n: u8| vec![role, n, trace, 1, 1, 1, 1, 1];
    let connect = id(0xc0, 0);
    let connect_hex = hex::encode(&connect);
    let numbered = |mut span: Span, sequence: u8, message_type: Option<&str>| {
        span.attributes.extend([
            text(attribute::WS_CONNECTION_SPAN_ID, &connect_hex),
            attr(
                attribute::WS_MESSAGE_SEQUENCE,
                Value::IntValue(i64::from(sequence)),
            ),
        ]);
        if let Some(t) = message_type {
            span.attributes.push(text(attribute::WS_MESSAGE_TYPE, t));
        }
        span
    };
    let spanned =
        |role: u8, n: u8, parent: &[u8], name: String, kind: i32, start: u64, duration: u64| Span {
            trace_id: vec![trace; 16],
            span_id: id(role, n),
            parent_span_id: parent.to_vec(),
            name,
            kind,
            start_time_unix_nano: start,
            end_time_unix_nano: start + duration,
            attributes: vec![
                text(attribute::SESSION_ID, SESSION),
                text(attribute::URL_FULL, "ws://app/feed"),
            ],
            ..Default::default()
        };
    let named = |operation: &str, message_type: Option<&str>| match message_type {
        Some(t) => format!("{operation} {t}"),
        None => operation.to_owned(),
    };
    let mut browser = vec![spanned(
        0xc0,
        0,
        &[],
        "ws.connect".into(),
        1,
        base_ns,
        20 * MS,
    )];
    let mut backend = Vec::new();
    // The push before any reply: downlink message 1.
    let push_at = base_ns + 100 * MS;
    backend.push(numbered(
        spanned(
            0xa0,
            0,
            &connect,
            "ws.send agent_progress".into(),
            4,
            push_at + OFFSET_NS,
            0,
        ),
        1,
        Some("agent_progress"),
    ));
    browser.push(numbered(
        spanned(
            0xb0,
            0,
            &connect,
            "ws.receive agent_progress".into(),
            5,
            push_at + 2 * MS,
            0,
        ),
        1,
        Some("agent_progress"),
    ));
    let mut joined = Vec::new();
    for n in 1..=messages {
        let at = base_ns + u64::from(n) * 300 * MS;
        let up = if n % 3 == 0 { 40 * MS } else { 2 * MS };
        let message_type = (n % 2 == 0).then_some("chat");
        let reply_type = message_type.map(|_| "chat.reply");
        let t2 = at + up + OFFSET_NS;
        let t4 = at + up + SERVER_NS + 2 * MS;
        browser.push(numbered(
            spanned(0x51, n, &connect, named("ws.send", message_type), 4, at, 0),
            n,
            message_type,
        ));
        let mut server = numbered(
            spanned(
                0x52,
                n,
                &connect,
                named("ws.receive", message_type),
                5,
                t2,
                SERVER_NS,
            ),
            n,
            message_type,
        );
        if n % 5 == 0 {
            server.status = Some(Status {
                message: "database is locked".into(),
                code: 2,
            });
        }
        backend.push(server);
        backend.push(spanned(
            0x53,
            n,
            &id(0x52, n),
            "SELECT agents".into(),
            3,
            t2 + MS,
            2 * MS,
        ));
        backend.push(numbered(
            spanned(
                0x54,
                n,
                &id(0x52, n),
                named("ws.send", reply_type),
                4,
                t2 + SERVER_NS - MS,
                0,
            ),
            n + 1,
            reply_type,
        ));
        browser.push(numbered(
            spanned(0x55, n, &connect, named("ws.receive", reply_type), 5, t4, 0),
            n + 1,
            reply_type,
        ));
        browser.push(spanned(
            0x56,
            n,
            &id(0x55, n),
            named("ws.process", reply_type),
            5,
            t4,
            MS,
        ));
        joined.push((
            hex::encode(id(0x51, n)),
            hex::encode(id(0x52, n)),
            hex::encode(id(0x55, n)),
        ));
    }
    // Sent as the connection dropped: the backend never received it.
    let lost = messages + 1;
    browser.push(numbered(
        spanned(
            0x51,
            lost,
            &connect,
            "ws.send".into(),
            4,
            base_ns + u64::from(lost) * 300 * MS,
            0,
        ),
        lost,
        None,
    ));
    PayloadFreeConnection {
        trace_id: hex::encode([trace; 16]),
        connect_span_id: connect_hex.clone(),
        joined,
        spans: (browser.len() + backend.len()) as u64,
        browser: request(browser_resource("web"), browser),
        backend: request(vec![text(resource::SERVICE_NAME, "agent-backend")], backend),
    }
}

/// Spans per exchange (browser and backend).
pub const SPANS_PER_EXCHANGE: u64 = 5;

/// `ExportLogsServiceRequest` with request-rate records: `(route, count, session)` each.
pub fn request_rates(time_ns: u64, rates: &[(&str, u64, &str)]) -> Vec<u8> {
    let records = rates
        .iter()
        .map(|(route, count, session)| LogRecord {
            time_unix_nano: time_ns,
            severity_number: 9,
            event_name: event::HTTP_CLIENT_REQUEST_RATE.into(),
            attributes: vec![
                text(attribute::HTTP_ROUTE, route),
                text(attribute::HTTP_CLIENT_REQUEST_COUNT, count.to_string()),
                text(attribute::SESSION_ID, session),
            ],
            ..Default::default()
        })
        .collect();
    logs_request(browser_resource("web"), records).encode_to_vec()
}

/// `ExportLogsServiceRequest` with the browser's `ws.message_rate` records (messages it counted
/// without a span): `(message type, counted sends, counted receives whose listener threw)` each.
pub fn message_rates(time_ns: u64, rates: &[(&str, i64, i64)]) -> Vec<u8> {
    let records = rates
        .iter()
        .map(|&(message_type, sent, errors)| LogRecord {
            time_unix_nano: time_ns,
            severity_number: 9,
            event_name: event::WS_MESSAGE_RATE.into(),
            body: Some(AnyValue {
                value: Some(Value::StringValue(format!(
                    "{sent} messages counted on ws://app/ws"
                ))),
            }),
            attributes: vec![
                text(attribute::SESSION_ID, SESSION),
                text(attribute::URL_FULL, "ws://app/ws"),
                text(attribute::WS_MESSAGE_TYPE, message_type),
                attr(attribute::WS_COUNTED_SENT, Value::IntValue(sent)),
                attr(attribute::WS_COUNTED_ERRORS, Value::IntValue(errors)),
            ],
            ..Default::default()
        })
        .collect();
    logs_request(browser_resource("web"), records).encode_to_vec()
}
