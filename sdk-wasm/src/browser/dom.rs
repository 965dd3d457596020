//! Small owners of browser resources: an event listener and an interval timer that remove
//! themselves on drop, plus helpers that turn throwing browser calls into `Option`s.

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

/// Resolves after `ms` milliseconds.
pub async fn sleep(window: &web_sys::Window, ms: f64) {
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
            &resolve,
            ms.clamp(0.0, i32::MAX as f64) as i32,
        );
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// `new RegExp(pattern, flags)`, or `None` when the pattern is invalid (the constructor throws).
pub fn regexp(pattern: &str, flags: &str) -> Option<js_sys::RegExp> {
    let ctor: js_sys::Function = js_sys::Reflect::get(&js_sys::global(), &"RegExp".into())
        .ok()?
        .dyn_into()
        .ok()?;
    let args = js_sys::Array::of2(&pattern.into(), &flags.into());
    js_sys::Reflect::construct(&ctor, &args)
        .ok()?
        .dyn_into()
        .ok()
}

/// Describes any thrown JavaScript value (it need not be an `Error`).
pub fn describe(value: &JsValue) -> (String, String, Option<String>) {
    if let Some(err) = value.dyn_ref::<js_sys::Error>() {
        let stack = js_sys::Reflect::get(err, &"stack".into())
            .ok()
            .and_then(|s| s.as_string());
        return (String::from(err.name()), String::from(err.message()), stack);
    }
    if let Some(s) = value.as_string() {
        return ("string".into(), s, None);
    }
    let text = js_sys::JSON::stringify(value)
        .ok()
        .and_then(|s| s.as_string())
        .or_else(|| string_of(value).ok())
        .unwrap_or_default();
    let kind = value
        .js_typeof()
        .as_string()
        .unwrap_or_else(|| "unknown".into());
    (kind, text, None)
}

#[wasm_bindgen]
extern "C" {
    /// `String(value)`: text for any value JSON cannot describe (symbols, functions, BigInts);
    /// throws only for objects whose own conversion throws.
    #[wasm_bindgen(js_name = String, catch)]
    pub fn string_of(value: &JsValue) -> Result<String, JsValue>;

    /// `console.warn`, for the one warning about drops.
    #[wasm_bindgen(js_namespace = console)]
    pub fn warn(message: &str);
}
