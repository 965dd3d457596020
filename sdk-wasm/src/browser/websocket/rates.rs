//! The counting mode's browser side: the [`MessageCounter`] of an SDK instance, the counted
//! sends waiting for a reply, and the `ws.message_rate` records they turn into each
//! `wsRateIntervalMs` and before every export (as fetch's per-route counts do).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use super::super::dom::Interval;
use super::super::{Held, Inner, SpanCtx};
use super::pending::CountedSends;
use crate::Config;
use crate::count::{MessageCounter, Verdict};
use crate::json;
use crate::record::{AttrValue, LogRecord, Severity};
use tracewire_semconv::{attribute, event};

/// What the sockets of one SDK instance count.
pub(crate) struct MessageRates {
    pub(super) counter: RefCell<MessageCounter>,
    /// Counted sends whose context went out, waiting for a reply for their round-trip time.
    pub(super) counted: CountedSends,
    /// When the span of time being counted began (monotonic milliseconds).
    since_ms: Cell<f64>,
}

fn int(n: u64) -> AttrValue {
    AttrValue::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

impl MessageRates {
    pub(super) fn new(config: &Config) -> MessageRates {
        MessageRates {
            counter: RefCell::new(MessageCounter::new(
                config.ws_spans_per_type,
                config.ws_trace_one_in,
            )),
            counted: CountedSends::default(),
            since_ms: Cell::new(0.0),
        }
    }

    /// Starts the first interval and the timer that reports each one (owned by `inner`).
    pub(crate) fn start(inner: &Rc<Inner>) {
        inner.ws.rates.since_ms.set(inner.now_ms());
        let weak = Rc::downgrade(inner);
        if let Some(timer) =
            Interval::new(&inner.window, inner.config.ws_rate_interval_ms, move || {
                if let Some(inner) = weak.upgrade() {
                    inner.ws.rates.report(&inner);
                }
            })
        {
            inner.add_timer(timer);
        }
    }

    /// Decides whether a message of type `message_type` on the socket `url` gets spans: a
    /// message whose trace is sampled (`ctx`) takes from the allowance, and stays sampled
    /// within it or as the one in K beyond it; otherwise it is counted (`ctx` unsampled, so a
    /// context it carries has flags 00). Returns its counting key.
    pub(super) fn admit(&self, url: &str, message_type: Option<&str>, ctx: &mut SpanCtx) -> u32 {
        let mut counter = self.counter.borrow_mut();
        let key = counter.key(url, message_type);
        if ctx.sampled && counter.admit(key) == Verdict::Count {
            ctx.sampled = false;
        }
        key
    }

    /// One `ws.message_rate` record per key with anything counted since the last report; a
    /// new span of time starts.
    pub(super) fn report(&self, inner: &Inner) {
        let reports = self.counter.borrow_mut().drain();
        let now = inner.now_ms();
        let covered = (now - self.since_ms.replace(now)).max(0.0) as i64;
        for r in reports {
            let c = &r.counts;
            let mut body = String::new();
            json::push_u64(&mut body, c.sent + c.received);
            let mut attributes = Vec::with_capacity(12);
            attributes.push((attribute::URL_FULL.into(), AttrValue::from(r.url.clone())));
            if let Some(t) = r.message_type {
                attributes.push((attribute::WS_MESSAGE_TYPE.into(), t.into()));
            }
            for (name, n) in [
                (attribute::WS_COUNTED_SENT, c.sent),
                (attribute::WS_COUNTED_RECEIVED, c.received),
                (attribute::WS_COUNTED_SENT_BYTES, c.sent_bytes),
                (attribute::WS_COUNTED_RECEIVED_BYTES, c.received_bytes),
                (attribute::WS_COUNTED_ERRORS, c.errors),
                (attribute::WS_COUNTED_TRACED, c.traced),
            ] {
                attributes.push((name.into(), int(n)));
            }
            if !c.rtt.is_empty() {
                attributes.push((attribute::WS_COUNTED_RTT.into(), c.rtt_text().into()));
            }
            attributes.push((
                attribute::TRACEWIRE_INTERVAL_MS.into(),
                AttrValue::Int(covered),
            ));
            inner.record_log(LogRecord {
                time_ns: inner.epoch_ns(now),
                severity: Severity::Info,
                body: body + " messages counted on " + &r.url,
                event_name: Some(event::WS_MESSAGE_RATE.into()),
                attributes,
                trace_id: None,
                span_id: None,
            });
        }
    }
}

impl Held for MessageRates {
    fn release(&self, inner: &Inner, all: bool) {
        if all {
            self.report(inner);
        }
    }
}
