//! Where the page sends its traffic: read from the page's query string, e.g.
//! `index.html?backend=http://127.0.0.1:8090&otlp=http://127.0.0.1:4318`.

/// Backend base URL when the query string has no `backend`.
pub const DEFAULT_BACKEND: &str = "http://127.0.0.1:8090";
/// Collector OTLP/HTTP base URL when the query string has no `otlp`.
pub const DEFAULT_OTLP: &str = "http://127.0.0.1:4318";
/// `service.name` of the page's telemetry when the query string has no `service`.
pub const DEFAULT_SERVICE: &str = "demo-web";
/// SDK export interval in milliseconds when the query string has no `flush_ms`.
pub const DEFAULT_FLUSH_MS: u32 = 1_000;
/// SDK request-rate report interval in milliseconds when the query string has no `rate_ms`.
pub const DEFAULT_RATE_MS: u32 = 5_000;
/// Pause between two fallback polls in milliseconds when the query string has no `poll_ms`.
pub const DEFAULT_POLL_MS: u32 = 20;

/// The page's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoConfig {
    /// Base URL of the demo backend (`http://host:port`); the socket is `ws://host:port/ws`.
    pub backend: String,
    /// Base URL of the collector's OTLP/HTTP ingest.
    pub otlp: String,
    /// `service.name` of the page's spans and logs.
    pub service: String,
    /// How long the SDK lets spans wait before it exports them, in milliseconds.
    pub flush_ms: u32,
    /// Interval of the SDK's per-route fetch rate report, in milliseconds.
    pub rate_ms: u32,
    /// Pause between two polls of the fallback loop, in milliseconds (the bug: far too short).
    pub poll_ms: u32,
}

/// A query parameter that does not hold an accepted value.
#[derive(Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The parameter's name.
    pub field: &'static str,
    /// What it accepts.
    pub expected: &'static str,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "query parameter `{}` must be {}",
            self.field, self.expected
        )
    }
}

impl std::error::Error for ConfigError {}

impl DemoConfig {
    /// Reads the settings through `param` (a query-string lookup), with defaults for the
    /// missing ones.
    pub fn from_params(param: impl Fn(&str) -> Option<String>) -> Result<DemoConfig, ConfigError> {
        let url = |field: &'static str, default: &str| -> Result<String, ConfigError> {
            let value = param(field).unwrap_or_else(|| default.to_owned());
            let value = value.trim_end_matches('/').to_owned();
            if value.starts_with("http://") || value.starts_with("https://") {
                Ok(value)
            } else {
                Err(ConfigError {
                    field,
                    expected: "an http:// or https:// URL",
                })
            }
        };
        let millis = |field: &'static str, default: u32| -> Result<u32, ConfigError> {
            match param(field) {
                None => Ok(default),
                Some(v) => v.parse().ok().filter(|&ms| ms > 0).ok_or(ConfigError {
                    field,
                    expected: "a positive number of milliseconds",
                }),
            }
        };
        Ok(DemoConfig {
            backend: url("backend", DEFAULT_BACKEND)?,
            otlp: url("otlp", DEFAULT_OTLP)?,
            service: param("service")
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| DEFAULT_SERVICE.to_owned()),
            flush_ms: millis("flush_ms", DEFAULT_FLUSH_MS)?,
            rate_ms: millis("rate_ms", DEFAULT_RATE_MS)?,
            poll_ms: millis("poll_ms", DEFAULT_POLL_MS)?,
        })
    }

    /// The backend's WebSocket URL.
    pub fn socket_url(&self) -> String {
        let rest = self.backend.strip_prefix("http").unwrap_or(&self.backend);
        format!("ws{rest}/ws")
    }

    /// The URL the fallback loop polls.
    pub fn agents_url(&self) -> String {
        format!("{}/api/agents", self.backend)
    }

    /// The backend's origin, which the SDK must allow to receive `traceparent` on fetch.
    pub fn backend_origin(&self) -> String {
        let after_scheme = self.backend.find("://").map_or(0, |i| i + 3);
        match self.backend[after_scheme..].find('/') {
            Some(i) => self.backend[..after_scheme + i].to_owned(),
            None => self.backend.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(pairs: &[(&str, &str)]) -> Result<DemoConfig, ConfigError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        DemoConfig::from_params(|key| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()))
    }

    #[test]
    fn missing_parameters_take_the_documented_defaults() {
        let config = from(&[]).expect("defaults are valid");
        assert_eq!(config.backend, DEFAULT_BACKEND);
        assert_eq!(config.otlp, DEFAULT_OTLP);
        assert_eq!(config.service, DEFAULT_SERVICE);
        assert_eq!(config.poll_ms, DEFAULT_POLL_MS);
    }

    #[test]
    fn socket_and_poll_urls_follow_the_backend_url() {
        let config = from(&[("backend", "http://127.0.0.1:9000/")]).expect("valid");
        assert_eq!(config.socket_url(), "ws://127.0.0.1:9000/ws");
        assert_eq!(config.agents_url(), "http://127.0.0.1:9000/api/agents");
        assert_eq!(config.backend_origin(), "http://127.0.0.1:9000");
        let tls = from(&[("backend", "https://demo.example.com/app")]).expect("valid");
        assert_eq!(tls.socket_url(), "wss://demo.example.com/app/ws");
        assert_eq!(tls.backend_origin(), "https://demo.example.com");
    }

    #[test]
    fn bad_values_name_the_parameter() {
        assert_eq!(
            from(&[("otlp", "127.0.0.1:4318")]),
            Err(ConfigError {
                field: "otlp",
                expected: "an http:// or https:// URL"
            })
        );
        let err = from(&[("poll_ms", "0")]).expect_err("zero is refused");
        assert_eq!(err.field, "poll_ms");
        assert_eq!(from(&[("rate_ms", "250")]).map(|c| c.rate_ms), Ok(250));
    }
}
