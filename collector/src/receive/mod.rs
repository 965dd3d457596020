//! Receive: the OTLP/HTTP ingest listener. `POST /v1/traces` and `POST /v1/logs` in protobuf or
//! JSON, optionally gzip or deflate compressed, answered as the OTLP specification prescribes;
//! CORS for the configured browser origins and those of the access file's browser keys; with an
//! access file, a key per request ([`auth`]).

mod auth;
mod body;
mod response;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Extension, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware;
use axum::response::Response;
use axum::routing::post;
use bytes::Bytes;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tracing::{error, warn};

pub use auth::KEY_HEADER;

use crate::access::{Access, IngestDenied, Sender};
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
    /// The access file refuses the request: no key, an unknown key, a foreign origin or a
    /// spent rate.
    #[error("{0}")]
    Denied(#[from] IngestDenied),
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
    /// Who may send.
    pub access: Arc<Access>,
}

/// The ingest router, with CORS when `origins` is not empty or an access file grants browser
/// keys.
pub fn router(ingest: Ingest, origins: &[CorsOrigin]) -> Router {
    let limit = ingest.max_body;
    let access = Arc::clone(&ingest.access);
    let router = Router::new()
        .route("/v1/traces", post(traces))
        .route("/v1/logs", post(logs))
        .route_layer(middleware::from_fn_with_state(
            ingest.clone(),
            auth::authenticate,
        ))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(ingest);
    if origins.is_empty() && !access.enforced() {
        return router;
    }
    router.layer(cors(origins, access))
}

/// CORS for `--cors-origin` plus, read at each request so that SIGHUP applies, the origins of
/// the access file's browser keys.
fn cors(origins: &[CorsOrigin], access: Arc<Access>) -> CorsLayer {
    let allow = if origins.contains(&CorsOrigin::Any) {
        AllowOrigin::any()
    } else {
        let fixed: Vec<String> = origins
            .iter()
            .filter_map(|o| match o {
                CorsOrigin::Exact(origin) => Some(origin.clone()),
                CorsOrigin::Any => None,
            })
            .collect();
        AllowOrigin::predicate(move |origin: &HeaderValue, _| {
            origin.to_str().is_ok_and(|origin| {
                fixed.iter().any(|f| f.eq_ignore_ascii_case(origin))
                    || access.browser_origin(origin)
            })
        })
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::POST])
        .allow_headers([
            HeaderName::from_static("content-type"),
            HeaderName::from_static("content-encoding"),
            HeaderName::from_static("traceparent"),
            HeaderName::from_static("tracestate"),
            HeaderName::from_static(KEY_HEADER),
            HeaderName::from_static("authorization"),
        ])
        .expose_headers([HeaderName::from_static("retry-after")])
        .max_age(CORS_MAX_AGE)
}

async fn traces(
    State(ingest): State<Ingest>,
    Extension(sender): Extension<Sender>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    handle(ingest, sender, Signal::Traces, headers, body).await
}

async fn logs(
    State(ingest): State<Ingest>,
    Extension(sender): Extension<Sender>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    handle(ingest, sender, Signal::Logs, headers, body).await
}

async fn handle(
    ingest: Ingest,
    sender: Sender,
    signal: Signal,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let encoding = match body::encoding(&headers) {
        Ok(encoding) => encoding,
        Err(e) => return response::error(Encoding::Json, &e),
    };
    match accept(&ingest, &sender, signal, encoding, headers, body).await {
        Ok((rejected, message)) => response::success(signal, encoding, rejected, message),
        Err(e) => response::error(encoding, &e),
    }
}

/// Decodes and stores one request; answers the rejected count and message on success.
async fn accept(
    ingest: &Ingest,
    sender: &Sender,
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
    let tenant = sender.tenant.clone();
    let decoded = tokio::task::spawn_blocking(move || {
        let data = body::decompress(raw, &headers, max)?;
        let mut decoded = decode::decode(signal, &data, encoding)?;
        decoded.batch.assign_tenant(tenant.stored());
        Ok::<_, IngestError>(decoded)
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
        sender.take(items).inspect_err(|denied| {
            metrics.refused(signal, Refusal::RateLimited, items);
            metrics.denied(denied.reason(), sender.tenant.id());
        })?;
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
