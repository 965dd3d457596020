//! Tracewire browser SDK: traces WebSocket messages end to end (trace context inside the
//! messages), fetch requests and page errors, and exports them as OTLP/HTTP JSON without ever
//! blocking or breaking the page.
//!
//! The pure logic (trace context, sampling, scrubbing, queueing, retries, sessions, OTLP
//! encoding) lives in plain modules that build and test on any target; everything that touches
//! the browser is in [`browser`], compiled for `wasm32` only, with a thin `#[wasm_bindgen]` layer
//! for the JavaScript API on top of the Rust one.

pub mod carry;
pub mod config;
pub mod context;
pub mod json;
pub mod message;
pub mod otlp;
pub mod queue;
pub mod rate;
pub mod record;
pub mod retry;
pub mod sampling;
pub mod scrub;
pub mod session;

#[cfg(target_arch = "wasm32")]
pub mod browser;

pub use config::Config;
pub use context::{SpanId, TraceId, TraceParent};
pub use record::{AttrValue, Attributes};

#[cfg(all(target_arch = "wasm32", feature = "websocket"))]
pub use browser::websocket::TracedWebSocket;
#[cfg(target_arch = "wasm32")]
pub use browser::{Span, Tracewire};

/// Errors returned by the SDK's API. Telemetry failures during normal operation are never
/// returned to the page; they are counted instead.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration field has a value the SDK does not accept.
    #[error("invalid config field `{field}`: {message}")]
    InvalidConfig {
        /// The field name as written in the JS config object.
        field: &'static str,
        /// What is accepted.
        message: String,
    },
    /// `start` was called while another instance is running in this page.
    #[error("Tracewire is already started in this page; call shutdown() first")]
    AlreadyStarted,
    /// The browser API needed is missing (no `window`, e.g. in a worker).
    #[error("browser API unavailable: {0}")]
    Unavailable(&'static str),
    /// A browser call threw; the thrown value, whatever it was, is described here.
    #[error("browser error: {0}")]
    Js(String),
    /// A value could not be serialised to JSON.
    #[error("serialisation failed: {0}")]
    Json(#[from] serde_json::Error),
}

/// Result with the SDK's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
