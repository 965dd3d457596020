//! Spans the application starts itself ([`Tracewire::start_span`](super::Tracewire::start_span)).

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use wasm_bindgen::prelude::*;

use super::{Inner, SpanCtx};
use crate::record::{AttrValue, Attributes, SpanKind, SpanRecord};

/// A span started by the application ([`Tracewire::start_span`](super::Tracewire::start_span));
/// it ends on [`Span::end`] or when dropped.
#[wasm_bindgen]
pub struct Span {
    inner: Weak<Inner>,
    ctx: SpanCtx,
    name: String,
    start_ns: u64,
    attributes: RefCell<Attributes>,
    error: RefCell<Option<String>>,
    ended: Cell<bool>,
}

impl Span {
    /// Starts a span; it is the parent of new work until it ends.
    pub(crate) fn start(inner: &Rc<Inner>, name: &str) -> Span {
        let ctx = inner.new_ctx(None);
        inner.state.borrow_mut().active.push(ctx);
        Span {
            inner: Rc::downgrade(inner),
            ctx,
            name: name.to_owned(),
            start_ns: inner.now_ns(),
            attributes: RefCell::new(Vec::new()),
            error: RefCell::new(None),
            ended: Cell::new(false),
        }
    }

    /// Sets an attribute (replacing an earlier value of the same key).
    pub fn set_attribute(&self, key: &str, value: impl Into<AttrValue>) {
        let mut attrs = self.attributes.borrow_mut();
        let value = value.into();
        match attrs.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => attrs.push((key.to_owned().into(), value)),
        }
    }

    /// Marks the span as failed with `message`.
    pub fn set_error(&self, message: &str) {
        *self.error.borrow_mut() = Some(message.to_owned());
    }

    /// The span's `traceparent`, for propagating it by hand.
    pub fn traceparent(&self) -> String {
        self.ctx.traceparent().encode()
    }

    /// Ends the span and queues it (no effect the second time).
    pub fn end(&self) {
        if self.ended.replace(true) {
            return;
        }
        let Some(inner) = self.inner.upgrade() else {
            return;
        };
        inner.deactivate(self.ctx.span_id);
        if !self.ctx.sampled {
            return;
        }
        inner.record_span(SpanRecord {
            trace_id: self.ctx.trace_id,
            span_id: self.ctx.span_id,
            parent_span_id: self.ctx.parent,
            name: self.name.clone(),
            kind: SpanKind::Internal,
            start_ns: self.start_ns,
            end_ns: inner.now_ns(),
            attributes: self.attributes.take(),
            events: Vec::new(),
            error: self.error.take(),
        });
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        self.end();
    }
}
