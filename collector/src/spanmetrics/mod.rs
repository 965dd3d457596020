//! Span metrics: request rate, errors and latency per service and operation, and the calls
//! between services, derived from stored spans as the OpenTelemetry Collector's span-metrics and
//! service-graph connectors derive them from a stream. Both are [`Calls`] added up per time
//! bucket and a pair of names ([`CallRollups`]), so a store may keep them per minute and add
//! those up, or add up spans as it reads them: both give the same answer.
//!
//! - An **operation call** is a SERVER or CONSUMER span ([`handles_calls`]): the pair is its
//!   service and its name, its time is its start, its duration and status are its own.
//! - A **dependency call** is a span whose parent span (same tenant and trace) belongs to another
//!   service: the pair is the parent's service (caller) and the span's service (callee), its
//!   time, duration and status are the child span's. A browser's `ws.send` continued by a
//!   backend is a call from the browser to the backend; a reply the browser receives as a child
//!   of the backend's span is a call the other way.

mod calls;

pub use calls::{CallRollups, Calls, Totals};

use crate::model::SpanKind;

/// Whether spans of this kind are calls of their service's operation: SERVER and CONSUMER.
pub fn handles_calls(kind: SpanKind) -> bool {
    matches!(kind, SpanKind::Server | SpanKind::Consumer)
}

/// The span kinds of [`handles_calls`], as stores name them.
pub const CALL_KINDS: [SpanKind; 2] = [SpanKind::Server, SpanKind::Consumer];
