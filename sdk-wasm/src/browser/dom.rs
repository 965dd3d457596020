//! Small owners of browser resources (an event listener and an interval timer that remove
//! themselves on drop) and the page helpers of `page.js`, which never throw.

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

/// An event listener that is removed when this value is dropped.
pub struct Listener {
    target: web_sys::EventTarget,
    kind: &'static str,
    closure: Closure<dyn FnMut(web_sys::Event) -> Result<(), JsValue>>,
}

impl Listener {
    /// Adds `f` as a listener for `kind` on `target`; `None` if the browser refused.
    pub fn new(
        target: &web_sys::EventTarget,
        kind: &'static str,
        mut f: impl FnMut(web_sys::Event) + 'static,
    ) -> Option<Listener> {
        Self::fallible(target, kind, move |e| {
            f(e);
            Ok(())
        })
    }

    /// Like [`Listener::new`], for listeners that pass on an application callback's exception:
    /// an `Err` is thrown to the event dispatcher after the Rust code returned, exactly as if the
    /// application's own listener had thrown.
    pub fn fallible(
        target: &web_sys::EventTarget,
        kind: &'static str,
        f: impl FnMut(web_sys::Event) -> Result<(), JsValue> + 'static,
    ) -> Option<Listener> {
        let closure = Closure::<dyn FnMut(web_sys::Event) -> Result<(), JsValue>>::new(f);
        target
            .add_event_listener_with_callback(kind, closure.as_ref().unchecked_ref())
            .ok()?;
        Some(Listener {
            target: target.clone(),
            kind,
            closure,
        })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self
            .target
            .remove_event_listener_with_callback(self.kind, self.closure.as_ref().unchecked_ref());
    }
}

/// A `setInterval` timer that is cleared when this value is dropped.
pub struct Interval {
    window: web_sys::Window,
    handle: i32,
    _closure: Closure<dyn FnMut()>,
}

impl Interval {
    /// Calls `f` every `ms` milliseconds.
    pub fn new(window: &web_sys::Window, ms: u32, f: impl FnMut() + 'static) -> Option<Interval> {
        let closure = Closure::<dyn FnMut()>::new(f);
        let handle = window
            .set_interval_with_callback_and_timeout_and_arguments_0(
                closure.as_ref().unchecked_ref(),
                ms.min(i32::MAX as u32) as i32,
            )
            .ok()?;
        Some(Interval {
            window: window.clone(),
            handle,
            _closure: closure,
        })
    }
}

impl Drop for Interval {
    fn drop(&mut self) {
        self.window.clear_interval_with_handle(self.handle);
    }
}

/// `sessionStorage`, when the page may use it (it throws in some privacy modes).
pub fn session_storage(window: &web_sys::Window) -> Option<web_sys::Storage> {
    window.session_storage().ok().flatten()
}

/// Describes any thrown JavaScript value (it need not be an `Error`): type, message and stack.
pub fn describe(value: &JsValue) -> (String, String, Option<String>) {
    let d = js_describe(value);
    (
        d.get(0).as_string().unwrap_or_default(),
        d.get(1).as_string().unwrap_or_default(),
        d.get(2).as_string(),
    )
}

#[wasm_bindgen(module = "/src/browser/page.js")]
extern "C" {
    /// The page's `window`; `None` in a worker.
    #[wasm_bindgen(js_name = tracewireWindow)]
    pub fn window() -> Option<web_sys::Window>;
    #[wasm_bindgen(js_name = tracewireDescribe)]
    fn js_describe(value: &JsValue) -> js_sys::Array;
    /// `new RegExp(pattern, 'g')`, or null when the pattern is invalid.
    #[wasm_bindgen(js_name = tracewireRegExp)]
    pub fn regexp(pattern: &str) -> Option<js_sys::RegExp>;
    /// `text` with the matches of `re` replaced by `by`; `None` when nothing matched.
    #[wasm_bindgen(js_name = tracewireRedact)]
    pub fn redact(re: &js_sys::RegExp, text: &str, by: &str) -> Option<String>;
}

#[cfg(not(feature = "console"))]
#[wasm_bindgen]
extern "C" {
    /// `console.warn`, for the one warning about drops.
    #[wasm_bindgen(js_namespace = console)]
    pub fn warn(message: &str);
}

#[cfg(feature = "console")]
#[wasm_bindgen(module = "/src/browser/console.js")]
extern "C" {
    /// `console.warn`, for the one warning about drops; console capture never records it.
    #[wasm_bindgen(js_name = tracewireWarn)]
    pub fn warn(message: &str);
}
