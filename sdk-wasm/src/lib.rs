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
pub mod count;
pub mod handshake;
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
#[cfg(any(feature = "eventsource", test))]
pub mod sse;
pub mod text;

#[cfg(target_arch = "wasm32")]
pub mod browser;

/// The wasm's allocator (feature `tlsf`): O(1), and smaller than std's dlmalloc.
#[cfg(all(target_arch = "wasm32", feature = "tlsf"))]
#[global_allocator]
static ALLOCATOR: rlsf::GlobalTlsf = rlsf::GlobalTlsf::new();

pub use config::Config;
pub use context::{SpanId, TraceId, TraceParent};
pub use record::{AttrValue, Attributes, Severity};

#[cfg(all(target_arch = "wasm32", feature = "websocket"))]
pub use browser::websocket::TracedWebSocket;
#[cfg(target_arch = "wasm32")]
pub use browser::{Span, Tracewire};

/// Errors returned by the SDK's API. Telemetry failures during normal operation are never
/// returned to the page; they are counted instead.
///
/// `Display` is written by hand rather than derived: the JavaScript layer builds the same text
/// with [`Error::message`], which keeps the formatting machinery out of the wasm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A configuration field has a value the SDK does not accept.
    InvalidConfig {
        /// The field name as written in the JS config object.
        field: &'static str,
        /// What is accepted.
        message: String,
    },
    /// `start` was called while another instance is running in this page.
    AlreadyStarted,
    /// The browser API needed is missing (no `window`, e.g. in a worker).
    Unavailable(&'static str),
    /// A browser call threw; the thrown value, whatever it was, is described here.
    Js(String),
}

impl Error {
    /// The human-readable description (what `Display` prints).
    pub fn message(&self) -> String {
        match self {
            Error::InvalidConfig { field, message } => {
                String::from("invalid config field `") + field + "`: " + message
            }
            Error::AlreadyStarted => {
                "Tracewire is already started in this page; call shutdown() first".into()
            }
            Error::Unavailable(what) => String::from("browser API unavailable: ") + what,
            Error::Js(what) => String::from("browser error: ") + what,
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for Error {}

/// Result with the SDK's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_describe_themselves() {
        let e = Error::InvalidConfig {
            field: "sampleRate",
            message: "must be between 0.0 and 1.0".into(),
        };
        assert_eq!(
            e.to_string(),
            "invalid config field `sampleRate`: must be between 0.0 and 1.0"
        );
        assert_eq!(
            Error::Unavailable("crypto").to_string(),
            "browser API unavailable: crypto"
        );
        assert_eq!(Error::Js("boom".into()).to_string(), "browser error: boom");
        assert!(Error::AlreadyStarted.to_string().contains("shutdown()"));
    }
}
