//! Ingest authentication, before the body is read: the key from `x-tracewire-key`,
//! `Authorization: Bearer` or `?key=` (page-exit requests and beacons cannot set headers)
//! resolves to the tenant that the access file grants it to, with its origins and rate. Refusals
//! are OTLP errors (401, 403, 429 with `Retry-After`), counted by reason and tenant.

use axum::extract::{Request, State};
use axum::http::header::ORIGIN;
use axum::middleware::Next;
use axum::response::Response;
use tracing::debug;

use super::{Ingest, IngestError, body, response};
use crate::access::http::{bearer, header, query_param};
use crate::access::{IngestDenied, Sender};
use crate::decode::Encoding;

/// The header the SDK and OpenTelemetry exporters (`OTEL_EXPORTER_OTLP_HEADERS`) send the key in.
pub const KEY_HEADER: &str = "x-tracewire-key";
/// The query parameter for requests that cannot carry headers.
const KEY_PARAM: &str = "key";

/// Resolves the request's key to a [`crate::access::Sender`] for the handler, or refuses it.
pub(super) async fn authenticate(
    State(ingest): State<Ingest>,
    mut request: Request,
    next: Next,
) -> Response {
    match sender(&ingest, &request) {
        Ok(sender) => {
            request.extensions_mut().insert(sender);
            next.run(request).await
        }
        Err(denied) => {
            let encoding = body::encoding(request.headers()).unwrap_or(Encoding::Json);
            response::error(encoding, &IngestError::Denied(denied))
        }
    }
}

/// The sender of `request`, from its key and origin; a refusal is logged and counted by reason
/// and tenant. OTLP/HTTP and OTLP/gRPC requests alike (gRPC metadata are HTTP/2 headers).
pub(super) fn sender(ingest: &Ingest, request: &Request) -> Result<Sender, IngestDenied> {
    let headers = request.headers();
    let key = header(headers, KEY_HEADER)
        .or_else(|| bearer(headers))
        .map(str::to_owned)
        .or_else(|| query_param(request.uri().query(), KEY_PARAM));
    let origin = header(headers, ORIGIN.as_str());
    ingest
        .access
        .sender(key.as_deref(), origin)
        .inspect_err(|denied| {
            debug!(reason = denied.reason(), "Ingest request refused");
            ingest
                .metrics
                .denied(denied.reason(), denied.tenant().map_or("", |t| t.id()));
        })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::Router;
    use axum::body::{Body, to_bytes};
    use axum::http::{Request, StatusCode, header};
    use prost::Message;
    use tower::ServiceExt;

    use super::*;
    use crate::access::Access;
    use crate::access::keys::digest;
    use crate::metrics::Metrics;
    use crate::receive::router;
    use crate::receive::tests::status_fields;
    use crate::testing::{otlp_request, temp_store};

    const BROWSER: &str = "twpk_browser_key_0001";
    const BACKEND: &str = "twsk_backend_secret_0001";
    const PAGE: &str = "https://app.acme.com";

    struct App {
        _dir: tempfile::TempDir,
        router: Router,
        metrics: Arc<Metrics>,
    }

    async fn app() -> App {
        let (dir, store, metrics) = temp_store(1_000).await;
        let path = dir.path().join("access.toml");
        std::fs::write(
            &path,
            format!(
                "[[tenants]]\nid = \"acme\"\n\
                 [[tenants.ingest_keys]]\nkey = \"{BROWSER}\"\norigins = [\"{PAGE}\"]\nrate = \"2/s\"\n\
                 [[tenants]]\nid = \"globex\"\n\
                 [[tenants.ingest_keys]]\nkey_sha256 = \"{}\"\n",
                hex::encode(digest(BACKEND))
            ),
        )
        .expect("write");
        let ingest = Ingest {
            queue: store.queue().clone(),
            metrics: Arc::clone(&metrics),
            max_body: 1 << 20,
            access: Arc::new(Access::from_file(&path).expect("valid")),
        };
        App {
            _dir: dir,
            router: router(ingest, &[]),
            metrics,
        }
    }

    fn export(spans: u8) -> Vec<u8> {
        let ids: Vec<(u8, u8)> = (1..=spans).map(|s| (9, s)).collect();
        otlp_request(&ids).encode_to_vec()
    }

    fn post(uri: &str, headers: &[(&str, &str)], spans: u8) -> Request<Body> {
        let mut request = Request::post(uri).header(header::CONTENT_TYPE, "application/x-protobuf");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(Body::from(export(spans))).expect("request")
    }

    async fn send(app: &App, request: Request<Body>) -> (StatusCode, header::HeaderMap, Vec<u8>) {
        let response = app.router.clone().oneshot(request).await.expect("response");
        let status = response.status();
        let headers = response.headers().clone();
        let body = to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (status, headers, body.to_vec())
    }

    #[tokio::test]
    async fn no_key_and_an_unknown_key_are_401_with_an_rpc_status() {
        let app = app().await;
        let (status, headers, body) = send(&app, post("/v1/traces", &[], 1)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(headers[header::CONTENT_TYPE], "application/x-protobuf");
        let (code, message) = status_fields(true, &body);
        assert_eq!(code, 16, "UNAUTHENTICATED");
        assert!(message.contains("x-tracewire-key"), "{message}");

        let request = Request::post("/v1/logs")
            .header(header::CONTENT_TYPE, "application/json")
            .header(KEY_HEADER, "twsk_not_granted_anywhere")
            .body(Body::from("{}"))
            .expect("request");
        let (status, _, body) = send(&app, request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(status_fields(false, &body).0, 16);
        let text = app.metrics.render(0, 1);
        for reason in ["missing_key", "unknown_key"] {
            let line = format!(
                r#"tracewire_ingest_denied_requests_total{{reason="{reason}",tenant=""}} 1"#
            );
            assert!(text.contains(&line), "{text}");
        }
    }

    #[tokio::test]
    async fn the_key_is_read_from_the_header_a_bearer_token_or_the_query() {
        let app = app().await;
        let bearer = format!("Bearer {BACKEND}");
        for request in [
            post("/v1/traces", &[(KEY_HEADER, BACKEND)], 1),
            post("/v1/traces", &[("authorization", &bearer)], 1),
            post(&format!("/v1/traces?key={BACKEND}"), &[], 1),
        ] {
            let (status, _, body) = send(&app, request).await;
            assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        }
    }

    #[tokio::test]
    async fn a_browser_key_from_a_foreign_origin_is_403_and_from_its_own_200() {
        let app = app().await;
        let (status, _, body) = send(
            &app,
            post(
                "/v1/traces",
                &[(KEY_HEADER, BROWSER), ("origin", "https://evil.example")],
                1,
            ),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(status_fields(true, &body).0, 7);
        let (status, headers, _) = send(
            &app,
            post(&format!("/v1/traces?key={BROWSER}"), &[("origin", PAGE)], 1),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], PAGE);
        assert!(app.metrics.render(0, 1).contains(
            r#"tracewire_ingest_denied_requests_total{reason="origin",tenant="acme"} 1"#
        ));
    }

    #[tokio::test]
    async fn over_the_rate_is_429_with_retry_after_and_counted() {
        let app = app().await;
        // 2/s holds a burst of 4 items.
        let (status, _, _) = send(&app, post("/v1/traces", &[(KEY_HEADER, BROWSER)], 3)).await;
        assert_eq!(status, StatusCode::OK);
        let (status, headers, body) =
            send(&app, post("/v1/traces", &[(KEY_HEADER, BROWSER)], 3)).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(headers[header::RETRY_AFTER], "1");
        assert_eq!(status_fields(true, &body).0, 8);
        let text = app.metrics.render(0, 1);
        assert!(
            text.contains(
                r#"tracewire_refused_items_total{signal="traces",reason="rate_limited"} 3"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"tracewire_ingest_denied_requests_total{reason="rate_limited",tenant="acme"} 1"#
            ),
            "{text}"
        );
    }

    #[tokio::test]
    async fn preflights_allow_the_origins_of_browser_keys_only() {
        let app = app().await;
        let preflight = |origin: &str| {
            Request::options("/v1/traces")
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "content-type,x-tracewire-key",
                )
                .body(Body::empty())
                .expect("request")
        };
        let (_, headers, _) = send(&app, preflight(PAGE)).await;
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], PAGE);
        let (_, headers, _) = send(&app, preflight("https://evil.example")).await;
        assert!(headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    }
}
