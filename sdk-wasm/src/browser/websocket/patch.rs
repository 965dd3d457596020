//! [`WebSocketPatch`]: `window.WebSocket` replaced by a traced subclass (`websocket.js`), so
//! sockets opened by any code on the page are traced. The class reports everything through one
//! hook, `on(event, id, a, b)`, dispatched here by [`Event`].

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use super::super::dom::describe;
use super::super::{Inner, SpanCtx};
use super::record::{
    Processing, on_close, on_error, on_message, on_open, on_send, process_end, process_start,
};
use super::{Handshake, SocketState};
use crate::{Error, Result};

#[wasm_bindgen(module = "/src/browser/websocket/websocket.js")]
extern "C" {
    #[wasm_bindgen(js_name = tracewireSocketClass)]
    fn socket_class(base: &JsValue, hooks: &js_sys::Object) -> JsValue;
}

/// What the class reports (the first argument of `on`; the numbers are those of
/// `websocket.js`), with what `id`, `a` and `b` stand for.
#[derive(Clone, Copy)]
enum Event {
    /// `a`: the URL; answers the new socket's id.
    Created,
    /// `id`, `a`: the socket, `b`: the data; answers the data to send instead, or `undefined`.
    Send,
    /// `id`, `a`: the socket.
    Open,
    /// `id`, `a`: the `CloseEvent`.
    Close,
    /// `id`.
    Error,
    /// `id`, `a`: the `MessageEvent`.
    Message,
    /// A message listener starts: `id`, `a`: the event; answers a token for `After`, or -1.
    Before,
    /// That listener returned: `id`: the token, `a`: whether it threw.
    After,
    /// A socket is about to be opened: `a`: the URL; answers `[URL to open, text added]` for a
    /// payload-free socket, or `undefined`. `Created` follows once the socket exists.
    Handshake,
}

impl Event {
    fn from_js(n: u32) -> Option<Event> {
        [
            Event::Created,
            Event::Send,
            Event::Open,
            Event::Close,
            Event::Error,
            Event::Message,
            Event::Before,
            Event::After,
            Event::Handshake,
        ]
        .get(n as usize)
        .copied()
    }
}

type Hook = Closure<dyn FnMut(u32, u32, JsValue, JsValue) -> JsValue>;

/// The recording state behind the hook.
struct Hooks {
    inner: Weak<Inner>,
    /// Sockets created through the patched class, by id (a few per page; searched linearly).
    sockets: RefCell<Vec<(u32, Rc<SocketState>)>>,
    next_id: Cell<u32>,
    /// The `ws.connect` context of the handshake just answered, for the `Created` that follows
    /// (the constructor runs both synchronously; a constructor that threw in between leaves it
    /// for the next `Handshake` to replace).
    handshake: Cell<Option<SpanCtx>>,
    /// Listeners running (nested when a listener dispatches another message).
    processing: RefCell<Vec<Processing>>,
}

impl Hooks {
    fn socket(&self, id: u32) -> Option<Rc<SocketState>> {
        let sockets = self.sockets.borrow();
        sockets
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, s)| s.clone())
    }

    fn on(&self, event: Event, id: u32, a: JsValue, b: JsValue) -> JsValue {
        let Some(inner) = self.inner.upgrade().filter(|i| !i.shut_down.get()) else {
            return JsValue::UNDEFINED;
        };
        match event {
            Event::Created => {
                let id = self.next_id.get().wrapping_add(1);
                self.next_id.set(id);
                let url = a.as_string().unwrap_or_default();
                let sock = Rc::new(SocketState::new(&inner, &url, self.handshake.take()));
                self.sockets.borrow_mut().push((id, sock));
                return JsValue::from(id);
            }
            Event::Handshake => {
                let hs = Handshake::of(&inner, &a.as_string().unwrap_or_default());
                self.handshake.set(hs.as_ref().map(|h| h.ctx));
                return hs.map_or(JsValue::UNDEFINED, |h| {
                    js_sys::Array::of2(&h.url.into(), &h.added.into()).into()
                });
            }
            Event::After => {
                let done = {
                    let mut stack = self.processing.borrow_mut();
                    let token = id as usize;
                    (token < stack.len()).then(|| stack.drain(token..).next())
                };
                if let Some(Some(p)) = done {
                    process_end(&inner, p, a.is_truthy());
                }
                return JsValue::UNDEFINED;
            }
            _ => {}
        }
        let Some(sock) = self.socket(id) else {
            return JsValue::UNDEFINED;
        };
        match event {
            Event::Send => {
                return on_send(&inner, &sock, a.unchecked_ref(), &b).unwrap_or(JsValue::UNDEFINED);
            }
            Event::Open => on_open(&inner, &sock, a.unchecked_ref()),
            Event::Close => {
                // The connection is over: its state leaves the list here.
                self.sockets.borrow_mut().retain(|(i, _)| *i != id);
                on_close(&inner, &sock, a.unchecked_ref());
            }
            Event::Error => on_error(&inner, &sock),
            Event::Message => on_message(&inner, &sock, a.unchecked_ref()),
            Event::Before => {
                let token = process_start(&inner, &sock, &a).map(|p| {
                    let mut stack = self.processing.borrow_mut();
                    stack.push(p);
                    stack.len() - 1
                });
                return JsValue::from(token.map_or(-1.0, |t| t as f64));
            }
            Event::Created | Event::After | Event::Handshake => {}
        }
        JsValue::UNDEFINED
    }
}

/// The patch of `window.WebSocket` installed by `instrumentWebSockets()`. Dropping it restores
/// the original constructor (if nobody replaced ours meanwhile) and turns the hooks of sockets
/// already created into no-ops.
pub struct WebSocketPatch {
    window: web_sys::Window,
    original: JsValue,
    patched: JsValue,
    hooks: js_sys::Object,
    _hook: Hook,
}

fn set(obj: &js_sys::Object, key: &str, value: &JsValue) {
    let _ = js_sys::Reflect::set(obj, &key.into(), value);
}

impl WebSocketPatch {
    /// Replaces `window.WebSocket` with a traced subclass.
    pub(crate) fn install(inner: &Rc<Inner>) -> Result<WebSocketPatch> {
        let window = inner.window.clone();
        let original = js_sys::Reflect::get(&window, &"WebSocket".into())
            .ok()
            .filter(JsValue::is_function)
            .ok_or(Error::Unavailable("WebSocket"))?;
        let state = Hooks {
            inner: Rc::downgrade(inner),
            sockets: RefCell::new(Vec::new()),
            next_id: Cell::new(0),
            handshake: Cell::new(None),
            processing: RefCell::new(Vec::new()),
        };
        let hook: Hook = Closure::new(move |event, id, a, b| match Event::from_js(event) {
            Some(event) => state.on(event, id, a, b),
            None => JsValue::UNDEFINED,
        });
        let hooks = js_sys::Object::new();
        set(&hooks, "on", hook.as_ref());
        set(&hooks, "live", &JsValue::TRUE);
        let patched = socket_class(&original, &hooks);
        js_sys::Reflect::set(&window, &"WebSocket".into(), &patched)
            .map_err(|e| Error::Js(describe(&e).1))?;
        Ok(WebSocketPatch {
            window,
            original,
            patched,
            hooks,
            _hook: hook,
        })
    }

    /// The page's own `WebSocket` constructor.
    pub(crate) fn original(&self) -> &JsValue {
        &self.original
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
