//! The web UI (`www/`), built by `build.rs` and embedded in the binary, served on the api
//! listener as the router's fallback: hashed assets with a year-long cache, gzip when the client
//! takes it, and `index.html` for every other path outside `/api/`, so the UI's own routes
//! (`/trace/<id>`, `/ws`, …) load from a link or a reload.

use axum::http::header::{ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, VARY};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// One embedded file of the UI build.
pub(crate) struct Asset {
    /// The URL path, e.g. `/assets/index-3f2a.js`.
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
    /// The same bytes gzip-compressed, when that is smaller.
    pub gzip: Option<&'static [u8]>,
    /// Content-hashed by the bundler, so it never changes under its name.
    pub immutable: bool,
}

include!(concat!(env!("OUT_DIR"), "/ui_assets.rs"));

fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|part| {
            let mut fields = part.split(';').map(str::trim);
            let coding = fields.next().unwrap_or("");
            let refused = fields.any(|f| {
                matches!(
                    f.replace(' ', "").as_str(),
                    "q=0" | "q=0.0" | "q=0.00" | "q=0.000"
                )
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
}

fn respond(asset: &'static Asset, headers: &HeaderMap, head: bool) -> Response {
    let cache = if asset.immutable {
        "public, max-age=31536000, immutable"
    } else {
        // index.html names the current hashed assets: always revalidate it.
        "no-cache"
    };
    let (body, gzipped) = match asset.gzip {
        Some(gz) if accepts_gzip(headers) => (gz, true),
        _ => (asset.body, false),
    };
    let mut response = if head {
        StatusCode::OK.into_response()
    } else {
        body.into_response()
    };
    let h = response.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    h.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    if asset.gzip.is_some() {
        h.insert(VARY, HeaderValue::from_static("accept-encoding"));
    }
    if gzipped {
        h.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

/// Answers every request the API routes do not: UI files, or `index.html` for the UI's routes.
pub async fn serve(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    if path == "/api" || path.starts_with("/api/") {
        return ApiError::NotFound {
            code: "unknown_endpoint",
            message: format!("no API endpoint at {path}; see docs/query-api.md"),
        }
        .into_response();
    }
    let head = method == Method::HEAD;
    if method != Method::GET && !head {
        return (StatusCode::METHOD_NOT_ALLOWED, [("allow", "GET, HEAD")]).into_response();
    }
    if let Some(asset) = find(path) {
        return respond(asset, &headers, head);
    }
    // A missing bundle file must not turn into HTML that the browser then runs as a script.
    if path.starts_with("/assets/") || path.contains('.') {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    }
    match find("/index.html") {
        Some(index) => respond(index, &headers, head),
        None => (StatusCode::NOT_FOUND, "not found\n").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::{Body, to_bytes};
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;

    fn app() -> Router {
        Router::new()
            .route("/healthz", axum::routing::get(|| async { "ok\n" }))
            .fallback(serve)
    }

    async fn get(app: &Router, uri: &str, gzip: bool) -> (StatusCode, HeaderMap, Vec<u8>) {
        let mut req = Request::get(uri);
        if gzip {
            req = req.header(ACCEPT_ENCODING, "gzip, deflate, br");
        }
        let res = app
            .clone()
            .oneshot(req.body(Body::empty()).expect("request"))
            .await
            .expect("response");
        let status = res.status();
        let headers = res.headers().clone();
        let body = to_bytes(res.into_body(), usize::MAX).await.expect("body");
        (status, headers, body.to_vec())
    }

    fn script() -> &'static Asset {
        ASSETS
            .iter()
            .find(|a| a.path.starts_with("/assets/") && a.path.ends_with(".js"))
            .expect("the build has a hashed script")
    }

    #[tokio::test]
    async fn root_serves_the_ui_page_without_caching_it() {
        let (status, headers, body) = get(&app(), "/", false).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(headers[CACHE_CONTROL], "no-cache");
        let html = String::from_utf8(body).expect("utf-8");
        assert!(html.contains("<div id=\"app\">"), "{html}");
        assert!(html.contains(script().path), "index.html loads the bundle");
    }

    #[tokio::test]
    async fn client_routes_get_the_ui_page() {
        for path in [
            "/trace/5b8efff798038103d269b633813fc60c",
            "/ws",
            "/sessions/abc",
            "/live?service=x",
        ] {
            let (status, headers, _) = get(&app(), path, false).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert_eq!(headers[CONTENT_TYPE], "text/html; charset=utf-8", "{path}");
        }
    }

    #[tokio::test]
    async fn hashed_assets_are_cached_for_a_year_with_their_type() {
        let js = script();
        let (status, headers, body) = get(&app(), js.path, false).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[CONTENT_TYPE], "text/javascript; charset=utf-8");
        assert_eq!(
            headers[CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        assert!(headers.get(CONTENT_ENCODING).is_none());
        assert_eq!(body, js.body);
    }

    #[tokio::test]
    async fn gzip_is_served_to_clients_that_accept_it() {
        let js = script();
        let gz = js.gzip.expect("the script has a gzip copy");
        let (status, headers, body) = get(&app(), js.path, true).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[CONTENT_ENCODING], "gzip");
        assert_eq!(headers[VARY], "accept-encoding");
        assert_eq!(body, gz);
        let mut plain = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(body.as_slice()),
            &mut plain,
        )
        .expect("valid gzip");
        assert_eq!(plain, js.body);
    }

    #[test]
    fn gzip_refused_with_q_zero() {
        let mut h = HeaderMap::new();
        h.insert(
            ACCEPT_ENCODING,
            HeaderValue::from_static("gzip;q=0, identity"),
        );
        assert!(!accepts_gzip(&h));
        h.insert(ACCEPT_ENCODING, HeaderValue::from_static("br, GZIP;q=0.5"));
        assert!(accepts_gzip(&h));
        h.insert(ACCEPT_ENCODING, HeaderValue::from_static("br"));
        assert!(!accepts_gzip(&h));
    }

    #[tokio::test]
    async fn unknown_api_paths_stay_json_errors_and_missing_files_stay_404() {
        let (status, headers, body) = get(&app(), "/api/nope", false).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(
            headers[CONTENT_TYPE]
                .to_str()
                .unwrap_or("")
                .starts_with("application/json")
        );
        let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(json["error"]["code"], "unknown_endpoint");
        for path in ["/assets/gone-1234.js", "/favicon.ico"] {
            let (status, _, _) = get(&app(), path, false).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        }
        let (status, _, body) = get(&app(), "/healthz", false).await;
        assert_eq!(
            (status, body.as_slice()),
            (StatusCode::OK, b"ok\n".as_slice())
        );
    }

    #[tokio::test]
    async fn the_ui_is_served_on_a_real_socket() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move { axum::serve(listener, app()).await });
        let answer = tokio::task::spawn_blocking(move || {
            use std::io::{Read, Write};
            let mut stream = std::net::TcpStream::connect(addr).expect("connect");
            let request =
                format!("GET /trace/abc HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
            stream.write_all(request.as_bytes()).expect("write");
            let mut answer = Vec::new();
            stream.read_to_end(&mut answer).expect("read");
            String::from_utf8_lossy(&answer).into_owned()
        })
        .await
        .expect("client thread");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.contains("<div id=\"app\">"), "{answer}");
        server.abort();
    }
}
