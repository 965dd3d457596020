//! Receive: the OTLP ingest listeners. OTLP/HTTP: `POST /v1/traces`, `/v1/logs` and
//! `/v1/metrics` in protobuf or JSON, optionally gzip or deflate compressed, answered as the
//! OTLP specification prescribes, with CORS for the configured browser origins and those of the
//! access file's browser keys. OTLP/gRPC ([`grpc`]): the trace, logs and metrics services. With
//! an access file, both take a key per request ([`auth`]). Both hand what they decode to
//! [`store`]. The HTTP listener's own limits ([`limits`]) bound connections, slow clients and
//! the memory requests in flight hold.

mod auth;
mod body;
pub mod budget;
mod connections;
pub mod grpc;
pub mod limits;
mod reading;
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
pub use connections::{raise_open_files_limit, serve};

use self::budget::{MemoryBudget, Reservation};
use self::limits::OtlpLimits;
use self::reading::Reading;
use crate::access::{Access, IngestDenied, Sender};
use crate::config::CorsOrigin;
use crate::decode::{self, DecodeError, Encoding};
use crate::metrics::{Metrics, Refusal};
use crate::signal::Signal;
use crate::store::{StoreError, SubmitError, WriteQueue};

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
    /// The request would need more memory than the whole in-flight budget.
    #[error(
        "the request needs about {needed} bytes of memory to decode, more than the collector's {budget}-byte budget; send smaller batches"
    )]
    OverBudget {
        /// Bytes the request needs (an estimate).
        needed: u64,
        /// The whole budget.
        budget: u64,
    },
    /// The body did not arrive within the body timeout.
    #[error("the request body did not arrive within {seconds} s")]
    BodyTimeout {
        /// The timeout in seconds.
        seconds: f64,
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
    /// Requests in flight hold the whole memory budget.
    #[error("the collector is busy with other requests; retry later")]
    Overloaded,
    /// The listener holds as many connections as it may.
    #[error("the collector has too many open connections; retry later")]
    TooManyConnections,
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

/// The OTLP/HTTP ingest router with the default [`OtlpLimits`], with CORS when `origins` is not
/// empty or an access file grants browser keys.
pub fn router(ingest: Ingest, origins: &[CorsOrigin]) -> Router {
    limited_routers(ingest, origins, &OtlpLimits::default()).http
}

/// The two ingest routers. They share one memory budget.
pub struct Routers {
    /// OTLP/HTTP.
    pub http: Router,
    /// OTLP/gRPC ([`grpc`]).
    pub grpc: Router,
}

/// The ingest routers: bodies read within `limits`' body timeout and one memory budget shared
/// by both, the HTTP one with CORS when `origins` is not empty or an access file grants browser
/// keys.
pub fn limited_routers(ingest: Ingest, origins: &[CorsOrigin], limits: &OtlpLimits) -> Routers {
    let reading = Reading {
        timeout: limits.body_timeout,
        max_body: ingest.max_body,
        budget: MemoryBudget::new(limits.max_inflight),
    };
    Routers {
        grpc: grpc::router(ingest.clone(), reading.clone()),
        http: http_router(ingest, origins, reading),
    }
}

fn http_router(ingest: Ingest, origins: &[CorsOrigin], reading: Reading) -> Router {
    let limit = ingest.max_body;
    let budget = reading.budget.clone();
    let access = Arc::clone(&ingest.access);
    let router = Signal::ALL
        .into_iter()
        .fold(Router::new(), |router, signal| {
            let export = move |State(ingest): State<Ingest>,
                               Extension(budget): Extension<MemoryBudget>,
                               Extension(sender): Extension<Sender>,
                               headers: HeaderMap,
                               body: Result<Bytes, BytesRejection>| async move {
                handle(ingest, &budget, sender, signal, headers, body).await
            };
            router.route(&format!("/v1/{}", signal.name()), post(export))
        })
        .layer(DefaultBodyLimit::max(limit))
        .route_layer(middleware::from_fn_with_state(reading, reading::read_body))
        // Outside body reading: a request without a valid key is refused before its body is
        // read or counted against the memory budget.
        .route_layer(middleware::from_fn_with_state(
            ingest.clone(),
            auth::authenticate,
        ))
        .layer(Extension(budget))
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

async fn handle(
    ingest: Ingest,
    budget: &MemoryBudget,
    sender: Sender,
    signal: Signal,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let encoding = match body::encoding(&headers) {
        Ok(encoding) => encoding,
        Err(e) => return response::error(Encoding::Json, &e),
    };
    match accept(&ingest, budget, &sender, signal, encoding, headers, body).await {
        Ok((rejected, message)) => response::success(signal, encoding, rejected, message),
        Err(e) => response::error(encoding, &e),
    }
}

/// Decodes and stores one request; answers the rejected count and message on success. The
/// decompressed body and the estimate of what it decodes into are reserved in `budget` before
/// decoding, until the answer.
async fn accept(
    ingest: &Ingest,
    budget: &MemoryBudget,
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
    let budget = budget.clone();
    let (decoded, reservation) = tokio::task::spawn_blocking(move || {
        let received = raw.as_ptr();
        let data = body::decompress(raw, &headers, max)?;
        // An uncompressed body is the one already reserved by body reading.
        let copied = if data.as_ptr() == received {
            0
        } else {
            data.len()
        };
        let needed = copied as u64 + decode::memory(signal, &data, encoding);
        let reservation = budget.try_reserve(needed)?;
        let decoded = decode::decode(signal, &data, encoding)?;
        Ok::<_, IngestError>((decoded, reservation))
    })
    .await
    .map_err(|e| {
        error!(error = %e, "Decoding task failed");
        IngestError::Internal
    })??;

    store(ingest, sender, signal, decoded, reservation).await
}

/// Counts what one request of `sender` decoded to, puts its records in the sender's tenant,
/// takes its items from the sender's rate, queues what can be stored and waits until it is durable, holding `reservation` until the
/// writer is done; answers the rejected count and the partial-success message.
pub(crate) async fn store(
    ingest: &Ingest,
    sender: &Sender,
    signal: Signal,
    mut decoded: decode::Decoded,
    reservation: Reservation,
) -> Result<(u64, String), IngestError> {
    decoded.batch.assign_tenant(sender.tenant.stored());
    let metrics = &ingest.metrics;
    metrics.received(signal, decoded.received);
    metrics.rejected(signal, decoded.rejected.count);
    metrics.truncated(signal, decoded.truncated);
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
        // The batch's memory stays reserved until the writer is done with it, even when the
        // client goes away first and this handler is dropped.
        let durable = tokio::spawn(async move {
            let durable = receipt.durable().await;
            drop(reservation);
            durable
        });
        let durable = durable.await.unwrap_or(Err(StoreError::WriterGone));
        durable.map_err(|e| {
            warn!(error = %e, retryable = e.is_retryable(), items, "Batch not stored; client told to retry");
            metrics.refused(signal, Refusal::StoreUnavailable, items);
            IngestError::Unavailable
        })?;
        metrics.accepted(signal, items);
    }
    Ok((decoded.rejected.count, message))
}

/// Entry points for the fuzz targets in `fuzz/` (`cargo fuzz` builds with `--cfg fuzzing`).
#[cfg(fuzzing)]
pub mod fuzzing {
    use axum::http::header::CONTENT_ENCODING;
    use axum::http::{HeaderMap, HeaderValue};
    use bytes::Bytes;

    /// Undoes `content_encoding` on `body` as ingest does, at most `max` bytes out; answers the
    /// length, or the error's message.
    pub fn decompress(body: &[u8], content_encoding: &str, max: usize) -> Result<usize, String> {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(content_encoding) {
            headers.insert(CONTENT_ENCODING, value);
        }
        match super::body::decompress(Bytes::copy_from_slice(body), &headers, max) {
            Ok(out) if out.len() > max => Err(format!("{} bytes out, over {max}", out.len())),
            Ok(out) => Ok(out.len()),
            Err(e) => Err(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests;
