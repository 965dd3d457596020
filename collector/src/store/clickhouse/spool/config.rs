//! The spool's options: where it lives and how much it may hold. Flags `--spool-<name>`, the
//! `[spool]` table of the config file.

use std::path::PathBuf;

use serde::Deserialize;

use crate::options::{ByteSize, InvalidOption};

/// Environment variable for [`SpoolOptions::dir`].
pub const ENV_DIR: &str = "TRACEWIRE_SPOOL_DIR";
/// Default for [`SpoolOptions::dir`].
pub const DEFAULT_DIR: &str = "./tracewire-data/spool";
/// Environment variable for [`SpoolOptions::max_bytes`].
pub const ENV_MAX_BYTES: &str = "TRACEWIRE_SPOOL_MAX_BYTES";
/// Default for [`SpoolOptions::max_bytes`].
pub const DEFAULT_MAX_BYTES: &str = "1GiB";
/// The smallest accepted [`SpoolOptions::max_bytes`].
const MIN_MAX_BYTES: u64 = 1024;

/// Where the ClickHouse store spools batches until ClickHouse has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolOptions {
    /// Directory of the on-disk spool where batches wait for ClickHouse. A 200 means the batch
    /// is fsynced here; it is kept across restarts and shipped at start.
    pub dir: PathBuf,
    /// The most bytes the spool holds. When ClickHouse is down long enough to fill it, ingest
    /// answers 503 with `Retry-After`.
    pub max_bytes: u64,
}

impl Default for SpoolOptions {
    fn default() -> Self {
        Self {
            dir: PathBuf::from(DEFAULT_DIR),
            max_bytes: DEFAULT_MAX_BYTES
                .parse::<ByteSize>()
                .map_or_else(|_| unreachable!("the default parses"), |b| b.0),
        }
    }
}

impl SpoolOptions {
    /// Checks the values that parse but are not usable.
    pub fn validate(&self) -> Result<(), InvalidOption> {
        if self.max_bytes < MIN_MAX_BYTES {
            return Err(InvalidOption::new(
                "spool-max-bytes",
                format!("{} is too small; at least 1KiB", ByteSize(self.max_bytes)),
            ));
        }
        Ok(())
    }
}

/// [`SpoolOptions`] as one layer gives them (flags and environment, or the config file's
/// `[spool]` table): each one given replaces what the layers below gave.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpoolArgs {
    /// [`SpoolOptions::dir`].
    #[arg(
        id = "spool_dir",
        long = "spool-dir",
        value_name = "DIR",
        env = ENV_DIR,
        global = true,
        help = format!("ClickHouse store: directory of the on-disk spool [default: {DEFAULT_DIR}]")
    )]
    pub dir: Option<PathBuf>,
    /// [`SpoolOptions::max_bytes`].
    #[arg(
        id = "spool_max_bytes",
        long = "spool-max-bytes",
        value_name = "SIZE",
        env = ENV_MAX_BYTES,
        global = true,
        help = format!(
            "ClickHouse store: most bytes spooled before ingest answers 503, e.g. `1GiB` \
             [default: {DEFAULT_MAX_BYTES}]"
        )
    )]
    pub max_bytes: Option<ByteSize>,
}

impl SpoolArgs {
    /// Replaces the options this layer gives.
    pub fn apply(self, options: &mut SpoolOptions) {
        if let Some(v) = self.dir {
            options.dir = v;
        }
        if let Some(v) = self.max_bytes {
            options.max_bytes = v.0;
        }
    }
}
