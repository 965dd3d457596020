//! Limits of the OTLP ingest listener, the collector's face to the internet: how many
//! connections it keeps open, how long a client may take to send its headers and its body, how
//! many headers a request may have, and how much memory requests in flight may hold together.
//! Flags `--otlp-<name>`, the `[otlp_limits]` table of the config file; each refusal is an answer
//! the OTLP specification lets clients act on.

use std::time::Duration;

use serde::Deserialize;

use crate::options::{ByteSize, Interval, InvalidOption};

/// Environment variable for [`OtlpLimits::max_connections`].
pub const ENV_MAX_CONNECTIONS: &str = "TRACEWIRE_OTLP_MAX_CONNECTIONS";
/// Default for [`OtlpLimits::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Environment variable for [`OtlpLimits::header_timeout`].
pub const ENV_HEADER_TIMEOUT: &str = "TRACEWIRE_OTLP_HEADER_TIMEOUT";
/// Default for [`OtlpLimits::header_timeout`].
pub const DEFAULT_HEADER_TIMEOUT: &str = "30s";
/// Environment variable for [`OtlpLimits::body_timeout`].
pub const ENV_BODY_TIMEOUT: &str = "TRACEWIRE_OTLP_BODY_TIMEOUT";
/// Default for [`OtlpLimits::body_timeout`].
pub const DEFAULT_BODY_TIMEOUT: &str = "30s";
/// Environment variable for [`OtlpLimits::max_headers`].
pub const ENV_MAX_HEADERS: &str = "TRACEWIRE_OTLP_MAX_HEADERS";
/// Default for [`OtlpLimits::max_headers`] (hyper's own default).
pub const DEFAULT_MAX_HEADERS: usize = 100;
/// Environment variable for [`OtlpLimits::max_inflight`].
pub const ENV_MAX_INFLIGHT: &str = "TRACEWIRE_OTLP_MAX_INFLIGHT";
/// Default for [`OtlpLimits::max_inflight`].
pub const DEFAULT_MAX_INFLIGHT: &str = "512MiB";

/// The most connections accepted; more would run into the file descriptor limits of any host.
const MAX_MAX_CONNECTIONS: usize = 1 << 20;
/// The shortest accepted timeout.
const MIN_TIMEOUT: Duration = Duration::from_millis(100);

/// Limits of the OTLP ingest listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpLimits {
    /// Most open ingest connections, idle keep-alive ones included. A connection beyond it is
    /// answered 503 with `Retry-After: 1` and closed, so OTLP clients retry later. The file
    /// descriptor limit is raised to its hard maximum at start; keep this below it.
    pub max_connections: usize,
    /// Longest a client may take to send a request's headers, counted from the connection's
    /// start or, on a keep-alive connection, from the end of the previous response; the
    /// connection is closed then. This also closes idle keep-alive connections.
    pub header_timeout: Duration,
    /// Longest a client may take to send a request's body once its headers are in. A slower
    /// body (a client trickling bytes) gets 408 and the connection is closed.
    pub body_timeout: Duration,
    /// Most header fields in one request; a request with more gets 431.
    pub max_headers: usize,
    /// Most memory the requests in flight may hold together, bytes: bodies as received, bodies
    /// after decompression, and an estimate of what they decode into (made before decoding). A
    /// request that does not fit while others are in flight gets 503 with `Retry-After`; one
    /// that could never fit gets 413. At least twice the body limit.
    pub max_inflight: u64,
}

fn parse<T: std::str::FromStr>(default: &str) -> T {
    default
        .parse()
        .unwrap_or_else(|_| unreachable!("the default parses"))
}

impl Default for OtlpLimits {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_timeout: parse::<Interval>(DEFAULT_HEADER_TIMEOUT).0,
            body_timeout: parse::<Interval>(DEFAULT_BODY_TIMEOUT).0,
            max_headers: DEFAULT_MAX_HEADERS,
            max_inflight: parse::<ByteSize>(DEFAULT_MAX_INFLIGHT).0,
        }
    }
}

impl OtlpLimits {
    /// Checks the values that parse but are not usable; `max_body` is the body limit they must
    /// leave room for.
    pub fn validate(&self, max_body: u64) -> Result<(), InvalidOption> {
        if !(1..=MAX_MAX_CONNECTIONS).contains(&self.max_connections) {
            return Err(InvalidOption::new(
                "otlp-max-connections",
                format!("must be 1 to {MAX_MAX_CONNECTIONS}"),
            ));
        }
        for (option, timeout) in [
            ("otlp-header-timeout", self.header_timeout),
            ("otlp-body-timeout", self.body_timeout),
        ] {
            if timeout < MIN_TIMEOUT {
                return Err(InvalidOption::new(
                    option,
                    "must be at least 100ms, e.g. 30s",
                ));
            }
        }
        if self.max_headers == 0 {
            return Err(InvalidOption::new("otlp-max-headers", "must be at least 1"));
        }
        if self.max_inflight < max_body.saturating_mul(2) {
            return Err(InvalidOption::new(
                "otlp-max-inflight",
                format!(
                    "{} is too small; at least twice --max-body ({})",
                    ByteSize(self.max_inflight),
                    ByteSize(max_body)
                ),
            ));
        }
        Ok(())
    }
}

/// [`OtlpLimits`] as one layer gives them (flags and environment, or the config file's
/// `[otlp_limits]` table): each one given replaces what the layers below gave.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpLimitsArgs {
    /// [`OtlpLimits::max_connections`].
    #[arg(
        id = "otlp_max_connections",
        long = "otlp-max-connections",
        value_name = "N",
        env = ENV_MAX_CONNECTIONS,
        global = true,
        help = format!(
            "Most open ingest connections; beyond it new ones get 503 with `Retry-After` and are \
             closed [default: {DEFAULT_MAX_CONNECTIONS}]"
        )
    )]
    pub max_connections: Option<usize>,
    /// [`OtlpLimits::header_timeout`].
    #[arg(
        id = "otlp_header_timeout",
        long = "otlp-header-timeout",
        value_name = "DURATION",
        env = ENV_HEADER_TIMEOUT,
        global = true,
        help = format!(
            "Longest a client may take to send a request's headers, and the longest an idle \
             keep-alive connection stays open [default: {DEFAULT_HEADER_TIMEOUT}]"
        )
    )]
    pub header_timeout: Option<Interval>,
    /// [`OtlpLimits::body_timeout`].
    #[arg(
        id = "otlp_body_timeout",
        long = "otlp-body-timeout",
        value_name = "DURATION",
        env = ENV_BODY_TIMEOUT,
        global = true,
        help = format!(
            "Longest a client may take to send a request's body; slower ones get 408 \
             [default: {DEFAULT_BODY_TIMEOUT}]"
        )
    )]
    pub body_timeout: Option<Interval>,
    /// [`OtlpLimits::max_headers`].
    #[arg(
        id = "otlp_max_headers",
        long = "otlp-max-headers",
        value_name = "N",
        env = ENV_MAX_HEADERS,
        global = true,
        help = format!("Most headers in one request; more get 431 [default: {DEFAULT_MAX_HEADERS}]")
    )]
    pub max_headers: Option<usize>,
    /// [`OtlpLimits::max_inflight`].
    #[arg(
        id = "otlp_max_inflight",
        long = "otlp-max-inflight",
        value_name = "SIZE",
        env = ENV_MAX_INFLIGHT,
        global = true,
        help = format!(
            "Most memory that ingest requests in flight hold together (bodies and what they \
             decode into); beyond it ingest answers 503 with `Retry-After` \
             [default: {DEFAULT_MAX_INFLIGHT}]"
        )
    )]
    pub max_inflight: Option<ByteSize>,
}

impl OtlpLimitsArgs {
    /// Replaces the limits this layer gives.
    pub fn apply(self, limits: &mut OtlpLimits) {
        if let Some(v) = self.max_connections {
            limits.max_connections = v;
        }
        if let Some(v) = self.header_timeout {
            limits.header_timeout = v.0;
        }
        if let Some(v) = self.body_timeout {
            limits.body_timeout = v.0;
        }
        if let Some(v) = self.max_headers {
            limits.max_headers = v;
        }
        if let Some(v) = self.max_inflight {
            limits.max_inflight = v.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Cli, Config};
    use clap::Parser;

    #[test]
    fn flags_file_and_defaults_layer_and_bad_values_name_the_flag() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[otlp_limits]\nmax_connections = 10\nbody_timeout = \"2s\"\n",
        )
        .expect("write");
        let cli = Cli::try_parse_from([
            "tracewire-collector",
            "--config",
            path.to_str().expect("utf-8"),
            "--otlp-max-connections",
            "20",
        ])
        .expect("flags parse");
        let limits = Config::load(cli).expect("valid").otlp_limits;
        assert_eq!(limits.max_connections, 20, "the flag wins over the file");
        assert_eq!(limits.body_timeout, Duration::from_secs(2), "from the file");
        assert_eq!(
            limits.header_timeout,
            Duration::from_secs(30),
            "the default"
        );

        for (args, option) in [
            (["--otlp-max-connections", "0"], "--otlp-max-connections:"),
            (["--otlp-body-timeout", "1ms"], "--otlp-body-timeout:"),
            (["--otlp-max-inflight", "1MiB"], "--otlp-max-inflight:"),
        ] {
            let cli = Cli::try_parse_from(["tracewire-collector", args[0], args[1]])
                .expect("flags parse");
            let err = Config::load(cli).expect_err("invalid");
            assert!(err.to_string().starts_with(option), "{err}");
        }
    }
}
