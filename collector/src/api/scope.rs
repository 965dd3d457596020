//! Whose data a request reads: each read handler takes a [`ReadScope`], the store
//! [`Scope`] that its request may see, and reads only through a reader of it.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::error::ApiError;
use crate::store::Scope;

/// The scope of a request's reads. Until the API knows who is asking, every request reads the
/// default tenant, which holds every stored row.
pub(super) struct ReadScope(pub Scope);

impl<S: Send + Sync> FromRequestParts<S> for ReadScope {
    type Rejection = ApiError;

    async fn from_request_parts(_parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Ok(Self(Scope::default()))
    }
}
