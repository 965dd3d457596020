//! Reading request bodies before the handlers see them: within the body timeout (a client that
//! trickles its body gets 408 instead of holding its connection for as long as it likes), at
//! most the body limit (413 as soon as it is passed, without reading the rest), and inside the
//! memory budget (503 when requests in flight hold it all).

use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::extract::{Request, State};
use axum::http::header::{CONNECTION, CONTENT_LENGTH};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;

use super::budget::{MemoryBudget, Reservation};
use super::{IngestError, body, response};
use crate::decode::Encoding;

/// What body reading needs to know.
#[derive(Clone, Debug)]
pub(super) struct Reading {
    /// The whole body must arrive within this, counted from when the handler chain starts.
    pub timeout: Duration,
    /// The body limit before decompression, bytes.
    pub max_body: usize,
    /// Memory shared by requests in flight.
    pub budget: MemoryBudget,
}

/// Middleware: reads the body within [`Reading`]'s limits, then passes the request on with the
/// body in memory, holding the body's reservation until the response is made.
pub(super) async fn read_body(
    State(reading): State<Reading>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let encoding = body::encoding(&parts.headers).unwrap_or(Encoding::Json);
    let read = tokio::time::timeout(reading.timeout, collect(body, &parts.headers, &reading));
    let failure = match read.await {
        Ok(Ok((bytes, reservation))) => {
            let response = next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
            drop(reservation);
            return response;
        }
        Ok(Err(failure)) => failure,
        Err(_) => Failure {
            error: IngestError::BodyTimeout {
                seconds: reading.timeout.as_secs_f64(),
            },
            read_whole: false,
        },
    };
    let mut response = response::error(encoding, &failure.error);
    if !failure.read_whole {
        // The rest of the body was not read, so the connection cannot carry another request.
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Why a body was not taken, and whether it was read to its end anyway.
pub(super) struct Failure {
    /// What went wrong.
    pub error: IngestError,
    /// Whether the body was read to its end anyway (the connection can carry another request).
    pub read_whole: bool,
}

/// The whole body, reserved in the budget as it arrives. When the budget is full, the rest is
/// read and dropped (at most the body limit in all), so that the client reads the 503 rather
/// than a reset connection and the connection stays usable.
pub(super) async fn collect(
    mut body: Body,
    headers: &HeaderMap,
    reading: &Reading,
) -> Result<(Bytes, Reservation), Failure> {
    let too_large = || Failure {
        error: IngestError::TooLarge {
            limit: reading.max_body,
        },
        read_whole: false,
    };
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let mut reservation = Reservation::default();
    let mut buffer = BytesMut::new();
    let mut reserved = 0;
    if let Some(length) = declared {
        if length > reading.max_body as u64 {
            return Err(too_large());
        }
        match reading.budget.try_reserve_body(length) {
            Ok(r) => {
                reservation = r;
                reserved = length;
                buffer.reserve(length as usize);
            }
            Err(error) => {
                let read_whole = drain(body, 0, reading.max_body).await;
                return Err(Failure { error, read_whole });
            }
        }
    }
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Failure {
            error: IngestError::Body(e.to_string()),
            read_whole: false,
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let total = buffer.len() + data.len();
        if total > reading.max_body {
            return Err(too_large());
        }
        if total as u64 > reserved {
            match reading.budget.try_reserve_body(total as u64 - reserved) {
                Ok(more) => reservation.merge(more),
                Err(error) => {
                    let read_whole = drain(body, total, reading.max_body).await;
                    return Err(Failure { error, read_whole });
                }
            }
            reserved = total as u64;
        }
        buffer.extend_from_slice(&data);
    }
    Ok((buffer.freeze(), reservation))
}

/// Reads the rest of `body` without keeping it, while the whole stays within `max` bytes
/// (`read` are in already); answers whether the body was read to its end.
pub(super) async fn drain<B>(mut body: B, mut read: usize, max: usize) -> bool
where
    B: HttpBody<Data = Bytes> + Unpin,
{
    while let Some(Ok(frame)) = body.frame().await {
        if let Some(data) = frame.data_ref() {
            read += data.len();
            if read > max {
                return false;
            }
        }
    }
    true
}
