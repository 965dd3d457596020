//! HTTPS clients for TLS tests: reqwest with rustls, trusting only a test CA
//! ([`tracewire_collector::testing::tls::TestCa`], re-exported here).

use std::path::Path;
use std::time::Duration;

pub use tracewire_collector::testing::tls::{ServerCert, TestCa};

/// A blocking HTTPS client (reqwest with rustls) that trusts only the CA certificate at `ca`.
pub fn https_client(ca: &Path) -> reqwest_rustls::blocking::Client {
    let pem = std::fs::read(ca).expect("read CA");
    let ca = reqwest_rustls::Certificate::from_pem(&pem).expect("CA parses");
    reqwest_rustls::blocking::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("https client")
}
