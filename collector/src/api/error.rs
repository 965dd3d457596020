//! The query API's one error type: a stable JSON body `{"error": {"code", "message"}}` with a
//! machine-readable code and a message that says how to fix the request.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tracing::error;

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
        let (status, code, message) = match self {
            Self::BadRequest { code, message } => (StatusCode::BAD_REQUEST, code, message),
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
        (
            status,
            Json(json!({ "error": { "code": code, "message": message } })),
        )
            .into_response()
    }
}
