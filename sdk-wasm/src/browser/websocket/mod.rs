//! WebSocket tracing: a span per message with the trace context carried inside the message,
//! receive and process spans for incoming messages, round-trip times, and connection lifecycle.
//!
//! Sockets matching `payloadFreeUrls` are never changed: their [`Handshake`] puts the
//! `ws.connect` span's context in the URL, and their message spans are numbered children of it.
//!
//! Two ways in, both through the same recording ([`record`]): [`TracedWebSocket`], owned by the
//! application ([`owned`]), and [`WebSocketPatch`] ([`patch`]), which replaces `window.WebSocket`
//! with a subclass (`websocket.js`) so sockets opened by any code on the page are traced. Sends
//! that carried their context wait in [`pending`] for a reply. Beyond a per-socket, per-type
//! span allowance messages are counted ([`rates`], the counting itself in [`crate::count`]):
//! spans plus counts are all the messages. Telemetry failures never reach the application: the
//! original `send` always happens, with the original data if anything failed.

mod owned;
mod patch;
mod pending;
mod rates;
mod record;

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use wasm_bindgen::JsValue;

use super::{Held, Inner, SpanCtx};
use crate::Config;
use crate::message::glob_match;

pub use owned::TracedWebSocket;
pub use patch::WebSocketPatch;

/// What the sockets of one SDK instance share.
pub(crate) struct Shared {
    /// The fixed parts of the context member inserted into messages.
    injection: record::InjectionParts,
    /// Connections opened per URL, for the reconnect count.
    connections: RefCell<Vec<(String, u32)>>,
    /// Sends waiting for their reply.
    pending: Rc<pending::PendingSends>,
    /// What is counted instead of recorded as spans.
    rates: Rc<rates::MessageRates>,
}

impl Shared {
    pub(crate) fn new(config: &Config) -> Shared {
        Shared {
            injection: record::InjectionParts::new(&config.trace_context_field, &config.tracestate),
            connections: RefCell::new(Vec::new()),
            pending: Rc::new(pending::PendingSends::default()),
            rates: Rc::new(rates::MessageRates::new(config)),
        }
    }

    /// Registers the sends waiting for replies and the counts with the exporter, and starts
    /// counting.
    pub(crate) fn register(&self, inner: &Inner) {
        inner.hold(Rc::downgrade(&self.pending) as Weak<dyn Held>);
        inner.hold(Rc::downgrade(&self.rates) as Weak<dyn Held>);
        self.rates.start(inner);
    }

    /// Counts a connection to `url`; returns how many were opened to it before.
    fn reconnects(&self, url: &str) -> u32 {
        let mut list = self.connections.borrow_mut();
        match list.iter_mut().find(|(u, _)| u == url) {
            Some((_, n)) => {
                *n += 1;
                *n - 1
            }
            None => {
                list.push((url.to_owned(), 1));
                0
            }
        }
    }
}

/// The handshake of a payload-free socket (its URL matches `payloadFreeUrls`).
pub(crate) struct Handshake {
    /// The `ws.connect` span's context, made before the socket exists.
    ctx: SpanCtx,
    /// The URL to open: the page's with the `traceparent` parameter.
    url: String,
    /// The text added to it, which the page must not see in `socket.url`.
    added: String,
}

impl Handshake {
    /// The handshake of a socket the page opens to `url`, when `payloadFreeUrls` matches it.
    pub(crate) fn of(inner: &Inner, url: &str) -> Option<Handshake> {
        if !inner
            .config
            .payload_free_urls
            .iter()
            .any(|p| glob_match(p, url))
        {
            return None;
        }
        let ctx = inner.new_ctx(None);
        let (url, added) = crate::handshake::handshake_url(url, &ctx.traceparent());
        Some(Handshake { ctx, url, added })
    }
}

/// Per-connection recording state.
pub(crate) struct SocketState {
    url: String,
    envelope: bool,
    /// A payload-free socket's `ws.connect` context: the parent of its message spans.
    connect: Option<SpanCtx>,
    created_ns: u64,
    created_ms: f64,
    opened_ms: Cell<Option<f64>>,
    reconnects: u32,
    buffered_max: Cell<u32>,
    sent: Cell<u32>,
    received: Cell<u32>,
    /// The message being dispatched and its receive span, for the process spans.
    last_receive: RefCell<Option<(JsValue, record::Received)>>,
    /// A payload-free connection's latest sends, by number, for the receives of the same
    /// number.
    payload_free_sends: pending::Waiting,
}

impl SocketState {
    /// The state of a socket the page opened to `url` (`connect`: its payload-free
    /// [`Handshake`]'s context).
    pub(crate) fn new(inner: &Inner, url: &str, connect: Option<SpanCtx>) -> SocketState {
        let clean = inner.clean_url(url);
        let envelope = inner
            .config
            .envelope_urls
            .iter()
            .any(|p| glob_match(p, url));
        SocketState {
            reconnects: inner.ws.reconnects(&clean),
            url: clean,
            envelope,
            connect,
            created_ns: inner.now_ns(),
            created_ms: inner.now_ms(),
            ..SocketState::detached(url)
        }
    }

    /// The state of a socket opened while no SDK instance runs (nothing is recorded for it).
    fn detached(url: &str) -> SocketState {
        SocketState {
            url: url.to_owned(),
            envelope: false,
            connect: None,
            created_ns: 0,
            created_ms: 0.0,
            opened_ms: Cell::new(None),
            reconnects: 0,
            buffered_max: Cell::new(0),
            sent: Cell::new(0),
            received: Cell::new(0),
            last_receive: RefCell::new(None),
            payload_free_sends: pending::Waiting::default(),
        }
    }
}
