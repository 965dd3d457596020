//! The page-exit path: on `visibilitychange` to hidden and `pagehide`, everything queued goes out
//! synchronously as keepalive fetches inside the browser's shared budget, then as beacons; what
//! the browser refuses is carried over in `localStorage` to the next page load.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use wasm_bindgen::prelude::*;

use super::super::Inner;
use super::{drop_report, to_u32, url_for};
use crate::otlp::{encode_logs, encode_traces};
use crate::queue::{ExitRoute, route_exit_requests, split_encoded};
use crate::record::Item;

/// Chrome's cap on keepalive requests in flight per page.
pub const MAX_KEEPALIVE_IN_FLIGHT: usize = 9;
/// Target size of one page-exit request: several small requests fill the shared keepalive
/// budget more fully than two large ones that do not fit together.
const EXIT_REQUEST_TARGET_BYTES: usize = 12 * 1024;
const CARRY_KEY: &str = "tracewire.carryover";

#[wasm_bindgen(module = "/src/browser/page.js")]
extern "C" {
    #[wasm_bindgen(js_name = tracewireKeepalive)]
    fn js_keepalive(id: u32, url: &str, body: &JsValue, done: &Closure<dyn FnMut(u32, bool)>);
    #[wasm_bindgen(js_name = tracewireBeacon)]
    fn js_beacon(url: &str, body: &str) -> bool;
}

/// Sends `body` as a beacon; whether the browser accepted it.
pub fn beacon(url: &str, body: &str) -> bool {
    js_beacon(url, body)
}

/// A keepalive request in flight, kept to carry over if the browser refuses it.
struct InFlight {
    id: u32,
    path: &'static str,
    body: String,
    count: usize,
}

/// The keepalive requests of one SDK instance and the callback their outcome comes back to.
pub(crate) struct Keepalives {
    in_flight: Rc<RefCell<Vec<InFlight>>>,
    next_id: std::cell::Cell<u32>,
    done: Closure<dyn FnMut(u32, bool)>,
}

impl Keepalives {
    pub(crate) fn new(inner: Weak<Inner>) -> Keepalives {
        let in_flight: Rc<RefCell<Vec<InFlight>>> = Rc::default();
        let list = in_flight.clone();
        let done = Closure::new(move |id, ok| {
            let req = {
                let mut list = list.borrow_mut();
                list.iter()
                    .position(|r| r.id == id)
                    .map(|i| list.swap_remove(i))
            };
            if let (Some(inner), Some(req)) = (inner.upgrade(), req) {
                finished(&inner, req, ok);
            }
        });
        Keepalives {
            in_flight,
            next_id: std::cell::Cell::new(0),
            done,
        }
    }
}

fn finished(inner: &Inner, req: InFlight, ok: bool) {
    let mut st = inner.state.borrow_mut();
    st.stats.keepalive_in_flight -= 1;
    st.stats.keepalive_bytes_in_flight -= req.body.len();
    if ok {
        st.stats.exported_on_exit += to_u32(req.count);
    } else {
        st.stats.keepalive_failures += 1;
        drop(st);
        carry_over(inner, req.path, req.body, req.count);
    }
}

/// Page-exit flush: everything queued goes out synchronously, as keepalive fetches while they fit
/// in the shared keepalive budget (UTF-8 bytes, at most 9 in flight), the rest as beacons. Both
/// use a CORS-safelisted `text/plain` body and carry the ingest key in the query, so no preflight
/// is needed.
pub fn flush_on_exit(inner: &Inner) {
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

fn keepalive(inner: &Inner, path: &'static str, url: String, body: String, count: usize) {
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
    let k = &inner.keepalives;
    let id = k.next_id.get().wrapping_add(1);
    k.next_id.set(id);
    let sent = JsValue::from_str(&body);
    // Listed before the call: a request the browser refuses at once reports back synchronously.
    k.in_flight.borrow_mut().push(InFlight {
        id,
        path,
        body,
        count,
    });
    js_keepalive(id, &url, &sent, &k.done);
}
