//! The store URL (`--store`): which engine, and where. Parsed once, completely, when the
//! configuration is read; the engines take the parsed parts.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use super::clickhouse::ClickHouseServer;
use crate::options::deserialize_via_from_str;

/// Where data is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// An embedded SQLite database file (`sqlite:<path>`).
    Sqlite(PathBuf),
    /// A ClickHouse server (`clickhouse:<http url>`).
    ClickHouse(ClickHouseServer),
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
            return url.parse().map(Self::ClickHouse);
        }
        Err(format!("'{text}' is not a store URL; {ACCEPTED}"))
    }
}
deserialize_via_from_str!(StoreUrl);

/// The URL as given, with a password hidden, so that it can be logged.
impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            Self::ClickHouse(server) => write!(f, "clickhouse:{server}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
