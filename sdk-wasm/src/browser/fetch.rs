//! fetch instrumentation: a CLIENT span per request, `traceparent` on requests to allow-listed
//! origins (the page's own origin always), and a per-route request counter reported each
//! interval so a flood shows as one aggregated signal.
//!
//! The wrapper around `window.fetch` is JavaScript (`fetch.js`); it asks [`FetchPatch`]'s hooks
//! what to do with each request and reports how it ended.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use wasm_bindgen::prelude::*;

use super::dom::{Interval, describe};
use super::{Held, Inner, SpanCtx};
use crate::rate::{RouteCounter, route_of};
use crate::record::{AttrValue, LogRecord, Severity, SpanKind, SpanRecord};
use crate::{Error, Result, json};
use tracewire_semconv::{attribute, event};

#[wasm_bindgen(module = "/src/browser/fetch.js")]
extern "C" {
    #[wasm_bindgen(js_name = tracewireFetch)]
    fn traced_fetch(
        original: &JsValue,
        tracestate: &str,
        start: &Closure<dyn FnMut(u32, String, String, JsValue) -> JsValue>,
        end: &Closure<dyn FnMut(u32, i32, JsValue)>,
    ) -> JsValue;
}

/// Per-route request counts of the current interval, reported as `http.client.request_rate` log
/// records on the interval and before every export.
pub(crate) struct RouteRates {
    counter: RefCell<RouteCounter>,
}

impl RouteRates {
    /// Turns the counts of the interval into log records and starts a new interval.
    fn report(&self, inner: &Inner) {
        let counts = self.counter.borrow_mut().drain();
        let interval = i64::from(inner.config.fetch_rate_interval_ms);
        for c in counts {
            let mut body = String::new();
            json::push_u64(&mut body, c.requests);
            inner.record_log(LogRecord {
                time_ns: inner.now_ns(),
                severity: Severity::Info,
                body: body + " requests to " + &c.route,
                event_name: Some(event::HTTP_CLIENT_REQUEST_RATE.into()),
                attributes: vec![
                    (attribute::HTTP_ROUTE.into(), c.route.into()),
                    (
                        attribute::HTTP_CLIENT_REQUEST_COUNT.into(),
                        AttrValue::Int(i64::try_from(c.requests).unwrap_or(i64::MAX)),
                    ),
                    (
                        attribute::HTTP_CLIENT_REQUEST_SUPPRESSED.into(),
                        AttrValue::Int(i64::try_from(c.suppressed).unwrap_or(i64::MAX)),
                    ),
                    (
                        attribute::TRACEWIRE_INTERVAL_MS.into(),
                        AttrValue::Int(interval),
                    ),
                ],
                trace_id: None,
                span_id: None,
            });
        }
    }
}

impl Held for RouteRates {
    fn release(&self, inner: &Inner, all: bool) {
        if all {
            self.report(inner);
        }
    }
}

/// A request whose outcome becomes a CLIENT span.
struct InFlight {
    id: u32,
    ctx: SpanCtx,
    method: String,
    url: String,
    start_ns: u64,
}

/// The patch of `window.fetch` installed by `instrumentFetch()`; dropping it reports the counts
/// of the current interval and restores the original (if nobody replaced ours meanwhile).
pub struct FetchPatch {
    inner: Weak<Inner>,
    window: web_sys::Window,
    original: JsValue,
    patched: JsValue,
    rates: Rc<RouteRates>,
    _start: Closure<dyn FnMut(u32, String, String, JsValue) -> JsValue>,
    _end: Closure<dyn FnMut(u32, i32, JsValue)>,
    _timer: Option<Interval>,
}

/// Whether a request to `origin` (`None`: the page's own) gets the trace context.
fn propagates_to(inner: &Inner, origin: Option<String>) -> bool {
    origin.is_none_or(|origin| {
        inner
            .config
            .propagate_to_origins
            .iter()
            .any(|o| o.trim_end_matches('/') == origin)
    })
}

/// Decides about one request: `undefined` to leave it alone (the SDK's own exports, or no
/// instance running), else `[traceparent or null, whether to report the outcome]`.
fn start(
    inner: &Inner,
    rates: &RouteRates,
    in_flight: &RefCell<Vec<InFlight>>,
    req: (u32, String, String, JsValue),
) -> JsValue {
    let (id, method, url, origin) = req;
    // The SDK's own exports are not traced (that would feed back into itself).
    if inner.shut_down.get() || url.starts_with(&inner.config.endpoint) {
        return JsValue::UNDEFINED;
    }
    let with_span = rates.counter.borrow_mut().record(route_of(&method, &url));
    let ctx = inner.new_ctx(None);
    let traceparent = if propagates_to(inner, origin.as_string()) {
        JsValue::from(ctx.traceparent().encode())
    } else {
        JsValue::NULL
    };
    let report = with_span && ctx.sampled;
    if report {
        in_flight.borrow_mut().push(InFlight {
            id,
            ctx,
            method,
            url: inner.clean_url(&url),
            start_ns: inner.now_ns(),
        });
    }
    js_sys::Array::of2(&traceparent, &JsValue::from_bool(report)).into()
}

/// Records the CLIENT span of a request that ended with `status` (or failed with `error`).
fn end(inner: &Inner, req: InFlight, status: i32, error: &JsValue) {
    let mut attributes = vec![
        (
            attribute::HTTP_REQUEST_METHOD.into(),
            AttrValue::from(req.method.clone()),
        ),
        (attribute::URL_FULL.into(), req.url.into()),
    ];
    let failure = if status < 0 {
        Some(describe(error).1)
    } else {
        attributes.push((
            attribute::HTTP_RESPONSE_STATUS_CODE.into(),
            AttrValue::Int(i64::from(status)),
        ));
        (status >= 400).then(|| {
            let mut text = String::from("HTTP ");
            json::push_i64(&mut text, i64::from(status));
            text
        })
    };
    inner.record_span(SpanRecord {
        trace_id: req.ctx.trace_id,
        span_id: req.ctx.span_id,
        parent_span_id: req.ctx.parent,
        name: req.method,
        kind: SpanKind::Client,
        start_ns: req.start_ns,
        end_ns: inner.now_ns(),
        attributes,
        events: Vec::new(),
        error: failure,
    });
}

impl FetchPatch {
    /// Replaces `window.fetch` with the traced version.
    pub(crate) fn install(inner: &Rc<Inner>) -> Result<FetchPatch> {
        let window = inner.window.clone();
        let original = js_sys::Reflect::get(&window, &"fetch".into())
            .ok()
            .filter(JsValue::is_function)
            .ok_or(Error::Unavailable("fetch"))?;
        let rates = Rc::new(RouteRates {
            counter: RefCell::new(RouteCounter::new(inner.config.fetch_spans_per_route)),
        });
        inner.hold(Rc::downgrade(&rates) as Weak<dyn Held>);
        let in_flight = Rc::new(RefCell::new(Vec::<InFlight>::new()));
        let (weak, r, f) = (Rc::downgrade(inner), rates.clone(), in_flight.clone());
        let start = Closure::<dyn FnMut(u32, String, String, JsValue) -> JsValue>::new(
            move |id, method, url, origin| match weak.upgrade() {
                Some(inner) => start(&inner, &r, &f, (id, method, url, origin)),
                None => JsValue::UNDEFINED,
            },
        );
        let weak = Rc::downgrade(inner);
        let end = Closure::<dyn FnMut(u32, i32, JsValue)>::new(move |id, status, error| {
            let req = {
                let mut f = in_flight.borrow_mut();
                f.iter().position(|r| r.id == id).map(|i| f.swap_remove(i))
            };
            if let (Some(inner), Some(req)) = (weak.upgrade(), req) {
                end(&inner, req, status, &error);
            }
        });
        let patched = traced_fetch(&original, &inner.config.tracestate, &start, &end);
        js_sys::Reflect::set(&window, &"fetch".into(), &patched)
            .map_err(|e| Error::Js(describe(&e).1))?;
        let (weak, r) = (Rc::downgrade(inner), rates.clone());
        let timer = Interval::new(&window, inner.config.fetch_rate_interval_ms, move || {
            if let Some(inner) = weak.upgrade() {
                r.report(&inner);
            }
        });
        Ok(FetchPatch {
            inner: Rc::downgrade(inner),
            window,
            original,
            patched,
            rates,
            _start: start,
            _end: end,
            _timer: timer,
        })
    }
}

impl Drop for FetchPatch {
    fn drop(&mut self) {
        // The counts of the interval so far are not lost with the patch.
        if let Some(inner) = self.inner.upgrade() {
            self.rates.report(&inner);
        }
        let current =
            js_sys::Reflect::get(&self.window, &"fetch".into()).unwrap_or(JsValue::UNDEFINED);
        if current == self.patched {
            let _ = js_sys::Reflect::set(&self.window, &"fetch".into(), &self.original);
        }
    }
}
