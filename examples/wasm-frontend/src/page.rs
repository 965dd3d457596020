//! The DOM wiring (wasm32 only): starts the SDK from the query-string config, opens the traced
//! socket, turns button clicks into protocol messages, shows replies and pushes, and runs the
//! fallback poll loop while the socket is down and the bug switch is on.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use serde_json::{Value, json};
use tracewire_sdk::{Config, TracedWebSocket, Tracewire};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, spawn_local};
use web_sys::{Document, Event, EventTarget, HtmlInputElement, HtmlSelectElement, Window};

use crate::config::DemoConfig;
use crate::render;

thread_local! {
    /// The page's state lives as long as the page; the listeners below hold weak references.
    static PAGE: RefCell<Option<Rc<Page>>> = const { RefCell::new(None) };
}

/// An event listener owned by the page, removed when dropped.
struct Listener {
    target: EventTarget,
    kind: &'static str,
    closure: Closure<dyn FnMut(Event)>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self
            .target
            .remove_event_listener_with_callback(self.kind, self.closure.as_ref().unchecked_ref());
    }
}

struct Page {
    window: Window,
    document: Document,
    config: DemoConfig,
    /// The running SDK; dropping it would remove its instrumentation.
    _tw: Tracewire,
    socket: RefCell<Option<TracedWebSocket>>,
    connected: Cell<bool>,
    polling: Cell<bool>,
    polls: Cell<u64>,
    next_id: Cell<u64>,
    listeners: RefCell<Vec<Listener>>,
}

fn js_error(e: impl std::fmt::Display) -> JsValue {
    js_sys::Error::new(&e.to_string()).into()
}

/// Entry point: runs once the module is instantiated.
#[wasm_bindgen(start)]
pub fn start() -> Result<(), JsValue> {
    let window = web_sys::window().ok_or_else(|| js_error("no window"))?;
    let document = window.document().ok_or_else(|| js_error("no document"))?;
    let params = web_sys::UrlSearchParams::new_with_str(&window.location().search()?)?;
    let config = match DemoConfig::from_params(|key| params.get(key)) {
        Ok(config) => config,
        Err(e) => {
            set_text(&document, "status", &format!("bad config: {e}"));
            return Err(js_error(e));
        }
    };
    let tw = Tracewire::start(Config {
        endpoint: config.otlp.clone(),
        service_name: config.service.clone(),
        flush_interval_ms: config.flush_ms,
        fetch_rate_interval_ms: config.rate_ms,
        propagate_to_origins: vec![config.backend_origin()],
        ..Config::default()
    })
    .map_err(js_error)?;
    tw.instrument_fetch()?;
    set_text(&document, "session", &tw.session_id());
    set_text(&document, "backend", &config.backend);
    let page = Rc::new(Page {
        window,
        document,
        config,
        _tw: tw,
        socket: RefCell::new(None),
        connected: Cell::new(false),
        polling: Cell::new(false),
        polls: Cell::new(0),
        next_id: Cell::new(1),
        listeners: RefCell::new(Vec::new()),
    });
    on(&page, "list", "click", |page| {
        page.send(json!({"type": "list_agents"}));
    })?;
    on(&page, "run", "click", |page| {
        let agent = page.select_value("agent");
        page.send(json!({"type": "run_agent", "agent_id": agent}));
    })?;
    on(&page, "chat", "click", |page| {
        let agent = page.select_value("agent");
        let text = page
            .input("chat-text")
            .map(|i| i.value())
            .unwrap_or_default();
        page.send(json!({"type": "chat", "agent_id": agent, "text": text}));
    })?;
    on(&page, "disconnect", "click", |page| {
        if let Some(socket) = page.socket.borrow().as_ref() {
            let _ = socket.close(Some(4000), Some("dropped by the user".into()));
        }
    })?;
    on(&page, "connect", "click", connect)?;
    on(&page, "fallback", "change", start_polling_if_needed)?;
    connect(&page);
    PAGE.with(|p| *p.borrow_mut() = Some(page));
    Ok(())
}

/// Calls `f` with the page on each `kind` event of the element with id `id`.
fn on(
    page: &Rc<Page>,
    id: &str,
    kind: &'static str,
    f: impl Fn(&Rc<Page>) + 'static,
) -> Result<(), JsValue> {
    let target: EventTarget = page
        .document
        .get_element_by_id(id)
        .ok_or_else(|| js_error(format!("the page has no #{id}")))?
        .into();
    let weak = Rc::downgrade(page);
    let closure = Closure::<dyn FnMut(Event)>::new(move |_event: Event| {
        if let Some(page) = weak.upgrade() {
            f(&page);
        }
    });
    target.add_event_listener_with_callback(kind, closure.as_ref().unchecked_ref())?;
    page.listeners.borrow_mut().push(Listener {
        target,
        kind,
        closure,
    });
    Ok(())
}

fn set_text(document: &Document, id: &str, text: &str) {
    if let Some(element) = document.get_element_by_id(id) {
        element.set_text_content(Some(text));
    }
}

/// Opens the traced socket (replacing a closed one).
fn connect(page: &Rc<Page>) {
    let busy = page
        .socket
        .borrow()
        .as_ref()
        .is_some_and(|s| s.socket().ready_state() <= web_sys::WebSocket::OPEN);
    if busy {
        return;
    }
    let url = page.config.socket_url();
    let socket = match TracedWebSocket::new(&url) {
        Ok(socket) => socket,
        Err(e) => {
            page.log("error", "error", &format!("cannot open {url}: {e}"));
            return;
        }
    };
    page.set_status("connecting");
    let weak = Rc::downgrade(page);
    socket.set_on_open(move |_| {
        if let Some(page) = weak.upgrade() {
            page.connected.set(true);
            page.set_status("connected");
        }
    });
    let weak = Rc::downgrade(page);
    socket.set_on_message(move |event| {
        if let Some(page) = weak.upgrade() {
            page.show(&event);
        }
    });
    let weak: Weak<Page> = Rc::downgrade(page);
    socket.set_on_close(move |event| {
        if let Some(page) = weak.upgrade() {
            page.connected.set(false);
            page.set_status(&format!("disconnected (code {})", event.code()));
            start_polling_if_needed(&page);
        }
    });
    // The old socket is closed; its listeners go with it here, outside its own callbacks.
    *page.socket.borrow_mut() = Some(socket);
}

/// The field bug: while the socket is down, fall back to polling `GET /api/agents` with almost
/// no pause, and never back off.
fn start_polling_if_needed(page: &Rc<Page>) {
    if page.polling.get() || page.connected.get() || !page.fallback_on() {
        return;
    }
    page.polling.set(true);
    page.set_polls();
    let weak = Rc::downgrade(page);
    spawn_local(async move {
        loop {
            let Some(page) = weak.upgrade() else {
                return;
            };
            if page.connected.get() || !page.fallback_on() {
                page.polling.set(false);
                page.set_polls();
                return;
            }
            match page.poll_once().await {
                Ok(count) => {
                    page.polls.set(page.polls.get() + 1);
                    page.set_polls();
                    set_text(
                        &page.document,
                        "poll-result",
                        &format!("· last answer: {count} agents"),
                    );
                }
                Err(e) => {
                    let message = describe_js(&e);
                    set_text(
                        &page.document,
                        "poll-result",
                        &format!("· last poll failed: {message}"),
                    );
                }
            }
            let window = page.window.clone();
            let pause = page.config.poll_ms;
            drop(page);
            sleep(&window, pause).await;
        }
    });
}

/// The message of whatever JavaScript threw.
fn describe_js(value: &JsValue) -> String {
    value
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| value.as_string())
        .unwrap_or_else(|| "unknown error".into())
}

async fn sleep(window: &Window, ms: u32) {
    let ms = i32::try_from(ms).unwrap_or(i32::MAX);
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
    });
    let _ = JsFuture::from(promise).await;
}

impl Page {
    fn fallback_on(&self) -> bool {
        self.input("fallback").is_some_and(|i| i.checked())
    }

    fn input(&self, id: &str) -> Option<HtmlInputElement> {
        self.document.get_element_by_id(id)?.dyn_into().ok()
    }

    fn select_value(&self, id: &str) -> String {
        self.document
            .get_element_by_id(id)
            .and_then(|e| e.dyn_into::<HtmlSelectElement>().ok())
            .map(|s| s.value())
            .unwrap_or_default()
    }

    fn set_status(&self, text: &str) {
        set_text(&self.document, "status", text);
    }

    fn set_polls(&self) {
        let state = if self.polling.get() {
            "polling"
        } else {
            "idle"
        };
        set_text(
            &self.document,
            "polls",
            &format!("{state}, {} requests", self.polls.get()),
        );
    }

    /// Sends one protocol message with a fresh `id`; the SDK adds the trace context.
    fn send(&self, mut message: Value) {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        message["id"] = json!(id);
        let kind = message["type"].as_str().unwrap_or("message").to_owned();
        let socket = self.socket.borrow();
        let result = match socket.as_ref() {
            Some(socket) if self.connected.get() => socket.send_json(&message),
            _ => Err(js_error("not connected")),
        };
        match result {
            Ok(()) => self.log("sent", &kind, &format!("→ {kind} #{id}")),
            Err(e) => {
                let reason = describe_js(&e);
                self.log(
                    "error",
                    "send_failed",
                    &format!("cannot send {kind}: {reason}"),
                );
            }
        }
    }

    /// Shows a reply or push from the backend.
    fn show(&self, event: &web_sys::MessageEvent) {
        let Some(text) = event.data().as_string() else {
            return;
        };
        let Ok(message) = serde_json::from_str::<Value>(&text) else {
            self.log(
                "error",
                "invalid",
                "the backend sent something that is not JSON",
            );
            return;
        };
        let kind = message["type"].as_str().unwrap_or("message");
        let class = if render::is_error(&message) {
            "error"
        } else if message.get("id").is_some() {
            "reply"
        } else {
            "push"
        };
        self.log(class, kind, &format!("← {}", render::describe(&message)));
    }

    /// Appends a line to the message log, newest last.
    fn log(&self, class: &str, kind: &str, text: &str) {
        let Some(list) = self.document.get_element_by_id("log") else {
            return;
        };
        let Ok(item) = self.document.create_element("li") else {
            return;
        };
        item.set_class_name(class);
        let _ = item.set_attribute("data-type", kind);
        item.set_text_content(Some(text));
        let _ = list.append_child(&item);
    }

    /// One fallback poll through the page's (instrumented) `fetch`.
    async fn poll_once(&self) -> Result<usize, JsValue> {
        let fetch: js_sys::Function =
            js_sys::Reflect::get(&self.window, &"fetch".into())?.dyn_into()?;
        let url = JsValue::from_str(&self.config.agents_url());
        let promise: js_sys::Promise = fetch.call1(&self.window, &url)?.dyn_into()?;
        let response: web_sys::Response = JsFuture::from(promise).await?.dyn_into()?;
        if !response.ok() {
            return Err(js_error(format!("HTTP {}", response.status())));
        }
        let body = JsFuture::from(response.json()?).await?;
        let agents = js_sys::Reflect::get(&body, &"agents".into())?;
        Ok(agents
            .dyn_ref::<js_sys::Array>()
            .map_or(0, |a| a.length() as usize))
    }
}
