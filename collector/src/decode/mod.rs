//! Decode: OTLP export requests (protobuf or JSON) into the collector's records. Items that
//! cannot be stored (bad ids, out-of-range times) are rejected one by one and counted, so that
//! the rest of the request is kept and the client gets a partial-success answer.

mod logs;
mod memory;
mod metrics;
mod traces;
pub mod truncate;
mod values;

use prost::Message;
use serde::de::DeserializeOwned;

use crate::model::Batch;
use crate::signal::Signal;

pub use logs::{decode_logs, logs};
pub use memory::{logs_memory, metrics_memory, traces_memory};
pub use metrics::{decode_metrics, metrics};
pub use traces::{decode_traces, traces};

/// Decodes an export request of `signal`: each signal's decoder, by signal.
pub fn decode(signal: Signal, data: &[u8], encoding: Encoding) -> Result<Decoded, DecodeError> {
    match signal {
        Signal::Traces => decode_traces(data, encoding),
        Signal::Logs => decode_logs(data, encoding),
        Signal::Metrics => decode_metrics(data, encoding),
    }
}

/// Bytes an export request of `signal` will take once decoded, estimated before decoding it
/// ([`memory`]'s walk of the signal's schema).
pub fn memory(signal: Signal, data: &[u8], encoding: Encoding) -> u64 {
    match signal {
        Signal::Traces => traces_memory(data, encoding),
        Signal::Logs => logs_memory(data, encoding),
        Signal::Metrics => metrics_memory(data, encoding),
    }
}

/// How a request body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/x-protobuf`.
    Protobuf,
    /// `application/json` (OTLP/JSON).
    Json,
}

/// A request body that is not a valid OTLP export request.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The protobuf does not decode.
    #[error("invalid protobuf: {0}")]
    Protobuf(#[from] prost::DecodeError),
    /// The JSON does not parse or has values of the wrong type.
    #[error("invalid OTLP/JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// The result of decoding one request.
#[derive(Debug, Default)]
pub struct Decoded {
    /// What can be stored.
    pub batch: Batch,
    /// Items in the request, accepted or not.
    pub received: u64,
    /// Items rejected, with the reason for the first.
    pub rejected: Rejections,
    /// Strings and attribute maps cut to the [`truncate`] limits.
    pub truncated: u64,
}

/// Items rejected from a request, counted, with the first reason kept for the client.
#[derive(Debug, Default)]
pub struct Rejections {
    /// How many items were rejected.
    pub count: u64,
    first: Option<String>,
}

impl Rejections {
    fn add(&mut self, reason: impl FnOnce() -> String) {
        self.count += 1;
        if self.first.is_none() {
            self.first = Some(reason());
        }
    }

    /// A message for the client's partial-success answer, empty when nothing was rejected.
    pub fn message(&self, what: &str) -> String {
        match &self.first {
            Some(first) => format!("rejected {} {what}; first: {first}", self.count),
            None => String::new(),
        }
    }
}

fn parse<T: Message + Default + DeserializeOwned>(
    body: &[u8],
    encoding: Encoding,
) -> Result<T, DecodeError> {
    Ok(match encoding {
        Encoding::Protobuf => T::decode(body)?,
        Encoding::Json => serde_json::from_slice(body)?,
    })
}

/// Lowercase hex of an id that must be exactly `len` bytes and not all zero.
fn required_id(bytes: &[u8], len: usize, field: &str) -> Result<String, String> {
    if bytes.len() != len {
        return Err(format!("{field} must be {len} bytes, got {}", bytes.len()));
    }
    if bytes.iter().all(|b| *b == 0) {
        return Err(format!("{field} must not be all zeros"));
    }
    Ok(hex::encode(bytes))
}

/// Like [`required_id`], but empty (or all zeros) means "none" and gives an empty string.
fn optional_id(bytes: &[u8], len: usize, field: &str) -> Result<String, String> {
    if bytes.iter().all(|b| *b == 0) && (bytes.is_empty() || bytes.len() == len) {
        return Ok(String::new());
    }
    required_id(bytes, len, field)
}

/// OTLP times are u64 nanoseconds; storage is i64 (good until the year 2262).
fn time_ns(value: u64, field: &str) -> Result<i64, String> {
    i64::try_from(value).map_err(|_| format!("{field} {value} is beyond the year 2262"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_must_have_the_right_length_and_not_be_zero() {
        assert_eq!(
            required_id(&[1; 16], 16, "trace_id").as_deref(),
            Ok("01010101010101010101010101010101")
        );
        assert!(
            required_id(&[1; 5], 16, "trace_id")
                .expect_err("short")
                .contains("got 5")
        );
        assert!(required_id(&[0; 16], 16, "trace_id").is_err());
        assert_eq!(optional_id(&[], 8, "parent_span_id").as_deref(), Ok(""));
        assert_eq!(optional_id(&[0; 8], 8, "parent_span_id").as_deref(), Ok(""));
        assert!(optional_id(&[1; 3], 8, "parent_span_id").is_err());
    }

    #[test]
    fn rejection_message_counts_and_keeps_the_first_reason() {
        let mut r = Rejections::default();
        assert_eq!(r.message("spans"), "");
        r.add(|| "a".into());
        r.add(|| "b".into());
        assert_eq!(r.message("spans"), "rejected 2 spans; first: a");
    }
}
