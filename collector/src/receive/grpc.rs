//! OTLP/gRPC: the `TraceService`, `LogsService` and `MetricsService` of opentelemetry-proto's
//! tonic definitions, served as an axum router so the gRPC listener shares the HTTP
//! listener's serving, shutdown and request metrics. Requests may be gzip compressed; the
//! message limit is the HTTP body limit, measured after decompression. Answers follow the OTLP
//! specification: `OK` (with `partial_success` when items were rejected), `UNAVAILABLE` with a
//! `RetryInfo` when the collector is overloaded or its store cannot take the data (retryable),
//! `RESOURCE_EXHAUSTED` without one for a message over the limit (not retryable). With an
//! access file, a request's key comes in its metadata (`x-tracewire-key` or `authorization:
//! Bearer`), as over HTTP: `UNAUTHENTICATED` without a known key, `RESOURCE_EXHAUSTED` with a
//! `RetryInfo` over the key's rate. Requests share the HTTP listener's in-flight memory budget
//! and body timeout ([`admit`]).

mod admit;

use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::Response;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use tonic::codec::CompressionEncoding;
use tonic::{Code, Status};
use tracing::error;

use self::admit::Held;
use super::reading::Reading;
use super::{Ingest, IngestError, auth, store};
use crate::access::{IngestDenied, Sender};
use crate::decode::{self, Decoded};
use crate::signal::Signal;

/// How long a client should wait before retrying a refused export.
const RETRY_DELAY: Duration = Duration::from_secs(1);

/// The gRPC status header.
const GRPC_STATUS: &str = "grpc-status";

/// The OTLP/gRPC services on `ingest`, as one router, reading requests within `reading`'s
/// timeout and budget.
pub(super) fn router(ingest: Ingest, reading: Reading) -> Router {
    let limit = ingest.max_body;
    let otlp = Otlp(ingest.clone());
    tonic::service::Routes::new(
        TraceServiceServer::new(otlp.clone())
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(limit),
    )
    .add_service(
        LogsServiceServer::new(otlp.clone())
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(limit),
    )
    .add_service(
        MetricsServiceServer::new(otlp)
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(limit),
    )
    .into_axum_router()
    .layer(middleware::from_fn_with_state(reading, admit::admit))
    // Outside admission: a request without a valid key is refused before its body is read.
    .layer(middleware::from_fn_with_state(ingest, authenticate))
    .layer(middleware::from_fn(too_large_is_final))
}

/// Resolves the request's key to a [`Sender`] for the service, or answers the refusal's gRPC
/// status.
async fn authenticate(State(ingest): State<Ingest>, mut request: Request, next: Next) -> Response {
    match auth::sender(&ingest, &request) {
        Ok(sender) => {
            request.extensions_mut().insert(sender);
            next.run(request).await
        }
        Err(denied) => status(&IngestError::Denied(denied)).into_http::<axum::body::Body>(),
    }
}

/// tonic answers a message whose length is over the limit with `OUT_OF_RANGE`, which OTLP
/// clients retry; the same message would only be refused again, so it becomes
/// `RESOURCE_EXHAUSTED` without a `RetryInfo` (final), as a decompressed message over the limit
/// already is.
async fn too_large_is_final(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let out_of_range = HeaderValue::from(Code::OutOfRange as i32);
    if response.headers().get(GRPC_STATUS) == Some(&out_of_range) {
        response.headers_mut().insert(
            GRPC_STATUS,
            HeaderValue::from(Code::ResourceExhausted as i32),
        );
    }
    response
}

/// The three services, over one ingest path.
#[derive(Clone)]
struct Otlp(Ingest);

impl Otlp {
    /// Turns a decoded message into records off the async runtime, then stores them; answers
    /// the rejected count and message.
    async fn export<R: Send + 'static>(
        &self,
        signal: Signal,
        request: tonic::Request<R>,
        records: fn(R) -> Decoded,
    ) -> Result<(i64, String), Status> {
        let sender = request
            .extensions()
            .get::<Sender>()
            .cloned()
            .ok_or_else(|| status(&IngestError::Internal))?;
        let reservation = request
            .extensions()
            .get::<Held>()
            .map(Held::take)
            .unwrap_or_default();
        let message = request.into_inner();
        let decoded = tokio::task::spawn_blocking(move || records(message))
            .await
            .map_err(|e| {
                error!(error = %e, "Decoding task failed");
                status(&IngestError::Internal)
            })?;
        let (rejected, message) = store(&self.0, &sender, signal, decoded, reservation)
            .await
            .map_err(|e| status(&e))?;
        Ok((i64::try_from(rejected).unwrap_or(i64::MAX), message))
    }
}

#[tonic::async_trait]
impl TraceService for Otlp {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, Status> {
        let (rejected, message) =
            Otlp::export(self, Signal::Traces, request, decode::traces).await?;
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: (rejected > 0).then_some(ExportTracePartialSuccess {
                rejected_spans: rejected,
                error_message: message,
            }),
        }))
    }
}

#[tonic::async_trait]
impl LogsService for Otlp {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, Status> {
        let (rejected, message) = Otlp::export(self, Signal::Logs, request, decode::logs).await?;
        Ok(tonic::Response::new(ExportLogsServiceResponse {
            partial_success: (rejected > 0).then_some(ExportLogsPartialSuccess {
                rejected_log_records: rejected,
                error_message: message,
            }),
        }))
    }
}

#[tonic::async_trait]
impl MetricsService for Otlp {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, Status> {
        let (rejected, message) =
            Otlp::export(self, Signal::Metrics, request, decode::metrics).await?;
        Ok(tonic::Response::new(ExportMetricsServiceResponse {
            partial_success: (rejected > 0).then_some(ExportMetricsPartialSuccess {
                rejected_data_points: rejected,
                error_message: message,
            }),
        }))
    }
}

/// `google.rpc.Status` with details, as `grpc-status-details-bin` carries it.
#[derive(Clone, PartialEq, Message)]
struct StatusDetails {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<Any>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, Message)]
struct Any {
    #[prost(string, tag = "1")]
    type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

/// `google.rpc.RetryInfo`.
#[derive(Clone, PartialEq, Message)]
struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    retry_delay: Option<ProtoDuration>,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, Message)]
struct ProtoDuration {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

/// `UNAVAILABLE` or `RESOURCE_EXHAUSTED` with a `RetryInfo` of `delay`: retryable.
fn retryable(code: Code, message: String, delay: Duration) -> Status {
    let retry = RetryInfo {
        retry_delay: Some(ProtoDuration {
            seconds: i64::try_from(delay.as_secs()).unwrap_or(i64::MAX),
            nanos: i32::try_from(delay.subsec_nanos()).unwrap_or(0),
        }),
    };
    let details = StatusDetails {
        code: code as i32,
        message: message.clone(),
        details: vec![Any {
            type_url: "type.googleapis.com/google.rpc.RetryInfo".into(),
            value: retry.encode_to_vec(),
        }],
    };
    Status::with_details(code, message, details.encode_to_vec().into())
}

/// The gRPC status for an ingest error.
fn status(err: &IngestError) -> Status {
    let message = err.to_string();
    match err {
        IngestError::QueueFull
        | IngestError::Overloaded
        | IngestError::TooManyConnections
        | IngestError::Unavailable => retryable(Code::Unavailable, message, RETRY_DELAY),
        IngestError::Denied(IngestDenied::RateLimited { retry_after, .. }) => {
            retryable(Code::ResourceExhausted, message, *retry_after)
        }
        IngestError::Denied(IngestDenied::MissingKey | IngestDenied::UnknownKey) => {
            Status::unauthenticated(message)
        }
        IngestError::Denied(IngestDenied::Origin { .. }) => Status::permission_denied(message),
        IngestError::TooLarge { .. } | IngestError::OverBudget { .. } => {
            Status::resource_exhausted(message)
        }
        IngestError::BodyTimeout { .. } => Status::deadline_exceeded(message),
        IngestError::Internal => Status::internal(message),
        IngestError::UnsupportedMediaType(_)
        | IngestError::UnsupportedEncoding(_)
        | IngestError::Body(_)
        | IngestError::Decompress(_)
        | IngestError::Decode(_) => Status::invalid_argument(message),
    }
}

#[cfg(test)]
mod tests;
