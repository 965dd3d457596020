//! Sends waiting for their reply: a send span whose trace context went out with the message is
//! held until a message carrying that context comes back (its round-trip time is then added), the
//! reply timeout passes, or an export asks for everything. Counted sends (no span; their context
//! sent with flags 00) and a payload-free connection's sends wait in a [`Waiting`] ring for the
//! round-trip time that is counted.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

use super::super::{Held, Inner};
use crate::TraceParent;
use crate::record::{AttrValue, SpanRecord};
use tracewire_semconv::attribute;

/// Most sent messages held waiting for a reply (for the round-trip time); older ones leave.
const MAX_PENDING_SENDS: usize = 256;

/// Most counted sends waiting for a reply (per SDK instance), and most sends of a payload-free
/// connection remembered for its receives; older ones leave without a round-trip time.
const MAX_WAITING: usize = 256;

/// The key of a send that was traced, not counted (payload-free connections remember both).
pub(super) const TRACED: u32 = u32::MAX;

/// One send in a [`Waiting`] ring.
#[derive(Clone, Copy)]
struct Slot {
    /// What its reply is known by: the trace id, or a payload-free send's number.
    tag: [u8; 16],
    /// Its counting key ([`crate::count::MessageCounter::key`]), or [`TRACED`].
    key: u32,
    sent_ms: f64,
    live: bool,
}

/// Sends waiting for a reply: counted sends (their context went out with flags 00) by trace,
/// and a payload-free connection's sends by number. A ring of slots: at the bound a new send
/// takes the oldest one's slot and an answered one leaves its slot empty, so nothing shifts and
/// nothing is allocated once the ring is full.
#[derive(Default)]
pub(crate) struct Waiting {
    slots: RefCell<Vec<Slot>>,
    next: Cell<usize>,
}

impl Waiting {
    /// Holds a send of `key`, known by `tag`, sent at `sent_ms`.
    pub(crate) fn hold(&self, tag: [u8; 16], key: u32, sent_ms: f64) {
        let slot = Slot {
            tag,
            key,
            sent_ms,
            live: true,
        };
        let mut slots = self.slots.borrow_mut();
        let at = self.next.get();
        match slots.get_mut(at) {
            Some(s) => *s = slot,
            None => slots.push(slot),
        }
        self.next.set((at + 1) % MAX_WAITING);
    }

    /// The key and send time of a send known by `tag`, which a reply answers; it stops
    /// waiting.
    pub(crate) fn take(&self, tag: &[u8; 16]) -> Option<(u32, f64)> {
        let mut slots = self.slots.borrow_mut();
        let s = slots.iter_mut().find(|s| s.live && s.tag == *tag)?;
        s.live = false;
        Some((s.key, s.sent_ms))
    }
}

/// The tag of a payload-free connection's send number `sequence`.
pub(super) fn sequence_tag(sequence: u32) -> [u8; 16] {
    let [a, b, c, d] = sequence.to_le_bytes();
    [a, b, c, d, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
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
