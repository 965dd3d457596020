//! Retention (`--retention`): how long the store keeps spans, logs and what is derived from
//! them. SQLite deletes older rows in the background; ClickHouse drops them by TTL.

use std::time::Duration;

use crate::options::{InvalidOption, Retention};

/// Environment variable for the retention.
pub const ENV_RETENTION: &str = "TRACEWIRE_RETENTION";
/// Default retention.
pub const DEFAULT_RETENTION: &str = "7d";
/// The shortest accepted retention.
const MIN_RETENTION: Duration = Duration::from_secs(1);

/// [`DEFAULT_RETENTION`] as a duration.
pub fn default_retention() -> Duration {
    DEFAULT_RETENTION
        .parse::<Retention>()
        .map_or_else(|_| unreachable!("the default parses"), |r| r.0)
}

/// Checks that `retention` can be used.
pub fn check_retention(retention: Duration) -> Result<(), InvalidOption> {
    if retention < MIN_RETENTION {
        return Err(InvalidOption::new("retention", "must be at least 1s"));
    }
    Ok(())
}
