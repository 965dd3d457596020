//! Recording: what a send, a received message, a listener's run and the connection's lifecycle
//! turn into (spans and a log record), shared by [`TracedWebSocket`](super::TracedWebSocket) and
//! the patched `window.WebSocket`.

use wasm_bindgen::prelude::*;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

use super::super::{Inner, SpanCtx};
use super::{SocketState, pending};
use crate::record::{AttrValue, Attributes, LogRecord, Severity, SpanKind, SpanRecord};
use crate::{handshake, message};
use tracewire_semconv::{attribute, event, span, value};

#[wasm_bindgen(module = "/src/browser/websocket/websocket.js")]
extern "C" {
    #[wasm_bindgen(js_name = tracewireInsert)]
    fn js_insert(
        data: &JsValue,
        at: u32,
        comma: bool,
        prefix: &JsValue,
        suffix: &JsValue,
        t0: u32,
        t1: u32,
        t2: u32,
        t3: u32,
        s0: u32,
        s1: u32,
        flags: u8,
    ) -> JsValue;
    #[wasm_bindgen(js_name = tracewireSize)]
    fn binary_size(data: &JsValue) -> f64;
}

/// A received message's span, for the process spans of its listeners.
#[derive(Clone)]
pub(crate) struct Received {
    ctx: SpanCtx,
    message_type: Option<String>,
    /// Its counting key (for the errors of a counted message's listeners).
    key: u32,
}

/// A process span in progress (a listener running).
pub(crate) struct Processing {
    ctx: SpanCtx,
    name: String,
    start_ns: u64,
    url: String,
    key: u32,
}

fn base_attrs(sock: &SocketState, operation: &'static str) -> Attributes {
    // Room for the message attributes and the session/user ids added later, so recording a
    // span does not regrow the vector.
    let mut attrs = Vec::with_capacity(10);
    attrs.push((
        attribute::MESSAGING_SYSTEM.into(),
        value::MESSAGING_SYSTEM_WEBSOCKET.into(),
    ));
    attrs.push((attribute::MESSAGING_OPERATION_TYPE.into(), operation.into()));
    attrs.push((attribute::URL_FULL.into(), sock.url.clone().into()));
    attrs
}

fn span_name(op: &str, message_type: Option<&str>) -> String {
    match message_type {
        Some(t) => String::from(op) + " " + t,
        None => op.to_owned(),
    }
}

/// The inserted member's fixed parts as JS strings, made once at start.
pub(crate) struct InjectionParts {
    prefix: JsValue,
    suffix: JsValue,
    /// UTF-8 bytes the member adds, without the comma.
    added_bytes: usize,
}

impl InjectionParts {
    pub(crate) fn new(field: &str, tracestate: &str) -> Self {
        let prefix = message::member_prefix(field);
        let suffix = message::member_suffix(tracestate);
        InjectionParts {
            added_bytes: prefix.len() + 55 + suffix.len(),
            prefix: JsValue::from_str(&prefix),
            suffix: JsValue::from_str(&suffix),
        }
    }
}

fn word(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// The page's own string with the context member inserted, assembled in JavaScript: returning a
/// new string from wasm would decode it with `TextDecoder` on every send, the largest single cost
/// of a traced send in Chromium profiles. Same output as [`message::apply`].
fn insert_context(
    data: &JsValue,
    ins: message::Insertion,
    parts: &InjectionParts,
    tp: &crate::TraceParent,
) -> JsValue {
    let (t, s) = (&tp.trace_id.0, &tp.span_id.0);
    js_insert(
        data,
        u32::try_from(ins.at).unwrap_or(0),
        ins.comma,
        &parts.prefix,
        &parts.suffix,
        word(t, 0),
        word(t, 4),
        word(t, 8),
        word(t, 12),
        word(s, 0),
        word(s, 4),
        tp.flags,
    )
}

/// Byte size and format of a non-text payload.
fn payload_size(data: &JsValue) -> (usize, &'static str) {
    (binary_size(data) as usize, value::FORMAT_BINARY)
}

/// Records a send and returns the data to send instead of `data` (`None`: send `data` as is).
pub(crate) fn on_send(
    inner: &Inner,
    sock: &SocketState,
    ws: &WebSocket,
    data: &JsValue,
) -> Option<JsValue> {
    let start_ms = inner.now_ms();
    // A payload-free socket's messages are children of its connection (their sequence joins
    // them to the backend); the others start their own trace or join the active span's.
    let mut ctx = inner.new_ctx(sock.connect.map(|c| c.traceparent()));
    sock.sent.set(sock.sent.get() + 1);
    let cfg = &inner.config;
    let rates = &inner.ws.rates;
    // Whether the message gets spans is decided once its type is known, before its context (a
    // counted one's with flags 00) goes in.
    let mut key = 0;
    let (size, format, message_type, replacement) = match data.as_string() {
        None => {
            let (size, format) = payload_size(data);
            key = rates.admit(&sock.url, None, &mut ctx);
            (size, format, None, None)
        }
        Some(text) if sock.connect.is_some() || !cfg.inject_trace_context => {
            // Payload-free: the type is read, nothing is changed.
            let message_type = match sock.connect {
                Some(_) => {
                    message::extract(&text, &cfg.trace_context_field, &cfg.message_type_fields)
                        .message_type
                }
                None => None,
            };
            key = rates.admit(&sock.url, message_type.as_deref(), &mut ctx);
            (text.len(), value::FORMAT_TEXT, message_type, None)
        }
        Some(text) if sock.envelope => {
            let out = message::envelope_with(
                &text,
                &cfg.trace_context_field,
                &cfg.message_type_fields,
                &cfg.tracestate,
                js_sys::Date::now(),
                |t| {
                    key = rates.admit(&sock.url, t, &mut ctx);
                    ctx.traceparent()
                },
            );
            let size = out.text.as_ref().map_or(text.len(), String::len);
            (
                size,
                value::FORMAT_TEXT,
                out.message_type,
                out.text.map(JsValue::from),
            )
        }
        Some(text) => {
            let plan =
                message::plan_injection(&text, &cfg.trace_context_field, &cfg.message_type_fields);
            key = rates.admit(&sock.url, plan.message_type.as_deref(), &mut ctx);
            let parts = &inner.ws.injection;
            let (size, injected) = match plan.insertion {
                Some(ins) => (
                    text.len() + parts.added_bytes + usize::from(ins.comma),
                    Some(insert_context(data, ins, parts, &ctx.traceparent())),
                ),
                None => (text.len(), None),
            };
            (size, value::FORMAT_TEXT, plan.message_type, injected)
        }
    };
    let send = SendRecord {
        ctx,
        key,
        start_ms,
        size,
        format,
    };
    finish_send(inner, sock, ws, send, message_type, replacement)
}

/// A send being recorded: its context (unsampled: counted), counting key, start and body.
struct SendRecord {
    ctx: SpanCtx,
    key: u32,
    start_ms: f64,
    size: usize,
    format: &'static str,
}

/// Records the send span (held for a reply when the context went out with the message), or
/// counts the send (waiting for a reply for its round-trip time the same way), and returns the
/// replacement data.
fn finish_send(
    inner: &Inner,
    sock: &SocketState,
    ws: &WebSocket,
    send: SendRecord,
    message_type: Option<String>,
    replacement: Option<JsValue>,
) -> Option<JsValue> {
    let SendRecord {
        ctx,
        key,
        start_ms,
        size,
        format,
    } = send;
    let buffered = ws
        .buffered_amount()
        .saturating_add(u32::try_from(size).unwrap_or(u32::MAX));
    sock.buffered_max.set(sock.buffered_max.get().max(buffered));
    if sock.connect.is_some() {
        let key = if ctx.sampled { pending::TRACED } else { key };
        let tag = pending::sequence_tag(sock.sent.get());
        sock.payload_free_sends.hold(tag, key, start_ms);
    }
    if !ctx.sampled {
        let rates = &inner.ws.rates;
        rates.counter.borrow_mut().sent(key, size);
        if replacement.is_some() {
            rates.counted.hold(ctx.trace_id.0, key, start_ms);
        }
        return replacement;
    }
    let mut attributes = base_attrs(sock, value::OPERATION_SEND);
    attributes.push((
        attribute::MESSAGING_MESSAGE_BODY_SIZE.into(),
        AttrValue::Int(size as i64),
    ));
    attributes.push((attribute::WS_MESSAGE_FORMAT.into(), format.into()));
    attributes.push((
        attribute::WS_CONTEXT_INJECTED.into(),
        replacement.is_some().into(),
    ));
    if let Some(t) = &message_type {
        attributes.push((attribute::WS_MESSAGE_TYPE.into(), t.clone().into()));
    }
    if let Some(c) = &sock.connect {
        handshake::message_attributes(&mut attributes, sock.sent.get(), &c.span_id);
    }
    let span = SpanRecord {
        trace_id: ctx.trace_id,
        span_id: ctx.span_id,
        parent_span_id: ctx.parent,
        name: span_name(span::WS_SEND, message_type.as_deref()),
        kind: SpanKind::Producer,
        start_ns: inner.epoch_ns(start_ms),
        end_ns: inner.now_ns(),
        attributes,
        events: Vec::new(),
        error: None,
    };
    if replacement.is_some() {
        inner.ws.pending.hold(inner, span, start_ms);
    } else {
        inner.record_span(span);
    }
    replacement
}

/// What a received message answers, as far as the SDK can tell.
enum Answers {
    /// A traced send of ours (its round-trip time, when it was held for it): traced too.
    Traced(Option<f64>),
    /// A counted send of ours (its key and send time): counted, with the round trip.
    Counted(u32, f64),
    /// Nothing known: it takes from the allowance.
    Unknown,
}

/// Records an incoming message (the receive span, or its count) and remembers it for the
/// process spans.
pub(crate) fn on_message(inner: &Inner, sock: &SocketState, ev: &MessageEvent) {
    let now_ms = inner.now_ms();
    sock.received.set(sock.received.get() + 1);
    let data = ev.data();
    let cfg = &inner.config;
    let (size, format, incoming) = match data.as_string() {
        Some(text) => (
            text.len(),
            value::FORMAT_TEXT,
            message::extract(&text, &cfg.trace_context_field, &cfg.message_type_fields),
        ),
        None => {
            let (size, format) = payload_size(&data);
            (
                size,
                format,
                message::Incoming {
                    parent: None,
                    tracestate: None,
                    message_type: None,
                },
            )
        }
    };
    let rates = &inner.ws.rates;
    let (answers, parent) = match sock.connect {
        // Payload-free: a child of the connection, whatever the message says; receive n
        // answers send n.
        Some(c) => (
            match sock
                .payload_free_sends
                .take(&pending::sequence_tag(sock.received.get()))
            {
                Some((pending::TRACED, _)) => Answers::Traced(None),
                Some((key, sent_ms)) => Answers::Counted(key, sent_ms),
                None => Answers::Unknown,
            },
            Some(c.traceparent()),
        ),
        None => (
            match &incoming.parent {
                Some(p) if p.sampled() => inner
                    .ws
                    .pending
                    .complete(inner, p)
                    .map_or(Answers::Unknown, |rtt| Answers::Traced(Some(rtt))),
                Some(p) => rates
                    .counted
                    .take(&p.trace_id.0)
                    .map_or(Answers::Unknown, |(key, sent_ms)| {
                        Answers::Counted(key, sent_ms)
                    }),
                None => Answers::Unknown,
            },
            incoming.parent,
        ),
    };
    // A context we produced is parent-based; otherwise the message starts its own sampled trace.
    let mut ctx = inner.new_ctx(parent);
    let (key, rtt) = {
        let mut counter = rates.counter.borrow_mut();
        match answers {
            Answers::Traced(rtt) => (
                counter.key(&sock.url, incoming.message_type.as_deref()),
                rtt,
            ),
            Answers::Counted(send_key, sent_ms) => {
                counter.round_trip(send_key, ((now_ms - sent_ms) * 1e6) as u64);
                ctx.sampled = false;
                (
                    counter.key(&sock.url, incoming.message_type.as_deref()),
                    None,
                )
            }
            Answers::Unknown => {
                drop(counter);
                let key = rates.admit(&sock.url, incoming.message_type.as_deref(), &mut ctx);
                (key, None)
            }
        }
    };
    if ctx.sampled {
        let now = inner.epoch_ns(now_ms);
        let mut attributes = base_attrs(sock, value::OPERATION_RECEIVE);
        attributes.push((
            attribute::MESSAGING_MESSAGE_BODY_SIZE.into(),
            AttrValue::Int(size as i64),
        ));
        attributes.push((attribute::WS_MESSAGE_FORMAT.into(), format.into()));
        if let Some(t) = &incoming.message_type {
            attributes.push((attribute::WS_MESSAGE_TYPE.into(), t.clone().into()));
        }
        if let Some(rtt) = rtt {
            attributes.push((attribute::WS_RTT_MS.into(), AttrValue::Float(rtt)));
        }
        if let Some(c) = &sock.connect {
            handshake::message_attributes(&mut attributes, sock.received.get(), &c.span_id);
        }
        inner.record_span(SpanRecord {
            trace_id: ctx.trace_id,
            span_id: ctx.span_id,
            parent_span_id: ctx.parent,
            name: span_name(span::WS_RECEIVE, incoming.message_type.as_deref()),
            kind: SpanKind::Consumer,
            start_ns: now,
            end_ns: now,
            attributes,
            events: Vec::new(),
            error: None,
        });
    } else {
        rates.counter.borrow_mut().received(key, size);
    }
    *sock.last_receive.borrow_mut() = Some((
        ev.clone().into(),
        Received {
            ctx,
            message_type: incoming.message_type,
            key,
        },
    ));
}

/// Starts a process span for a listener handling `ev`; it becomes the active span so sends made
/// by the listener join the message's trace (a counted message's unsampled one: they are
/// counted too).
pub(crate) fn process_start(inner: &Inner, sock: &SocketState, ev: &JsValue) -> Option<Processing> {
    let (parent, name, key) = {
        let last = sock.last_receive.borrow();
        match &*last {
            // A counted message's listener gets no span: no name to make.
            Some((event, r)) if event == ev => (
                r.ctx.traceparent(),
                if r.ctx.sampled {
                    span_name(span::WS_PROCESS, r.message_type.as_deref())
                } else {
                    String::new()
                },
                r.key,
            ),
            _ => return None,
        }
    };
    let ctx = inner.new_ctx(Some(parent));
    inner.state.borrow_mut().active.push(ctx);
    Some(Processing {
        ctx,
        name,
        start_ns: inner.now_ns(),
        url: if ctx.sampled {
            sock.url.clone()
        } else {
            String::new()
        },
        key,
    })
}

/// Ends a listener's run: its process span, or for a counted message the count of a listener
/// that threw.
pub(crate) fn process_end(inner: &Inner, p: Processing, failed: bool) {
    inner.deactivate(p.ctx.span_id);
    if !p.ctx.sampled {
        if failed {
            inner.ws.rates.counter.borrow_mut().error(p.key);
        }
        return;
    }
    inner.record_span(SpanRecord {
        trace_id: p.ctx.trace_id,
        span_id: p.ctx.span_id,
        parent_span_id: p.ctx.parent,
        name: p.name,
        kind: SpanKind::Consumer,
        start_ns: p.start_ns,
        end_ns: inner.now_ns(),
        attributes: vec![
            (
                attribute::MESSAGING_SYSTEM.into(),
                value::MESSAGING_SYSTEM_WEBSOCKET.into(),
            ),
            (
                attribute::MESSAGING_OPERATION_TYPE.into(),
                value::OPERATION_PROCESS.into(),
            ),
            (attribute::URL_FULL.into(), p.url.into()),
        ],
        events: Vec::new(),
        error: failed.then(|| "message listener threw".to_owned()),
    });
}

/// A lifecycle span, with the context `ctx` when it was made beforehand (a payload-free
/// `ws.connect`).
fn lifecycle_span(
    inner: &Inner,
    sock: &SocketState,
    name: &'static str,
    ctx: Option<SpanCtx>,
    start_ns: u64,
    mut attributes: Attributes,
    error: Option<String>,
) {
    let ctx = ctx.unwrap_or_else(|| inner.new_ctx(None));
    if !ctx.sampled {
        return;
    }
    let mut attrs = base_attrs(sock, name);
    attrs.append(&mut attributes);
    inner.record_span(SpanRecord {
        trace_id: ctx.trace_id,
        span_id: ctx.span_id,
        parent_span_id: ctx.parent,
        name: name.to_owned(),
        kind: SpanKind::Internal,
        start_ns,
        end_ns: inner.now_ns(),
        attributes: attrs,
        events: Vec::new(),
        error,
    });
}

/// Connection opened: a `ws.connect` span covering the handshake.
pub(crate) fn on_open(inner: &Inner, sock: &SocketState, ws: &WebSocket) {
    let now = inner.now_ms();
    sock.opened_ms.set(Some(now));
    lifecycle_span(
        inner,
        sock,
        span::WS_CONNECT,
        sock.connect,
        sock.created_ns,
        vec![
            (
                attribute::WS_HANDSHAKE_MS.into(),
                AttrValue::Float(now - sock.created_ms),
            ),
            (
                attribute::WS_RECONNECT_COUNT.into(),
                AttrValue::from(sock.reconnects),
            ),
            (attribute::WS_PROTOCOL.into(), ws.protocol().into()),
        ],
        None,
    );
}

/// Connection closed: a `ws.close` span covering the connection's life, with the close details.
pub(crate) fn on_close(inner: &Inner, sock: &SocketState, ev: &CloseEvent) {
    let now = inner.now_ms();
    let mut attrs: Attributes = vec![
        (
            attribute::WS_CLOSE_CODE.into(),
            AttrValue::Int(i64::from(ev.code())),
        ),
        (attribute::WS_CLOSE_REASON.into(), ev.reason().into()),
        (attribute::WS_CLOSE_WAS_CLEAN.into(), ev.was_clean().into()),
        (
            attribute::WS_BUFFERED_AMOUNT_MAX.into(),
            AttrValue::from(sock.buffered_max.get()),
        ),
        (
            attribute::WS_MESSAGES_SENT.into(),
            AttrValue::from(sock.sent.get()),
        ),
        (
            attribute::WS_MESSAGES_RECEIVED.into(),
            AttrValue::from(sock.received.get()),
        ),
        (
            attribute::WS_RECONNECT_COUNT.into(),
            AttrValue::from(sock.reconnects),
        ),
    ];
    let error = match sock.opened_ms.get() {
        Some(opened) => {
            attrs.push((
                attribute::WS_CONNECTION_DURATION_MS.into(),
                AttrValue::Float(now - opened),
            ));
            None
        }
        None => Some("connection closed before it opened".to_owned()),
    };
    lifecycle_span(
        inner,
        sock,
        span::WS_CLOSE,
        None,
        sock.created_ns,
        attrs,
        error,
    );
    sock.last_receive.borrow_mut().take();
}

/// Connection error (the browser gives no detail): a WARN log record.
pub(crate) fn on_error(inner: &Inner, sock: &SocketState) {
    inner.record_log(LogRecord {
        time_ns: inner.now_ns(),
        severity: Severity::Warn,
        body: "WebSocket error".into(),
        event_name: Some(event::WS_ERROR.into()),
        attributes: vec![
            (attribute::URL_FULL.into(), sock.url.clone().into()),
            (
                attribute::WS_OPENED.into(),
                sock.opened_ms.get().is_some().into(),
            ),
        ],
        trace_id: None,
        span_id: None,
    });
}
