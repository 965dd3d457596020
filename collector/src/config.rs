//! Configuration: command-line flags, environment variables, an optional TOML file and defaults,
//! merged in that order of precedence and validated before anything touches the network or disk.
//! Each integration owns its options, their defaults and environment variables (the store's in
//! [`crate::store`]: [`StoreArgs`], [`ClickHouseArgs`], [`SpoolArgs`]); this module puts them
//! together: one command line with their flags, one file with their keys (`[clickhouse]`,
//! `[spool]` and `[otlp_limits]` tables; the flat keys of earlier versions, such as
//! `clickhouse_cluster`, are aliases of those tables' keys). The ingest listener's limits are
//! [`crate::receive::limits`]'. Access ([`AccessOptions`]), TLS ([`TlsOptions`]) and alert
//! ([`AlertOptions`]) keys are flat, as their flags are.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use clap::Parser;
use serde::Deserialize;

use crate::access::AccessOptions;
use crate::access::keys::NewSecretArgs;
use crate::alerts::AlertOptions;
use crate::options::{ByteSize, Interval, InvalidOption, Retention, deserialize_via_from_str};
use crate::receive::limits::{OtlpLimits, OtlpLimitsArgs};
use crate::store::clickhouse::{ClickHouseArgs, SpoolArgs};
use crate::store::{StoreArgs, StoreConfig, StoreUrl};
use crate::tls::TlsOptions;

/// Environment variable for [`Config::otlp_listen`].
pub const ENV_OTLP_LISTEN: &str = "TRACEWIRE_OTLP_LISTEN";
/// Default for [`Config::otlp_listen`]: every interface, the OTLP/HTTP port.
pub const DEFAULT_OTLP_LISTEN: &str = "0.0.0.0:4318";
/// Environment variable for [`Config::otlp_grpc_listen`].
pub const ENV_OTLP_GRPC_LISTEN: &str = "TRACEWIRE_OTLP_GRPC_LISTEN";
/// Default for [`Config::otlp_grpc_listen`]: every interface, the OTLP/gRPC port.
pub const DEFAULT_OTLP_GRPC_LISTEN: &str = "0.0.0.0:4317";
/// Environment variable for [`Config::api_listen`].
pub const ENV_API_LISTEN: &str = "TRACEWIRE_API_LISTEN";
/// Default for [`Config::api_listen`]: loopback only, so queries stay private unless opened up.
pub const DEFAULT_API_LISTEN: &str = "127.0.0.1:4380";
/// Environment variable for [`Config::max_body`].
pub const ENV_MAX_BODY: &str = "TRACEWIRE_MAX_BODY";
/// Default for [`Config::max_body`].
pub const DEFAULT_MAX_BODY: &str = "16MiB";
/// Environment variable for [`Config::cors_origin`] (comma-separated).
pub const ENV_CORS_ORIGIN: &str = "TRACEWIRE_CORS_ORIGIN";
/// Environment variable for the config file path.
pub const ENV_CONFIG: &str = "TRACEWIRE_CONFIG";

/// The smallest accepted [`Config::max_body`].
const MIN_MAX_BODY: u64 = 1024;
/// The largest accepted [`Config::max_body`].
const MAX_MAX_BODY: u64 = 1 << 30;

/// A configuration that cannot be used; the message names the option and what it accepts.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("--config: cannot read {path}: {source}")]
    Read {
        /// The file that was asked for.
        path: PathBuf,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// The config file is not valid TOML or has unknown keys or bad values.
    #[error("--config: {path}: {message}")]
    File {
        /// The file that was read.
        path: PathBuf,
        /// What is wrong, with the key and line.
        message: String,
    },
    /// A value is out of the accepted range.
    #[error("--{option}: {message}")]
    Invalid {
        /// The option, as its flag is spelled.
        option: &'static str,
        /// What is wrong and what is accepted.
        message: String,
    },
}

impl From<InvalidOption> for ConfigError {
    fn from(e: InvalidOption) -> Self {
        Self::Invalid {
            option: e.option,
            message: e.message,
        }
    }
}

/// Command-line flags. Each also reads an environment variable; neither overrides a value that
/// the other gave (the flag wins over the variable), and both win over the config file.
#[derive(Debug, Parser)]
#[command(
    name = "tracewire-collector",
    version,
    about = "Tracewire collector: OTLP/HTTP ingest, storage and the trace query API"
)]
pub struct Cli {
    /// What to do instead of running the collector.
    #[command(subcommand)]
    pub command: Option<CliCommand>,
    /// TOML config file; keys are the long flag names with `_` for `-`, and the
    /// `[clickhouse]`, `[spool]` and `[otlp_limits]` tables.
    #[arg(long, value_name = "FILE", env = ENV_CONFIG, global = true)]
    pub config: Option<PathBuf>,
    /// [`Config::otlp_listen`].
    #[arg(
        long,
        value_name = "HOST:PORT",
        env = ENV_OTLP_LISTEN,
        value_parser = parse_listen,
        global = true,
        help = format!(
            "Address for OTLP/HTTP ingest from backends and browsers [default: {DEFAULT_OTLP_LISTEN}]"
        )
    )]
    pub otlp_listen: Option<SocketAddr>,
    /// [`Config::otlp_grpc_listen`].
    #[arg(
        long,
        value_name = "HOST:PORT",
        env = ENV_OTLP_GRPC_LISTEN,
        value_parser = parse_listen,
        global = true,
        help = format!(
            "Address for OTLP/gRPC ingest (trace, logs and metrics services) [default: {DEFAULT_OTLP_GRPC_LISTEN}]"
        )
    )]
    pub otlp_grpc_listen: Option<SocketAddr>,
    /// [`Config::api_listen`].
    #[arg(
        long,
        value_name = "HOST:PORT",
        env = ENV_API_LISTEN,
        value_parser = parse_listen,
        global = true,
        help = format!("Address for the query API [default: {DEFAULT_API_LISTEN}]")
    )]
    pub api_listen: Option<SocketAddr>,
    /// The store's options: `--store`, `--retention`, `--write-queue-items`.
    #[command(flatten)]
    pub store: StoreArgs,
    /// [`Config::max_body`].
    #[arg(
        long,
        value_name = "SIZE",
        env = ENV_MAX_BODY,
        global = true,
        help = format!(
            "Largest accepted request body after decompression, e.g. `16MiB` [default: {DEFAULT_MAX_BODY}]"
        )
    )]
    pub max_body: Option<ByteSize>,
    /// Origin allowed to send from a browser (repeatable), e.g. `https://app.example.com`; `*` allows any.
    #[arg(long, value_name = "ORIGIN", env = ENV_CORS_ORIGIN, value_delimiter = ',', global = true)]
    pub cors_origin: Vec<CorsOrigin>,
    /// The ClickHouse store's options: `--clickhouse-*`.
    #[command(flatten)]
    pub clickhouse: ClickHouseArgs,
    /// The ClickHouse store's spool: `--spool-*`.
    #[command(flatten)]
    pub spool: SpoolArgs,
    /// The ingest listener's limits: `--otlp-max-connections` and the other `--otlp-*` limits.
    #[command(flatten)]
    pub otlp_limits: OtlpLimitsArgs,
    /// Tenants, keys and tokens; the origins and host names the query API answers.
    #[command(flatten)]
    pub access: AccessOptions,
    /// HTTPS on the listeners.
    #[command(flatten)]
    pub tls: TlsOptions,
    /// Alert rules and their evaluation.
    #[command(flatten)]
    pub alerts: AlertOptions,
}

/// Commands other than running the collector.
#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum CliCommand {
    /// Print the ClickHouse DDL for `--store clickhouse:...` (and `--clickhouse-cluster`,
    /// `--retention`) and exit, so operators can review and apply it themselves.
    Schema,
    /// Delete one user's or one browser session's data (spans, logs, round trips, session
    /// offsets) from the configured store, as `DELETE /api/users/{id}` does.
    Delete(DeleteArgs),
    /// Make keys and tokens for the access file.
    Keys {
        /// What to do.
        #[command(subcommand)]
        command: KeysCommand,
    },
}

/// `tracewire-collector delete --user ID | --session ID [--tenant T]`.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct DeleteArgs {
    /// The `user.id` whose data goes.
    #[arg(
        long,
        value_name = "ID",
        conflicts_with = "session",
        required_unless_present = "session"
    )]
    pub user: Option<String>,
    /// The `session.id` whose data goes.
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// The tenant (its id in the access file) [default: default].
    #[arg(long, value_name = "ID", default_value = crate::access::DEFAULT_TENANT_ID)]
    pub tenant: String,
}

/// `tracewire-collector keys ...`.
#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum KeysCommand {
    /// Print a new random key or token and the access-file lines that grant it.
    New(NewSecretArgs),
}

/// The collector's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Address for OTLP/HTTP ingest (`POST /v1/traces`, `/v1/logs`, `/v1/metrics`). Port 0 picks
    /// a free port; the bound address is logged.
    pub otlp_listen: SocketAddr,
    /// Address for OTLP/gRPC ingest (the trace, logs and metrics services), with the same body
    /// limit as OTLP/HTTP. Port 0 picks a free port; the bound address is logged.
    pub otlp_grpc_listen: SocketAddr,
    /// Address for the query API, health and metrics. Kept apart from ingest so that ingest can
    /// face the internet while queries stay private.
    pub api_listen: SocketAddr,
    /// The largest request body accepted, measured after decompression; larger ones get 413.
    pub max_body: ByteSize,
    /// Origins allowed to send telemetry from a browser. Empty (the default) allows none; `*`
    /// allows every origin and must be given explicitly.
    pub cors_origin: Vec<CorsOrigin>,
    /// The store and its engine's options.
    pub store: StoreConfig,
    /// Limits of the OTLP ingest listener: connections, header and body timeouts, header
    /// count, memory held by requests in flight.
    pub otlp_limits: OtlpLimits,
    /// Tenants, keys and tokens (`access`), and the origins (`api_allowed_origin`) and host
    /// names (`api_host`) the query API answers.
    pub access: AccessOptions,
    /// HTTPS on the listeners (`tls_cert`, `tls_key`, and per listener `otlp_tls_cert`,
    /// `otlp_tls_key`, `api_tls_cert`, `api_tls_key`).
    pub tls: TlsOptions,
    /// Alert rules (`rules`), how often they are evaluated (`alert_interval`) and the UI's
    /// address for links in notifications (`alert_ui_url`).
    pub alerts: AlertOptions,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            otlp_listen: parse_listen(DEFAULT_OTLP_LISTEN).unwrap_or_else(|_| unreachable!()),
            otlp_grpc_listen: parse_listen(DEFAULT_OTLP_GRPC_LISTEN)
                .unwrap_or_else(|_| unreachable!()),
            api_listen: parse_listen(DEFAULT_API_LISTEN).unwrap_or_else(|_| unreachable!()),
            max_body: DEFAULT_MAX_BODY.parse().unwrap_or_else(|_| unreachable!()),
            cors_origin: Vec::new(),
            store: StoreConfig::default(),
            otlp_limits: OtlpLimits::default(),
            access: AccessOptions::default(),
            tls: TlsOptions::default(),
            alerts: AlertOptions::default(),
        }
    }
}

impl Config {
    /// Merges flags and environment (already combined by clap) over the config file over the
    /// defaults, then validates the result.
    pub fn load(cli: Cli) -> Result<Self, ConfigError> {
        let mut config = match &cli.config {
            Some(path) => Self::from_file(path)?,
            None => Self::default(),
        };
        if let Some(v) = cli.otlp_listen {
            config.otlp_listen = v;
        }
        if let Some(v) = cli.otlp_grpc_listen {
            config.otlp_grpc_listen = v;
        }
        if let Some(v) = cli.api_listen {
            config.api_listen = v;
        }
        if let Some(v) = cli.max_body {
            config.max_body = v;
        }
        if !cli.cors_origin.is_empty() {
            config.cors_origin = cli.cors_origin;
        }
        cli.store.apply(&mut config.store)?;
        cli.clickhouse.apply(&mut config.store.clickhouse);
        cli.spool.apply(&mut config.store.spool);
        cli.otlp_limits.apply(&mut config.otlp_limits);
        config.access.overlay(cli.access);
        config.tls.overlay(cli.tls);
        config.alerts.overlay(cli.alerts);
        config.validate()
    }

    /// Reads a TOML config file; keys not set keep their defaults.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let file: FileConfig = toml::from_str(&text).map_err(|e| {
            let message = e.message().trim().replace('\n', " ");
            // Keys of flattened option groups are checked at the table, so the span is the
            // table's: find an unknown key's own line instead.
            let line = unknown_key_line(&text, &message).or_else(|| {
                e.span()
                    .map(|span| text[..span.start].matches('\n').count() + 1)
            });
            ConfigError::File {
                path: path.to_owned(),
                message: match line {
                    Some(line) => {
                        let source = text.lines().nth(line - 1).unwrap_or("").trim();
                        format!("line {line} `{source}`: {message}")
                    }
                    None => message,
                },
            }
        })?;
        file.into_config().map_err(|message| ConfigError::File {
            path: path.to_owned(),
            message,
        })
    }

    /// Checks the values that parse but are not usable.
    pub fn validate(self) -> Result<Self, ConfigError> {
        let body = self.max_body.0;
        if !(MIN_MAX_BODY..=MAX_MAX_BODY).contains(&body) {
            return Err(ConfigError::Invalid {
                option: "max-body",
                message: format!("{} is out of range; accepted: 1KiB to 1GiB", self.max_body),
            });
        }
        if self.cors_origin.len() > 1 && self.cors_origin.contains(&CorsOrigin::Any) {
            return Err(ConfigError::Invalid {
                option: "cors-origin",
                message: "`*` allows every origin and cannot be combined with a list".into(),
            });
        }
        self.store.validate()?;
        self.otlp_limits.validate(body)?;
        self.access.validate()?;
        self.tls.validate()?;
        self.alerts.validate()?;
        Ok(self)
    }
}

/// The config file as written: every key optional, the store engines' options in their own
/// tables, and the flat keys of earlier versions as aliases.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct FileConfig {
    otlp_listen: Option<Listen>,
    otlp_grpc_listen: Option<Listen>,
    api_listen: Option<Listen>,
    store: Option<StoreUrl>,
    retention: Option<Retention>,
    max_body: Option<ByteSize>,
    cors_origin: Option<Vec<CorsOrigin>>,
    write_queue_items: Option<usize>,
    clickhouse: ClickHouseArgs,
    spool: SpoolArgs,
    otlp_limits: OtlpLimitsArgs,
    /// Alias of `[clickhouse] create_schema`.
    clickhouse_create_schema: Option<bool>,
    /// Alias of `[clickhouse] cluster`.
    clickhouse_cluster: Option<String>,
    /// Alias of `[clickhouse] batch_rows`.
    clickhouse_batch_rows: Option<usize>,
    /// Alias of `[clickhouse] batch_delay`.
    clickhouse_batch_delay: Option<Interval>,
    /// Alias of `[spool] dir`.
    spool_dir: Option<PathBuf>,
    /// Alias of `[spool] max_bytes`.
    spool_max_bytes: Option<ByteSize>,
    /// Alias of `[clickhouse] ca`.
    clickhouse_ca: Option<PathBuf>,
    #[serde(flatten)]
    access: AccessOptions,
    #[serde(flatten)]
    tls: TlsOptions,
    #[serde(flatten)]
    alerts: AlertOptions,
}

impl FileConfig {
    /// The defaults with the file's values over them.
    fn into_config(mut self) -> Result<Config, String> {
        alias(
            &mut self.clickhouse.create_schema,
            self.clickhouse_create_schema,
            "clickhouse_create_schema",
            "[clickhouse] create_schema",
        )?;
        alias(
            &mut self.clickhouse.cluster,
            self.clickhouse_cluster,
            "clickhouse_cluster",
            "[clickhouse] cluster",
        )?;
        alias(
            &mut self.clickhouse.batch_rows,
            self.clickhouse_batch_rows,
            "clickhouse_batch_rows",
            "[clickhouse] batch_rows",
        )?;
        alias(
            &mut self.clickhouse.batch_delay,
            self.clickhouse_batch_delay,
            "clickhouse_batch_delay",
            "[clickhouse] batch_delay",
        )?;
        alias(
            &mut self.spool.dir,
            self.spool_dir,
            "spool_dir",
            "[spool] dir",
        )?;
        alias(
            &mut self.clickhouse.ca,
            self.clickhouse_ca,
            "clickhouse_ca",
            "[clickhouse] ca",
        )?;
        alias(
            &mut self.spool.max_bytes,
            self.spool_max_bytes,
            "spool_max_bytes",
            "[spool] max_bytes",
        )?;
        let mut config = Config::default();
        if let Some(v) = self.otlp_listen {
            config.otlp_listen = v.0;
        }
        if let Some(v) = self.otlp_grpc_listen {
            config.otlp_grpc_listen = v.0;
        }
        if let Some(v) = self.api_listen {
            config.api_listen = v.0;
        }
        if let Some(v) = self.max_body {
            config.max_body = v;
        }
        if let Some(v) = self.cors_origin {
            config.cors_origin = v;
        }
        if let Some(v) = self.store {
            config.store.url = v;
        }
        if let Some(v) = self.retention {
            config.store.retention = v.0;
        }
        if let Some(v) = self.write_queue_items {
            config.store.write_queue_items = v;
        }
        self.clickhouse.apply(&mut config.store.clickhouse);
        self.spool.apply(&mut config.store.spool);
        self.otlp_limits.apply(&mut config.otlp_limits);
        config.access = self.access;
        config.tls = self.tls;
        config.alerts = self.alerts;
        Ok(config)
    }
}

/// The line that sets the key an `unknown field` message names.
fn unknown_key_line(text: &str, message: &str) -> Option<usize> {
    let key = message.strip_prefix("unknown field `")?.split('`').next()?;
    text.lines()
        .position(|line| {
            line.trim_start()
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(['=', '.']))
        })
        .map(|i| i + 1)
}

/// Takes the value of a flat alias key into its table's key, unless both are given.
fn alias<T>(
    key: &mut Option<T>,
    flat: Option<T>,
    flat_name: &str,
    name: &str,
) -> Result<(), String> {
    match (key.is_some(), flat) {
        (true, Some(_)) => Err(format!(
            "`{flat_name}` and `{name}` are the same option, given twice; keep `{name}`"
        )),
        (false, Some(value)) => {
            *key = Some(value);
            Ok(())
        }
        (_, None) => Ok(()),
    }
}

/// A listen address in the config file, as the flags take it.
#[derive(Debug)]
struct Listen(SocketAddr);

impl FromStr for Listen {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        parse_listen(text).map(Self)
    }
}
deserialize_via_from_str!(Listen);

/// Parses a listen address (`host:port`, IPv4 or `[IPv6]`, or `localhost:port`).
pub fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    if let Some(port) = text.strip_prefix("localhost:") {
        let port: u16 = port.parse().map_err(|_| {
            format!("'{text}' has no valid port; expected HOST:PORT, e.g. 127.0.0.1:4318")
        })?;
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    text.parse().map_err(|_| {
        format!("'{text}' is not an address; expected IP:PORT, e.g. 0.0.0.0:4318 or [::]:4318")
    })
}

/// A browser origin allowed to send telemetry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigin {
    /// `*`: every origin.
    Any,
    /// One exact origin, `scheme://host[:port]`.
    Exact(String),
}

impl FromStr for CorsOrigin {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text == "*" {
            return Ok(Self::Any);
        }
        let bad = || {
            format!(
                "'{text}' is not an origin; expected scheme://host[:port] without a path, e.g. https://app.example.com, or *"
            )
        };
        let (scheme, rest) = text.split_once("://").ok_or_else(bad)?;
        if !matches!(scheme, "http" | "https")
            || rest.is_empty()
            || rest.contains(['/', '?', '#', ' '])
        {
            return Err(bad());
        }
        Ok(Self::Exact(text.to_ascii_lowercase()))
    }
}
deserialize_via_from_str!(CorsOrigin);

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn cli(args: &[&str]) -> Cli {
        let mut argv = vec!["tracewire-collector"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).expect("flags parse")
    }

    #[test]
    fn defaults_match_the_documented_values() {
        let config = Config::default();
        assert_eq!(config.otlp_listen.to_string(), "0.0.0.0:4318");
        assert_eq!(config.otlp_grpc_listen.to_string(), "0.0.0.0:4317");
        assert_eq!(config.api_listen.to_string(), "127.0.0.1:4380");
        assert_eq!(
            config.store.url,
            StoreUrl::Sqlite("./tracewire-data/tracewire.db".into())
        );
        assert_eq!(config.store.retention, Duration::from_secs(7 * 24 * 3600));
        assert_eq!(config.max_body.0, 16 << 20);
        assert!(config.cors_origin.is_empty());
    }

    #[test]
    fn access_and_tls_keys_are_flat_in_the_file_and_flags_win() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "access = \"/etc/tw/access.toml\"\napi_host = [\"tw.example.com\"]\n\
             tls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n[clickhouse]\nca = \"ca.pem\"\n",
        )
        .expect("write");
        let config = Config::load(cli(&[
            "--config",
            path.to_str().expect("utf-8"),
            "--access",
            "/srv/access.toml",
        ]))
        .expect("valid");
        assert_eq!(config.access.file, Some(PathBuf::from("/srv/access.toml")));
        assert_eq!(config.access.api_host[0].as_str(), "tw.example.com");
        assert_eq!(
            config.tls.pair(crate::tls::Listener::Api),
            Some((Path::new("c.pem"), Path::new("k.pem")))
        );
        assert_eq!(config.store.clickhouse.ca, Some(PathBuf::from("ca.pem")));
        std::fs::write(&path, "tls_cert = \"c.pem\"\n").expect("write");
        let err =
            Config::load(cli(&["--config", path.to_str().expect("utf-8")])).expect_err("no key");
        assert!(err.to_string().starts_with("--tls-key:"), "{err}");
    }

    #[test]
    fn flag_beats_file_and_file_beats_default() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "otlp_listen = \"127.0.0.1:9000\"\nretention = \"2d\"\n",
        )
        .expect("write");
        let config = Config::load(cli(&[
            "--config",
            path.to_str().expect("utf-8"),
            "--otlp-listen",
            "127.0.0.1:9100",
        ]))
        .expect("valid");
        assert_eq!(config.otlp_listen.port(), 9100);
        assert_eq!(config.store.retention, Duration::from_secs(2 * 24 * 3600));
        assert_eq!(config.api_listen.port(), 4380);
    }

    #[test]
    fn unknown_file_key_names_the_key_and_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "retention = \"1d\"\notlp_lisen = \"x\"\n").expect("write");
        let err = Config::from_file(&path).expect_err("unknown key");
        let text = err.to_string();
        assert!(
            text.contains("otlp_lisen") && text.contains("line 2"),
            "{text}"
        );
    }

    #[test]
    fn bad_file_value_names_what_is_accepted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "max_body = \"lots\"\n").expect("write");
        let text = Config::from_file(&path).expect_err("bad value").to_string();
        assert!(text.contains("16MiB"), "{text}");
    }

    #[test]
    fn origins_are_exact_or_star() {
        assert_eq!("*".parse::<CorsOrigin>(), Ok(CorsOrigin::Any));
        assert_eq!(
            "http://LOCALHOST:5173".parse::<CorsOrigin>(),
            Ok(CorsOrigin::Exact("http://localhost:5173".into()))
        );
        assert!("localhost:5173".parse::<CorsOrigin>().is_err());
        assert!(
            "https://app.example.com/path"
                .parse::<CorsOrigin>()
                .is_err()
        );
    }

    #[test]
    fn out_of_range_values_name_the_option() {
        let err = Config::load(cli(&["--max-body", "10"])).expect_err("too small");
        assert!(err.to_string().starts_with("--max-body:"), "{err}");
        let err = Config::load(cli(&["--retention", "0s"])).expect_err("too short");
        assert!(err.to_string().starts_with("--retention:"), "{err}");
        let err = Config::load(cli(&["--cors-origin", "*", "--cors-origin", "http://a.b"]))
            .expect_err("star with list");
        assert!(err.to_string().starts_with("--cors-origin:"), "{err}");
    }

    #[test]
    fn clickhouse_options_reach_the_store_settings() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "store = \"clickhouse:http://u:p@ch:8123/tw\"\nspool_max_bytes = \"2MiB\"\nclickhouse_batch_rows = 10\n",
        )
        .expect("write");
        let config = Config::load(cli(&[
            "--config",
            path.to_str().expect("utf-8"),
            "--clickhouse-cluster",
            "prod",
            "--clickhouse-create-schema=false",
            "--clickhouse-batch-delay",
            "250ms",
            "--retention",
            "2d",
        ]))
        .expect("valid");
        let ch = config.store.clickhouse().expect("clickhouse");
        assert_eq!(ch.server.url, "http://ch:8123");
        assert_eq!(ch.server.database, "tw");
        assert_eq!(ch.options.cluster.as_deref(), Some("prod"));
        assert!(!ch.options.create_schema);
        assert_eq!(ch.spool.max_bytes, 2 << 20);
        assert_eq!(ch.options.batch_rows, 10);
        assert_eq!(ch.options.batch_delay, Duration::from_millis(250));
        assert_eq!(ch.retention, Duration::from_secs(2 * 24 * 3600));
        assert!(Config::default().store.clickhouse().is_none());
        assert_eq!(
            Config::default().store.spool.dir,
            PathBuf::from("./tracewire-data/spool")
        );
        assert!(Config::default().store.clickhouse.create_schema);
    }

    #[test]
    fn engine_tables_and_their_flat_aliases_give_the_same_options() {
        let dir = tempfile::tempdir().expect("tempdir");
        let read = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("write");
            Config::from_file(&path)
        };
        let nested = read(
            "nested.toml",
            "[clickhouse]\ncreate_schema = false\ncluster = \"c1\"\nbatch_rows = 7\n\
             batch_delay = \"2s\"\n[spool]\ndir = \"/var/spool/tw\"\nmax_bytes = \"2MiB\"\n",
        )
        .expect("valid");
        let flat = read(
            "flat.toml",
            "clickhouse_create_schema = false\nclickhouse_cluster = \"c1\"\n\
             clickhouse_batch_rows = 7\nclickhouse_batch_delay = \"2s\"\n\
             spool_dir = \"/var/spool/tw\"\nspool_max_bytes = \"2MiB\"\n",
        )
        .expect("valid");
        assert_eq!(nested, flat);
        let store = &nested.store;
        assert!(!store.clickhouse.create_schema);
        assert_eq!(store.clickhouse.cluster.as_deref(), Some("c1"));
        assert_eq!(store.clickhouse.batch_rows, 7);
        assert_eq!(store.clickhouse.batch_delay, Duration::from_secs(2));
        assert_eq!(store.spool.dir, PathBuf::from("/var/spool/tw"));
        assert_eq!(store.spool.max_bytes, 2 << 20);

        let err = read(
            "both.toml",
            "clickhouse_cluster = \"a\"\n[clickhouse]\ncluster = \"b\"\n",
        )
        .expect_err("given twice");
        let text = err.to_string();
        assert!(
            text.contains("clickhouse_cluster") && text.contains("[clickhouse] cluster"),
            "{text}"
        );
        let err = read("typo.toml", "[spool]\ndri = \"/x\"\n").expect_err("unknown key");
        assert!(err.to_string().contains("dri"), "{err}");
    }

    #[test]
    fn bad_clickhouse_options_name_the_option() {
        let store = ["--store", "clickhouse:http://ch:8123/tw"];
        for (args, option) in [
            (vec!["--clickhouse-cluster", "a b"], "--clickhouse-cluster:"),
            (
                vec!["--clickhouse-batch-rows", "0"],
                "--clickhouse-batch-rows:",
            ),
            (vec!["--spool-max-bytes", "10"], "--spool-max-bytes:"),
            (
                vec!["--clickhouse-batch-delay", "0s"],
                "--clickhouse-batch-delay:",
            ),
        ] {
            let mut all = store.to_vec();
            all.extend(args);
            let err = Config::load(cli(&all)).expect_err("invalid");
            assert!(err.to_string().starts_with(option), "{err}");
        }
        let err = Config::load(cli(&["--store", "clickhouse:http://ch/bad`name"]))
            .expect_err("bad database");
        assert!(err.to_string().starts_with("--store:"), "{err}");
    }

    #[test]
    fn schema_subcommand_takes_the_store_flags() {
        let parsed = cli(&[
            "schema",
            "--store",
            "clickhouse:http://ch:8123/tw",
            "--clickhouse-cluster",
            "c1",
        ]);
        assert_eq!(parsed.command, Some(CliCommand::Schema));
        assert_eq!(parsed.clickhouse.cluster.as_deref(), Some("c1"));
    }

    #[test]
    fn listen_addresses_accept_localhost_and_port_zero() {
        assert_eq!(parse_listen("localhost:0").expect("valid").port(), 0);
        assert!(parse_listen("[::1]:4318").is_ok());
        assert!(parse_listen("4318").is_err());
    }
}
