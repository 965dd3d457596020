//! Whose data a request reads: each read handler takes a [`ReadScope`], the store [`Scope`] of
//! the tenant its credential was granted to ([`crate::api::Guard`] resolves it), and reads only
//! through a reader of it.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use tracing::error;

use super::error::ApiError;
use crate::access::Reader;
use crate::store::{Scope, StoreError};

/// The scope of a request's reads.
pub(super) struct ReadScope(pub Scope);

impl ReadScope {
    /// The scope of `reader`'s tenant.
    pub(super) fn of(reader: &Reader) -> Scope {
        Scope::of_tenant(reader.tenant.stored())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ReadScope {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        // Every API route runs behind the guard; a request it did not see reads nothing.
        let reader = parts.extensions.get::<Reader>().ok_or_else(|| {
            error!(path = %parts.uri.path(), "API request without a resolved reader");
            ApiError::Store(StoreError::Task("the request was not authorized".into()))
        })?;
        Ok(Self(Self::of(reader)))
    }
}
