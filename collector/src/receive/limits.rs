//! Limits of the OTLP ingest listener, the collector's face to the internet: how many
//! connections it keeps open, how long a client may take to send its headers and its body, how
//! many headers a request may have, and how much memory requests in flight may hold together.
//! Each limit has a flag, an environment variable and a key of the `[otlp_limits]` table of the
//! config file; each refusal is an answer the OTLP specification lets clients act on.

use std::time::Duration;

use serde::Deserialize;

use crate::config::{ByteSize, ConfigError, Interval};

/// Environment variable for [`OtlpLimits::max_connections`].
pub const ENV_OTLP_MAX_CONNECTIONS: &str = "TRACEWIRE_OTLP_MAX_CONNECTIONS";
/// Default for [`OtlpLimits::max_connections`].
pub const DEFAULT_OTLP_MAX_CONNECTIONS: usize = 1024;
/// Environment variable for [`OtlpLimits::header_timeout`].
pub const ENV_OTLP_HEADER_TIMEOUT: &str = "TRACEWIRE_OTLP_HEADER_TIMEOUT";
/// Default for [`OtlpLimits::header_timeout`].
pub const DEFAULT_OTLP_HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// Environment variable for [`OtlpLimits::body_timeout`].
pub const ENV_OTLP_BODY_TIMEOUT: &str = "TRACEWIRE_OTLP_BODY_TIMEOUT";
/// Default for [`OtlpLimits::body_timeout`].
pub const DEFAULT_OTLP_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Environment variable for [`OtlpLimits::max_headers`].
pub const ENV_OTLP_MAX_HEADERS: &str = "TRACEWIRE_OTLP_MAX_HEADERS";
/// Default for [`OtlpLimits::max_headers`] (hyper's own default).
pub const DEFAULT_OTLP_MAX_HEADERS: usize = 100;
/// Environment variable for [`OtlpLimits::max_inflight`].
pub const ENV_OTLP_MAX_INFLIGHT: &str = "TRACEWIRE_OTLP_MAX_INFLIGHT";
/// Default for [`OtlpLimits::max_inflight`].
pub const DEFAULT_OTLP_MAX_INFLIGHT: ByteSize = ByteSize(512 << 20);

/// The most connections accepted; more would run into the file descriptor limits of any host.
const MAX_MAX_CONNECTIONS: usize = 1 << 20;
/// The shortest accepted timeout.
const MIN_TIMEOUT: Duration = Duration::from_millis(100);

/// `--otlp-*` limit flags, each also read from its environment variable.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OtlpLimitsArgs {
    /// Most open ingest connections; beyond it new ones get 503 with `Retry-After` and are
    /// closed [default: 1024].
    #[arg(long, value_name = "N", env = ENV_OTLP_MAX_CONNECTIONS, global = true)]
    pub otlp_max_connections: Option<usize>,
    /// Longest a client may take to send a request's headers, and the longest an idle
    /// keep-alive connection stays open [default: 30s].
    #[arg(long, value_name = "DURATION", env = ENV_OTLP_HEADER_TIMEOUT, global = true)]
    pub otlp_header_timeout: Option<Interval>,
    /// Longest a client may take to send a request's body; slower ones get 408 [default: 30s].
    #[arg(long, value_name = "DURATION", env = ENV_OTLP_BODY_TIMEOUT, global = true)]
    pub otlp_body_timeout: Option<Interval>,
    /// Most headers in one request; more get 431 [default: 100].
    #[arg(long, value_name = "N", env = ENV_OTLP_MAX_HEADERS, global = true)]
    pub otlp_max_headers: Option<usize>,
    /// Most memory that ingest requests in flight hold together (bodies and what they decode
    /// into); beyond it ingest answers 503 with `Retry-After`, e.g. `512MiB` [default: 512MiB].
    #[arg(long, value_name = "SIZE", env = ENV_OTLP_MAX_INFLIGHT, global = true)]
    pub otlp_max_inflight: Option<ByteSize>,
}

/// Limits of the OTLP ingest listener (the `[otlp_limits]` table of the config file).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OtlpLimits {
    /// Most open ingest connections, idle keep-alive ones included. A connection beyond it is
    /// answered 503 with `Retry-After: 1` and closed, so OTLP clients retry later. The file
    /// descriptor limit is raised to its hard maximum at start; keep this below it.
    pub max_connections: usize,
    /// Longest a client may take to send a request's headers, counted from the connection's
    /// start or, on a keep-alive connection, from the end of the previous response; the
    /// connection is closed then. This also closes idle keep-alive connections.
    pub header_timeout: Interval,
    /// Longest a client may take to send a request's body once its headers are in. A slower
    /// body (a client trickling bytes) gets 408 and the connection is closed.
    pub body_timeout: Interval,
    /// Most header fields in one request; a request with more gets 431.
    pub max_headers: usize,
    /// Most memory the requests in flight may hold together: bodies as received, bodies after
    /// decompression, and an estimate of what they decode into (counted before decoding).
    /// A request that does not fit while others are in flight gets 503 with `Retry-After`;
    /// one that could never fit gets 413. At least twice `max_body`.
    pub max_inflight: ByteSize,
}

impl Default for OtlpLimits {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_OTLP_MAX_CONNECTIONS,
            header_timeout: Interval(DEFAULT_OTLP_HEADER_TIMEOUT),
            body_timeout: Interval(DEFAULT_OTLP_BODY_TIMEOUT),
            max_headers: DEFAULT_OTLP_MAX_HEADERS,
            max_inflight: DEFAULT_OTLP_MAX_INFLIGHT,
        }
    }
}

impl OtlpLimits {
    /// Sets the values the flags (or their environment variables) gave.
    pub fn merge(&mut self, args: OtlpLimitsArgs) {
        if let Some(v) = args.otlp_max_connections {
            self.max_connections = v;
        }
        if let Some(v) = args.otlp_header_timeout {
            self.header_timeout = v;
        }
        if let Some(v) = args.otlp_body_timeout {
            self.body_timeout = v;
        }
        if let Some(v) = args.otlp_max_headers {
            self.max_headers = v;
        }
        if let Some(v) = args.otlp_max_inflight {
            self.max_inflight = v;
        }
    }

    /// Checks the values that parse but are not usable; `max_body` is the body limit they must
    /// leave room for.
    pub fn validate(&self, max_body: u64) -> Result<(), ConfigError> {
        let invalid = |option, message: String| Err(ConfigError::Invalid { option, message });
        if !(1..=MAX_MAX_CONNECTIONS).contains(&self.max_connections) {
            return invalid(
                "otlp-max-connections",
                format!("must be 1 to {MAX_MAX_CONNECTIONS}"),
            );
        }
        for (option, timeout) in [
            ("otlp-header-timeout", self.header_timeout),
            ("otlp-body-timeout", self.body_timeout),
        ] {
            if timeout.0 < MIN_TIMEOUT {
                return invalid(option, "must be at least 100ms, e.g. 30s".into());
            }
        }
        if self.max_headers == 0 {
            return invalid("otlp-max-headers", "must be at least 1".into());
        }
        if self.max_inflight.0 < max_body.saturating_mul(2) {
            return invalid(
                "otlp-max-inflight",
                format!(
                    "{} is too small; at least twice --max-body ({})",
                    self.max_inflight,
                    ByteSize(max_body)
                ),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_defaults_and_bad_values_name_the_flag() {
        let mut limits = OtlpLimits::default();
        assert_eq!(limits.max_connections, 1024);
        assert!(limits.validate(16 << 20).is_ok());
        limits.merge(OtlpLimitsArgs {
            otlp_max_connections: Some(10),
            otlp_body_timeout: Some(Interval(Duration::from_secs(2))),
            ..Default::default()
        });
        assert_eq!(limits.max_connections, 10);
        assert_eq!(limits.body_timeout.0, Duration::from_secs(2));
        assert_eq!(limits.header_timeout.0, DEFAULT_OTLP_HEADER_TIMEOUT);

        let too_small = OtlpLimits {
            max_inflight: ByteSize(1 << 20),
            ..OtlpLimits::default()
        };
        let err = too_small
            .validate(16 << 20)
            .expect_err("below twice the body");
        assert!(err.to_string().starts_with("--otlp-max-inflight:"), "{err}");
        let zero = OtlpLimits {
            max_connections: 0,
            ..OtlpLimits::default()
        };
        let err = zero.validate(16 << 20).expect_err("zero connections");
        assert!(
            err.to_string().starts_with("--otlp-max-connections:"),
            "{err}"
        );
        let fast = OtlpLimits {
            body_timeout: Interval(Duration::from_millis(1)),
            ..OtlpLimits::default()
        };
        let err = fast.validate(16 << 20).expect_err("too short");
        assert!(err.to_string().starts_with("--otlp-body-timeout:"), "{err}");
    }
}
