//! Delivery to the collector: periodic and explicit flushes over `fetch` (gzip when the browser
//! can, retries with backoff), and the page-exit path (keepalive fetches inside the shared budget,
//! then beacons).

use std::rc::Rc;

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::Inner;
use super::dom::{self, Interval, Listener};
use crate::otlp::{encode_logs, encode_traces};
use crate::queue::{ExitRoute, route_exit_requests, split_encoded};
use crate::record::{AttrValue, Item, LogRecord, Severity};
use crate::retry::{Outcome, RetryPolicy, classify, parse_retry_after_seconds};

/// Chrome's cap on keepalive requests in flight per page.
pub const MAX_KEEPALIVE_IN_FLIGHT: usize = 9;
/// Target size of one page-exit request: several small requests fill the shared keepalive
/// budget more fully than two large ones that do not fit together.
const EXIT_REQUEST_TARGET_BYTES: usize = 12 * 1024;
/// Bodies smaller than this are sent uncompressed (gzip would not pay for itself).
const GZIP_MIN_BYTES: usize = 1024;

/// Export counters since start.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    /// Items accepted by the collector.
    pub exported: u32,
    /// Items waiting in the queue.
    pub queued: u32,
    /// Items handed to the browser at page exit (keepalive fetches that succeeded, beacons the
    /// browser accepted).
    pub exported_on_exit: u32,
    /// Items dropped because the queue was full.
    pub dropped_queue_full: u32,
    /// Items dropped because export failed for good (non-retryable status or retries used up).
    pub dropped_export_failed: u32,
    /// Export requests sent, retries included.
    pub requests: u32,
    /// Export requests sent gzip-compressed.
    pub compressed_requests: u32,
    /// Page-exit keepalive fetches sent.
    pub keepalive_requests: u32,
    /// Page-exit keepalive fetches that failed (the browser refused or the network failed).
    pub keepalive_failures: u32,
    /// Highest total body bytes of keepalive fetches in flight at once.
    pub keepalive_max_bytes_in_flight: u32,
    /// Highest number of keepalive fetches in flight at once.
    pub keepalive_max_in_flight: u32,
    /// Page-exit beacons the browser accepted.
    pub beacons: u32,
    /// Page-exit beacons the browser refused.
    pub beacon_failures: u32,
    /// Items of page-exit requests the browser refused, kept in `localStorage` for the next
    /// page load instead of being lost.
    pub carried_over: u32,
    /// Items carried over by a previous page load and sent by this one.
    pub carried_in: u32,
    /// Keepalive bytes currently in flight.
    pub keepalive_bytes_in_flight: usize,
    /// Keepalive fetches currently in flight.
    pub keepalive_in_flight: usize,
}

impl Stats {
    /// The counters under their JavaScript names (`TracewireStats`).
    pub fn fields(&self) -> [(&'static str, f64); 17] {
        [
            ("exported", f64::from(self.exported)),
            ("queued", f64::from(self.queued)),
            ("exportedOnExit", f64::from(self.exported_on_exit)),
            ("droppedQueueFull", f64::from(self.dropped_queue_full)),
            ("droppedExportFailed", f64::from(self.dropped_export_failed)),
            ("requests", f64::from(self.requests)),
            ("compressedRequests", f64::from(self.compressed_requests)),
            ("keepaliveRequests", f64::from(self.keepalive_requests)),
            ("keepaliveFailures", f64::from(self.keepalive_failures)),
            (
                "keepaliveMaxBytesInFlight",
                f64::from(self.keepalive_max_bytes_in_flight),
            ),
            (
                "keepaliveMaxInFlight",
                f64::from(self.keepalive_max_in_flight),
            ),
            ("beacons", f64::from(self.beacons)),
            ("beaconFailures", f64::from(self.beacon_failures)),
            ("carriedOver", f64::from(self.carried_over)),
            ("carriedIn", f64::from(self.carried_in)),
            (
                "keepaliveBytesInFlight",
                self.keepalive_bytes_in_flight as f64,
            ),
            ("keepaliveInFlight", self.keepalive_in_flight as f64),
        ]
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
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
pub fn schedule_flush(inner: &Rc<Inner>) {
    {
        let mut st = inner.state.borrow_mut();
        if st.flush_scheduled {
            return;
        }
        st.flush_scheduled = true;
    }
    let inner = inner.clone();
    wasm_bindgen_futures::spawn_local(async move {
        flush(&inner).await;
    });
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
        event_name: Some("tracewire.dropped".into()),
        attributes: vec![
            (
                "tracewire.dropped.count".into(),
                AttrValue::Int(i64::try_from(dropped).unwrap_or(i64::MAX)),
            ),
            ("tracewire.dropped.reason".into(), "queue_full".into()),
            (
                "session.id".into(),
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

/// Exports everything queued, batch by batch, with retries. Flushes do not overlap: a flush that
/// finds another one running waits for it and then exports what is left, so when it returns,
/// everything recorded before the call has been delivered or counted as dropped.
pub async fn flush(inner: &Rc<Inner>) {
    loop {
        let wait = {
            let mut st = inner.state.borrow_mut();
            if st.flushing {
                let latch = dom::latch();
                st.flush_waiters.push(latch.get(1).unchecked_into());
                Some(js_sys::Promise::from(latch.get(0)))
            } else {
                st.flushing = true;
                None
            }
        };
        match wait {
            Some(promise) => {
                let _ = JsFuture::from(promise).await;
            }
            None => break,
        }
    }
    export_queued(inner).await;
    let waiters = {
        let mut st = inner.state.borrow_mut();
        st.flushing = false;
        st.flush_scheduled = false;
        std::mem::take(&mut st.flush_waiters)
    };
    for w in waiters {
        let _ = w.call0(&JsValue::NULL);
    }
}

async fn export_queued(inner: &Rc<Inner>) {
    let carried = std::mem::take(&mut *inner.carried.borrow_mut());
    for c in carried {
        let ok = send_with_retries(inner, &c.path, c.body).await;
        let mut st = inner.state.borrow_mut();
        if ok {
            st.stats.exported += c.items;
            st.stats.carried_in += c.items;
        } else {
            st.stats.dropped_export_failed += c.items;
        }
    }
    inner.release_held(true);
    loop {
        let (batch, report) = {
            let batch = inner
                .state
                .borrow_mut()
                .queue
                .take_batch(inner.config.max_batch_items, inner.config.max_batch_bytes);
            (batch, drop_report(inner))
        };
        if batch.is_empty() && report.is_none() {
            break;
        }
        let mut batch = batch;
        for item in &mut batch {
            inner.scrub_item(item);
        }
        for (path, body, count) in encode_batch(inner, &batch, report.as_ref()) {
            let ok = send_with_retries(inner, path, body).await;
            let mut st = inner.state.borrow_mut();
            if ok {
                st.stats.exported += to_u32(count);
            } else {
                st.stats.dropped_export_failed += to_u32(count);
            }
        }
    }
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

async fn send_with_retries(inner: &Rc<Inner>, path: &str, body: String) -> bool {
    let policy = RetryPolicy {
        max_attempts: inner.config.max_export_attempts,
        initial_ms: f64::from(inner.config.retry_initial_ms),
        multiplier: 1.5,
        max_ms: f64::from(inner.config.retry_max_ms),
        jitter: 0.2,
    };
    let gzipped = if inner.config.compression && body.len() >= GZIP_MIN_BYTES {
        JsFuture::from(js_gzip(&body))
            .await
            .ok()
            .filter(|b| !b.is_null())
    } else {
        None
    };
    let payload = gzipped.unwrap_or_else(|| JsValue::from_str(&body));
    let key = inner.config.ingest_key.as_deref();
    let url = url_for(inner, path, false);
    let mut attempt = 0;
    loop {
        attempt += 1;
        {
            let mut st = inner.state.borrow_mut();
            st.stats.requests += 1;
            st.stats.compressed_requests += u32::from(!payload.is_string());
        }
        let answer = JsFuture::from(js_post(&url, &payload, key))
            .await
            .map(|v| js_sys::Array::from(&v))
            .ok();
        let status = answer
            .as_ref()
            .and_then(|a| a.get(0).as_f64())
            .filter(|s| *s > 0.0)
            .map(|s| s as u16);
        match classify(status) {
            Outcome::Done => return true,
            Outcome::GiveUp => return false,
            Outcome::Retry => {
                let retry_after = answer
                    .and_then(|a| a.get(1).as_string())
                    .and_then(|v: String| retry_after_ms(&v));
                let unit = inner.state.borrow_mut().ids.unit();
                match policy.delay_ms(attempt, unit, retry_after) {
                    Some(ms) => dom::sleep(ms).await,
                    None => return false,
                }
            }
        }
    }
}

/// A `Retry-After` value in milliseconds from now: delay-seconds, or an HTTP date.
fn retry_after_ms(value: &str) -> Option<f64> {
    parse_retry_after_seconds(value).or_else(|| {
        let at = js_sys::Date::parse(value);
        (!at.is_nan()).then(|| (at - js_sys::Date::now()).max(0.0))
    })
}

#[wasm_bindgen(module = "/src/browser/page.js")]
extern "C" {
    #[wasm_bindgen(js_name = tracewireGzip)]
    fn js_gzip(body: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = tracewirePost)]
    fn js_post(url: &str, body: &JsValue, key: Option<&str>) -> js_sys::Promise;
    #[wasm_bindgen(js_name = tracewireKeepalive)]
    fn js_keepalive(url: &str, body: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = tracewireBeacon)]
    fn js_beacon(url: &str, body: &str) -> bool;
}

/// Sends `body` as a beacon; whether the browser accepted it.
pub fn beacon(url: &str, body: &str) -> bool {
    js_beacon(url, body)
}

/// Page-exit flush: everything queued goes out synchronously, as keepalive fetches while they fit
/// in the shared keepalive budget (UTF-8 bytes, at most 9 in flight), the rest as beacons. Both
/// use a CORS-safelisted `text/plain` body and carry the ingest key in the query, so no preflight
/// is needed.
pub fn flush_on_exit(inner: &Rc<Inner>) {
    inner.release_held(true);
    let (items, report) = {
        let items = inner
            .state
            .borrow_mut()
            .queue
            .take_batch(usize::MAX, usize::MAX);
        (items, drop_report(inner))
    };
    if items.is_empty() && report.is_none() {
        return;
    }
    let mut spans = Vec::new();
    let mut logs = Vec::new();
    for mut item in items {
        inner.scrub_item(&mut item);
        match item {
            Item::Span(s) => spans.push(s),
            Item::Log(l) => logs.push(l),
        }
    }
    logs.extend(report);
    let budget = inner.config.keepalive_budget_bytes;
    let mut bodies: Vec<(&'static str, String, usize)> = Vec::new();
    let mut oversize = 0;
    // Logs (errors among them) first: they get the keepalive budget before spans do.
    let (parts, over) = split_encoded(&logs, EXIT_REQUEST_TARGET_BYTES.min(budget), budget, &|g| {
        encode_logs(&inner.resource, &g.iter().collect::<Vec<_>>())
    });
    oversize += over;
    bodies.extend(parts.into_iter().map(|(b, n)| ("/v1/logs", b, n)));
    let (parts, over) = split_encoded(
        &spans,
        EXIT_REQUEST_TARGET_BYTES.min(budget),
        budget,
        &|g| encode_traces(&inner.resource, &g.iter().collect::<Vec<_>>()),
    );
    oversize += over;
    bodies.extend(parts.into_iter().map(|(b, n)| ("/v1/traces", b, n)));
    let (budget_left, slots_left) = {
        let mut st = inner.state.borrow_mut();
        st.stats.dropped_export_failed += to_u32(oversize);
        (
            budget.saturating_sub(st.stats.keepalive_bytes_in_flight),
            MAX_KEEPALIVE_IN_FLIGHT.saturating_sub(st.stats.keepalive_in_flight),
        )
    };
    let sizes: Vec<usize> = bodies.iter().map(|(_, b, _)| b.len()).collect();
    let routes = route_exit_requests(&sizes, budget_left, slots_left);
    for ((path, body, count), route) in bodies.into_iter().zip(routes) {
        let url = url_for(inner, path, true);
        match route {
            ExitRoute::Keepalive => keepalive(inner, path, url, body, count),
            ExitRoute::Beacon => {
                if beacon(&url, &body) {
                    let mut st = inner.state.borrow_mut();
                    st.stats.beacons += 1;
                    st.stats.exported_on_exit += to_u32(count);
                } else {
                    inner.state.borrow_mut().stats.beacon_failures += 1;
                    carry_over(inner, path, body, count);
                }
            }
        }
    }
}

const CARRY_KEY: &str = "tracewire.carryover";

/// Keeps a request the browser refused at page exit in `localStorage` for the next page load;
/// counts its items as dropped when storage is unavailable or full.
fn carry_over(inner: &Inner, path: &str, body: String, count: usize) {
    let storage = inner.window.local_storage().ok().flatten();
    let stored = storage
        .as_ref()
        .and_then(|s| s.get_item(CARRY_KEY).ok().flatten());
    let entry = crate::carry::Carried {
        path: path.to_owned(),
        body,
        items: to_u32(count),
    };
    let written = crate::carry::append(stored.as_deref(), entry, crate::carry::MAX_CARRY_BYTES)
        .zip(storage)
        .is_some_and(|(text, s)| s.set_item(CARRY_KEY, &text).is_ok());
    let mut st = inner.state.borrow_mut();
    if written {
        st.stats.carried_over += to_u32(count);
    } else {
        st.stats.dropped_export_failed += to_u32(count);
    }
}

/// Takes what a previous page load carried over (removing it from storage, so two tabs do not
/// both send it).
pub fn take_carried(window: &web_sys::Window) -> Vec<crate::carry::Carried> {
    let Some(storage) = window.local_storage().ok().flatten() else {
        return Vec::new();
    };
    let stored = storage.get_item(CARRY_KEY).ok().flatten();
    if stored.is_some() {
        let _ = storage.remove_item(CARRY_KEY);
    }
    crate::carry::parse(stored.as_deref())
}

fn keepalive(inner: &Rc<Inner>, path: &'static str, url: String, body: String, count: usize) {
    let size = body.len();
    {
        let mut st = inner.state.borrow_mut();
        st.stats.keepalive_requests += 1;
        st.stats.keepalive_in_flight += 1;
        st.stats.keepalive_bytes_in_flight += size;
        st.stats.keepalive_max_in_flight = st
            .stats
            .keepalive_max_in_flight
            .max(to_u32(st.stats.keepalive_in_flight));
        st.stats.keepalive_max_bytes_in_flight = st
            .stats
            .keepalive_max_bytes_in_flight
            .max(to_u32(st.stats.keepalive_bytes_in_flight));
    }
    let promise = js_keepalive(&url, &body);
    let weak = Rc::downgrade(inner);
    wasm_bindgen_futures::spawn_local(async move {
        let ok = JsFuture::from(promise).await.ok().and_then(|v| v.as_bool()) == Some(true);
        if let Some(inner) = weak.upgrade() {
            let mut st = inner.state.borrow_mut();
            st.stats.keepalive_in_flight -= 1;
            st.stats.keepalive_bytes_in_flight -= size;
            if ok {
                st.stats.exported_on_exit += to_u32(count);
            } else {
                st.stats.keepalive_failures += 1;
                drop(st);
                // Kept to carry over: the browser refused the request.
                carry_over(&inner, path, body, count);
            }
        }
    });
}
