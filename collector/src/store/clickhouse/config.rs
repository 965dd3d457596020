//! What the ClickHouse store needs to know: where the server is ([`ClickHouseServer`], from the
//! `clickhouse:` store URL), its own options ([`ClickHouseOptions`]: schema, cluster, batching;
//! flags `--clickhouse-*`, the `[clickhouse]` table of the config file), the spool's
//! ([`SpoolOptions`]) and the retention, together a [`ClickHouseConfig`].

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

use super::spool::SpoolOptions;
use crate::options::{Interval, InvalidOption};
use crate::store::retention::default_retention;

/// Database used when the store URL has no path.
pub const DEFAULT_DATABASE: &str = "default";
/// Environment variable for [`ClickHouseOptions::create_schema`].
pub const ENV_CREATE_SCHEMA: &str = "TRACEWIRE_CLICKHOUSE_CREATE_SCHEMA";
/// Default for [`ClickHouseOptions::create_schema`].
pub const DEFAULT_CREATE_SCHEMA: bool = true;
/// Environment variable for [`ClickHouseOptions::cluster`].
pub const ENV_CLUSTER: &str = "TRACEWIRE_CLICKHOUSE_CLUSTER";
/// Environment variable for [`ClickHouseOptions::batch_rows`].
pub const ENV_BATCH_ROWS: &str = "TRACEWIRE_CLICKHOUSE_BATCH_ROWS";
/// Default for [`ClickHouseOptions::batch_rows`].
pub const DEFAULT_BATCH_ROWS: usize = 50_000;
/// Environment variable for [`ClickHouseOptions::batch_delay`].
pub const ENV_BATCH_DELAY: &str = "TRACEWIRE_CLICKHOUSE_BATCH_DELAY";
/// Default for [`ClickHouseOptions::batch_delay`].
pub const DEFAULT_BATCH_DELAY: &str = "1s";
/// Environment variable for [`ClickHouseOptions::ca`].
pub const ENV_CA: &str = "TRACEWIRE_CLICKHOUSE_CA";
/// The largest accepted [`ClickHouseOptions::batch_rows`]: ClickHouse's default
/// `max_insert_block_size`, so that one INSERT is one block and fails or succeeds as a whole.
const MAX_BATCH_ROWS: usize = 1_048_576;

/// Everything the ClickHouse store is opened with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClickHouseConfig {
    /// The server and database.
    pub server: ClickHouseServer,
    /// Schema, cluster and batching.
    pub options: ClickHouseOptions,
    /// The on-disk spool.
    pub spool: SpoolOptions,
    /// Data older than this is dropped by TTL.
    pub retention: Duration,
}

impl ClickHouseConfig {
    /// The server's settings with every option, the spool's and the retention at their
    /// defaults.
    pub fn new(server: ClickHouseServer) -> Self {
        Self {
            server,
            options: ClickHouseOptions::default(),
            spool: SpoolOptions::default(),
            retention: default_retention(),
        }
    }

    /// [`ClickHouseConfig::new`] for the server at `url` (`http[s]://[user[:password]@]host[:port][/database]`).
    pub fn from_url(url: &str) -> Result<Self, String> {
        url.parse().map(Self::new)
    }
}

/// A ClickHouse server and database, from the part of the store URL after `clickhouse:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClickHouseServer {
    /// Server base URL, `http[s]://host[:port]`, without credentials or path.
    pub url: String,
    /// User from the URL, if any.
    pub user: Option<String>,
    /// Password from the URL, if any.
    pub password: Option<String>,
    /// Database holding the tables (the URL's path; `default` when empty).
    pub database: String,
    /// The URL as given, with the password hidden.
    shown: String,
}

impl FromStr for ClickHouseServer {
    type Err = String;

    fn from_str(store_url: &str) -> Result<Self, String> {
        let (scheme, rest) = store_url
            .split_once("://")
            .filter(|(scheme, _)| matches!(*scheme, "http" | "https"))
            .ok_or_else(|| format!("'{store_url}' must start with http:// or https://"))?;
        if rest.contains(['?', '#']) {
            return Err(
                "the ClickHouse URL takes no query or fragment; use http://user:password@host:port/database"
                    .into(),
            );
        }
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, host) = match authority.rsplit_once('@') {
            Some((userinfo, host)) => (Some(userinfo), host),
            None => (None, authority),
        };
        if host.is_empty() {
            return Err(format!("'{store_url}' names no host"));
        }
        let (user, password) = match userinfo {
            Some(info) => {
                let (user, password) = match info.split_once(':') {
                    Some((user, password)) => (user, Some(percent_decode(password)?)),
                    None => (info, None),
                };
                (Some(percent_decode(user)?), password)
            }
            None => (None, None),
        };
        let database = match path.trim_end_matches('/') {
            "" => DEFAULT_DATABASE.to_owned(),
            name => name.to_owned(),
        };
        check_name(&database).map_err(|e| format!("database name {e}"))?;
        Ok(Self {
            url: format!("{scheme}://{host}"),
            user,
            password,
            database,
            shown: redact_password(store_url),
        })
    }
}

impl fmt::Display for ClickHouseServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

/// The ClickHouse store's own options: schema, cluster and batching. Flags
/// `--clickhouse-<name>`, the `[clickhouse]` table of the config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClickHouseOptions {
    /// Create the database and tables, or migrate them, at start-up. Set it to `false` when
    /// operators apply the DDL (`tracewire-collector schema`) themselves; the collector then
    /// only checks the schema version.
    pub create_schema: bool,
    /// The cluster to create the schema on. Tables become `ReplicatedMergeTree`
    /// (`<table>_local`) under `Distributed` tables sharded by `cityHash64(TraceId)`. Unset for
    /// a single server.
    pub cluster: Option<String>,
    /// Rows per INSERT the shipper aims for (1 to 1048576). ClickHouse prefers few, large
    /// inserts.
    pub batch_rows: usize,
    /// The longest a spooled row waits for a fuller INSERT.
    pub batch_delay: Duration,
    /// CA certificates (PEM) that sign the server's certificate, for `clickhouse:https://`
    /// with a private CA; only these are trusted then. Unset: the public CAs.
    pub ca: Option<PathBuf>,
}

impl Default for ClickHouseOptions {
    fn default() -> Self {
        Self {
            create_schema: DEFAULT_CREATE_SCHEMA,
            cluster: None,
            batch_rows: DEFAULT_BATCH_ROWS,
            batch_delay: DEFAULT_BATCH_DELAY
                .parse::<Interval>()
                .map_or_else(|_| unreachable!("the default parses"), |d| d.0),
            ca: None,
        }
    }
}

impl ClickHouseOptions {
    /// Checks the values that parse but are not usable.
    pub fn validate(&self) -> Result<(), InvalidOption> {
        if let Some(cluster) = &self.cluster {
            check_name(cluster).map_err(|e| {
                InvalidOption::new("clickhouse-cluster", format!("cluster name {e}"))
            })?;
        }
        if !(1..=MAX_BATCH_ROWS).contains(&self.batch_rows) {
            return Err(InvalidOption::new(
                "clickhouse-batch-rows",
                format!("must be 1 to {MAX_BATCH_ROWS}"),
            ));
        }
        if self.batch_delay.is_zero() {
            return Err(InvalidOption::new(
                "clickhouse-batch-delay",
                "must be more than 0, e.g. 1s or 200ms",
            ));
        }
        Ok(())
    }
}

/// [`ClickHouseOptions`] as one layer gives them (flags and environment, or the config file's
/// `[clickhouse]` table): each one given replaces what the layers below gave.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClickHouseArgs {
    /// [`ClickHouseOptions::create_schema`].
    #[arg(
        id = "clickhouse_create_schema",
        long = "clickhouse-create-schema",
        value_name = "BOOL",
        env = ENV_CREATE_SCHEMA,
        num_args = 0..=1,
        default_missing_value = "true",
        global = true,
        help = format!(
            "ClickHouse store: create or migrate the schema at start-up (`false` when operators \
             own the DDL) [default: {DEFAULT_CREATE_SCHEMA}]"
        )
    )]
    pub create_schema: Option<bool>,
    /// [`ClickHouseOptions::cluster`].
    #[arg(
        id = "clickhouse_cluster",
        long = "clickhouse-cluster",
        value_name = "NAME",
        env = ENV_CLUSTER,
        global = true,
        help = "ClickHouse store: cluster name; creates replicated tables ON CLUSTER under \
                Distributed tables"
    )]
    pub cluster: Option<String>,
    /// [`ClickHouseOptions::batch_rows`].
    #[arg(
        id = "clickhouse_batch_rows",
        long = "clickhouse-batch-rows",
        value_name = "N",
        env = ENV_BATCH_ROWS,
        global = true,
        help = format!(
            "ClickHouse store: rows per INSERT the shipper aims for [default: {DEFAULT_BATCH_ROWS}]"
        )
    )]
    pub batch_rows: Option<usize>,
    /// [`ClickHouseOptions::batch_delay`].
    #[arg(
        id = "clickhouse_batch_delay",
        long = "clickhouse-batch-delay",
        value_name = "DURATION",
        env = ENV_BATCH_DELAY,
        global = true,
        help = format!(
            "ClickHouse store: longest a row waits for a fuller INSERT, e.g. `1s`, `200ms` \
             [default: {DEFAULT_BATCH_DELAY}]"
        )
    )]
    pub batch_delay: Option<Interval>,
    /// [`ClickHouseOptions::ca`].
    #[arg(
        id = "clickhouse_ca",
        long = "clickhouse-ca",
        value_name = "FILE",
        env = ENV_CA,
        global = true,
        help = "ClickHouse store: CA certificates (PEM) of a private CA that signs the server's \
                certificate, for clickhouse:https:// (only these are trusted then)"
    )]
    pub ca: Option<PathBuf>,
}

impl ClickHouseArgs {
    /// Replaces the options this layer gives.
    pub fn apply(self, options: &mut ClickHouseOptions) {
        if let Some(v) = self.create_schema {
            options.create_schema = v;
        }
        if let Some(v) = self.cluster {
            options.cluster = Some(v);
        }
        if let Some(v) = self.batch_rows {
            options.batch_rows = v;
        }
        if let Some(v) = self.batch_delay {
            options.batch_delay = v.0;
        }
        if let Some(v) = self.ca {
            options.ca = Some(v);
        }
    }
}

/// Accepts names that can be written in DDL without quoting problems: letters, digits, `_`, and
/// `-` or `.` after the first character. Database and cluster names come from configuration and
/// end up in DDL as backquoted identifiers or string literals, so they are checked, not escaped.
pub fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok
        && name.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        Ok(())
    } else {
        Err(format!(
            "'{name}' is not accepted; use letters, digits, `_`, `-` and `.`, starting with a letter or `_`"
        ))
    }
}

fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("the URL has a bad %-escape in its user or password")?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the URL's user or password is not UTF-8".to_owned())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_splits_into_server_credentials_and_database() {
        let c: ClickHouseServer = "http://default:s%40cret@127.0.0.1:8123/tracewire"
            .parse()
            .expect("valid");
        assert_eq!(c.url, "http://127.0.0.1:8123");
        assert_eq!(c.user.as_deref(), Some("default"));
        assert_eq!(c.password.as_deref(), Some("s@cret"));
        assert_eq!(c.database, "tracewire");
        let plain: ClickHouseServer = "https://ch.example.com/".parse().expect("valid");
        assert_eq!(
            (plain.url.as_str(), plain.user, plain.database.as_str()),
            ("https://ch.example.com", None, "default")
        );
    }

    #[test]
    fn bad_urls_and_names_are_refused() {
        assert!("tcp://x:9000".parse::<ClickHouseServer>().is_err());
        assert!("http://x/db?user=a".parse::<ClickHouseServer>().is_err());
        assert!("http://x/db`; DROP".parse::<ClickHouseServer>().is_err());
        assert!("http:///db".parse::<ClickHouseServer>().is_err());
        assert!(check_name("prod-cluster.eu").is_ok());
        assert!(check_name("1abc").is_err());
        assert!(check_name("a'b").is_err());
    }
}
