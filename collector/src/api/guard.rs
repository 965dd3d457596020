//! Checks every request on the API listener passes before a handler runs:
//! - the `Host` must be the listener's address, `localhost`, or a name given with `--api-host`
//!   (421 otherwise), so that a web page cannot reach the API through DNS rebinding;
//! - a live-tail WebSocket (`/api/live`) from a browser must come from the UI's own origin or
//!   one given with `--api-allowed-origin` (403 otherwise), so that a page on another site,
//!   open in an operator's browser, cannot stream the spans;
//! - with an access file, every `/api/*` request needs a read token (401 otherwise); the
//!   [`Reader`] it resolves to goes to the handler as a request extension.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{HOST, ORIGIN, SEC_WEBSOCKET_PROTOCOL};
use axum::http::{HeaderMap, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;
use crate::access::http::{bearer, header, query_param};
use crate::access::{Access, AccessOptions, ApiHost, Reader};
use crate::config::CorsOrigin;

/// The WebSocket subprotocol the live tail answers with.
pub const LIVE_PROTOCOL: &str = "tracewire";
/// Browsers cannot set headers on a WebSocket: they offer the token as a second subprotocol,
/// `tracewire.token.<token>`, next to [`LIVE_PROTOCOL`].
pub const TOKEN_PROTOCOL_PREFIX: &str = "tracewire.token.";
/// The path of the live tail.
const LIVE_PATH: &str = "/api/live";

/// What the API listener checks, and against what.
#[derive(Debug)]
pub struct Guard {
    access: Arc<Access>,
    listener: SocketAddr,
    hosts: Vec<ApiHost>,
    origins: Vec<String>,
}

impl Default for Guard {
    /// No access file, on a loopback port.
    fn default() -> Self {
        Self {
            access: Arc::new(Access::open_to_all()),
            listener: SocketAddr::from(([127, 0, 0, 1], 0)),
            hosts: Vec::new(),
            origins: Vec::new(),
        }
    }
}

impl Guard {
    /// The checks of a listener bound to `listener`.
    pub fn new(access: Arc<Access>, listener: SocketAddr, options: &AccessOptions) -> Self {
        Self {
            access,
            listener,
            hosts: options.api_host.clone(),
            origins: options
                .api_allowed_origin
                .iter()
                .filter_map(|o| match o {
                    CorsOrigin::Exact(origin) => Some(origin.clone()),
                    CorsOrigin::Any => None,
                })
                .collect(),
        }
    }

    /// The access rules this guard enforces.
    pub fn access(&self) -> &Arc<Access> {
        &self.access
    }

    /// Whether `host` (a `Host` header, with or without port) names this listener.
    fn host_allowed(&self, host: &str) -> bool {
        let name = strip_port(host).trim_end_matches('.').to_ascii_lowercase();
        if let Ok(ip) = name.trim_matches(['[', ']']).parse::<IpAddr>() {
            return self.listener.ip().is_unspecified() || ip == self.listener.ip();
        }
        name == "localhost"
            || name.ends_with(".localhost")
            || self.hosts.iter().any(|h| h.as_str() == name)
    }

    /// Whether a page from `origin` may open the live tail when it asked for `host`.
    fn origin_allowed(&self, origin: &str, host: Option<&str>) -> bool {
        let own = origin
            .split_once("://")
            .is_some_and(|(_, authority)| host.is_some_and(|h| authority.eq_ignore_ascii_case(h)));
        own || self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }
}

/// The port-less host of a `Host` value (`[::1]:80` → `[::1]`, `a:80` → `a`).
fn strip_port(host: &str) -> &str {
    match host.rfind(':') {
        Some(i)
            if !host[i..].contains(']') && host[i + 1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            &host[..i]
        }
        _ => host,
    }
}

fn host_of<'a>(headers: &'a HeaderMap, uri: &'a Uri) -> Option<&'a str> {
    header(headers, HOST.as_str()).or_else(|| uri.authority().map(|a| a.as_str()))
}

/// The read token of a request: `Authorization: Bearer`, and for the live tail also the
/// `tracewire.token.` subprotocol or `?token=`.
fn token(request: &Request) -> Option<String> {
    let headers = request.headers();
    if let Some(token) = bearer(headers) {
        return Some(token.to_owned());
    }
    if request.uri().path() != LIVE_PATH {
        return None;
    }
    headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| {
            p.trim()
                .strip_prefix(TOKEN_PROTOCOL_PREFIX)
                .map(str::to_owned)
        })
        .or_else(|| query_param(request.uri().query(), "token"))
}

/// The middleware: Host, then Origin on the live tail, then the read token.
pub(super) async fn check(
    State(guard): State<Arc<Guard>>,
    mut request: Request,
    next: Next,
) -> Response {
    let host = host_of(request.headers(), request.uri()).map(str::to_owned);
    // Browsers always send Host; a request without one is not a rebinding page.
    if let Some(host) = &host
        && !guard.host_allowed(host)
    {
        return ApiError::MisdirectedHost { host: host.clone() }.into_response();
    }
    let path = request.uri().path();
    if !(path == "/api" || path.starts_with("/api/")) {
        return next.run(request).await;
    }
    if path == LIVE_PATH
        && let Some(origin) = header(request.headers(), ORIGIN.as_str())
        && !guard.origin_allowed(origin, host.as_deref())
    {
        return ApiError::Forbidden {
            code: "origin_not_allowed",
            message: format!(
                "pages from {origin} may not open the live tail; allow the origin with --api-allowed-origin"
            ),
        }
        .into_response();
    }
    let reader: Result<Reader, _> = guard.access.reader(token(&request).as_deref());
    match reader {
        Ok(reader) => {
            request.extensions_mut().insert(reader);
            next.run(request).await
        }
        Err(denied) => ApiError::Unauthorized(denied).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(listener: &str, hosts: &[&str], origins: &[&str]) -> Guard {
        let options = AccessOptions {
            api_host: hosts.iter().map(|h| h.parse().expect("host")).collect(),
            api_allowed_origin: origins.iter().map(|o| o.parse().expect("origin")).collect(),
            ..AccessOptions::default()
        };
        Guard::new(
            Arc::new(Access::open_to_all()),
            listener.parse().expect("addr"),
            &options,
        )
    }

    #[test]
    fn hosts_are_the_listener_address_localhost_or_named() {
        let g = guard("127.0.0.1:4380", &["tw.example.com"], &[]);
        for ok in [
            "127.0.0.1:4380",
            "127.0.0.1",
            "localhost:4380",
            "LOCALHOST",
            "app.localhost:8080",
            "tw.example.com",
            "TW.example.com.:443",
        ] {
            assert!(g.host_allowed(ok), "{ok}");
        }
        for refused in [
            "evil.example:4380",
            "10.0.0.5:4380",
            "[::1]:4380",
            "example.com",
        ] {
            assert!(!g.host_allowed(refused), "{refused}");
        }
        let any = guard("0.0.0.0:4380", &[], &[]);
        assert!(any.host_allowed("10.0.0.5:4380") && any.host_allowed("[fe80::1]:4380"));
        assert!(!any.host_allowed("rebind.evil.example:4380"));
    }

    #[test]
    fn live_tail_origins_are_the_uis_own_or_allowed() {
        let g = guard("127.0.0.1:4380", &[], &["https://ops.example.com"]);
        assert!(g.origin_allowed("http://127.0.0.1:4380", Some("127.0.0.1:4380")));
        assert!(g.origin_allowed("https://ops.example.com", Some("127.0.0.1:4380")));
        assert!(!g.origin_allowed("https://evil.example", Some("127.0.0.1:4380")));
        assert!(!g.origin_allowed("null", Some("127.0.0.1:4380")));
        assert!(!g.origin_allowed("http://127.0.0.1:4380", None));
    }
}
