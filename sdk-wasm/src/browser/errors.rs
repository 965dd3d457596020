//! Error capture: `error` and `unhandledrejection` on `window`, and panics in the SDK's own wasm,
//! as OTLP log records with `exception.*` attributes. Error records bypass sampling.

use std::cell::Cell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;

use super::dom::{Listener, describe};
use super::export::{beacon, url_for};
use super::{Inner, current};
use crate::otlp::encode_logs;
use crate::record::{AttrValue, Attributes, LogRecord, Severity};
use tracewire_semconv::attribute;

fn exception_record(
    inner: &Inner,
    kind: &str,
    message: String,
    stack: Option<String>,
    mut extra: Attributes,
) -> LogRecord {
    let active = inner.state.borrow().active.last().copied();
    let mut attributes: Attributes = vec![
        (attribute::EXCEPTION_TYPE.into(), kind.to_owned().into()),
        (attribute::EXCEPTION_MESSAGE.into(), message.clone().into()),
    ];
    if let Some(stack) = stack {
        attributes.push((attribute::EXCEPTION_STACKTRACE.into(), stack.into()));
    }
    attributes.append(&mut extra);
    LogRecord {
        time_ns: inner.now_ns(),
        severity: Severity::Error,
        body: String::from(kind) + ": " + &message,
        event_name: Some("exception".into()),
        attributes,
        trace_id: active.map(|a| a.trace_id),
        span_id: active.map(|a| a.span_id),
    }
}

/// Adds the window listeners and the panic hook.
pub fn install(inner: &Rc<Inner>) {
    let weak = Rc::downgrade(inner);
    if let Some(l) = Listener::new(&inner.window, "error", move |ev| {
        let Some(inner) = weak.upgrade() else {
            return;
        };
        let e = error_event(&ev);
        let text = |i| e.get(i).as_string();
        let extra = vec![
            (
                attribute::CODE_FILEPATH.into(),
                inner.clean_url(&text(3).unwrap_or_default()).into(),
            ),
            (attribute::CODE_LINENO.into(), number(&e.get(4))),
            (attribute::CODE_COLUMN.into(), number(&e.get(5))),
        ];
        let kind = text(0).unwrap_or_default();
        let rec = exception_record(&inner, &kind, text(1).unwrap_or_default(), text(2), extra);
        inner.record_log(rec);
    }) {
        inner.add_listener(l);
    }
    let weak = Rc::downgrade(inner);
    if let Some(l) = Listener::new(&inner.window, "unhandledrejection", move |ev| {
        let Some(inner) = weak.upgrade() else {
            return;
        };
        let reason = js_sys::Reflect::get(&ev, &"reason".into()).unwrap_or(JsValue::UNDEFINED);
        let (kind, message, stack) = describe(&reason);
        let extra = vec![(attribute::EXCEPTION_UNHANDLED_REJECTION.into(), true.into())];
        let rec = exception_record(&inner, &kind, message, stack, extra);
        inner.record_log(rec);
    }) {
        inner.add_listener(l);
    }
    // The hook stays for the life of the page (it does nothing while no instance runs), so a
    // start after a shutdown does not stack hooks and an application's own hook keeps running.
    if !HOOK_INSTALLED.replace(true) {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            report_panic(&panic_message(info));
            previous(info);
        }));
    }
}

/// `panicked at <file>:<line>:<column>:\n<message>`, as the default hook prints it, built without
/// the formatting machinery.
fn panic_message(info: &std::panic::PanicHookInfo<'_>) -> String {
    let mut out = String::from("panicked at ");
    if let Some(l) = info.location() {
        out.push_str(l.file());
        out.push(':');
        crate::json::push_u64(&mut out, u64::from(l.line()));
        out.push(':');
        crate::json::push_u64(&mut out, u64::from(l.column()));
        out.push(':');
    }
    out.push('\n');
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
    out.push_str(message.unwrap_or("Box<dyn Any>"));
    out
}

thread_local! {
    static HOOK_INSTALLED: Cell<bool> = const { Cell::new(false) };
}

/// A panic in wasm cannot be recovered (the instance traps after it), so the record goes out at
/// once as a beacon rather than through the queue. Uses only non-panicking borrows.
fn report_panic(message: &str) {
    let Some(inner) = current() else { return };
    let session = inner
        .state
        .try_borrow()
        .map(|st| st.session.id.clone())
        .unwrap_or_default();
    let mut scrubbed: Attributes = vec![(
        attribute::EXCEPTION_MESSAGE.into(),
        AttrValue::from(message.to_owned()),
    )];
    inner.scrub(&mut scrubbed);
    let message = match scrubbed.pop() {
        Some((_, AttrValue::Str(m))) => m.into_owned(),
        _ => String::new(),
    };
    let rec = LogRecord {
        time_ns: inner.now_ns(),
        severity: Severity::Error,
        body: String::from("panic: ") + &message,
        event_name: Some("exception".into()),
        attributes: vec![
            (attribute::EXCEPTION_TYPE.into(), "panic".into()),
            (attribute::EXCEPTION_MESSAGE.into(), message.into()),
            (attribute::SESSION_ID.into(), session.into()),
        ],
        trace_id: None,
        span_id: None,
    };
    let body = encode_logs(&inner.resource, &[&rec]);
    beacon(&url_for(&inner, "/v1/logs", true), &body);
}

/// The line number or column of an `error` event (0 when the browser gave none).
fn number(v: &JsValue) -> AttrValue {
    AttrValue::Int(v.as_f64().unwrap_or(0.0) as i64)
}

#[wasm_bindgen(module = "/src/browser/page.js")]
extern "C" {
    /// An `error` event as `[type, message, stack, file, line, column]`.
    #[wasm_bindgen(js_name = tracewireErrorEvent)]
    fn error_event(ev: &web_sys::Event) -> js_sys::Array;
}
