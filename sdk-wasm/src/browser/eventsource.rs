//! EventSource (Server-Sent Events) instrumentation (feature `eventsource`): `window.EventSource`
//! replaced by a traced subclass (`eventsource.js`). Each connection attempt becomes an
//! `sse.connect` span (from `new EventSource`, or the reconnect, to `open` or the failure), each
//! event a listener of the page receives an `sse.receive <type>` CONSUMER span that continues the
//! server's trace when the event carries its context ([`crate::sse::event_parent`]).

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use super::Inner;
use super::dom::describe;
use crate::record::{AttrValue, Attributes, SpanKind, SpanRecord};
use crate::{Error, Result, sse};
use tracewire_semconv::{attribute, span, value};

#[wasm_bindgen(module = "/src/browser/eventsource.js")]
extern "C" {
    #[wasm_bindgen(js_name = tracewireEventSourceClass)]
    fn event_source_class(base: &JsValue, hooks: &js_sys::Object) -> JsValue;
}

/// What the class reports (the numbers of `eventsource.js`).
const CREATED: u32 = 0;
const OPEN: u32 = 1;
const ERROR: u32 = 2;
const CLOSE: u32 = 3;
const EVENT: u32 = 4;
/// `EventSource.CLOSED`: after an `error` in this state the browser gives up.
const READY_STATE_CLOSED: f64 = 2.0;

type Hook = Closure<dyn FnMut(u32, u32, JsValue) -> JsValue>;

/// One EventSource created through the patched class.
struct Source {
    id: u32,
    url: String,
    /// When the current connection attempt started, while it has not opened or failed.
    attempt_ns: Cell<Option<u64>>,
    /// Attempts before the current one.
    reconnects: Cell<u32>,
    /// The previous event's `lastEventId` (the browser repeats it on events without an id).
    last_id: RefCell<String>,
}

/// The recording state behind the hook.
struct Hooks {
    inner: Weak<Inner>,
    /// Open sources, by id (a few per page; searched linearly).
    sources: RefCell<Vec<Rc<Source>>>,
    next_id: Cell<u32>,
}

fn base_attrs(inner: &Inner, source: &Source) -> Attributes {
    vec![
        (
            attribute::MESSAGING_SYSTEM.into(),
            value::MESSAGING_SYSTEM_SSE.into(),
        ),
        (
            attribute::URL_FULL.into(),
            inner.clean_url(&source.url).into(),
        ),
    ]
}

/// Records the `sse.connect` span of the attempt in progress (`error`: why it failed).
fn end_attempt(inner: &Inner, source: &Source, error: Option<&str>) {
    let Some(start_ns) = source.attempt_ns.take() else {
        return;
    };
    let ctx = inner.new_ctx(None);
    if !ctx.sampled {
        return;
    }
    let mut attributes = base_attrs(inner, source);
    attributes.push((
        attribute::SSE_RECONNECT_COUNT.into(),
        AttrValue::Int(i64::from(source.reconnects.get())),
    ));
    inner.record_span(SpanRecord {
        trace_id: ctx.trace_id,
        span_id: ctx.span_id,
        parent_span_id: ctx.parent,
        name: span::SSE_CONNECT.into(),
        kind: SpanKind::Internal,
        start_ns,
        end_ns: inner.now_ns(),
        attributes,
        events: Vec::new(),
        error: error.map(str::to_owned),
    });
}

/// Records the `sse.receive <type>` span of an event a page listener receives.
fn on_event(inner: &Inner, source: &Source, ev: &web_sys::MessageEvent) {
    let now = inner.now_ns();
    let data = ev.data().as_string().unwrap_or_default();
    let id = ev.last_event_id();
    let kind = ev.type_();
    let previous = source.last_id.replace(id);
    let found = sse::event_parent(
        &data,
        &source.last_id.borrow(),
        &previous,
        &inner.config.trace_context_field,
    );
    let ctx = inner.new_ctx(found.map(|(p, _)| p));
    if !ctx.sampled {
        return;
    }
    let mut attributes = base_attrs(inner, source);
    attributes.push((
        attribute::MESSAGING_OPERATION_TYPE.into(),
        value::OPERATION_RECEIVE.into(),
    ));
    attributes.push((
        attribute::MESSAGING_MESSAGE_BODY_SIZE.into(),
        AttrValue::Int(i64::try_from(data.len()).unwrap_or(i64::MAX)),
    ));
    attributes.push((attribute::WS_MESSAGE_TYPE.into(), kind.clone().into()));
    if let Some((_, from)) = found {
        attributes.push((attribute::SSE_CONTEXT_SOURCE.into(), from.into()));
    }
    inner.record_span(SpanRecord {
        trace_id: ctx.trace_id,
        span_id: ctx.span_id,
        parent_span_id: ctx.parent,
        name: String::from(span::SSE_RECEIVE) + " " + &kind,
        kind: SpanKind::Consumer,
        start_ns: now,
        end_ns: now,
        attributes,
        events: Vec::new(),
        error: None,
    });
}

impl Hooks {
    fn on(&self, kind: u32, id: u32, a: JsValue) -> JsValue {
        let Some(inner) = self.inner.upgrade().filter(|i| !i.shut_down.get()) else {
            return JsValue::UNDEFINED;
        };
        if kind == CREATED {
            let id = self.next_id.get().wrapping_add(1);
            self.next_id.set(id);
            self.sources.borrow_mut().push(Rc::new(Source {
                id,
                url: a.as_string().unwrap_or_default(),
                attempt_ns: Cell::new(Some(inner.now_ns())),
                reconnects: Cell::new(0),
                last_id: RefCell::new(String::new()),
            }));
            return JsValue::from(id);
        }
        let Some(source) = self.sources.borrow().iter().find(|s| s.id == id).cloned() else {
            return JsValue::UNDEFINED;
        };
        match kind {
            OPEN => end_attempt(&inner, &source, None),
            ERROR => {
                let closed = a.as_f64() == Some(READY_STATE_CLOSED);
                end_attempt(
                    &inner,
                    &source,
                    Some(if closed {
                        "EventSource connection failed"
                    } else {
                        "EventSource connection failed, retrying"
                    }),
                );
                if closed {
                    self.sources.borrow_mut().retain(|s| s.id != id);
                } else {
                    // The browser reconnects: a new attempt starts now.
                    source.reconnects.set(source.reconnects.get() + 1);
                    source.attempt_ns.set(Some(inner.now_ns()));
                }
            }
            CLOSE => self.sources.borrow_mut().retain(|s| s.id != id),
            EVENT => {
                if let Some(ev) = a.dyn_ref::<web_sys::MessageEvent>() {
                    on_event(&inner, &source, ev);
                }
            }
            _ => {}
        }
        JsValue::UNDEFINED
    }
}

/// The patch of `window.EventSource` installed by `instrumentEventSource()`. Dropping it
/// restores the original constructor (if nobody replaced ours meanwhile) and turns the hooks of
/// sources already created into no-ops.
pub struct EventSourcePatch {
    window: web_sys::Window,
    original: JsValue,
    patched: JsValue,
    hooks: js_sys::Object,
    _hook: Hook,
}

impl EventSourcePatch {
    /// Replaces `window.EventSource` with a traced subclass.
    pub(crate) fn install(inner: &Rc<Inner>) -> Result<EventSourcePatch> {
        let window = inner.window.clone();
        let original = js_sys::Reflect::get(&window, &"EventSource".into())
            .ok()
            .filter(JsValue::is_function)
            .ok_or(Error::Unavailable("EventSource"))?;
        let state = Hooks {
            inner: Rc::downgrade(inner),
            sources: RefCell::new(Vec::new()),
            next_id: Cell::new(0),
        };
        let hook: Hook = Closure::new(move |kind, id, a| state.on(kind, id, a));
        let hooks = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&hooks, &"on".into(), hook.as_ref());
        let _ = js_sys::Reflect::set(&hooks, &"live".into(), &JsValue::TRUE);
        let patched = event_source_class(&original, &hooks);
        js_sys::Reflect::set(&window, &"EventSource".into(), &patched)
            .map_err(|e| Error::Js(describe(&e).1))?;
        Ok(EventSourcePatch {
            window,
            original,
            patched,
            hooks,
            _hook: hook,
        })
    }
}

impl Drop for EventSourcePatch {
    fn drop(&mut self) {
        let _ = js_sys::Reflect::set(&self.hooks, &"live".into(), &JsValue::FALSE);
        let current =
            js_sys::Reflect::get(&self.window, &"EventSource".into()).unwrap_or(JsValue::UNDEFINED);
        if current == self.patched {
            let _ = js_sys::Reflect::set(&self.window, &"EventSource".into(), &self.original);
        }
    }
}
