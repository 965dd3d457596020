//! Receive: the OTLP/HTTP ingest listener. `POST /v1/traces` and `POST /v1/logs` in protobuf or
//! JSON, optionally gzip or deflate compressed, answered as the OTLP specification prescribes;
//! CORS for the configured browser origins.

mod body;
mod response;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderName, Method, StatusCode};
use axum::response::Response;
use axum::routing::post;
use bytes::Bytes;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tracing::{error, warn};

use crate::config::CorsOrigin;
use crate::decode::{self, DecodeError, Encoding};
use crate::metrics::{Metrics, Refusal};
use crate::signal::Signal;
use crate::store::{SubmitError, WriteQueue};

/// How long browsers may cache a CORS preflight answer (Chromium caps it at two hours).
const CORS_MAX_AGE: Duration = Duration::from_secs(7200);

/// Why an ingest request was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The content type is neither protobuf nor JSON.
    #[error("unsupported content type '{0}'; use application/x-protobuf or application/json")]
    UnsupportedMediaType(String),
    /// The content encoding is not one the collector decodes.
    #[error("unsupported content encoding '{0}'; use gzip, deflate or none")]
    UnsupportedEncoding(String),
    /// The body is over the limit, before or after decompression.
    #[error("request body is larger than the {limit}-byte limit (measured after decompression)")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body could not be read.
    #[error("cannot read the request body: {0}")]
    Body(String),
    /// The compressed body is corrupt.
    #[error("cannot decompress the request body: {0}")]
    Decompress(String),
    /// The body is not a valid export request.
    #[error("{0}")]
    Decode(#[from] DecodeError),
    /// The write queue is full.
    #[error("the collector is overloaded; retry later")]
    QueueFull,
    /// The store could not make the batch durable, or the collector is stopping.
    #[error("the store is unavailable; retry later")]
    Unavailable,
    /// A bug: decoding panicked.
    #[error("internal error")]
    Internal,
}

/// What the ingest handlers share.
#[derive(Clone)]
pub struct Ingest {
    /// Where accepted batches go.
    pub queue: WriteQueue,
    /// The collector's counters.
    pub metrics: Arc<Metrics>,
    /// The body limit after decompression, bytes.
    pub max_body: usize,
}

/// The ingest router, with CORS when `origins` is not empty.
pub fn router(ingest: Ingest, origins: &[CorsOrigin]) -> Router {
    let limit = ingest.max_body;
    let router = Router::new()
        .route("/v1/traces", post(traces))
        .route("/v1/logs", post(logs))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(ingest);
    if origins.is_empty() {
        return router;
    }
    router.layer(cors(origins))
}

fn cors(origins: &[CorsOrigin]) -> CorsLayer {
    let allow = if origins.contains(&CorsOrigin::Any) {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| match o {
            CorsOrigin::Exact(origin) => origin.parse().ok(),
            CorsOrigin::Any => None,
        }))
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::POST])
        .allow_headers([
            HeaderName::from_static("content-type"),
            HeaderName::from_static("content-encoding"),
            HeaderName::from_static("traceparent"),
            HeaderName::from_static("tracestate"),
            HeaderName::from_static("x-tracewire-key"),
        ])
        .expose_headers([HeaderName::from_static("retry-after")])
        .max_age(CORS_MAX_AGE)
}

async fn traces(
    State(ingest): State<Ingest>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    handle(ingest, Signal::Traces, headers, body).await
}

async fn logs(
    State(ingest): State<Ingest>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    handle(ingest, Signal::Logs, headers, body).await
}

async fn handle(
    ingest: Ingest,
    signal: Signal,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let encoding = match body::encoding(&headers) {
        Ok(encoding) => encoding,
        Err(e) => return response::error(Encoding::Json, &e),
    };
    match accept(&ingest, signal, encoding, headers, body).await {
        Ok((rejected, message)) => response::success(signal, encoding, rejected, message),
        Err(e) => response::error(encoding, &e),
    }
}

/// Decodes and stores one request; answers the rejected count and message on success.
async fn accept(
    ingest: &Ingest,
    signal: Signal,
    encoding: Encoding,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(u64, String), IngestError> {
    let raw = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => IngestError::TooLarge {
            limit: ingest.max_body,
        },
        _ => IngestError::Body(rejection.body_text()),
    })?;
    let max = ingest.max_body;
    let decoded = tokio::task::spawn_blocking(move || {
        let data = body::decompress(raw, &headers, max)?;
        Ok::<_, IngestError>(decode::decode(signal, &data, encoding)?)
    })
    .await
    .map_err(|e| {
        error!(error = %e, "Decoding task failed");
        IngestError::Internal
    })??;

    let metrics = &ingest.metrics;
    metrics.received(signal, decoded.received);
    metrics.rejected(signal, decoded.rejected.count);
    let message = decoded.rejected.message(signal.items());
    let items = decoded.batch.len();
    if items > 0 {
        let receipt = ingest.queue.try_submit(decoded.batch).map_err(|e| {
            let (reason, err) = match e {
                SubmitError::Full => (Refusal::QueueFull, IngestError::QueueFull),
                SubmitError::Closed => (Refusal::StoreUnavailable, IngestError::Unavailable),
            };
            metrics.refused(signal, reason, items);
            err
        })?;
        receipt.durable().await.map_err(|e| {
            warn!(error = %e, retryable = e.is_retryable(), items, "Batch not stored; client told to retry");
            metrics.refused(signal, Refusal::StoreUnavailable, items);
            IngestError::Unavailable
        })?;
        metrics.accepted(signal, items);
    }
    Ok((decoded.rejected.count, message))
}

#[cfg(test)]
mod tests;
