//! WebSocket tracing: a span per message with the trace context carried inside the message,
//! receive and process spans for incoming messages, round-trip times, and connection lifecycle.
//!
//! Two ways in: [`TracedWebSocket`] (owned by the application), and [`WebSocketPatch`], which
//! replaces `window.WebSocket` with a subclass so sockets opened by any code on the page are
//! traced. Both go through the same recording functions. Telemetry failures never reach the
//! application: the original `send` always happens, with the original data if anything failed.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

use super::dom::Listener;
use super::{Inner, SpanCtx, current};
use crate::message::{self, glob_match};
use crate::record::{AttrValue, Attributes, LogRecord, Severity, SpanKind, SpanRecord};
use crate::{Error, Result};

/// Per-connection recording state.
pub(crate) struct SocketState {
    url: String,
    envelope: bool,
    created_ns: u64,
    created_ms: f64,
    opened_ms: Cell<Option<f64>>,
    reconnects: u32,
    buffered_max: Cell<u32>,
    sent: Cell<u32>,
    received: Cell<u32>,
    /// The message being dispatched and its receive span, for the process spans.
    last_receive: RefCell<Option<(JsValue, Received)>>,
}

#[derive(Clone)]
struct Received {
    ctx: SpanCtx,
    message_type: Option<String>,
}

/// A process span in progress (a listener running).
struct Processing {
    ctx: SpanCtx,
    name: String,
    start_ns: u64,
    url: String,
}

fn base_attrs(sock: &SocketState, operation: &'static str) -> Attributes {
    // Room for the message attributes and the session/user ids added later, so recording a
    // span does not regrow the vector.
    let mut attrs = Vec::with_capacity(10);
    attrs.push(("messaging.system".into(), "websocket".into()));
    attrs.push(("messaging.operation.type".into(), operation.into()));
    attrs.push(("url.full".into(), sock.url.clone().into()));
    attrs
}

fn span_name(op: &str, message_type: Option<&str>) -> String {
    match message_type {
        Some(t) => String::from(op) + " " + t,
        None => op.to_owned(),
    }
}

impl SocketState {
    pub(crate) fn new(inner: &Inner, url: &str) -> SocketState {
        let clean = inner.clean_url(url);
        let envelope = inner
            .config
            .envelope_urls
            .iter()
            .any(|p| glob_match(p, url));
        let reconnects = {
            let mut st = inner.state.borrow_mut();
            let n = st.connections.entry(clean.clone()).or_insert(0);
            *n += 1;
            *n - 1
        };
        SocketState {
            url: clean,
            envelope,
            created_ns: inner.now_ns(),
            created_ms: inner.now_ms(),
            opened_ms: Cell::new(None),
            reconnects,
            buffered_max: Cell::new(0),
            sent: Cell::new(0),
            received: Cell::new(0),
            last_receive: RefCell::new(None),
        }
    }
}

/// `new WebSocket(url, protocols)` with the browser's own constructor, also while
/// `instrumentWebSockets()` has replaced `window.WebSocket` (a `TracedWebSocket` must not be
/// traced twice).
fn construct(url: &str, protocols: &JsValue) -> std::result::Result<WebSocket, JsValue> {
    let ctor = current()
        .and_then(|i| i.ws_patch.borrow().as_ref().map(|p| p.original.clone()))
        .or_else(|| js_sys::Reflect::get(&js_sys::global(), &"WebSocket".into()).ok())
        .and_then(|c| c.dyn_into::<js_sys::Function>().ok())
        .ok_or_else(|| JsValue::from_str("WebSocket is not available"))?;
    let args = js_sys::Array::of1(&JsValue::from_str(url));
    if !protocols.is_undefined() {
        args.push(protocols);
    }
    // Not `dyn_into`: its `instanceof` check would use the patched class, which an instance
    // of the original is not.
    Ok(js_sys::Reflect::construct(&ctor, &args)?.unchecked_into::<WebSocket>())
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

#[wasm_bindgen(inline_js = r#"
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const h32 = (n) => HEX[n >>> 24] + HEX[(n >>> 16) & 255] + HEX[(n >>> 8) & 255] + HEX[n & 255];
export function tracewireInsert(data, at, comma, prefix, suffix, t0, t1, t2, t3, s0, s1, flags) {
  return data.slice(0, at) + prefix + '00-' + h32(t0) + h32(t1) + h32(t2) + h32(t3) + '-' + h32(s0)
    + h32(s1) + '-' + HEX[flags & 255] + suffix + (comma ? ',' : '') + data.slice(at);
}
"#)]
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

/// Byte size of a message payload (string, ArrayBuffer, typed array / DataView or Blob).
fn payload_size(data: &JsValue) -> (usize, &'static str) {
    if let Some(buf) = data.dyn_ref::<js_sys::ArrayBuffer>() {
        return (buf.byte_length() as usize, "binary");
    }
    if js_sys::ArrayBuffer::is_view(data) {
        let n = js_sys::Reflect::get(data, &"byteLength".into())
            .ok()
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0);
        return (n as usize, "binary");
    }
    if let Some(blob) = data.dyn_ref::<web_sys::Blob>() {
        return (blob.size() as usize, "binary");
    }
    (0, "binary")
}

/// Records a send and returns the data to send instead of `data` (`None`: send `data` as is).
pub(crate) fn on_send(
    inner: &Inner,
    sock: &SocketState,
    ws: &WebSocket,
    data: &JsValue,
) -> Option<JsValue> {
    let start_ns = inner.now_ns();
    let ctx = inner.new_ctx(None);
    sock.sent.set(sock.sent.get() + 1);
    let cfg = &inner.config;
    let (size, format, message_type, replacement) = match data.as_string() {
        Some(text) => {
            let tp = ctx.traceparent();
            let out = if !cfg.inject_trace_context {
                message::Outgoing {
                    text: None,
                    message_type: None,
                }
            } else if sock.envelope {
                message::envelope(
                    &text,
                    &cfg.trace_context_field,
                    &cfg.message_type_fields,
                    &tp,
                    &cfg.tracestate,
                    js_sys::Date::now(),
                )
            } else {
                let plan = message::plan_injection(
                    &text,
                    &cfg.trace_context_field,
                    &cfg.message_type_fields,
                );
                let Some(ins) = plan.insertion else {
                    return finish_send(
                        inner,
                        sock,
                        ws,
                        ctx,
                        start_ns,
                        text.len(),
                        "text",
                        plan.message_type,
                        None,
                    );
                };
                let injected = insert_context(data, ins, &inner.injection, &tp);
                let size = text.len() + inner.injection.added_bytes + usize::from(ins.comma);
                return finish_send(
                    inner,
                    sock,
                    ws,
                    ctx,
                    start_ns,
                    size,
                    "text",
                    plan.message_type,
                    Some(injected),
                );
            };
            let size = out.text.as_ref().map_or(text.len(), String::len);
            (size, "text", out.message_type, out.text.map(JsValue::from))
        }
        None => {
            let (size, format) = payload_size(data);
            (size, format, None, None)
        }
    };
    finish_send(
        inner,
        sock,
        ws,
        ctx,
        start_ns,
        size,
        format,
        message_type,
        replacement,
    )
}

/// Records the send span (held for a reply when the context went out with the message) and
/// returns the replacement data.
#[allow(clippy::too_many_arguments)]
fn finish_send(
    inner: &Inner,
    sock: &SocketState,
    ws: &WebSocket,
    ctx: SpanCtx,
    start_ns: u64,
    size: usize,
    format: &'static str,
    message_type: Option<String>,
    replacement: Option<JsValue>,
) -> Option<JsValue> {
    let buffered = ws
        .buffered_amount()
        .saturating_add(u32::try_from(size).unwrap_or(u32::MAX));
    sock.buffered_max.set(sock.buffered_max.get().max(buffered));
    if ctx.sampled {
        let mut attributes = base_attrs(sock, "send");
        attributes.push((
            "messaging.message.body.size".into(),
            AttrValue::Int(size as i64),
        ));
        attributes.push(("ws.message.format".into(), format.into()));
        attributes.push(("ws.context_injected".into(), replacement.is_some().into()));
        if let Some(t) = &message_type {
            attributes.push(("ws.message.type".into(), t.clone().into()));
        }
        let span = SpanRecord {
            trace_id: ctx.trace_id,
            span_id: ctx.span_id,
            parent_span_id: ctx.parent,
            name: span_name("ws.send", message_type.as_deref()),
            kind: SpanKind::Producer,
            start_ns,
            end_ns: inner.now_ns(),
            attributes,
            events: Vec::new(),
            error: None,
        };
        if replacement.is_some() {
            inner.hold_send(span);
        } else {
            inner.record_span(span);
        }
    }
    replacement
}

/// Records an incoming message (the receive span) and remembers it for the process spans.
pub(crate) fn on_message(inner: &Inner, sock: &SocketState, ev: &MessageEvent) {
    let now = inner.now_ns();
    sock.received.set(sock.received.get() + 1);
    let data = ev.data();
    let cfg = &inner.config;
    let (size, format, incoming) = match data.as_string() {
        Some(text) => (
            text.len(),
            "text",
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
    let rtt = incoming
        .parent
        .as_ref()
        .and_then(|p| inner.complete_send(p));
    // A context we produced is parent-based; otherwise the message starts its own sampled trace.
    let ctx = inner.new_ctx(incoming.parent);
    if ctx.sampled {
        let mut attributes = base_attrs(sock, "receive");
        attributes.push((
            "messaging.message.body.size".into(),
            AttrValue::Int(size as i64),
        ));
        attributes.push(("ws.message.format".into(), format.into()));
        if let Some(t) = &incoming.message_type {
            attributes.push(("ws.message.type".into(), t.clone().into()));
        }
        if let Some(rtt) = rtt {
            attributes.push(("ws.rtt_ms".into(), AttrValue::Float(rtt)));
        }
        inner.record_span(SpanRecord {
            trace_id: ctx.trace_id,
            span_id: ctx.span_id,
            parent_span_id: ctx.parent,
            name: span_name("ws.receive", incoming.message_type.as_deref()),
            kind: SpanKind::Consumer,
            start_ns: now,
            end_ns: now,
            attributes,
            events: Vec::new(),
            error: None,
        });
    }
    *sock.last_receive.borrow_mut() = Some((
        ev.clone().into(),
        Received {
            ctx,
            message_type: incoming.message_type,
        },
    ));
}

/// Starts a process span for a listener handling `ev`; it becomes the active span so sends made
/// by the listener join the message's trace.
fn process_start(inner: &Inner, sock: &SocketState, ev: &JsValue) -> Option<Processing> {
    let received = {
        let last = sock.last_receive.borrow();
        match &*last {
            Some((event, r)) if event == ev => r.clone(),
            _ => return None,
        }
    };
    let parent = received.ctx.traceparent();
    let ctx = inner.new_ctx(Some(parent));
    inner.state.borrow_mut().active.push(ctx);
    Some(Processing {
        ctx,
        name: span_name("ws.process", received.message_type.as_deref()),
        start_ns: inner.now_ns(),
        url: sock.url.clone(),
    })
}

fn process_end(inner: &Inner, p: Processing, failed: bool) {
    {
        let mut st = inner.state.borrow_mut();
        if let Some(i) = st.active.iter().rposition(|a| a.span_id == p.ctx.span_id) {
            st.active.remove(i);
        }
    }
    if !p.ctx.sampled {
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
            ("messaging.system".into(), "websocket".into()),
            ("messaging.operation.type".into(), "process".into()),
            ("url.full".into(), p.url.into()),
        ],
        events: Vec::new(),
        error: failed.then(|| "message listener threw".to_owned()),
    });
}

fn lifecycle_span(
    inner: &Inner,
    sock: &SocketState,
    name: &'static str,
    start_ns: u64,
    mut attributes: Attributes,
    error: Option<String>,
) {
    let ctx = inner.new_ctx(None);
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
        "ws.connect",
        sock.created_ns,
        vec![
            (
                "ws.handshake_ms".into(),
                AttrValue::Float(now - sock.created_ms),
            ),
            (
                "ws.reconnect_count".into(),
                AttrValue::from(sock.reconnects),
            ),
            ("ws.protocol".into(), ws.protocol().into()),
        ],
        None,
    );
}

/// Connection closed: a `ws.close` span covering the connection's life, with the close details.
pub(crate) fn on_close(inner: &Inner, sock: &SocketState, ev: &CloseEvent) {
    let now = inner.now_ms();
    let mut attrs: Attributes = vec![
        ("ws.close.code".into(), AttrValue::Int(i64::from(ev.code()))),
        ("ws.close.reason".into(), ev.reason().into()),
        ("ws.close.was_clean".into(), ev.was_clean().into()),
        (
            "ws.buffered_amount.max".into(),
            AttrValue::from(sock.buffered_max.get()),
        ),
        ("ws.messages.sent".into(), AttrValue::from(sock.sent.get())),
        (
            "ws.messages.received".into(),
            AttrValue::from(sock.received.get()),
        ),
        (
            "ws.reconnect_count".into(),
            AttrValue::from(sock.reconnects),
        ),
    ];
    let error = match sock.opened_ms.get() {
        Some(opened) => {
            attrs.push((
                "ws.connection.duration_ms".into(),
                AttrValue::Float(now - opened),
            ));
            None
        }
        None => Some("connection closed before it opened".to_owned()),
    };
    lifecycle_span(inner, sock, "ws.close", sock.created_ns, attrs, error);
    sock.last_receive.borrow_mut().take();
}

/// Connection error (the browser gives no detail): a WARN log record.
pub(crate) fn on_error(inner: &Inner, sock: &SocketState) {
    inner.record_log(LogRecord {
        time_ns: inner.now_ns(),
        severity: Severity::Warn,
        body: "WebSocket error".into(),
        event_name: Some("ws.error".into()),
        attributes: vec![
            ("url.full".into(), sock.url.clone().into()),
            ("ws.opened".into(), sock.opened_ms.get().is_some().into()),
        ],
        trace_id: None,
        span_id: None,
    });
}

#[wasm_bindgen]
extern "C" {
    /// A `WebSocket` seen through an untyped `send`, which accepts every payload type.
    type AnySocket;
    #[wasm_bindgen(method, catch, js_name = send)]
    fn send(this: &AnySocket, data: &JsValue) -> std::result::Result<(), JsValue>;
}

/// The application's callback for one event type.
enum Handler<E> {
    None,
    Rust(Box<dyn FnMut(E)>),
    Js(js_sys::Function),
}

struct Handlers {
    message: RefCell<Handler<MessageEvent>>,
    open: RefCell<Handler<web_sys::Event>>,
    close: RefCell<Handler<CloseEvent>>,
    error: RefCell<Handler<web_sys::Event>>,
}

fn call<E: JsCast + Clone>(
    handler: &RefCell<Handler<E>>,
    this: &JsValue,
    ev: &E,
) -> std::result::Result<(), JsValue> {
    // Taken out while it runs, so a handler that replaces itself does not hit a RefCell borrow.
    let mut h = std::mem::replace(&mut *handler.borrow_mut(), Handler::None);
    let result = match &mut h {
        Handler::None => Ok(()),
        Handler::Rust(f) => {
            f(ev.clone());
            Ok(())
        }
        Handler::Js(f) => f.call1(this, ev.as_ref()).map(|_| ()),
    };
    let mut slot = handler.borrow_mut();
    if matches!(*slot, Handler::None) {
        *slot = h;
    }
    result
}

/// A WebSocket whose messages are traced. Works (untraced) when no SDK instance is running.
/// Its listeners are removed when it is dropped; dropping does not close the connection.
#[wasm_bindgen]
pub struct TracedWebSocket {
    ws: WebSocket,
    sock: Rc<SocketState>,
    handlers: Rc<Handlers>,
    _listeners: Vec<Listener>,
}

impl TracedWebSocket {
    /// Opens a traced connection to `url`.
    pub fn new(url: &str) -> Result<TracedWebSocket> {
        Self::with_protocols(url, &[])
    }

    /// Opens a traced connection to `url` offering `protocols`.
    pub fn with_protocols(url: &str, protocols: &[&str]) -> Result<TracedWebSocket> {
        let list = js_sys::Array::new();
        for p in protocols {
            list.push(&JsValue::from_str(p));
        }
        let ws = construct(url, &list).map_err(|e| Error::Js(super::dom::describe(&e).1))?;
        Ok(Self::wrap(ws, url))
    }

    fn wrap(ws: WebSocket, url: &str) -> TracedWebSocket {
        let inner = current();
        let sock = Rc::new(match &inner {
            Some(i) => SocketState::new(i, url),
            None => SocketState {
                url: url.to_owned(),
                envelope: false,
                created_ns: 0,
                created_ms: 0.0,
                opened_ms: Cell::new(None),
                reconnects: 0,
                buffered_max: Cell::new(0),
                sent: Cell::new(0),
                received: Cell::new(0),
                last_receive: RefCell::new(None),
            },
        });
        let handlers = Rc::new(Handlers {
            message: RefCell::new(Handler::None),
            open: RefCell::new(Handler::None),
            close: RefCell::new(Handler::None),
            error: RefCell::new(Handler::None),
        });
        let weak = inner.as_ref().map(Rc::downgrade).unwrap_or_default();
        let mut listeners = Vec::new();
        let target: &web_sys::EventTarget = ws.as_ref();
        let this: JsValue = ws.clone().into();
        {
            let (weak, sock, handlers, this) =
                (weak.clone(), sock.clone(), handlers.clone(), this.clone());
            listeners.extend(Listener::fallible(target, "message", move |ev| {
                let Ok(ev) = ev.dyn_into::<MessageEvent>() else {
                    return Ok(());
                };
                let inner = weak.upgrade().filter(|i| !i.shut_down.get());
                let processing = inner.as_ref().and_then(|i| {
                    on_message(i, &sock, &ev);
                    process_start(i, &sock, ev.as_ref())
                });
                let result = call(&handlers.message, &this, &ev);
                if let (Some(i), Some(p)) = (inner, processing) {
                    process_end(&i, p, result.is_err());
                }
                result
            }));
        }
        {
            let (weak, sock, handlers, this, ws2) = (
                weak.clone(),
                sock.clone(),
                handlers.clone(),
                this.clone(),
                ws.clone(),
            );
            listeners.extend(Listener::fallible(target, "open", move |ev| {
                if let Some(i) = weak.upgrade().filter(|i| !i.shut_down.get()) {
                    on_open(&i, &sock, &ws2);
                }
                call(&handlers.open, &this, &ev)
            }));
        }
        {
            let (weak, sock, handlers, this) =
                (weak.clone(), sock.clone(), handlers.clone(), this.clone());
            listeners.extend(Listener::fallible(target, "close", move |ev| {
                let Ok(ev) = ev.dyn_into::<CloseEvent>() else {
                    return Ok(());
                };
                if let Some(i) = weak.upgrade().filter(|i| !i.shut_down.get()) {
                    on_close(&i, &sock, &ev);
                }
                call(&handlers.close, &this, &ev)
            }));
        }
        {
            let (weak, sock, handlers, this) = (weak, sock.clone(), handlers.clone(), this);
            listeners.extend(Listener::fallible(target, "error", move |ev| {
                if let Some(i) = weak.upgrade().filter(|i| !i.shut_down.get()) {
                    on_error(&i, &sock);
                }
                call(&handlers.error, &this, &ev)
            }));
        }
        TracedWebSocket {
            ws,
            sock,
            handlers,
            _listeners: listeners,
        }
    }

    /// Sends `data` (a string, ArrayBuffer, typed array or Blob), traced. Errors are those of
    /// `WebSocket.send` itself (e.g. not open yet); telemetry never makes it fail.
    pub fn send_value(&self, data: &JsValue) -> Result<(), JsValue> {
        let replacement = current()
            .filter(|i| !i.shut_down.get())
            .and_then(|i| on_send(&i, &self.sock, &self.ws, data));
        self.ws
            .unchecked_ref::<AnySocket>()
            .send(replacement.as_ref().unwrap_or(data))
    }

    /// Sends a text message (trace context injected when it is a JSON object).
    pub fn send_text(&self, text: &str) -> Result<(), JsValue> {
        self.send_value(&JsValue::from_str(text))
    }

    /// Sends a binary message, byte-identical.
    pub fn send_bytes(&self, bytes: &[u8]) -> Result<(), JsValue> {
        self.send_value(&js_sys::Uint8Array::from(bytes).into())
    }

    /// Serialises `value` as JSON and sends it (with the trace context when it is an object).
    pub fn send_json<T: serde::Serialize>(&self, value: &T) -> Result<(), JsValue> {
        let text = serde_json::to_string(value).map_err(|e| JsValue::from_str(&e.to_string()))?;
        self.send_text(&text)
    }

    /// Sets the message callback; its run time is recorded as `ws.process`.
    pub fn set_on_message(&self, f: impl FnMut(MessageEvent) + 'static) {
        *self.handlers.message.borrow_mut() = Handler::Rust(Box::new(f));
    }

    /// Sets the open callback.
    pub fn set_on_open(&self, f: impl FnMut(web_sys::Event) + 'static) {
        *self.handlers.open.borrow_mut() = Handler::Rust(Box::new(f));
    }

    /// Sets the close callback.
    pub fn set_on_close(&self, f: impl FnMut(CloseEvent) + 'static) {
        *self.handlers.close.borrow_mut() = Handler::Rust(Box::new(f));
    }

    /// Sets the error callback.
    pub fn set_on_error(&self, f: impl FnMut(web_sys::Event) + 'static) {
        *self.handlers.error.borrow_mut() = Handler::Rust(Box::new(f));
    }

    /// The underlying socket (listeners added to it directly are not timed as `ws.process`).
    pub fn socket(&self) -> &WebSocket {
        &self.ws
    }
}

fn js_handler<E>(f: JsValue) -> Handler<E> {
    match f.dyn_into::<js_sys::Function>() {
        Ok(f) => Handler::Js(f),
        Err(_) => Handler::None,
    }
}

#[wasm_bindgen]
impl TracedWebSocket {
    /// `new TracedWebSocket(url, protocols)`: like `new WebSocket(url, protocols)`, traced.
    #[wasm_bindgen(constructor)]
    pub fn js_new(url: &str, protocols: JsValue) -> std::result::Result<TracedWebSocket, JsValue> {
        let protocols = if protocols.is_null() {
            JsValue::UNDEFINED
        } else {
            protocols
        };
        Ok(Self::wrap(construct(url, &protocols)?, url))
    }

    /// Sends a string, ArrayBuffer, typed array or Blob, traced.
    #[wasm_bindgen(js_name = send)]
    pub fn js_send(&self, data: JsValue) -> std::result::Result<(), JsValue> {
        self.send_value(&data)
    }

    /// Closes the connection.
    pub fn close(
        &self,
        code: Option<u16>,
        reason: Option<String>,
    ) -> std::result::Result<(), JsValue> {
        match (code, reason) {
            (Some(c), Some(r)) => self.ws.close_with_code_and_reason(c, &r),
            (Some(c), None) => self.ws.close_with_code(c),
            _ => self.ws.close(),
        }
    }

    /// Message callback (`function (event)`), timed as `ws.process`.
    #[wasm_bindgen(setter = onmessage)]
    pub fn js_set_onmessage(&self, f: JsValue) {
        *self.handlers.message.borrow_mut() = js_handler(f);
    }

    /// Open callback.
    #[wasm_bindgen(setter = onopen)]
    pub fn js_set_onopen(&self, f: JsValue) {
        *self.handlers.open.borrow_mut() = js_handler(f);
    }

    /// Close callback.
    #[wasm_bindgen(setter = onclose)]
    pub fn js_set_onclose(&self, f: JsValue) {
        *self.handlers.close.borrow_mut() = js_handler(f);
    }

    /// Error callback.
    #[wasm_bindgen(setter = onerror)]
    pub fn js_set_onerror(&self, f: JsValue) {
        *self.handlers.error.borrow_mut() = js_handler(f);
    }

    /// `WebSocket.readyState`.
    #[wasm_bindgen(getter = readyState)]
    pub fn ready_state(&self) -> u16 {
        self.ws.ready_state()
    }

    /// `WebSocket.bufferedAmount`.
    #[wasm_bindgen(getter = bufferedAmount)]
    pub fn buffered_amount(&self) -> u32 {
        self.ws.buffered_amount()
    }

    /// `WebSocket.binaryType` (`"blob"` or `"arraybuffer"`).
    #[wasm_bindgen(setter = binaryType)]
    pub fn set_binary_type(&self, t: &str) {
        self.ws.set_binary_type(if t == "arraybuffer" {
            web_sys::BinaryType::Arraybuffer
        } else {
            web_sys::BinaryType::Blob
        });
    }

    /// The underlying `WebSocket`.
    #[wasm_bindgen(getter = socket)]
    pub fn js_socket(&self) -> WebSocket {
        self.ws.clone()
    }
}

#[wasm_bindgen(inline_js = r#"
export function tracewireSocketClass(Base, h) {
  const ID = Symbol('tracewire');
  const ON = Symbol('tracewire.onmessage');
  const wrapped = new WeakMap();
  const add = Base.prototype.addEventListener;
  const wrap = (l) => {
    if (l === null || (typeof l !== 'function' && typeof l !== 'object')) return l;
    let w = wrapped.get(l);
    if (!w) {
      w = function (ev) {
        const t = h.live && this[ID] !== undefined ? h.before(this[ID], ev) : -1;
        let ok = false;
        try {
          const r = typeof l === 'function' ? l.call(this, ev) : l.handleEvent(ev);
          ok = true;
          return r;
        } finally {
          if (t >= 0 && h.live) h.after(t, !ok);
        }
      };
      wrapped.set(l, w);
    }
    return w;
  };
  class WebSocket extends Base {
    constructor(url, protocols) {
      if (protocols === undefined) super(url); else super(url, protocols);
      if (!h.live) return;
      try {
        const id = h.created(this, String(url));
        this[ID] = id;
        add.call(this, 'open', () => { if (h.live) h.open(id, this); });
        add.call(this, 'close', (e) => { if (h.live) h.close(id, e); });
        add.call(this, 'error', () => { if (h.live) h.error(id); });
        add.call(this, 'message', (e) => { if (h.live) h.message(id, e); });
      } catch (e) { /* telemetry must never break the page */ }
    }
    send(data) {
      let out = data;
      if (h.live && this[ID] !== undefined) {
        try { const r = h.send(this[ID], this, data); if (r !== undefined) out = r; } catch (e) { out = data; }
      }
      return super.send(out);
    }
    addEventListener(type, l, opts) { return super.addEventListener(type, type === 'message' ? wrap(l) : l, opts); }
    removeEventListener(type, l, opts) {
      return super.removeEventListener(type, type === 'message' && l ? (wrapped.get(l) || l) : l, opts);
    }
    get onmessage() { return this[ON] === undefined ? null : this[ON]; }
    set onmessage(f) { this[ON] = f; super.onmessage = typeof f === 'function' ? wrap(f) : f; }
  }
  return WebSocket;
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = tracewireSocketClass)]
    fn socket_class(base: &JsValue, hooks: &js_sys::Object) -> JsValue;
}

type Sockets = Rc<RefCell<HashMap<u32, Rc<SocketState>>>>;

/// The patch of `window.WebSocket` installed by `instrumentWebSockets()`. Dropping it restores
/// the original constructor (if nobody replaced ours meanwhile) and turns the hooks of sockets
/// already created into no-ops.
pub struct WebSocketPatch {
    window: web_sys::Window,
    original: JsValue,
    patched: JsValue,
    hooks: js_sys::Object,
    _closures: Vec<Box<dyn std::any::Any>>,
}

fn set(obj: &js_sys::Object, key: &str, value: &JsValue) {
    let _ = js_sys::Reflect::set(obj, &key.into(), value);
}

impl WebSocketPatch {
    /// Replaces `window.WebSocket` with a traced subclass.
    pub(crate) fn install(inner: &Rc<Inner>) -> Result<WebSocketPatch> {
        let window = inner.window.clone();
        let original = js_sys::Reflect::get(&window, &"WebSocket".into())
            .map_err(|_| Error::Unavailable("WebSocket"))?;
        if !original.is_function() {
            return Err(Error::Unavailable("WebSocket"));
        }
        let sockets: Sockets = Rc::new(RefCell::new(HashMap::new()));
        let processing: Rc<RefCell<Vec<Processing>>> = Rc::new(RefCell::new(Vec::new()));
        let next_id = Rc::new(Cell::new(0u32));
        let weak: Weak<Inner> = Rc::downgrade(inner);
        let hooks = js_sys::Object::new();
        let mut closures: Vec<Box<dyn std::any::Any>> = Vec::new();
        let live = |w: &Weak<Inner>| w.upgrade().filter(|i| !i.shut_down.get());

        let (w, s, n) = (weak.clone(), sockets.clone(), next_id.clone());
        let created = Closure::<dyn FnMut(JsValue, String) -> u32>::new(move |_ws, url: String| {
            let id = n.get().wrapping_add(1);
            n.set(id);
            if let Some(i) = live(&w) {
                s.borrow_mut()
                    .insert(id, Rc::new(SocketState::new(&i, &url)));
            }
            id
        });
        set(&hooks, "created", created.as_ref());
        closures.push(Box::new(created));

        let (w, s) = (weak.clone(), sockets.clone());
        let send = Closure::<dyn FnMut(u32, WebSocket, JsValue) -> JsValue>::new(
            move |id, ws: WebSocket, data: JsValue| {
                let sock = s.borrow().get(&id).cloned();
                match (live(&w), sock) {
                    (Some(i), Some(sock)) => on_send(&i, &sock, &ws, &data).unwrap_or(data),
                    _ => data,
                }
            },
        );
        set(&hooks, "send", send.as_ref());
        closures.push(Box::new(send));

        let (w, s) = (weak.clone(), sockets.clone());
        let open = Closure::<dyn FnMut(u32, WebSocket)>::new(move |id, ws: WebSocket| {
            let sock = s.borrow().get(&id).cloned();
            if let (Some(i), Some(sock)) = (live(&w), sock) {
                on_open(&i, &sock, &ws);
            }
        });
        set(&hooks, "open", open.as_ref());
        closures.push(Box::new(open));

        let (w, s) = (weak.clone(), sockets.clone());
        let close = Closure::<dyn FnMut(u32, CloseEvent)>::new(move |id, ev: CloseEvent| {
            // The connection is over: its state leaves the map here.
            let sock = s.borrow_mut().remove(&id);
            if let (Some(i), Some(sock)) = (live(&w), sock) {
                on_close(&i, &sock, &ev);
            }
        });
        set(&hooks, "close", close.as_ref());
        closures.push(Box::new(close));

        let (w, s) = (weak.clone(), sockets.clone());
        let error = Closure::<dyn FnMut(u32)>::new(move |id| {
            let sock = s.borrow().get(&id).cloned();
            if let (Some(i), Some(sock)) = (live(&w), sock) {
                on_error(&i, &sock);
            }
        });
        set(&hooks, "error", error.as_ref());
        closures.push(Box::new(error));

        let (w, s) = (weak.clone(), sockets.clone());
        let message = Closure::<dyn FnMut(u32, MessageEvent)>::new(move |id, ev: MessageEvent| {
            let sock = s.borrow().get(&id).cloned();
            if let (Some(i), Some(sock)) = (live(&w), sock) {
                on_message(&i, &sock, &ev);
            }
        });
        set(&hooks, "message", message.as_ref());
        closures.push(Box::new(message));

        let (w, s, p) = (weak.clone(), sockets.clone(), processing.clone());
        let before = Closure::<dyn FnMut(u32, JsValue) -> i32>::new(move |id, ev: JsValue| {
            let sock = s.borrow().get(&id).cloned();
            let started = match (live(&w), sock) {
                (Some(i), Some(sock)) => process_start(&i, &sock, &ev),
                _ => None,
            };
            match started {
                Some(proc_) => {
                    let mut stack = p.borrow_mut();
                    stack.push(proc_);
                    i32::try_from(stack.len() - 1).unwrap_or(-1)
                }
                None => -1,
            }
        });
        set(&hooks, "before", before.as_ref());
        closures.push(Box::new(before));

        let (w, p) = (weak, processing);
        let after = Closure::<dyn FnMut(i32, bool)>::new(move |token: i32, failed: bool| {
            let Ok(token) = usize::try_from(token) else {
                return;
            };
            let done = {
                let mut stack = p.borrow_mut();
                if token < stack.len() {
                    stack.drain(token..).next()
                } else {
                    None
                }
            };
            if let (Some(i), Some(done)) = (live(&w), done) {
                process_end(&i, done, failed);
            }
        });
        set(&hooks, "after", after.as_ref());
        closures.push(Box::new(after));

        set(&hooks, "live", &JsValue::TRUE);
        let patched = socket_class(&original, &hooks);
        js_sys::Reflect::set(&window, &"WebSocket".into(), &patched)
            .map_err(|e| Error::Js(super::dom::describe(&e).1))?;
        Ok(WebSocketPatch {
            window,
            original,
            patched,
            hooks,
            _closures: closures,
        })
    }
}

impl Drop for WebSocketPatch {
    fn drop(&mut self) {
        set(&self.hooks, "live", &JsValue::FALSE);
        let current =
            js_sys::Reflect::get(&self.window, &"WebSocket".into()).unwrap_or(JsValue::UNDEFINED);
        if current == self.patched {
            let _ = js_sys::Reflect::set(&self.window, &"WebSocket".into(), &self.original);
        }
    }
}
