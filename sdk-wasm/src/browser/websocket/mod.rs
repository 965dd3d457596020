//! WebSocket tracing: a span per message with the trace context carried inside the message,
//! receive and process spans for incoming messages, round-trip times, and connection lifecycle.
//!
//! Two ways in, both through the same recording ([`record`]): [`TracedWebSocket`], owned by the
//! application ([`owned`]), and [`WebSocketPatch`] ([`patch`]), which replaces `window.WebSocket`
//! with a subclass (`websocket.js`) so sockets opened by any code on the page are traced. Sends
//! that carried their context wait in [`pending`] for a reply. Telemetry failures never reach
//! the application: the original `send` always happens, with the original data if anything
//! failed.

mod owned;
mod patch;
mod pending;
mod record;

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use wasm_bindgen::JsValue;

use super::{Held, Inner};
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
}

impl Shared {
    pub(crate) fn new(config: &Config) -> Shared {
        Shared {
            injection: record::InjectionParts::new(&config.trace_context_field, &config.tracestate),
            connections: RefCell::new(Vec::new()),
            pending: Rc::new(pending::PendingSends::default()),
        }
    }

    /// The sends waiting for replies, to register with the exporter.
    pub(crate) fn held(&self) -> Weak<dyn Held> {
        Rc::downgrade(&self.pending) as Weak<dyn Held>
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
    last_receive: RefCell<Option<(JsValue, record::Received)>>,
}

impl SocketState {
    pub(crate) fn new(inner: &Inner, url: &str) -> SocketState {
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
            created_ns: 0,
            created_ms: 0.0,
            opened_ms: Cell::new(None),
            reconnects: 0,
            buffered_max: Cell::new(0),
            sent: Cell::new(0),
            received: Cell::new(0),
            last_receive: RefCell::new(None),
        }
    }
}
