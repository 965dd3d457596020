//! The counting mode's browser side: the [`MessageCounter`] of an SDK instance, the counted
//! sends waiting for a reply, and the `ws.message_rate` records they turn into each
//! `wsRateIntervalMs` and before every export (as fetch's per-route counts do, but on the
//! exporter's tick instead of a timer of its own).

use std::cell::{Cell, RefCell};

use super::super::{Held, Inner, SpanCtx};
use super::pending::Waiting;
use crate::Config;
use crate::count::{MessageCounter, Verdict};
use crate::json;
use crate::record::{AttrValue, LogRecord, Severity};
use tracewire_semconv::{attribute, event};

/// What the sockets of one SDK instance count.
pub(crate) struct MessageRates {
    pub(super) counter: RefCell<MessageCounter>,
    /// Counted sends whose context went out, waiting for a reply for their round-trip time.
    pub(super) counted: Waiting,
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
            counted: Waiting::default(),
            since_ms: Cell::new(0.0),
        }
    }

    /// Starts the first span of time counted.
    pub(super) fn start(&self, inner: &Inner) {
        self.since_ms.set(inner.now_ms());
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
        let now = inner.now_ms();
        let covered = (now - self.since_ms.replace(now)).max(0.0) as i64;
        self.counter.borrow_mut().drain(|url, message_type, c| {
            let mut body = String::new();
            json::push_u64(&mut body, c.sent + c.received);
            let mut attributes = vec![
                (attribute::URL_FULL.into(), AttrValue::from(url.to_owned())),
                (attribute::WS_COUNTED_SENT.into(), int(c.sent)),
                (attribute::WS_COUNTED_RECEIVED.into(), int(c.received)),
                (attribute::WS_COUNTED_SENT_BYTES.into(), int(c.sent_bytes)),
                (
                    attribute::WS_COUNTED_RECEIVED_BYTES.into(),
                    int(c.received_bytes),
                ),
                (attribute::WS_COUNTED_ERRORS.into(), int(c.errors)),
                (attribute::WS_COUNTED_TRACED.into(), int(c.traced)),
                (
                    attribute::TRACEWIRE_INTERVAL_MS.into(),
                    AttrValue::Int(covered),
                ),
            ];
            if let Some(t) = message_type {
                attributes.push((attribute::WS_MESSAGE_TYPE.into(), t.to_owned().into()));
            }
            if !c.rtt.is_empty() {
                attributes.push((attribute::WS_COUNTED_RTT.into(), c.rtt_text().into()));
            }
            inner.record_log(LogRecord {
                time_ns: inner.epoch_ns(now),
                severity: Severity::Info,
                body: body + " messages counted on " + url,
                event_name: Some(event::WS_MESSAGE_RATE.into()),
                attributes,
                trace_id: None,
                span_id: None,
            });
        });
    }
}

impl Held for MessageRates {
    /// Reports before every export, and on the exporter's periodic tick once the interval has
    /// passed (no timer of its own: a tick comes every `flushIntervalMs`).
    fn release(&self, inner: &Inner, all: bool) {
        let interval = f64::from(inner.config.ws_rate_interval_ms);
        if all || inner.now_ms() - self.since_ms.get() >= interval {
            self.report(inner);
        }
    }
}
