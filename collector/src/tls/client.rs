//! The HTTP clients of the collector: the one the ClickHouse store talks through and the one
//! alert notifications go out by; HTTP and HTTPS (rustls, ring), trusting the public CAs, or
//! only the CAs of `--clickhouse-ca` when one is given.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::{ClientConfig, RootCertStore};

use super::TlsError;
use super::server::{provider, read_certificates};

/// TCP keepalive of connections to ClickHouse, as the `clickhouse` crate's own client.
const TCP_KEEPALIVE: Duration = Duration::from_secs(60);
/// Idle connections are closed before ClickHouse's own keep-alive timeout (3 s by default).
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(2);

/// A `clickhouse` client for `url`, over TLS when the URL is `https://`.
pub fn clickhouse_client(ca: Option<&Path>) -> Result<clickhouse::Client, TlsError> {
    let mut roots = RootCertStore::empty();
    match ca {
        Some(path) => {
            for cert in read_certificates(path)? {
                roots.add(cert).map_err(|e| TlsError::Pem {
                    path: path.to_owned(),
                    message: format!("is not a usable CA certificate: {e}"),
                })?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let client = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .build(connector(roots)?);
    Ok(clickhouse::Client::with_http_client(client))
}

/// An HTTP client for bodies in one piece, e.g. alert notifications to webhooks.
pub type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A client for `http://` and `https://` URLs trusting the public CAs.
pub fn http_client() -> Result<HttpClient, TlsError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    Ok(Client::builder(TokioExecutor::new())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .build(connector(roots)?))
}

/// HTTP and HTTPS connections trusting `roots`, HTTP/1.1, with TCP keepalive.
fn connector(roots: RootCertStore) -> Result<HttpsConnector<HttpConnector>, TlsError> {
    let tls = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.set_keepalive(Some(TCP_KEEPALIVE));
    http.enforce_http(false);
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http))
}
