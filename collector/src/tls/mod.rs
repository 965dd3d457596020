//! TLS with rustls (ring): HTTPS on the ingest and API listeners with certificates that SIGHUP
//! reloads, and the client of `clickhouse:https://` with an optional private CA
//! (`--clickhouse-ca`).

mod client;
mod config;
mod listener;
mod server;

use std::path::PathBuf;

pub use client::{HttpClient, clickhouse_client, http_client};
pub use config::{
    ENV_API_TLS_CERT, ENV_API_TLS_KEY, ENV_OTLP_TLS_CERT, ENV_OTLP_TLS_KEY, ENV_TLS_CERT,
    ENV_TLS_KEY, Listener, TlsOptions,
};
pub use listener::{Incoming, Peer, Stream};
pub use server::ServerTls;

/// A certificate, key or CA file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file is missing, unreadable or holds no usable PEM.
    #[error("{path}: {message}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The key does not fit the certificate, or is of a kind rustls does not sign with.
    #[error("{key} is not the private key of {cert}: {message}")]
    Key {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        message: String,
    },
    /// rustls refused its configuration (a bug).
    #[error("TLS setup: {0}")]
    Setup(String),
}

#[cfg(test)]
mod tests;
