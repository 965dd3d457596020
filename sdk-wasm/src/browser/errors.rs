//! Error capture: `error` and `unhandledrejection` on `window`, and panics in the SDK's own wasm,
//! as OTLP log records with `exception.*` attributes. Error records bypass sampling.

use std::cell::Cell;
use std::rc::Rc;

use wasm_bindgen::JsCast;

use super::dom::{Listener, describe};
use super::{Inner, current};
use crate::otlp::encode_logs;
use crate::record::{AttrValue, Attributes, LogRecord, Severity};

fn exception_record(
    inner: &Inner,
    kind: &str,
    message: String,
    stack: Option<String>,
    mut extra: Attributes,
) -> LogRecord {
    let active = inner.state.borrow().active.last().copied();
    let mut attributes: Attributes = vec![
        ("exception.type".into(), kind.to_owned().into()),
        ("exception.message".into(), message.clone().into()),
    ];
    if let Some(stack) = stack {
        attributes.push(("exception.stacktrace".into(), stack.into()));
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
        let (Some(inner), Ok(ev)) = (weak.upgrade(), ev.dyn_into::<web_sys::ErrorEvent>()) else {
            return;
        };
        let (kind, message, stack) = match ev.error() {
            v if v.is_undefined() || v.is_null() => ("Error".to_owned(), ev.message(), None),
            v => describe(&v),
        };
        let extra = vec![
            (
                "code.filepath".into(),
                inner.clean_url(&ev.filename()).into(),
            ),
            ("code.lineno".into(), AttrValue::from(ev.lineno())),
            ("code.column".into(), AttrValue::from(ev.colno())),
        ];
        let rec = exception_record(&inner, &kind, message, stack, extra);
        inner.record_log(rec);
    }) {
        inner.add_listener(l);
    }
    let weak = Rc::downgrade(inner);
    if let Some(l) = Listener::new(&inner.window, "unhandledrejection", move |ev| {
        let (Some(inner), Ok(ev)) = (
            weak.upgrade(),
            ev.dyn_into::<web_sys::PromiseRejectionEvent>(),
        ) else {
            return;
        };
        let (kind, message, stack) = describe(&ev.reason());
        let extra = vec![("exception.unhandled_rejection".into(), true.into())];
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
            report_panic(&info.to_string());
            previous(info);
        }));
    }
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
        "exception.message".into(),
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
            ("exception.type".into(), "panic".into()),
            ("exception.message".into(), message.into()),
            ("session.id".into(), session.into()),
        ],
        trace_id: None,
        span_id: None,
    };
    let body = encode_logs(&inner.resource, &[&rec]);
    let mut url = inner.config.endpoint.clone() + "/v1/logs";
    if let Some(key) = &inner.config.ingest_key {
        url.push_str("?key=");
        url.push_str(&String::from(js_sys::encode_uri_component(key)));
    }
    let _ = inner
        .window
        .navigator()
        .send_beacon_with_opt_str(&url, Some(&body));
}
