//! fetch instrumentation: a CLIENT span per request, `traceparent` on requests to allow-listed
//! origins (the page's own origin always), and a per-route request counter reported each
//! interval so a flood shows as one aggregated signal.

use std::rc::{Rc, Weak};

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::dom::Interval;
use super::{Inner, SpanCtx};
use crate::rate::route_of;
use crate::record::{AttrValue, LogRecord, Severity, SpanKind, SpanRecord};
use crate::{Error, Result};

/// The patch of `window.fetch` installed by `instrumentFetch()`; dropping it restores the
/// original (if nobody replaced ours meanwhile).
pub struct FetchPatch {
    window: web_sys::Window,
    original: js_sys::Function,
    patched: JsValue,
    _closure: Closure<dyn FnMut(JsValue, JsValue) -> js_sys::Promise>,
    _timer: Option<Interval>,
}

struct Request {
    url: String,
    method: String,
}

fn describe_request(inner: &Inner, input: &JsValue, init: &JsValue) -> Request {
    let (raw_url, req_method) = match input.dyn_ref::<web_sys::Request>() {
        Some(r) => (r.url(), Some(r.method())),
        None => (
            input
                .as_string()
                .unwrap_or_else(|| String::from(js_sys::JsString::from(input.clone()))),
            None,
        ),
    };
    let base = inner.window.location().href().unwrap_or_default();
    let url = web_sys::Url::new_with_base(&raw_url, &base)
        .map(|u| u.href())
        .unwrap_or(raw_url);
    let init_method = if init.is_object() {
        js_sys::Reflect::get(init, &"method".into())
            .ok()
            .and_then(|m| m.as_string())
    } else {
        None
    };
    let method = init_method
        .or(req_method)
        .unwrap_or_else(|| "GET".into())
        .to_ascii_uppercase();
    Request { url, method }
}

fn origin_of(url: &str) -> Option<String> {
    web_sys::Url::new(url).ok().map(|u| u.origin())
}

fn propagates_to(inner: &Inner, url: &str) -> bool {
    let Some(origin) = origin_of(url) else {
        return false;
    };
    let own = inner.window.location().origin().unwrap_or_default();
    origin == own
        || inner
            .config
            .propagate_to_origins
            .iter()
            .any(|o| o.trim_end_matches('/') == origin)
}

/// `init` with `traceparent` (and `tracestate`) added to its headers; `None` if that failed.
fn with_context(
    input: &JsValue,
    init: &JsValue,
    ctx: &SpanCtx,
    tracestate: &str,
) -> Option<JsValue> {
    let existing = if init.is_object() {
        js_sys::Reflect::get(init, &"headers".into())
            .ok()
            .filter(|h| !h.is_undefined())
    } else {
        None
    };
    let headers = match (existing, input.dyn_ref::<web_sys::Request>()) {
        (Some(h), _) => web_sys::Headers::new_with_str_sequence_sequence(&h)
            .or_else(|_| web_sys::Headers::new_with_headers(h.unchecked_ref()))
            .ok()?,
        (None, Some(req)) => web_sys::Headers::new_with_headers(&req.headers()).ok()?,
        (None, None) => web_sys::Headers::new().ok()?,
    };
    headers
        .set("traceparent", &ctx.traceparent().encode())
        .ok()?;
    if !tracestate.is_empty() {
        headers.set("tracestate", tracestate).ok()?;
    }
    let out = js_sys::Object::new();
    if init.is_object() {
        js_sys::Object::assign(&out, init.unchecked_ref());
    }
    js_sys::Reflect::set(&out, &"headers".into(), &headers).ok()?;
    Some(out.into())
}

fn traced_fetch(
    inner: &Rc<Inner>,
    original: &js_sys::Function,
    input: JsValue,
    init: JsValue,
) -> js_sys::Promise {
    let window: JsValue = inner.window.clone().into();
    let call = |init: &JsValue| match original.call2(&window, &input, init) {
        Ok(p) => p
            .dyn_into::<js_sys::Promise>()
            .unwrap_or_else(|v| js_sys::Promise::resolve(&v)),
        Err(e) => js_sys::Promise::reject(&e),
    };
    if inner.shut_down.get() {
        return call(&init);
    }
    let req = describe_request(inner, &input, &init);
    // The SDK's own exports are not traced (that would feed back into itself).
    if req.url.starts_with(&inner.config.endpoint) {
        return call(&init);
    }
    let with_span = inner
        .state
        .borrow_mut()
        .routes
        .record(route_of(&req.method, &req.url));
    let ctx = inner.new_ctx(None);
    let promise = if propagates_to(inner, &req.url) {
        match with_context(&input, &init, &ctx, &inner.config.tracestate) {
            Some(new_init) => call(&new_init),
            None => call(&init),
        }
    } else {
        call(&init)
    };
    if !(with_span && ctx.sampled) {
        return promise;
    }
    let start_ns = inner.now_ns();
    let weak: Weak<Inner> = Rc::downgrade(inner);
    let url = inner.clean_url(&req.url);
    wasm_bindgen_futures::future_to_promise(async move {
        let result = JsFuture::from(promise).await;
        if let Some(inner) = weak.upgrade() {
            let mut attributes = vec![
                (
                    "http.request.method".into(),
                    AttrValue::from(req.method.clone()),
                ),
                ("url.full".into(), url.into()),
            ];
            let mut error = None;
            match &result {
                Ok(resp) => {
                    if let Some(resp) = resp.dyn_ref::<web_sys::Response>() {
                        attributes.push((
                            "http.response.status_code".into(),
                            AttrValue::Int(i64::from(resp.status())),
                        ));
                        if resp.status() >= 400 {
                            let mut text = String::from("HTTP ");
                            crate::json::push_u64(&mut text, u64::from(resp.status()));
                            error = Some(text);
                        }
                    }
                }
                Err(e) => error = Some(super::dom::describe(e).1),
            }
            inner.record_span(SpanRecord {
                trace_id: ctx.trace_id,
                span_id: ctx.span_id,
                parent_span_id: ctx.parent,
                name: req.method.clone(),
                kind: SpanKind::Client,
                start_ns,
                end_ns: inner.now_ns(),
                attributes,
                events: Vec::new(),
                error,
            });
        }
        result
    })
}

/// Turns the per-route counts of the interval into log records (`http.client.request_rate`).
pub fn report_rates(inner: &Inner) {
    let counts = inner.state.borrow_mut().routes.drain();
    let interval = i64::from(inner.config.fetch_rate_interval_ms);
    for c in counts {
        inner.record_log(LogRecord {
            time_ns: inner.now_ns(),
            severity: Severity::Info,
            body: {
                let mut body = String::new();
                crate::json::push_u64(&mut body, c.requests);
                body + " requests to " + &c.route
            },
            event_name: Some("http.client.request_rate".into()),
            attributes: vec![
                ("http.route".into(), c.route.into()),
                (
                    "http.client.request.count".into(),
                    AttrValue::Int(i64::try_from(c.requests).unwrap_or(i64::MAX)),
                ),
                (
                    "http.client.request.suppressed".into(),
                    AttrValue::Int(i64::try_from(c.suppressed).unwrap_or(i64::MAX)),
                ),
                ("tracewire.interval_ms".into(), AttrValue::Int(interval)),
            ],
            trace_id: None,
            span_id: None,
        });
    }
}

impl FetchPatch {
    /// Replaces `window.fetch` with the traced version.
    pub(crate) fn install(inner: &Rc<Inner>) -> Result<FetchPatch> {
        let window = inner.window.clone();
        let original: js_sys::Function = js_sys::Reflect::get(&window, &"fetch".into())
            .ok()
            .and_then(|f| f.dyn_into().ok())
            .ok_or(Error::Unavailable("fetch"))?;
        let weak = Rc::downgrade(inner);
        let orig = original.clone();
        let win: JsValue = window.clone().into();
        let closure = Closure::<dyn FnMut(JsValue, JsValue) -> js_sys::Promise>::new(
            move |input: JsValue, init: JsValue| match weak.upgrade() {
                Some(inner) => traced_fetch(&inner, &orig, input, init),
                None => match orig.call2(&win, &input, &init) {
                    Ok(p) => p
                        .dyn_into::<js_sys::Promise>()
                        .unwrap_or_else(|v| js_sys::Promise::resolve(&v)),
                    Err(e) => js_sys::Promise::reject(&e),
                },
            },
        );
        let patched: JsValue = closure.as_ref().clone();
        js_sys::Reflect::set(&window, &"fetch".into(), &patched)
            .map_err(|e| Error::Js(super::dom::describe(&e).1))?;
        let weak = Rc::downgrade(inner);
        let timer = Interval::new(&window, inner.config.fetch_rate_interval_ms, move || {
            if let Some(inner) = weak.upgrade() {
                report_rates(&inner);
            }
        });
        Ok(FetchPatch {
            window,
            original,
            patched,
            _closure: closure,
            _timer: timer,
        })
    }
}

impl Drop for FetchPatch {
    fn drop(&mut self) {
        let current =
            js_sys::Reflect::get(&self.window, &"fetch".into()).unwrap_or(JsValue::UNDEFINED);
        if current == self.patched {
            let _ = js_sys::Reflect::set(&self.window, &"fetch".into(), &self.original);
        }
    }
}
