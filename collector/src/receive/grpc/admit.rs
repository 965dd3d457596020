//! Admission of gRPC requests into the in-flight memory budget, as body reading does for HTTP
//! ([`super::super::reading`]): the request's bytes are reserved as they arrive, within the body
//! timeout; a gzip message is inflated here (at most the message limit) and handed to tonic
//! uncompressed, so it is inflated once; and the estimate of what the message decodes into is
//! reserved before tonic decodes it. What does not fit is `UNAVAILABLE` with a `RetryInfo`,
//! what could never fit `RESOURCE_EXHAUSTED`. The reservation goes with the request to the
//! service, which holds it until the batch is stored.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use bytes::{BufMut, Bytes, BytesMut};

use super::super::budget::{MemoryBudget, Reservation};
use super::super::reading::{self, Failure, Reading};
use super::super::{IngestError, body};
use super::status;
use crate::decode::{self, Encoding};
use crate::signal::Signal;

/// The gRPC message header: a compressed flag and a big-endian length.
const PREFIX: usize = 5;

/// The per-message encoding header.
const GRPC_ENCODING: &str = "grpc-encoding";

/// The request's reservation, taken by the service that stores its batch.
#[derive(Clone, Debug, Default)]
pub(super) struct Held(Arc<Mutex<Option<Reservation>>>);

impl Held {
    /// The reservation (once; later calls get an empty one).
    pub(super) fn take(&self) -> Reservation {
        self.0
            .lock()
            .map(|mut held| held.take().unwrap_or_default())
            .unwrap_or_default()
    }
}

/// Middleware: reads, inflates and reserves the request as the module says, then passes it on
/// with a [`Held`] reservation in its extensions.
pub(super) async fn admit(
    State(reading): State<Reading>,
    request: Request,
    next: Next,
) -> Response {
    let Some(signal) = signal(request.uri().path()) else {
        return next.run(request).await;
    };
    let (mut parts, body) = request.into_parts();
    // The message limit is on the message; its 5-byte header comes on top.
    let wire = Reading {
        max_body: reading.max_body + PREFIX,
        ..reading.clone()
    };
    let collected = tokio::time::timeout(
        reading.timeout,
        reading::collect(body, &parts.headers, &wire),
    );
    let (bytes, mut reservation) = match collected.await {
        Ok(Ok(read)) => read,
        Ok(Err(Failure { error, .. })) => return refuse(&error),
        Err(_) => {
            return refuse(&IngestError::BodyTimeout {
                seconds: reading.timeout.as_secs_f64(),
            });
        }
    };
    let compressed = bytes.first() == Some(&1);
    let gzip = parts.headers.get(GRPC_ENCODING).map(HeaderValue::as_bytes) == Some(b"gzip");
    let framed = message(&bytes).is_some();
    // A body that is not one message (or one in an encoding tonic refuses) goes on as it is:
    // tonic answers it; its bytes stay reserved.
    let body = if framed && (!compressed || gzip) {
        let max = reading.max_body;
        let budget = reading.budget.clone();
        let prepared =
            tokio::task::spawn_blocking(move || prepare(signal, &bytes, compressed, max, &budget))
                .await;
        match prepared {
            Ok(Ok((body, more))) => {
                reservation.merge(more);
                if compressed {
                    parts.headers.remove(GRPC_ENCODING);
                }
                body
            }
            Ok(Err(error)) => return refuse(&error),
            Err(_) => return refuse(&IngestError::Internal),
        }
    } else {
        bytes
    };
    parts
        .extensions
        .insert(Held(Arc::new(Mutex::new(Some(reservation)))));
    next.run(Request::from_parts(parts, Body::from(body))).await
}

/// The signal a service path exports.
fn signal(path: &str) -> Option<Signal> {
    match path {
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export" => Some(Signal::Traces),
        "/opentelemetry.proto.collector.logs.v1.LogsService/Export" => Some(Signal::Logs),
        "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export" => Some(Signal::Metrics),
        _ => None,
    }
}

/// The one message a body holds, when it holds exactly one.
fn message(body: &[u8]) -> Option<&[u8]> {
    let header = body.get(..PREFIX)?;
    let length = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    (body.len() - PREFIX == length).then(|| &body[PREFIX..])
}

/// Inflates a compressed message (at most `max` bytes) into an uncompressed body, and reserves
/// the inflated copy and the estimate of the decoded message.
fn prepare(
    signal: Signal,
    bytes: &Bytes,
    compressed: bool,
    max: usize,
    budget: &MemoryBudget,
) -> Result<(Bytes, Reservation), IngestError> {
    let payload = message(bytes).unwrap_or_default();
    if !compressed {
        let reservation =
            budget.try_reserve(decode::memory(signal, payload, Encoding::Protobuf))?;
        return Ok((bytes.clone(), reservation));
    }
    let inflated = body::gunzip(payload, max)?;
    let needed =
        (PREFIX + inflated.len()) as u64 + decode::memory(signal, &inflated, Encoding::Protobuf);
    let reservation = budget.try_reserve(needed)?;
    let mut body = BytesMut::with_capacity(PREFIX + inflated.len());
    body.put_u8(0);
    body.put_u32(u32::try_from(inflated.len()).map_err(|_| IngestError::TooLarge { limit: max })?);
    body.extend_from_slice(&inflated);
    Ok((body.freeze(), reservation))
}

fn refuse(error: &IngestError) -> Response {
    status(error).into_http::<Body>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_message_is_found_and_anything_else_is_not() {
        assert_eq!(message(&[0, 0, 0, 0, 2, 7, 8]), Some(&[7u8, 8][..]));
        assert_eq!(message(&[0, 0, 0, 0, 3, 7, 8]), None, "short");
        assert_eq!(message(&[0, 0, 0, 0, 1, 7, 8]), None, "two messages");
        assert_eq!(message(&[0, 0, 0]), None, "no header");
    }
}
