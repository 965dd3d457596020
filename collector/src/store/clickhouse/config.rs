//! What the ClickHouse store needs to know: where the server is (from the `clickhouse:` store
//! URL), how to lay out the schema, and how to spool and batch writes. Built from the collector's
//! [`Config`](crate::config::Config), checked before anything touches the network or disk.

use std::path::PathBuf;
use std::time::Duration;

/// Database used when the store URL has no path.
pub const DEFAULT_DATABASE: &str = "default";

/// The ClickHouse store's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClickHouseConfig {
    /// Server base URL, `http[s]://host[:port]`, without credentials or path.
    pub url: String,
    /// User from the URL, if any.
    pub user: Option<String>,
    /// Password from the URL, if any.
    pub password: Option<String>,
    /// Database holding the tables (the URL's path; `default` when empty).
    pub database: String,
    /// Cluster name for `ON CLUSTER` DDL with replicated and distributed tables; `None` for a
    /// single server.
    pub cluster: Option<String>,
    /// Create or migrate the schema at start-up.
    pub create_schema: bool,
    /// Directory of the on-disk spool.
    pub spool_dir: PathBuf,
    /// Most bytes the spool may hold before ingest answers 503.
    pub spool_max_bytes: u64,
    /// Rows per INSERT the shipper aims for.
    pub batch_rows: usize,
    /// Longest a spooled row waits for a fuller INSERT.
    pub batch_delay: Duration,
    /// Data older than this is dropped by TTL.
    pub retention: Duration,
    /// CA certificates (PEM) to trust for an `https://` server instead of the public CAs.
    pub ca: Option<PathBuf>,
}

impl ClickHouseConfig {
    /// Settings for the server at `store_url` (the part after `clickhouse:`), with the other
    /// fields at their defaults: no cluster, schema creation on, a spool under
    /// `./tracewire-data/spool` of at most 1 GiB, 50,000-row batches, 1 s delay, 7 days kept.
    pub fn from_url(store_url: &str) -> Result<Self, String> {
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
            cluster: None,
            create_schema: true,
            spool_dir: PathBuf::from("./tracewire-data/spool"),
            spool_max_bytes: 1 << 30,
            batch_rows: 50_000,
            batch_delay: Duration::from_secs(1),
            retention: Duration::from_secs(7 * 24 * 3600),
            ca: None,
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_splits_into_server_credentials_and_database() {
        let c = ClickHouseConfig::from_url("http://default:s%40cret@127.0.0.1:8123/tracewire")
            .expect("valid");
        assert_eq!(c.url, "http://127.0.0.1:8123");
        assert_eq!(c.user.as_deref(), Some("default"));
        assert_eq!(c.password.as_deref(), Some("s@cret"));
        assert_eq!(c.database, "tracewire");
        let plain = ClickHouseConfig::from_url("https://ch.example.com/").expect("valid");
        assert_eq!(
            (plain.url.as_str(), plain.user, plain.database.as_str()),
            ("https://ch.example.com", None, "default")
        );
    }

    #[test]
    fn bad_urls_and_names_are_refused() {
        assert!(ClickHouseConfig::from_url("tcp://x:9000").is_err());
        assert!(ClickHouseConfig::from_url("http://x/db?user=a").is_err());
        assert!(ClickHouseConfig::from_url("http://x/db`; DROP").is_err());
        assert!(ClickHouseConfig::from_url("http:///db").is_err());
        assert!(check_name("prod-cluster.eu").is_ok());
        assert!(check_name("1abc").is_err());
        assert!(check_name("a'b").is_err());
    }
}
