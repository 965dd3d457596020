use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::*;
use crate::testing::tls::{ServerCert, TestCa};

async fn serve(tls: Arc<ServerTls>) -> String {
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = tcp.local_addr().expect("addr");
    let app = Router::new().route("/", get(|| async { "hello over tls" }));
    tokio::spawn(async move { axum::serve(Incoming::new(tcp, Some(tls)), app).await });
    format!("https://127.0.0.1:{}/", addr.port())
}

/// GETs `url` trusting only `ca`; the body, or the error.
async fn get_trusting(ca: &Path, url: &str) -> Result<String, String> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).expect("ca") {
        roots.add(cert.expect("pem")).expect("root");
    }
    let config = rustls::ClientConfig::builder_with_provider(server::provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_only()
        .enable_http1()
        .wrap_connector(http);
    let client: Client<_, Empty<bytes::Bytes>> =
        Client::builder(TokioExecutor::new()).build(connector);
    let response = client
        .get(url.parse().expect("uri"))
        .await
        .map_err(|e| format!("{e:?}"))?;
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&body.to_bytes()).into_owned())
}

#[tokio::test]
async fn a_listener_serves_https_and_presents_a_reloaded_certificate_to_new_connections() {
    let first = TestCa::new("first CA");
    let ServerCert { cert, key } = first.server("server");
    let tls = Arc::new(ServerTls::load(&cert, &key).expect("loads"));
    let url = serve(Arc::clone(&tls)).await;
    assert_eq!(
        get_trusting(first.ca(), &url).await.as_deref(),
        Ok("hello over tls")
    );

    // Replace the files with a certificate of another CA, then reload.
    let second = TestCa::new("second CA");
    let renewed = second.server("server");
    std::fs::copy(&renewed.cert, &cert).expect("copy");
    std::fs::copy(&renewed.key, &key).expect("copy");
    tls.reload().expect("reloads");
    assert_eq!(
        get_trusting(second.ca(), &url).await.as_deref(),
        Ok("hello over tls")
    );
    let refused = get_trusting(first.ca(), &url).await.expect_err("old CA");
    assert!(
        refused.contains("UnknownIssuer") || refused.contains("certificate"),
        "{refused}"
    );
}

#[tokio::test]
async fn a_broken_reload_keeps_the_certificate_in_use() {
    let ca = TestCa::new("CA");
    let ServerCert { cert, key } = ca.server("server");
    let tls = Arc::new(ServerTls::load(&cert, &key).expect("loads"));
    let url = serve(Arc::clone(&tls)).await;
    std::fs::write(&cert, "not a certificate").expect("write");
    let err = tls.reload().expect_err("broken");
    assert!(
        err.to_string().contains("holds no PEM certificate"),
        "{err}"
    );
    assert_eq!(
        get_trusting(ca.ca(), &url).await.as_deref(),
        Ok("hello over tls")
    );
}

#[test]
fn a_key_of_another_certificate_is_refused_naming_both_files() {
    let ca = TestCa::new("CA");
    let cert = ca.server("one").cert;
    let other_key = ca.server("two").key;
    let err = ServerTls::load(&cert, &other_key).expect_err("mismatch");
    let text = err.to_string();
    assert!(
        text.contains("two.key is not the private key of") && text.contains("one.pem"),
        "{text}"
    );
    let err = ServerTls::load(Path::new("/nonexistent.pem"), &other_key).expect_err("missing");
    assert!(err.to_string().starts_with("/nonexistent.pem:"), "{err}");
}
