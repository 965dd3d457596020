//! TLS options: certificates for the two listeners (ClickHouse's CA is a ClickHouse option,
//! `--clickhouse-ca`).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::options::InvalidOption;

/// Environment variable for [`TlsOptions::tls_cert`].
pub const ENV_TLS_CERT: &str = "TRACEWIRE_TLS_CERT";
/// Environment variable for [`TlsOptions::tls_key`].
pub const ENV_TLS_KEY: &str = "TRACEWIRE_TLS_KEY";
/// Environment variable for [`TlsOptions::otlp_tls_cert`].
pub const ENV_OTLP_TLS_CERT: &str = "TRACEWIRE_OTLP_TLS_CERT";
/// Environment variable for [`TlsOptions::otlp_tls_key`].
pub const ENV_OTLP_TLS_KEY: &str = "TRACEWIRE_OTLP_TLS_KEY";
/// Environment variable for [`TlsOptions::api_tls_cert`].
pub const ENV_API_TLS_CERT: &str = "TRACEWIRE_API_TLS_CERT";
/// Environment variable for [`TlsOptions::api_tls_key`].
pub const ENV_API_TLS_KEY: &str = "TRACEWIRE_API_TLS_KEY";

/// Which listener a certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// OTLP ingest.
    Otlp,
    /// The query API and the UI.
    Api,
}

/// TLS for the listeners (HTTPS with rustls; SIGHUP reloads the files). Every field is unset by
/// default: plain HTTP.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, clap::Args)]
#[serde(default, deny_unknown_fields)]
pub struct TlsOptions {
    /// Certificate chain (PEM) that both listeners serve HTTPS with, unless a listener has its own.
    #[arg(long, value_name = "FILE", env = ENV_TLS_CERT, global = true)]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM: PKCS#8, PKCS#1 or SEC1) of `tls_cert`.
    #[arg(long, value_name = "FILE", env = ENV_TLS_KEY, global = true)]
    pub tls_key: Option<PathBuf>,
    /// Certificate chain (PEM) of the OTLP ingest listener, instead of `tls_cert`.
    #[arg(long, value_name = "FILE", env = ENV_OTLP_TLS_CERT, global = true)]
    pub otlp_tls_cert: Option<PathBuf>,
    /// Private key (PEM) of `otlp_tls_cert`.
    #[arg(long, value_name = "FILE", env = ENV_OTLP_TLS_KEY, global = true)]
    pub otlp_tls_key: Option<PathBuf>,
    /// Certificate chain (PEM) of the query API listener, instead of `tls_cert`.
    #[arg(long, value_name = "FILE", env = ENV_API_TLS_CERT, global = true)]
    pub api_tls_cert: Option<PathBuf>,
    /// Private key (PEM) of `api_tls_cert`.
    #[arg(long, value_name = "FILE", env = ENV_API_TLS_KEY, global = true)]
    pub api_tls_key: Option<PathBuf>,
}

impl TlsOptions {
    /// Puts the options given on the command line (or in the environment) over these.
    pub fn overlay(&mut self, cli: Self) {
        let Self {
            tls_cert,
            tls_key,
            otlp_tls_cert,
            otlp_tls_key,
            api_tls_cert,
            api_tls_key,
        } = cli;
        for (mine, given) in [
            (&mut self.tls_cert, tls_cert),
            (&mut self.tls_key, tls_key),
            (&mut self.otlp_tls_cert, otlp_tls_cert),
            (&mut self.otlp_tls_key, otlp_tls_key),
            (&mut self.api_tls_cert, api_tls_cert),
            (&mut self.api_tls_key, api_tls_key),
        ] {
            if given.is_some() {
                *mine = given;
            }
        }
    }

    /// Each certificate needs its key and the other way round.
    pub fn validate(&self) -> Result<(), InvalidOption> {
        for (cert, key, cert_option, key_option) in [
            (&self.tls_cert, &self.tls_key, "tls-cert", "tls-key"),
            (
                &self.otlp_tls_cert,
                &self.otlp_tls_key,
                "otlp-tls-cert",
                "otlp-tls-key",
            ),
            (
                &self.api_tls_cert,
                &self.api_tls_key,
                "api-tls-cert",
                "api-tls-key",
            ),
        ] {
            match (cert, key) {
                (Some(_), None) => {
                    return Err(InvalidOption::new(
                        key_option,
                        format!("missing: --{cert_option} needs its private key"),
                    ));
                }
                (None, Some(_)) => {
                    return Err(InvalidOption::new(
                        cert_option,
                        format!("missing: --{key_option} needs its certificate"),
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The option that names the certificate `listener` serves, for messages.
    pub fn cert_option(&self, listener: Listener) -> &'static str {
        match listener {
            Listener::Otlp if self.otlp_tls_cert.is_some() => "otlp-tls-cert",
            Listener::Api if self.api_tls_cert.is_some() => "api-tls-cert",
            _ => "tls-cert",
        }
    }

    /// The certificate and key `listener` serves, when it serves HTTPS.
    pub fn pair(&self, listener: Listener) -> Option<(&Path, &Path)> {
        let own = match listener {
            Listener::Otlp => (&self.otlp_tls_cert, &self.otlp_tls_key),
            Listener::Api => (&self.api_tls_cert, &self.api_tls_key),
        };
        match own {
            (Some(cert), Some(key)) => Some((cert, key)),
            _ => Some((self.tls_cert.as_deref()?, self.tls_key.as_deref()?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listener_uses_its_own_pair_or_the_shared_one() {
        let options = TlsOptions {
            tls_cert: Some("both.pem".into()),
            tls_key: Some("both.key".into()),
            api_tls_cert: Some("api.pem".into()),
            api_tls_key: Some("api.key".into()),
            ..TlsOptions::default()
        };
        assert_eq!(
            options.pair(Listener::Otlp),
            Some((Path::new("both.pem"), Path::new("both.key")))
        );
        assert_eq!(
            options.pair(Listener::Api),
            Some((Path::new("api.pem"), Path::new("api.key")))
        );
        assert_eq!(TlsOptions::default().pair(Listener::Api), None);
    }

    #[test]
    fn a_certificate_without_its_key_names_the_missing_option() {
        let options = TlsOptions {
            otlp_tls_cert: Some("ingest.pem".into()),
            ..TlsOptions::default()
        };
        let err = options.validate().expect_err("no key");
        assert!(
            err.to_string().starts_with("--otlp-tls-key: missing"),
            "{err}"
        );
    }
}
