//! XMLHttpRequest instrumentation (feature `xhr`): `XMLHttpRequest.prototype`'s `open`,
//! `setRequestHeader` and `send` wrapped (`xhr.js`) so every asynchronous request gets what a
//! fetch gets: a CLIENT span, `traceparent` to the allowed origins and a place in the per-route
//! request counter, which it shares with the fetch instrumentation. Synchronous requests pass
//! through untouched.

use std::rc::{Rc, Weak};

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use super::Inner;
use super::fetch::{EndHook, RouteRates, StartHook, hooks};
use crate::{Error, Result};

#[wasm_bindgen(module = "/src/browser/xhr.js")]
extern "C" {
    /// Wraps the prototype's methods; returns the function that restores them, or `undefined`
    /// when the page has no `XMLHttpRequest`.
    #[wasm_bindgen(js_name = tracewireXhr)]
    fn patch_xhr(tracestate: &str, start: &StartHook, end: &EndHook) -> JsValue;
}

/// The patch installed by `instrumentXhr()`. Dropping it reports the counts of the current
/// interval and restores the prototype's methods (those nobody replaced meanwhile); requests
/// already sent then end without a span.
pub struct XhrPatch {
    inner: Weak<Inner>,
    restore: js_sys::Function,
    rates: Rc<RouteRates>,
    _start: StartHook,
    _end: EndHook,
}

impl XhrPatch {
    /// Wraps `XMLHttpRequest.prototype`'s methods.
    pub(crate) fn install(inner: &Rc<Inner>) -> Result<XhrPatch> {
        let rates = RouteRates::shared(inner);
        hooks!(inner, rates, start, end);
        let restore = patch_xhr(&inner.config.tracestate, &start, &end)
            .dyn_into::<js_sys::Function>()
            .map_err(|_| Error::Unavailable("XMLHttpRequest"))?;
        Ok(XhrPatch {
            inner: Rc::downgrade(inner),
            restore,
            rates,
            _start: start,
            _end: end,
        })
    }
}

impl Drop for XhrPatch {
    fn drop(&mut self) {
        // The counts of the interval so far are not lost with the patch.
        if let Some(inner) = self.inner.upgrade() {
            self.rates.report(&inner);
        }
        let _ = self.restore.call0(&JsValue::UNDEFINED);
    }
}
