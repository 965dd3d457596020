//! Console capture (`captureConsole`, cargo feature `console`): calls of the chosen `console`
//! methods also become log records in the active span's trace, with `console.method`. The
//! wrapping is JavaScript (`console.js`): the original method runs first with the page's own
//! arguments, so the console shows exactly what it showed before. A capture never captures
//! itself: while one is recorded, and while the SDK writes its own warnings, nothing is captured.

use std::rc::Rc;

use wasm_bindgen::prelude::*;

use super::Inner;
use crate::record::Severity;
use tracewire_semconv::attribute;

#[wasm_bindgen(module = "/src/browser/console.js")]
extern "C" {
    #[wasm_bindgen(js_name = tracewireConsole)]
    fn wrap_console(methods: &str, record: &Closure<dyn FnMut(usize, String)>) -> js_sys::Function;
}

/// The wrapped console methods; dropping it puts the originals back.
pub(crate) struct ConsolePatch {
    restore: js_sys::Function,
    _record: Closure<dyn FnMut(usize, String)>,
}

impl ConsolePatch {
    /// Wraps the methods of `captureConsole` (each once, however often it is listed).
    pub(crate) fn install(inner: &Rc<Inner>) -> ConsolePatch {
        let weak = Rc::downgrade(inner);
        let record = Closure::<dyn FnMut(usize, String)>::new(move |i: usize, text| {
            let Some(inner) = weak.upgrade() else { return };
            let Some(method) = inner.config.capture_console.get(i).cloned() else {
                return;
            };
            // A console call from inside the SDK's own bookkeeping is not recorded (it would
            // find the SDK's state in use).
            if inner.state.try_borrow_mut().is_err() {
                return;
            }
            let level = Severity::of_console_method(&method).unwrap_or(Severity::Info);
            let attrs = vec![(attribute::CONSOLE_METHOD.into(), method.into())];
            inner.log(level, text, None, attrs);
        });
        ConsolePatch {
            restore: wrap_console(&inner.config.capture_console.join(","), &record),
            _record: record,
        }
    }
}

impl Drop for ConsolePatch {
    fn drop(&mut self) {
        let _ = self.restore.call0(&JsValue::UNDEFINED);
    }
}
