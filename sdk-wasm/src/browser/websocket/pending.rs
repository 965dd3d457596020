//! Sends waiting for their reply: a send span whose trace context went out with the message is
//! held until a message carrying that context comes back (its round-trip time is then added), the
//! reply timeout passes, or an export asks for everything; a counted send (no span, its context
//! sent with flags 00) waits the same way for the round-trip time that is counted.

use std::cell::RefCell;
use std::collections::VecDeque;

use super::super::{Held, Inner};
use crate::record::{AttrValue, SpanRecord};
use crate::{TraceId, TraceParent};
use tracewire_semconv::attribute;

/// Most sent messages held waiting for a reply (for the round-trip time); older ones leave.
const MAX_PENDING_SENDS: usize = 256;

/// Most counted sends waiting for a reply; older ones leave without a round-trip time.
const MAX_COUNTED_SENDS: usize = 256;

/// A counted send waiting for a reply in its trace.
struct CountedSend {
    trace_id: TraceId,
    /// Its counting key ([`crate::count::MessageCounter::key`]).
    key: u32,
    sent_ms: f64,
}

/// The counted sends of one SDK instance waiting for replies, oldest first (a ring, like
/// [`PendingSends`]; nothing to release, as nothing is recorded for them but the count).
#[derive(Default)]
pub(crate) struct CountedSends {
    sends: RefCell<VecDeque<CountedSend>>,
}

impl CountedSends {
    /// Holds a counted send of `key` in trace `trace_id`, sent at `sent_ms`.
    pub(crate) fn hold(&self, trace_id: TraceId, key: u32, sent_ms: f64) {
        let mut sends = self.sends.borrow_mut();
        if sends.len() >= MAX_COUNTED_SENDS {
            sends.pop_front();
        }
        sends.push_back(CountedSend {
            trace_id,
            key,
            sent_ms,
        });
    }

    /// The key and send time of the latest counted send in trace `trace_id`, which a reply in
    /// that trace answers; it stops waiting.
    pub(crate) fn take(&self, trace_id: &TraceId) -> Option<(u32, f64)> {
        let mut sends = self.sends.borrow_mut();
        let i = sends.iter().rposition(|s| s.trace_id == *trace_id)?;
        sends.remove(i).map(|s| (s.key, s.sent_ms))
    }
}

/// A sent message waiting for a reply in the same trace.
struct PendingSend {
    span: SpanRecord,
    sent_ms: f64,
}

/// The sends of one SDK instance waiting for replies, oldest first (a ring: at the bound, every
/// send pushes the oldest out, which must not shift the others).
#[derive(Default)]
pub(crate) struct PendingSends {
    sends: RefCell<VecDeque<PendingSend>>,
}

impl PendingSends {
    /// Holds a send span, sent at `sent_ms` (monotonic clock), until a reply arrives in its
    /// trace (or the reply timeout passes).
    pub(crate) fn hold(&self, inner: &Inner, span: SpanRecord, sent_ms: f64) {
        let released = {
            let mut sends = self.sends.borrow_mut();
            sends.push_back(PendingSend { span, sent_ms });
            if sends.len() > MAX_PENDING_SENDS {
                sends.pop_front()
            } else {
                None
            }
        };
        if let Some(p) = released {
            inner.record_span(p.span);
        }
    }

    /// Completes the send span a reply belongs to (by span id, else by trace id), recording the
    /// round-trip time; returns it.
    pub(crate) fn complete(&self, inner: &Inner, reply_to: &TraceParent) -> Option<f64> {
        let now = inner.now_ms();
        let found = {
            let mut sends = self.sends.borrow_mut();
            let idx = sends
                .iter()
                .rposition(|p| p.span.span_id == reply_to.span_id)
                .or_else(|| {
                    sends
                        .iter()
                        .rposition(|p| p.span.trace_id == reply_to.trace_id)
                });
            idx.and_then(|i| sends.remove(i))
        };
        let mut p = found?;
        let rtt = now - p.sent_ms;
        p.span
            .attributes
            .push((attribute::WS_RTT_MS.into(), AttrValue::Float(rtt)));
        inner.record_span(p.span);
        Some(rtt)
    }
}

impl Held for PendingSends {
    /// Moves sends that waited longer than the reply timeout (or all, for an export) to the
    /// queue.
    fn release(&self, inner: &Inner, all: bool) {
        let now = inner.now_ms();
        let timeout = f64::from(inner.config.reply_timeout_ms);
        let released: VecDeque<PendingSend> = {
            let mut sends = self.sends.borrow_mut();
            let (old, keep) = std::mem::take(&mut *sends)
                .into_iter()
                .partition(|p| all || now - p.sent_ms >= timeout);
            *sends = keep;
            old
        };
        for p in released {
            inner.record_span(p.span);
        }
    }
}
