use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::*;

/// A CA of its own, and files of a certificate for 127.0.0.1 that it signed.
struct TestCa {
    dir: tempfile::TempDir,
    ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    fn new(name: &str) -> Self {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let ca_pem = params.self_signed(&key).expect("CA").pem();
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
            ca_pem,
            issuer: Issuer::new(params, key),
        }
    }

    /// Writes `<name>.pem` and `<name>.key` for 127.0.0.1 and localhost.
    fn leaf(&self, name: &str) -> (PathBuf, PathBuf) {
        let key = KeyPair::generate().expect("key");
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .expect("params");
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.signed_by(&key, &self.issuer).expect("signed");
        let (cert_path, key_path) = (
            self.path(&format!("{name}.pem")),
            self.path(&format!("{name}.key")),
        );
        std::fs::write(&cert_path, cert.pem()).expect("write");
        std::fs::write(&key_path, key.serialize_pem()).expect("write");
        (cert_path, key_path)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn ca_file(&self) -> PathBuf {
        let path = self.path("ca.pem");
        std::fs::write(&path, &self.ca_pem).expect("write");
        path
    }
}

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
    let (cert, key) = first.leaf("server");
    let tls = Arc::new(ServerTls::load(&cert, &key).expect("loads"));
    let url = serve(Arc::clone(&tls)).await;
    assert_eq!(
        get_trusting(&first.ca_file(), &url).await.as_deref(),
        Ok("hello over tls")
    );

    // Replace the files with a certificate of another CA, then reload.
    let second = TestCa::new("second CA");
    let (new_cert, new_key) = second.leaf("server");
    std::fs::copy(&new_cert, &cert).expect("copy");
    std::fs::copy(&new_key, &key).expect("copy");
    tls.reload().expect("reloads");
    assert_eq!(
        get_trusting(&second.ca_file(), &url).await.as_deref(),
        Ok("hello over tls")
    );
    let refused = get_trusting(&first.ca_file(), &url)
        .await
        .expect_err("old CA");
    assert!(
        refused.contains("UnknownIssuer") || refused.contains("certificate"),
        "{refused}"
    );
}

#[tokio::test]
async fn a_broken_reload_keeps_the_certificate_in_use() {
    let ca = TestCa::new("CA");
    let (cert, key) = ca.leaf("server");
    let tls = Arc::new(ServerTls::load(&cert, &key).expect("loads"));
    let url = serve(Arc::clone(&tls)).await;
    std::fs::write(&cert, "not a certificate").expect("write");
    let err = tls.reload().expect_err("broken");
    assert!(
        err.to_string().contains("holds no PEM certificate"),
        "{err}"
    );
    assert_eq!(
        get_trusting(&ca.ca_file(), &url).await.as_deref(),
        Ok("hello over tls")
    );
}

#[test]
fn a_key_of_another_certificate_is_refused_naming_both_files() {
    let ca = TestCa::new("CA");
    let (cert, _) = ca.leaf("one");
    let (_, other_key) = ca.leaf("two");
    let err = ServerTls::load(&cert, &other_key).expect_err("mismatch");
    let text = err.to_string();
    assert!(
        text.contains("two.key is not the private key of") && text.contains("one.pem"),
        "{text}"
    );
    let err = ServerTls::load(Path::new("/nonexistent.pem"), &other_key).expect_err("missing");
    assert!(err.to_string().starts_with("/nonexistent.pem:"), "{err}");
}
