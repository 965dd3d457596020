//! OTLP/HTTP answers in the request's encoding: export responses (with partial success when
//! items were rejected) and `google.rpc.Status` errors.

use axum::http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use prost::Message;

use super::IngestError;
use crate::access::IngestDenied;
use crate::decode::Encoding;
use crate::signal::Signal;

/// `google.rpc.Status`, the error body OTLP/HTTP prescribes (`details` is never filled here).
#[derive(Clone, PartialEq, Message, serde::Serialize)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// gRPC status codes used in error bodies.
const INVALID_ARGUMENT: i32 = 3;
const DEADLINE_EXCEEDED: i32 = 4;
const PERMISSION_DENIED: i32 = 7;
const RESOURCE_EXHAUSTED: i32 = 8;
const INTERNAL: i32 = 13;
const UNAVAILABLE: i32 = 14;
const UNAUTHENTICATED: i32 = 16;

/// Seconds a client should wait after a 503.
const RETRY_AFTER_SECONDS: u64 = 1;

fn encoded<T: Message + serde::Serialize>(
    status: StatusCode,
    encoding: Encoding,
    message: &T,
) -> Response {
    let (content_type, body) = match encoding {
        Encoding::Protobuf => ("application/x-protobuf", message.encode_to_vec()),
        Encoding::Json => (
            "application/json",
            serde_json::to_vec(message).unwrap_or_else(|_| b"{}".to_vec()),
        ),
    };
    (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

/// A 200 export response; `partial_success` is set when items were rejected.
pub(super) fn success(
    signal: Signal,
    encoding: Encoding,
    rejected: u64,
    message: String,
) -> Response {
    if rejected == 0 && encoding == Encoding::Json {
        // The empty export response; serde would spell it `{"partialSuccess":null}`.
        return (
            StatusCode::OK,
            [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            "{}",
        )
            .into_response();
    }
    let rejected = i64::try_from(rejected).unwrap_or(i64::MAX);
    match signal {
        Signal::Traces => encoded(
            StatusCode::OK,
            encoding,
            &ExportTraceServiceResponse {
                partial_success: (rejected > 0).then_some(ExportTracePartialSuccess {
                    rejected_spans: rejected,
                    error_message: message,
                }),
            },
        ),
        Signal::Logs => encoded(
            StatusCode::OK,
            encoding,
            &ExportLogsServiceResponse {
                partial_success: (rejected > 0).then_some(ExportLogsPartialSuccess {
                    rejected_log_records: rejected,
                    error_message: message,
                }),
            },
        ),
        Signal::Metrics => encoded(
            StatusCode::OK,
            encoding,
            &ExportMetricsServiceResponse {
                partial_success: (rejected > 0).then_some(ExportMetricsPartialSuccess {
                    rejected_data_points: rejected,
                    error_message: message,
                }),
            },
        ),
    }
}

/// The status and body for an error, with `Retry-After` on retryable ones.
pub(super) fn error(encoding: Encoding, err: &IngestError) -> Response {
    let (status, code) = match err {
        IngestError::UnsupportedMediaType(_) | IngestError::UnsupportedEncoding(_) => {
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, INVALID_ARGUMENT)
        }
        IngestError::TooLarge { .. } | IngestError::OverBudget { .. } => {
            (StatusCode::PAYLOAD_TOO_LARGE, RESOURCE_EXHAUSTED)
        }
        IngestError::BodyTimeout { .. } => (StatusCode::REQUEST_TIMEOUT, DEADLINE_EXCEEDED),
        IngestError::Body(_) | IngestError::Decompress(_) | IngestError::Decode(_) => {
            (StatusCode::BAD_REQUEST, INVALID_ARGUMENT)
        }
        IngestError::QueueFull
        | IngestError::Overloaded
        | IngestError::TooManyConnections
        | IngestError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE),
        IngestError::Denied(IngestDenied::MissingKey | IngestDenied::UnknownKey) => {
            (StatusCode::UNAUTHORIZED, UNAUTHENTICATED)
        }
        IngestError::Denied(IngestDenied::Origin { .. }) => {
            (StatusCode::FORBIDDEN, PERMISSION_DENIED)
        }
        IngestError::Denied(IngestDenied::RateLimited { .. }) => {
            (StatusCode::TOO_MANY_REQUESTS, RESOURCE_EXHAUSTED)
        }
        IngestError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, INTERNAL),
    };
    let mut response = encoded(
        status,
        encoding,
        &RpcStatus {
            code,
            message: err.to_string(),
        },
    );
    let headers = response.headers_mut();
    match err {
        // Every 503 (full queue, memory budget, connection limit, store down): OTLP clients
        // wait that long before they retry.
        _ if status == StatusCode::SERVICE_UNAVAILABLE => {
            headers.insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
        }
        IngestError::Denied(IngestDenied::RateLimited { retry_after, .. }) => {
            // Whole seconds, rounded up: a client that waits that long finds the tokens there.
            let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            headers.insert(RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        IngestError::Denied(IngestDenied::MissingKey | IngestDenied::UnknownKey) => {
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        _ => {}
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found merging the tenancy work into reliability: a 503 of the memory budget or the
    /// connection limit had lost its `Retry-After`.
    #[test]
    fn every_503_says_when_to_retry() {
        for err in [
            IngestError::QueueFull,
            IngestError::Overloaded,
            IngestError::TooManyConnections,
            IngestError::Unavailable,
        ] {
            let response = error(Encoding::Protobuf, &err);
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{err}");
            assert_eq!(response.headers()[RETRY_AFTER], "1", "{err}");
        }
    }
}
