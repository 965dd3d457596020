//! Access options: the access file, and which browser origins and host names the query API
//! answers (checked with or without an access file).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

use crate::config::CorsOrigin;
use crate::options::InvalidOption;

/// Environment variable for [`AccessOptions::file`].
pub const ENV_ACCESS: &str = "TRACEWIRE_ACCESS";
/// Environment variable for [`AccessOptions::api_allowed_origin`] (comma-separated).
pub const ENV_API_ALLOWED_ORIGIN: &str = "TRACEWIRE_API_ALLOWED_ORIGIN";
/// Environment variable for [`AccessOptions::api_host`] (comma-separated).
pub const ENV_API_HOST: &str = "TRACEWIRE_API_HOST";

/// Who may send and read. Every field is unset by default: no access file (everything is the
/// default tenant's), and the query API answers only its own origin and address.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, clap::Args)]
#[serde(default, deny_unknown_fields)]
pub struct AccessOptions {
    /// Access file (TOML) of tenants with their ingest keys and read tokens; SIGHUP reloads it.
    /// Without one, anyone who reaches the ingest listener writes into the default tenant and
    /// anyone who reaches the API listener reads it.
    #[arg(long = "access", value_name = "FILE", env = ENV_ACCESS, global = true)]
    #[serde(rename = "access")]
    pub file: Option<PathBuf>,
    /// Origin besides the UI's own whose pages may open the live tail (`/api/live`), e.g.
    /// `https://ops.example.com` (repeatable).
    #[arg(long, value_name = "ORIGIN", env = ENV_API_ALLOWED_ORIGIN, value_delimiter = ',', global = true)]
    #[serde(deserialize_with = "de_list")]
    pub api_allowed_origin: Vec<CorsOrigin>,
    /// Host name the query API answers besides its address and `localhost`, e.g. the name a
    /// reverse proxy forwards (repeatable); any other `Host` gets 421.
    #[arg(long, value_name = "NAME", env = ENV_API_HOST, value_delimiter = ',', global = true)]
    #[serde(deserialize_with = "de_list")]
    pub api_host: Vec<ApiHost>,
}

impl AccessOptions {
    /// Puts the options given on the command line (or in the environment) over these.
    pub fn overlay(&mut self, cli: Self) {
        if cli.file.is_some() {
            self.file = cli.file;
        }
        if !cli.api_allowed_origin.is_empty() {
            self.api_allowed_origin = cli.api_allowed_origin;
        }
        if !cli.api_host.is_empty() {
            self.api_host = cli.api_host;
        }
    }

    /// Checks what parsing alone cannot.
    pub fn validate(&self) -> Result<(), InvalidOption> {
        if self.api_allowed_origin.contains(&CorsOrigin::Any) {
            return Err(InvalidOption::new(
                "api-allowed-origin",
                "`*` would let any web site read through an operator's browser; list the origins",
            ));
        }
        Ok(())
    }
}

fn de_list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    Vec::<String>::deserialize(deserializer)?
        .iter()
        .map(|s| s.parse().map_err(serde::de::Error::custom))
        .collect()
}

/// A host name the query API answers, matched without the port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiHost(String);

impl ApiHost {
    /// The name, lowercase.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ApiHost {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let name = text.trim().trim_end_matches('.').to_ascii_lowercase();
        let valid = !name.is_empty()
            && name.len() <= 253
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
            });
        if !valid {
            return Err(format!(
                "'{text}' is not a host name; give a name without scheme or port, e.g. tracewire.example.com"
            ));
        }
        Ok(Self(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_are_lowercase_names_without_port() {
        assert_eq!(
            "Tracewire.Example.com".parse::<ApiHost>().map(|h| h.0),
            Ok("tracewire.example.com".to_owned())
        );
        for bad in ["", "a:80", "https://a.b", "a b", "a..b"] {
            assert!(bad.parse::<ApiHost>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_star_origin_for_the_api_is_refused() {
        let options = AccessOptions {
            api_allowed_origin: vec![CorsOrigin::Any],
            ..AccessOptions::default()
        };
        let err = options.validate().expect_err("refused");
        assert!(
            err.to_string().starts_with("--api-allowed-origin:"),
            "{err}"
        );
    }
}
