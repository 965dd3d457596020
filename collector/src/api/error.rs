//! The query API's one error type: a stable JSON body `{"error": {"code", "message"}}` with a
//! machine-readable code and a message that says how to fix the request.

use axum::Json;
use axum::http::header::WWW_AUTHENTICATE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tracing::error;

use crate::access::ReadDenied;
use crate::store::StoreError;

/// An error answered by the query API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed; `code` names the problem.
    #[error("{message}")]
    BadRequest {
        /// Stable, machine-readable code.
        code: &'static str,
        /// What to fix.
        message: String,
    },
    /// The thing asked for does not exist.
    #[error("{message}")]
    NotFound {
        /// Stable, machine-readable code.
        code: &'static str,
        /// What was not found.
        message: String,
    },
    /// No read token, or one the access file does not grant.
    #[error("{0}")]
    Unauthorized(ReadDenied),
    /// The caller may not do this.
    #[error("{message}")]
    Forbidden {
        /// Stable, machine-readable code.
        code: &'static str,
        /// Why, and how to allow it.
        message: String,
    },
    /// The `Host` of the request is not a name of this listener.
    #[error("this collector does not answer for host {host}; add the name with --api-host")]
    MisdirectedHost {
        /// The `Host` asked for.
        host: String,
    },
    /// The store failed; details go to the log, not to the client.
    #[error("store error: {0}")]
    Store(#[from] StoreError),
}

impl ApiError {
    pub(super) fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut extra = None;
        let (status, code, message) = match self {
            Self::BadRequest { code, message } => (StatusCode::BAD_REQUEST, code, message),
            Self::Unauthorized(denied) => {
                extra = Some((WWW_AUTHENTICATE, "Bearer realm=\"tracewire\""));
                (StatusCode::UNAUTHORIZED, "unauthorized", denied.to_string())
            }
            Self::Forbidden { code, message } => (StatusCode::FORBIDDEN, code, message),
            e @ Self::MisdirectedHost { .. } => (
                StatusCode::MISDIRECTED_REQUEST,
                "unknown_host",
                e.to_string(),
            ),
            Self::NotFound { code, message } => (StatusCode::NOT_FOUND, code, message),
            Self::Store(e) => {
                error!(error = %e, "Query failed in the store");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    "the store could not answer; try again".to_owned(),
                )
            }
        };
        let mut response = (
            status,
            Json(json!({ "error": { "code": code, "message": message } })),
        )
            .into_response();
        if let Some((name, value)) = extra {
            response
                .headers_mut()
                .insert(name, HeaderValue::from_static(value));
        }
        response
    }
}
