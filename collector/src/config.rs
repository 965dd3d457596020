//! Configuration: command-line flags, environment variables, an optional TOML file and defaults,
//! merged in that order of precedence and validated before anything touches the network or disk.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use clap::Parser;
use serde::{Deserialize, Deserializer};

use crate::access::AccessOptions;
use crate::access::keys::NewSecretArgs;
use crate::store::clickhouse::{ClickHouseConfig, check_name};
use crate::tls::TlsOptions;

/// Environment variable for [`Config::otlp_listen`].
pub const ENV_OTLP_LISTEN: &str = "TRACEWIRE_OTLP_LISTEN";
/// Default for [`Config::otlp_listen`]: every interface, the OTLP/HTTP port.
pub const DEFAULT_OTLP_LISTEN: &str = "0.0.0.0:4318";
/// Environment variable for [`Config::api_listen`].
pub const ENV_API_LISTEN: &str = "TRACEWIRE_API_LISTEN";
/// Default for [`Config::api_listen`]: loopback only, so queries stay private unless opened up.
pub const DEFAULT_API_LISTEN: &str = "127.0.0.1:4380";
/// Environment variable for [`Config::store`].
pub const ENV_STORE: &str = "TRACEWIRE_STORE";
/// Default for [`Config::store`].
pub const DEFAULT_STORE: &str = "sqlite:./tracewire-data/tracewire.db";
/// Environment variable for [`Config::retention`].
pub const ENV_RETENTION: &str = "TRACEWIRE_RETENTION";
/// Default for [`Config::retention`].
pub const DEFAULT_RETENTION: &str = "7d";
/// Environment variable for [`Config::max_body`].
pub const ENV_MAX_BODY: &str = "TRACEWIRE_MAX_BODY";
/// Default for [`Config::max_body`].
pub const DEFAULT_MAX_BODY: &str = "16MiB";
/// Environment variable for [`Config::cors_origin`] (comma-separated).
pub const ENV_CORS_ORIGIN: &str = "TRACEWIRE_CORS_ORIGIN";
/// Environment variable for [`Config::write_queue_items`].
pub const ENV_WRITE_QUEUE_ITEMS: &str = "TRACEWIRE_WRITE_QUEUE_ITEMS";
/// Default for [`Config::write_queue_items`].
pub const DEFAULT_WRITE_QUEUE_ITEMS: usize = 200_000;
/// Environment variable for [`Config::clickhouse_create_schema`].
pub const ENV_CLICKHOUSE_CREATE_SCHEMA: &str = "TRACEWIRE_CLICKHOUSE_CREATE_SCHEMA";
/// Default for [`Config::clickhouse_create_schema`].
pub const DEFAULT_CLICKHOUSE_CREATE_SCHEMA: bool = true;
/// Environment variable for [`Config::clickhouse_cluster`].
pub const ENV_CLICKHOUSE_CLUSTER: &str = "TRACEWIRE_CLICKHOUSE_CLUSTER";
/// Environment variable for [`Config::clickhouse_batch_rows`].
pub const ENV_CLICKHOUSE_BATCH_ROWS: &str = "TRACEWIRE_CLICKHOUSE_BATCH_ROWS";
/// Default for [`Config::clickhouse_batch_rows`].
pub const DEFAULT_CLICKHOUSE_BATCH_ROWS: usize = 50_000;
/// Environment variable for [`Config::clickhouse_batch_delay`].
pub const ENV_CLICKHOUSE_BATCH_DELAY: &str = "TRACEWIRE_CLICKHOUSE_BATCH_DELAY";
/// Default for [`Config::clickhouse_batch_delay`].
pub const DEFAULT_CLICKHOUSE_BATCH_DELAY: &str = "1s";
/// Environment variable for [`Config::spool_dir`].
pub const ENV_SPOOL_DIR: &str = "TRACEWIRE_SPOOL_DIR";
/// Default for [`Config::spool_dir`].
pub const DEFAULT_SPOOL_DIR: &str = "./tracewire-data/spool";
/// Environment variable for [`Config::spool_max_bytes`].
pub const ENV_SPOOL_MAX_BYTES: &str = "TRACEWIRE_SPOOL_MAX_BYTES";
/// Default for [`Config::spool_max_bytes`].
pub const DEFAULT_SPOOL_MAX_BYTES: &str = "1GiB";
/// Environment variable for the config file path.
pub const ENV_CONFIG: &str = "TRACEWIRE_CONFIG";

/// The smallest accepted [`Config::max_body`].
const MIN_MAX_BODY: u64 = 1024;
/// The largest accepted [`Config::max_body`].
const MAX_MAX_BODY: u64 = 1 << 30;
/// The largest accepted [`Config::clickhouse_batch_rows`]: ClickHouse's default
/// `max_insert_block_size`, so that one INSERT is one block and fails or succeeds as a whole.
const MAX_BATCH_ROWS: usize = 1_048_576;
/// The smallest accepted [`Config::spool_max_bytes`].
const MIN_SPOOL_BYTES: u64 = 1024;
/// The shortest accepted [`Config::retention`].
const MIN_RETENTION: Duration = Duration::from_secs(1);

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
    /// TOML config file; keys are the long flag names with `_` for `-`.
    #[arg(long, value_name = "FILE", env = ENV_CONFIG, global = true)]
    pub config: Option<PathBuf>,
    /// Address for OTLP/HTTP ingest from backends and browsers [default: 0.0.0.0:4318].
    #[arg(long, value_name = "HOST:PORT", env = ENV_OTLP_LISTEN, value_parser = parse_listen, global = true)]
    pub otlp_listen: Option<SocketAddr>,
    /// Address for the query API [default: 127.0.0.1:4380].
    #[arg(long, value_name = "HOST:PORT", env = ENV_API_LISTEN, value_parser = parse_listen, global = true)]
    pub api_listen: Option<SocketAddr>,
    /// Where to store: `sqlite:<path>` or `clickhouse:<http url>` [default: sqlite:./tracewire-data/tracewire.db].
    #[arg(long, value_name = "URL", env = ENV_STORE, global = true)]
    pub store: Option<StoreUrl>,
    /// How long to keep data, e.g. `7d`, `12h` [default: 7d].
    #[arg(long, value_name = "DURATION", env = ENV_RETENTION, global = true)]
    pub retention: Option<Retention>,
    /// Largest accepted request body after decompression, e.g. `16MiB` [default: 16MiB].
    #[arg(long, value_name = "SIZE", env = ENV_MAX_BODY, global = true)]
    pub max_body: Option<ByteSize>,
    /// Origin allowed to send from a browser (repeatable), e.g. `https://app.example.com`; `*` allows any.
    #[arg(long, value_name = "ORIGIN", env = ENV_CORS_ORIGIN, value_delimiter = ',', global = true)]
    pub cors_origin: Vec<CorsOrigin>,
    /// Spans and log records that may wait for the store before ingest answers 503 [default: 200000].
    #[arg(long, value_name = "N", env = ENV_WRITE_QUEUE_ITEMS, global = true)]
    pub write_queue_items: Option<usize>,
    /// ClickHouse store: create or migrate the schema at start-up (`false` when operators own the
    /// DDL) [default: true].
    #[arg(long, value_name = "BOOL", env = ENV_CLICKHOUSE_CREATE_SCHEMA, num_args = 0..=1, default_missing_value = "true", global = true)]
    pub clickhouse_create_schema: Option<bool>,
    /// ClickHouse store: cluster name; creates replicated tables ON CLUSTER under Distributed tables.
    #[arg(long, value_name = "NAME", env = ENV_CLICKHOUSE_CLUSTER, global = true)]
    pub clickhouse_cluster: Option<String>,
    /// ClickHouse store: rows per INSERT the shipper aims for [default: 50000].
    #[arg(long, value_name = "N", env = ENV_CLICKHOUSE_BATCH_ROWS, global = true)]
    pub clickhouse_batch_rows: Option<usize>,
    /// ClickHouse store: longest a row waits for a fuller INSERT, e.g. `1s`, `200ms` [default: 1s].
    #[arg(long, value_name = "DURATION", env = ENV_CLICKHOUSE_BATCH_DELAY, global = true)]
    pub clickhouse_batch_delay: Option<Interval>,
    /// ClickHouse store: directory of the on-disk spool [default: ./tracewire-data/spool].
    #[arg(long, value_name = "DIR", env = ENV_SPOOL_DIR, global = true)]
    pub spool_dir: Option<PathBuf>,
    /// ClickHouse store: most bytes spooled before ingest answers 503, e.g. `1GiB` [default: 1GiB].
    #[arg(long, value_name = "SIZE", env = ENV_SPOOL_MAX_BYTES, global = true)]
    pub spool_max_bytes: Option<ByteSize>,
    /// Tenants, keys and tokens; the origins and host names the query API answers.
    #[command(flatten)]
    pub access: AccessOptions,
    /// HTTPS on the listeners, and the CA of ClickHouse's certificate.
    #[command(flatten)]
    pub tls: TlsOptions,
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

/// The collector's configuration. Every key may be set in the TOML file given with `--config`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address for OTLP/HTTP ingest (`POST /v1/traces`, `POST /v1/logs`). Port 0 picks a free port;
    /// the bound address is logged.
    #[serde(deserialize_with = "de_from_str")]
    pub otlp_listen: SocketAddr,
    /// Address for the query API, health and metrics. Kept apart from ingest so that ingest can
    /// face the internet while queries stay private.
    #[serde(deserialize_with = "de_from_str")]
    pub api_listen: SocketAddr,
    /// The store: `sqlite:<path>` (parent directories are created) or `clickhouse:<http url>`.
    pub store: StoreUrl,
    /// How long spans and logs are kept; older rows are deleted in the background.
    pub retention: Retention,
    /// The largest request body accepted, measured after decompression; larger ones get 413.
    pub max_body: ByteSize,
    /// Origins allowed to send telemetry from a browser. Empty (the default) allows none; `*`
    /// allows every origin and must be given explicitly.
    pub cors_origin: Vec<CorsOrigin>,
    /// How many spans and log records may wait for the store. When full, ingest answers 503 with
    /// `Retry-After` instead of buffering without bound.
    pub write_queue_items: usize,
    /// ClickHouse store: create the database and tables, or migrate them, at start-up. Set it to
    /// `false` when operators apply the DDL (`tracewire-collector schema`) themselves; the
    /// collector then only checks the schema version.
    pub clickhouse_create_schema: bool,
    /// ClickHouse store: the cluster to create the schema on. Tables become
    /// `ReplicatedMergeTree` (`<table>_local`) under `Distributed` tables sharded by
    /// `cityHash64(TraceId)`. Unset for a single server.
    pub clickhouse_cluster: Option<String>,
    /// ClickHouse store: rows per INSERT the shipper aims for (1 to 1048576). ClickHouse
    /// prefers few, large inserts.
    pub clickhouse_batch_rows: usize,
    /// ClickHouse store: the longest a spooled row waits for a fuller INSERT.
    pub clickhouse_batch_delay: Interval,
    /// ClickHouse store: directory of the on-disk spool where batches wait for ClickHouse. A
    /// 200 means the batch is fsynced here; it is kept across restarts and shipped at start.
    pub spool_dir: PathBuf,
    /// ClickHouse store: the most bytes the spool holds. When ClickHouse is down long enough to
    /// fill it, ingest answers 503 with `Retry-After`.
    pub spool_max_bytes: ByteSize,
    /// Tenants, keys and tokens (`access`), and the origins (`api_allowed_origin`) and host
    /// names (`api_host`) the query API answers.
    #[serde(flatten)]
    pub access: AccessOptions,
    /// HTTPS on the listeners (`tls_cert`, `tls_key`, and per listener `otlp_tls_cert`,
    /// `otlp_tls_key`, `api_tls_cert`, `api_tls_key`), and `clickhouse_ca`.
    #[serde(flatten)]
    pub tls: TlsOptions,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            otlp_listen: parse_listen(DEFAULT_OTLP_LISTEN).unwrap_or_else(|_| unreachable!()),
            api_listen: parse_listen(DEFAULT_API_LISTEN).unwrap_or_else(|_| unreachable!()),
            store: DEFAULT_STORE.parse().unwrap_or_else(|_| unreachable!()),
            retention: DEFAULT_RETENTION.parse().unwrap_or_else(|_| unreachable!()),
            max_body: DEFAULT_MAX_BODY.parse().unwrap_or_else(|_| unreachable!()),
            cors_origin: Vec::new(),
            write_queue_items: DEFAULT_WRITE_QUEUE_ITEMS,
            clickhouse_create_schema: DEFAULT_CLICKHOUSE_CREATE_SCHEMA,
            clickhouse_cluster: None,
            clickhouse_batch_rows: DEFAULT_CLICKHOUSE_BATCH_ROWS,
            clickhouse_batch_delay: DEFAULT_CLICKHOUSE_BATCH_DELAY
                .parse()
                .unwrap_or_else(|_| unreachable!()),
            spool_dir: PathBuf::from(DEFAULT_SPOOL_DIR),
            spool_max_bytes: DEFAULT_SPOOL_MAX_BYTES
                .parse()
                .unwrap_or_else(|_| unreachable!()),
            access: AccessOptions::default(),
            tls: TlsOptions::default(),
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
        if let Some(v) = cli.api_listen {
            config.api_listen = v;
        }
        if let Some(v) = cli.store {
            config.store = v;
        }
        if let Some(v) = cli.retention {
            config.retention = v;
        }
        if let Some(v) = cli.max_body {
            config.max_body = v;
        }
        if !cli.cors_origin.is_empty() {
            config.cors_origin = cli.cors_origin;
        }
        if let Some(v) = cli.write_queue_items {
            config.write_queue_items = v;
        }
        if let Some(v) = cli.clickhouse_create_schema {
            config.clickhouse_create_schema = v;
        }
        if let Some(v) = cli.clickhouse_cluster {
            config.clickhouse_cluster = Some(v);
        }
        if let Some(v) = cli.clickhouse_batch_rows {
            config.clickhouse_batch_rows = v;
        }
        if let Some(v) = cli.clickhouse_batch_delay {
            config.clickhouse_batch_delay = v;
        }
        if let Some(v) = cli.spool_dir {
            config.spool_dir = v;
        }
        if let Some(v) = cli.spool_max_bytes {
            config.spool_max_bytes = v;
        }
        config.access.overlay(cli.access);
        config.tls.overlay(cli.tls);
        config.validate()
    }

    /// Reads a TOML config file; keys not set keep their defaults.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| {
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
        if self.retention.0 < MIN_RETENTION {
            return Err(ConfigError::Invalid {
                option: "retention",
                message: "must be at least 1s".into(),
            });
        }
        if self.write_queue_items == 0 {
            return Err(ConfigError::Invalid {
                option: "write-queue-items",
                message: "must be at least 1".into(),
            });
        }
        if self.cors_origin.len() > 1 && self.cors_origin.contains(&CorsOrigin::Any) {
            return Err(ConfigError::Invalid {
                option: "cors-origin",
                message: "`*` allows every origin and cannot be combined with a list".into(),
            });
        }
        self.access.validate()?;
        self.tls.validate()?;
        if let Some(cluster) = &self.clickhouse_cluster {
            check_name(cluster).map_err(|e| ConfigError::Invalid {
                option: "clickhouse-cluster",
                message: format!("cluster name {e}"),
            })?;
        }
        if !(1..=MAX_BATCH_ROWS).contains(&self.clickhouse_batch_rows) {
            return Err(ConfigError::Invalid {
                option: "clickhouse-batch-rows",
                message: format!("must be 1 to {MAX_BATCH_ROWS}"),
            });
        }
        if self.clickhouse_batch_delay.0.is_zero() {
            return Err(ConfigError::Invalid {
                option: "clickhouse-batch-delay",
                message: "must be more than 0, e.g. 1s or 200ms".into(),
            });
        }
        if self.spool_max_bytes.0 < MIN_SPOOL_BYTES {
            return Err(ConfigError::Invalid {
                option: "spool-max-bytes",
                message: format!("{} is too small; at least 1KiB", self.spool_max_bytes),
            });
        }
        if let Some(Err(message)) = self.clickhouse() {
            return Err(ConfigError::Invalid {
                option: "store",
                message,
            });
        }
        Ok(self)
    }

    /// The ClickHouse store's settings when the store is ClickHouse.
    pub fn clickhouse(&self) -> Option<Result<ClickHouseConfig, String>> {
        let StoreUrl::ClickHouse(url) = &self.store else {
            return None;
        };
        Some(ClickHouseConfig::from_url(url).map(|mut c| {
            c.cluster = self.clickhouse_cluster.clone();
            c.create_schema = self.clickhouse_create_schema;
            c.spool_dir = self.spool_dir.clone();
            c.spool_max_bytes = self.spool_max_bytes.0;
            c.batch_rows = self.clickhouse_batch_rows;
            c.batch_delay = self.clickhouse_batch_delay.0;
            c.retention = self.retention.0;
            c.ca = self.tls.clickhouse_ca.clone();
            c
        }))
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

fn de_from_str<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    let text = String::deserialize(deserializer)?;
    text.parse().map_err(serde::de::Error::custom)
}

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

macro_rules! deserialize_via_from_str {
    ($ty:ty) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                de_from_str(deserializer)
            }
        }
    };
}

/// Where data is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// An embedded SQLite database file.
    Sqlite(PathBuf),
    /// A ClickHouse server, by its HTTP URL.
    ClickHouse(String),
}

impl FromStr for StoreUrl {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        const ACCEPTED: &str = "expected sqlite:<path> or clickhouse:<http url>";
        if let Some(path) = text.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(format!("'{text}' has no file path; {ACCEPTED}"));
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if let Some(url) = text.strip_prefix("clickhouse:") {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(format!(
                    "'{text}': the ClickHouse URL must start with http:// or https://"
                ));
            }
            return Ok(Self::ClickHouse(url.to_owned()));
        }
        Err(format!("'{text}' is not a store URL; {ACCEPTED}"))
    }
}
deserialize_via_from_str!(StoreUrl);

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            Self::ClickHouse(url) => write!(f, "clickhouse:{}", redact_password(url)),
        }
    }
}

/// Hides the password in `scheme://user:password@host` so URLs can be logged.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{}", &rest[authority_end..]),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// A retention period such as `7d`, `36h` or `90m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention(pub Duration);

impl FromStr for Retention {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        humantime::parse_duration(text.trim())
            .map(Self)
            .map_err(|_| {
                format!(
                    "'{text}' is not a duration; expected a number and a unit, e.g. 7d, 12h, 30m"
                )
            })
    }
}
deserialize_via_from_str!(Retention);

/// A short duration such as `1s` or `250ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval(pub Duration);

impl FromStr for Interval {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        humantime::parse_duration(text.trim())
            .map(Self)
            .map_err(|_| format!("'{text}' is not a duration; expected e.g. 1s, 250ms"))
    }
}
deserialize_via_from_str!(Interval);

/// A size in bytes, written as `16MiB`, `512KiB`, `1GB` or a plain number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || {
            format!("'{text}' is not a size; expected e.g. 16MiB, 512KiB, 1GB or a number of bytes")
        };
        let trimmed = text.trim();
        let split = trimmed
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(trimmed.len());
        let (digits, unit) = trimmed.split_at(split);
        let number: u64 = digits.parse().map_err(|_| bad())?;
        let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kb" => 1_000,
            "kib" => 1 << 10,
            "m" | "mb" => 1_000_000,
            "mib" => 1 << 20,
            "g" | "gb" => 1_000_000_000,
            "gib" => 1 << 30,
            _ => return Err(bad()),
        };
        number.checked_mul(factor).map(Self).ok_or_else(bad)
    }
}
deserialize_via_from_str!(ByteSize);

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            n if n >= 1 << 20 && n % (1 << 20) == 0 => write!(f, "{}MiB", n >> 20),
            n if n >= 1 << 10 && n % (1 << 10) == 0 => write!(f, "{}KiB", n >> 10),
            n => write!(f, "{n}B"),
        }
    }
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
        assert_eq!(config.api_listen.to_string(), "127.0.0.1:4380");
        assert_eq!(
            config.store,
            StoreUrl::Sqlite("./tracewire-data/tracewire.db".into())
        );
        assert_eq!(config.retention.0, Duration::from_secs(7 * 24 * 3600));
        assert_eq!(config.max_body.0, 16 << 20);
        assert!(config.cors_origin.is_empty());
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
        assert_eq!(config.retention.0, Duration::from_secs(2 * 24 * 3600));
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
    fn sizes_parse_with_binary_and_decimal_units() {
        assert_eq!("16MiB".parse::<ByteSize>(), Ok(ByteSize(16 << 20)));
        assert_eq!("512 KiB".parse::<ByteSize>(), Ok(ByteSize(512 << 10)));
        assert_eq!("2MB".parse::<ByteSize>(), Ok(ByteSize(2_000_000)));
        assert_eq!("1000".parse::<ByteSize>(), Ok(ByteSize(1000)));
        assert!("12 parsecs".parse::<ByteSize>().is_err());
        assert!("99999999999999GiB".parse::<ByteSize>().is_err());
    }

    #[test]
    fn store_urls_parse_and_hide_passwords() {
        assert_eq!(
            "sqlite:/tmp/x.db".parse::<StoreUrl>(),
            Ok(StoreUrl::Sqlite("/tmp/x.db".into()))
        );
        assert!("sqlite:".parse::<StoreUrl>().is_err());
        assert!("postgres://x".parse::<StoreUrl>().is_err());
        let ch: StoreUrl = "clickhouse:http://default:secret@127.0.0.1:8123/tw"
            .parse()
            .expect("valid");
        assert_eq!(
            ch.to_string(),
            "clickhouse:http://default:***@127.0.0.1:8123/tw"
        );
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
        let ch = config.clickhouse().expect("clickhouse").expect("valid");
        assert_eq!(ch.url, "http://ch:8123");
        assert_eq!(ch.database, "tw");
        assert_eq!(ch.cluster.as_deref(), Some("prod"));
        assert!(!ch.create_schema);
        assert_eq!(ch.spool_max_bytes, 2 << 20);
        assert_eq!(ch.batch_rows, 10);
        assert_eq!(ch.batch_delay, Duration::from_millis(250));
        assert_eq!(ch.retention, Duration::from_secs(2 * 24 * 3600));
        assert!(Config::default().clickhouse().is_none());
        assert_eq!(
            Config::default().spool_dir,
            PathBuf::from("./tracewire-data/spool")
        );
        assert!(Config::default().clickhouse_create_schema);
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
        assert_eq!(parsed.clickhouse_cluster.as_deref(), Some("c1"));
    }

    #[test]
    fn listen_addresses_accept_localhost_and_port_zero() {
        assert_eq!(parse_listen("localhost:0").expect("valid").port(), 0);
        assert!(parse_listen("[::1]:4318").is_ok());
        assert!(parse_listen("4318").is_err());
    }
}
