//! Delivery to the collector: periodic and explicit flushes over `fetch` (gzip when the browser
//! can, retries with backoff), and the page-exit path ([`exit`]).
//!
//! The loop that awaits the network is JavaScript (`tracewireExporter` in `page.js`), so the wasm
//! carries no async runtime: it asks [`Exporter`]'s hooks for the next request body and, after
//! each try, for the delay before the next one. Batching, encoding, the retry schedule and the
//! counters stay here.

mod exit;
mod stats;

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use wasm_bindgen::prelude::*;

use super::Inner;
use super::dom::{Interval, Listener};
use crate::otlp::{encode_logs, encode_traces};
use crate::record::{AttrValue, Item, LogRecord, Severity};
use crate::retry::{Outcome, RetryPolicy, classify, parse_retry_after_seconds};
use tracewire_semconv::{attribute, event};

#[cfg(feature = "errors")]
pub(crate) use exit::beacon;
pub(crate) use exit::{Keepalives, flush_on_exit, take_carried};
pub use stats::Stats;

/// Bodies smaller than this are sent uncompressed (gzip would not pay for itself).
const GZIP_MIN_BYTES: usize = 1024;

#[wasm_bindgen(module = "/src/browser/page.js")]
extern "C" {
    #[wasm_bindgen(js_name = tracewireExporter)]
    fn exporter(
        next: &Closure<dyn FnMut(bool) -> JsValue>,
        sent: &Closure<dyn FnMut(u16, Option<String>, bool) -> f64>,
        stop: &Closure<dyn FnMut()>,
        key: Option<String>,
    ) -> js_sys::Function;
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A request body ready to go.
struct Request {
    path: &'static str,
    body: String,
    items: u32,
    /// Carried over from an earlier page load.
    carried: bool,
}

/// The request being sent and its tries so far.
struct Sending {
    items: u32,
    carried: bool,
    attempts: u32,
}

/// The export pipeline of one SDK instance: requests prepared and not yet sent (the next one
/// last), the one being sent, and the JavaScript loop with the hooks it calls.
pub(crate) struct Exporter {
    outbox: RefCell<Vec<Request>>,
    sending: RefCell<Option<Sending>>,
    flush: js_sys::Function,
    _next: Closure<dyn FnMut(bool) -> JsValue>,
    _sent: Closure<dyn FnMut(u16, Option<String>, bool) -> f64>,
    _stop: Closure<dyn FnMut()>,
}

impl Exporter {
    pub(crate) fn new(inner: &Weak<Inner>, ingest_key: Option<String>) -> Exporter {
        let weak = inner.clone();
        let next = Closure::<dyn FnMut(bool) -> JsValue>::new(move |first| {
            weak.upgrade()
                .map_or(JsValue::UNDEFINED, |inner| next_request(&inner, first))
        });
        let weak = inner.clone();
        let sent = Closure::<dyn FnMut(u16, Option<String>, bool) -> f64>::new(
            move |status, retry_after: Option<String>, gzipped| {
                weak.upgrade().map_or(-1.0, |inner| {
                    after_try(&inner, status, retry_after.as_deref(), gzipped)
                })
            },
        );
        let weak = inner.clone();
        let stop = Closure::<dyn FnMut()>::new(move || {
            if let Some(inner) = weak.upgrade() {
                inner.teardown();
            }
        });
        Exporter {
            outbox: RefCell::new(Vec::new()),
            sending: RefCell::new(None),
            flush: exporter(&next, &sent, &stop, ingest_key),
            _next: next,
            _sent: sent,
            _stop: stop,
        }
    }
}

/// Installs the periodic flush and the page-exit listeners.
pub fn install(inner: &Rc<Inner>) {
    let weak = Rc::downgrade(inner);
    if let Some(timer) = Interval::new(&inner.window, inner.config.flush_interval_ms, move || {
        if let Some(inner) = weak.upgrade() {
            inner.release_held(false);
            let has_work = !inner.state.borrow().queue.is_empty();
            if has_work {
                schedule_flush(&inner);
            }
        }
    }) {
        inner.add_timer(timer);
    }
    if !inner.config.flush_on_page_exit {
        return;
    }
    if let Some(doc) = inner.window.document() {
        let weak = Rc::downgrade(inner);
        let d = doc.clone();
        if let Some(l) = Listener::new(&doc, "visibilitychange", move |_| {
            if d.visibility_state() == web_sys::VisibilityState::Hidden
                && let Some(inner) = weak.upgrade()
            {
                flush_on_exit(&inner);
            }
        }) {
            inner.add_listener(l);
        }
    }
    let weak = Rc::downgrade(inner);
    if let Some(l) = Listener::new(&inner.window, "pagehide", move |_| {
        if let Some(inner) = weak.upgrade() {
            flush_on_exit(&inner);
        }
    }) {
        inner.add_listener(l);
    }
}

/// Starts a flush in the background unless one is already scheduled.
pub fn schedule_flush(inner: &Inner) {
    {
        let mut st = inner.state.borrow_mut();
        if st.flush_scheduled {
            return;
        }
        st.flush_scheduled = true;
    }
    let _ = flush(inner);
}

/// Exports everything recorded so far; the promise resolves when the collector answered (or the
/// tries were used up, which is counted, never thrown). Flushes queue up behind each other.
pub fn flush(inner: &Inner) -> js_sys::Promise {
    call_flush(inner, false)
}

/// Flushes, then removes every listener, timer and patch.
pub fn shutdown(inner: &Inner) -> js_sys::Promise {
    call_flush(inner, true)
}

fn call_flush(inner: &Inner, last: bool) -> js_sys::Promise {
    inner
        .exporter
        .flush
        .call1(&JsValue::NULL, &JsValue::from_bool(last))
        .map_or_else(|e| js_sys::Promise::reject(&e), js_sys::Promise::from)
}

/// A log record reporting drops since the last report, so data loss is visible at the collector.
fn drop_report(inner: &Inner) -> Option<LogRecord> {
    let dropped = inner.state.borrow_mut().queue.take_dropped();
    if dropped == 0 {
        return None;
    }
    Some(LogRecord {
        time_ns: inner.now_ns(),
        severity: Severity::Warn,
        body: {
            let mut body = String::from("Tracewire dropped ");
            crate::json::push_u64(&mut body, dropped);
            body + " telemetry items: export queue full"
        },
        event_name: Some(event::TRACEWIRE_DROPPED.into()),
        attributes: vec![
            (
                attribute::TRACEWIRE_DROPPED_COUNT.into(),
                AttrValue::Int(i64::try_from(dropped).unwrap_or(i64::MAX)),
            ),
            (
                attribute::TRACEWIRE_DROPPED_REASON.into(),
                "queue_full".into(),
            ),
            (
                attribute::SESSION_ID.into(),
                inner.state.borrow().session.id.clone().into(),
            ),
        ],
        trace_id: None,
        span_id: None,
    })
}

/// Encodes a batch into at most two bodies: traces and logs.
fn encode_batch(
    inner: &Inner,
    items: &[Item],
    extra_log: Option<&LogRecord>,
) -> Vec<(&'static str, String, usize)> {
    let spans: Vec<_> = items
        .iter()
        .filter_map(|i| if let Item::Span(s) = i { Some(s) } else { None })
        .collect();
    let mut logs: Vec<_> = items
        .iter()
        .filter_map(|i| if let Item::Log(l) = i { Some(l) } else { None })
        .collect();
    if let Some(l) = extra_log {
        logs.push(l);
    }
    let mut out = Vec::new();
    if !spans.is_empty() {
        out.push((
            "/v1/traces",
            encode_traces(&inner.resource, &spans),
            spans.len(),
        ));
    }
    if !logs.is_empty() {
        out.push(("/v1/logs", encode_logs(&inner.resource, &logs), logs.len()));
    }
    out
}

/// The next request of a flush as `[url, body, whether to gzip]`, or `undefined` when everything
/// has gone. A flush's first call (`first`) lets the instrumentations release what they hold.
fn next_request(inner: &Inner, first: bool) -> JsValue {
    let ex = &inner.exporter;
    if first {
        inner.state.borrow_mut().flush_scheduled = false;
        let carried = std::mem::take(&mut *inner.carried.borrow_mut());
        ex.outbox
            .borrow_mut()
            .extend(carried.into_iter().rev().map(|c| Request {
                path: if c.path == "/v1/logs" {
                    "/v1/logs"
                } else {
                    "/v1/traces"
                },
                body: c.body,
                items: c.items,
                carried: true,
            }));
        inner.release_held(true);
    }
    loop {
        let ready = ex.outbox.borrow_mut().pop();
        if let Some(req) = ready {
            let gzip = inner.config.compression && req.body.len() >= GZIP_MIN_BYTES;
            *ex.sending.borrow_mut() = Some(Sending {
                items: req.items,
                carried: req.carried,
                attempts: 0,
            });
            let url = url_for(inner, req.path, false);
            return js_sys::Array::of3(&url.into(), &req.body.into(), &gzip.into()).into();
        }
        let batch = inner
            .state
            .borrow_mut()
            .queue
            .take_batch(inner.config.max_batch_items, inner.config.max_batch_bytes);
        let report = drop_report(inner);
        if batch.is_empty() && report.is_none() {
            return JsValue::UNDEFINED;
        }
        let mut batch = batch;
        for item in &mut batch {
            inner.scrub_item(item);
        }
        let requests = encode_batch(inner, &batch, report.as_ref());
        ex.outbox
            .borrow_mut()
            .extend(requests.into_iter().rev().map(|(path, body, n)| Request {
                path,
                body,
                items: to_u32(n),
                carried: false,
            }));
    }
}

/// Counts one try of the request being sent (`status` 0: a network error) and returns the delay
/// before the next try, or -1 when it is done: accepted, refused for good, or out of tries.
fn after_try(inner: &Inner, status: u16, retry_after: Option<&str>, gzipped: bool) -> f64 {
    let Some(mut sending) = inner.exporter.sending.borrow_mut().take() else {
        return -1.0;
    };
    sending.attempts += 1;
    {
        let mut st = inner.state.borrow_mut();
        st.stats.requests += 1;
        st.stats.compressed_requests += u32::from(gzipped);
    }
    let outcome = classify((status > 0).then_some(status));
    if outcome == Outcome::Retry {
        let policy = RetryPolicy {
            max_attempts: inner.config.max_export_attempts,
            initial_ms: f64::from(inner.config.retry_initial_ms),
            multiplier: 1.5,
            max_ms: f64::from(inner.config.retry_max_ms),
            jitter: 0.2,
        };
        let unit = inner.state.borrow_mut().ids.unit();
        if let Some(ms) =
            policy.delay_ms(sending.attempts, unit, retry_after.and_then(retry_after_ms))
        {
            *inner.exporter.sending.borrow_mut() = Some(sending);
            return ms;
        }
    }
    let mut st = inner.state.borrow_mut();
    if outcome == Outcome::Done {
        st.stats.exported += sending.items;
        if sending.carried {
            st.stats.carried_in += sending.items;
        }
    } else {
        st.stats.dropped_export_failed += sending.items;
    }
    -1.0
}

/// A `Retry-After` value in milliseconds from now: delay-seconds, or an HTTP date.
fn retry_after_ms(value: &str) -> Option<f64> {
    parse_retry_after_seconds(value).or_else(|| {
        let at = js_sys::Date::parse(value);
        (!at.is_nan()).then(|| (at - js_sys::Date::now()).max(0.0))
    })
}

/// The URL of `path` at the collector; with `key_in_query`, the ingest key as `?key=` (for
/// requests that cannot carry headers).
pub(crate) fn url_for(inner: &Inner, path: &str, key_in_query: bool) -> String {
    let mut url = inner.config.endpoint.clone() + path;
    if key_in_query && let Some(key) = &inner.config.ingest_key {
        url.push_str("?key=");
        url.push_str(&String::from(js_sys::encode_uri_component(key)));
    }
    url
}
