//! Correlate: joins browser WebSocket messages with the backend spans that handled them, as
//! `docs/semantic-conventions.md` defines. Everything here is a pure function of stored spans:
//! the store's correlation step ([`crate::store::Store::derive`]) turns the spans of each newly
//! written trace into round trips and each affected session's round trips into its clock
//! offset, so results never depend on which collector instance received which span.

mod exchange;
mod histogram;
mod rollup;
mod roundtrip;
mod session;
mod shift;
mod skew;

pub use histogram::{BinError, DecodeError, Histogram, Percentiles, bin_bounds};
pub use rollup::{MINUTE_NS, Rollup, Rollups};
pub use roundtrip::{Timings, round_trips};
pub use session::{EventKind, SessionEvent, session_timeline, session_user};
pub use shift::{SpanOffsets, trace_offsets};
pub use skew::{Estimate, Sample, estimate};

use tracewire_semconv::resource as semconv;

use crate::model::{Attributes, SpanRecord};

/// A session's clock offset is estimated from its newest round trips with a reply, this many.
pub const SESSION_SAMPLES: usize = 1_000;

/// Which side of the wire a span was recorded on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Recorded in a browser by the Tracewire SDK.
    Browser,
    /// Recorded by a backend.
    Backend,
}

impl Source {
    /// The source of a span, from its resource.
    pub fn of(span: &SpanRecord) -> Self {
        Self::of_resource(&span.resource_attributes)
    }

    /// The source of anything with these resource attributes.
    pub fn of_resource(resource: &Attributes) -> Self {
        if resource
            .get(semconv::TELEMETRY_SDK_LANGUAGE)
            .map(String::as_str)
            == Some(semconv::BROWSER_SDK_LANGUAGE)
        {
            Self::Browser
        } else {
            Self::Backend
        }
    }

    /// `browser` or `backend`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Browser => "browser",
            Self::Backend => "backend",
        }
    }
}
