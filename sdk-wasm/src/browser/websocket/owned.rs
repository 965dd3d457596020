//! [`TracedWebSocket`]: a WebSocket owned by the application, traced without touching
//! `window.WebSocket`, with a Rust API and a JavaScript one.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

use super::super::SpanCtx;
use super::super::current;
use super::super::dom::{Listener, describe};
use super::record::{on_close, on_error, on_message, on_open, on_send, process_end, process_start};
use super::{Handshake, SocketState};
use crate::{Error, Result};

#[wasm_bindgen(module = "/src/browser/websocket/websocket.js")]
extern "C" {
    #[wasm_bindgen(js_name = tracewireWebSocket)]
    fn global_websocket() -> Option<JsValue>;
    #[wasm_bindgen(js_name = tracewirePageUrl)]
    fn page_url(ws: &WebSocket, added: &str);
}

/// `new WebSocket(url, protocols)` with the browser's own constructor, also while
/// `instrumentWebSockets()` has replaced `window.WebSocket` (a `TracedWebSocket` must not be
/// traced twice).
fn construct(url: &str, protocols: &JsValue) -> std::result::Result<WebSocket, JsValue> {
    let ctor = current()
        .and_then(|i| i.ws_patch.borrow().as_ref().map(|p| p.original().clone()))
        .or_else(global_websocket)
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
        Self::open(url, &list).map_err(|e| Error::Js(describe(&e).1))
    }

    /// Opens the socket; a payload-free one with its handshake URL, while its `url` stays `url`.
    fn open(url: &str, protocols: &JsValue) -> std::result::Result<TracedWebSocket, JsValue> {
        let handshake = current().and_then(|i| Handshake::of(&i, url));
        let ws = construct(handshake.as_ref().map_or(url, |h| &h.url), protocols)?;
        if let Some(h) = &handshake {
            page_url(&ws, &h.added);
        }
        Ok(Self::wrap(ws, url, handshake.map(|h| h.ctx)))
    }

    fn wrap(ws: WebSocket, url: &str, connect: Option<SpanCtx>) -> TracedWebSocket {
        let inner = current();
        let sock = Rc::new(match &inner {
            Some(i) => SocketState::new(i, url, connect),
            None => SocketState::detached(url),
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
        Self::open(url, &protocols)
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
