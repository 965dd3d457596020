//! The store's options: which store (`--store`), how many items may wait for it
//! (`--write-queue-items`) and how long it keeps data (`--retention`), with each engine's own
//! options ([`ClickHouseOptions`], [`SpoolOptions`]), together a [`StoreConfig`].

use std::time::Duration;

use super::clickhouse::{ClickHouseConfig, ClickHouseOptions, ClickHouseServer, SpoolOptions};
use super::retention::{check_retention, default_retention};
use super::url::StoreUrl;
use crate::options::{InvalidOption, Retention};

/// Environment variable for [`StoreConfig::url`].
pub const ENV_STORE: &str = "TRACEWIRE_STORE";
/// Default for [`StoreConfig::url`].
pub const DEFAULT_STORE: &str = "sqlite:./tracewire-data/tracewire.db";
/// Environment variable for [`StoreConfig::write_queue_items`].
pub const ENV_WRITE_QUEUE_ITEMS: &str = "TRACEWIRE_WRITE_QUEUE_ITEMS";
/// Default for [`StoreConfig::write_queue_items`].
pub const DEFAULT_WRITE_QUEUE_ITEMS: usize = 200_000;

/// Everything a store is opened with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// The store: `sqlite:<path>` (parent directories are created) or `clickhouse:<http url>`.
    pub url: StoreUrl,
    /// How many spans and log records may wait for the store. When full, ingest answers 503
    /// with `Retry-After` instead of buffering without bound.
    pub write_queue_items: usize,
    /// How long spans and logs are kept; older rows are deleted in the background.
    pub retention: Duration,
    /// The ClickHouse store's options (used when the store is ClickHouse).
    pub clickhouse: ClickHouseOptions,
    /// The ClickHouse store's spool (used when the store is ClickHouse).
    pub spool: SpoolOptions,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            url: DEFAULT_STORE
                .parse()
                .unwrap_or_else(|_| unreachable!("the default parses")),
            write_queue_items: DEFAULT_WRITE_QUEUE_ITEMS,
            retention: default_retention(),
            clickhouse: ClickHouseOptions::default(),
            spool: SpoolOptions::default(),
        }
    }
}

impl StoreConfig {
    /// Checks the values that parse but are not usable.
    pub fn validate(&self) -> Result<(), InvalidOption> {
        check_retention(self.retention)?;
        if self.write_queue_items == 0 {
            return Err(InvalidOption::new(
                "write-queue-items",
                "must be at least 1",
            ));
        }
        self.clickhouse.validate()?;
        self.spool.validate()
    }

    /// The ClickHouse store's settings when the store is ClickHouse.
    pub fn clickhouse(&self) -> Option<ClickHouseConfig> {
        match &self.url {
            StoreUrl::ClickHouse(server) => Some(self.clickhouse_on(server)),
            StoreUrl::Sqlite(_) => None,
        }
    }

    /// The ClickHouse store's settings for `server`.
    pub(super) fn clickhouse_on(&self, server: &ClickHouseServer) -> ClickHouseConfig {
        ClickHouseConfig {
            server: server.clone(),
            options: self.clickhouse.clone(),
            spool: self.spool.clone(),
            retention: self.retention,
        }
    }
}

/// The store's options as one layer gives them (flags and environment, or the config file's
/// top-level keys): each one given replaces what the layers below gave.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct StoreArgs {
    /// [`StoreConfig::url`], as written; checked by [`StoreArgs::apply`].
    #[arg(
        long = "store",
        value_name = "URL",
        env = ENV_STORE,
        global = true,
        help = format!(
            "Where to store: `sqlite:<path>` or `clickhouse:<http url>` [default: {DEFAULT_STORE}]"
        )
    )]
    pub store: Option<String>,
    /// [`StoreConfig::retention`].
    #[arg(
        long = "retention",
        value_name = "DURATION",
        env = super::retention::ENV_RETENTION,
        global = true,
        help = format!(
            "How long to keep data, e.g. `7d`, `12h` [default: {}]",
            super::retention::DEFAULT_RETENTION
        )
    )]
    pub retention: Option<Retention>,
    /// [`StoreConfig::write_queue_items`].
    #[arg(
        long = "write-queue-items",
        value_name = "N",
        env = ENV_WRITE_QUEUE_ITEMS,
        global = true,
        help = format!(
            "Spans and log records that may wait for the store before ingest answers 503 \
             [default: {DEFAULT_WRITE_QUEUE_ITEMS}]"
        )
    )]
    pub write_queue_items: Option<usize>,
}

impl StoreArgs {
    /// Replaces the options this layer gives; the store URL must parse.
    pub fn apply(self, config: &mut StoreConfig) -> Result<(), InvalidOption> {
        if let Some(url) = self.store {
            config.url = url
                .parse()
                .map_err(|message: String| InvalidOption::new("store", message))?;
        }
        if let Some(v) = self.retention {
            config.retention = v.0;
        }
        if let Some(v) = self.write_queue_items {
            config.write_queue_items = v;
        }
        Ok(())
    }
}
