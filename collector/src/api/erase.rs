//! `DELETE /api/users/{user_id}` and `DELETE /api/sessions/{session_id}`: delete a user's or a
//! session's data in the caller's tenant ([`crate::store::Subject`]) and answer what went. With
//! an access file the token must have the `admin` role; without one, only a peer on loopback may
//! delete (anyone who reaches the API may read, but not erase).

use axum::Json;
use axum::extract::{ConnectInfo, Extension, Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tracing::info;

use super::scope::ReadScope;
use super::{Api, ApiError};
use crate::access::{Reader, Role};
use crate::store::Subject;
use crate::tls::Peer;

/// `DELETE /api/users/{user_id}`.
pub(super) async fn user(
    State(api): State<Api>,
    Extension(reader): Extension<Reader>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    Path(user_id): Path<String>,
) -> Result<Response, ApiError> {
    erase(&api, &reader, peer, Subject::User(user_id)).await
}

/// `DELETE /api/sessions/{session_id}`.
pub(super) async fn session(
    State(api): State<Api>,
    Extension(reader): Extension<Reader>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    Path(session_id): Path<String>,
) -> Result<Response, ApiError> {
    erase(&api, &reader, peer, Subject::Session(session_id)).await
}

/// Refuses `what` unless the token has the `admin` role (with an access file) or the peer is on
/// loopback (without one).
pub(super) fn admin_only(
    api: &Api,
    reader: &Reader,
    peer: std::net::SocketAddr,
    what: &str,
) -> Result<(), ApiError> {
    if api.guard.access().enforced() {
        if reader.role != Role::Admin {
            return Err(ApiError::Forbidden {
                code: "admin_required",
                message: format!("{what} needs a read token with role = \"admin\""),
            });
        }
    } else if !peer.ip().is_loopback() {
        return Err(ApiError::Forbidden {
            code: "loopback_only",
            message: format!(
                "without an access file, {what} is allowed only from the collector's own host"
            ),
        });
    }
    Ok(())
}

async fn erase(
    api: &Api,
    reader: &Reader,
    Peer(peer): Peer,
    subject: Subject,
) -> Result<Response, ApiError> {
    admin_only(api, reader, peer, "deleting data")?;
    let deleted = api.store.delete(&ReadScope::of(reader), &subject).await?;
    // The id itself is personal data: it stays out of the log.
    info!(
        tenant = %reader.tenant,
        subject = subject.attribute(),
        spans = deleted.spans,
        logs = deleted.logs,
        round_trips = deleted.round_trips,
        session_offsets = deleted.session_offsets,
        "Deleted a subject's data"
    );
    let key = match subject {
        Subject::User(_) => "user_id",
        Subject::Session(_) => "session_id",
    };
    Ok(Json(json!({
        "tenant": reader.tenant.id(),
        key: subject.id(),
        "deleted": {
            "spans": deleted.spans,
            "logs": deleted.logs,
            "round_trips": deleted.round_trips,
            "session_offsets": deleted.session_offsets,
        },
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Arc;

    use axum::Router;
    use axum::body::{Body, to_bytes};
    use axum::extract::connect_info::MockConnectInfo;
    use axum::http::{Request, StatusCode};
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;
    use crate::access::Access;
    use crate::access::keys::digest;
    use crate::api::{Guard, router};
    use crate::testing::{span, store_spans, temp_store};

    const READ: &str = "twrt_erase_read_token_01";
    const ADMIN: &str = "twat_erase_admin_token_1";

    /// A store with one span of user u-1, behind a guard with `access` (or none), seen from
    /// `peer`.
    async fn app(access: Option<&str>, peer: &str) -> (tempfile::TempDir, Router) {
        let (dir, store, metrics) = temp_store(100).await;
        let mut s = span(1, 1, None, "web", "click", 1_000, 10);
        s.span_attributes.insert("user.id".into(), "u-1".into());
        store_spans(&store, vec![s]).await;
        let access = match access {
            Some(text) => {
                let path = dir.path().join("access.toml");
                std::fs::write(&path, text).expect("write");
                Access::from_file(&path).expect("valid")
            }
            None => Access::open_to_all(),
        };
        let listener: SocketAddr = "0.0.0.0:4380".parse().expect("addr");
        let guard = Guard::new(Arc::new(access), listener, &Default::default());
        let app = router(Api {
            alerts: crate::testing::alerts(&store),
            store,
            metrics,
            ready: Default::default(),
            reads: Default::default(),
            guard: Arc::new(guard),
        })
        .layer(MockConnectInfo(Peer(peer.parse().expect("peer"))));
        (dir, app)
    }

    async fn delete(app: &Router, uri: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut request = Request::delete(uri);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = app
            .clone()
            .oneshot(request.body(Body::empty()).expect("request"))
            .await
            .expect("response");
        let status = response.status();
        let body = to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    fn tokens() -> String {
        format!(
            "[[tenants]]\nid = \"default\"\n\
             [[tenants.read_tokens]]\ntoken_sha256 = \"{}\"\n\
             [[tenants.read_tokens]]\ntoken_sha256 = \"{}\"\nrole = \"admin\"\n",
            hex::encode(digest(READ)),
            hex::encode(digest(ADMIN))
        )
    }

    #[tokio::test]
    async fn with_an_access_file_deleting_needs_an_admin_token() {
        let (_dir, app) = app(Some(&tokens()), "203.0.113.9:5000").await;
        let (status, _) = delete(&app, "/api/users/u-1", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, body) = delete(&app, "/api/users/u-1", Some(READ)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["error"]["code"], "admin_required");
        let (status, body) = delete(&app, "/api/users/u-1", Some(ADMIN)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["tenant"], "default");
        assert_eq!(body["user_id"], "u-1");
        assert_eq!(body["deleted"]["spans"], 1);
        let (status, body) = delete(&app, "/api/sessions/s-9", Some(ADMIN)).await;
        assert_eq!(
            (status, &body["deleted"]["spans"]),
            (StatusCode::OK, &Value::from(0))
        );
    }

    #[tokio::test]
    async fn without_an_access_file_only_a_loopback_peer_deletes() {
        let (_dir, remote) = app(None, "203.0.113.9:5000").await;
        let (status, body) = delete(&remote, "/api/users/u-1", None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["error"]["code"], "loopback_only");
        let (_dir, local) = app(None, "127.0.0.1:5000").await;
        let (status, body) = delete(&local, "/api/users/u-1", None).await;
        assert_eq!(
            (status, &body["deleted"]["spans"]),
            (StatusCode::OK, &Value::from(1))
        );
    }
}
