//! The soak's settings, from environment variables, and its fault schedule.

use std::time::Duration;

/// How long the soak runs (seconds); 600 by default.
pub const ENV_SECONDS: &str = "SOAK_SECONDS";
/// Spans per second sent to each store, all clients together; 1000 by default.
pub const ENV_RATE: &str = "SOAK_RATE";
/// OTLP clients per store; 4 by default.
pub const ENV_CLIENTS: &str = "SOAK_CLIENTS";
/// Seconds between two `kill -9` of each collector; 20 by default.
pub const ENV_KILL_EVERY: &str = "SOAK_KILL_EVERY";

/// What the soak does, and when.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The whole run, load and faults (the final checks come after).
    pub duration: Duration,
    /// Spans per second per store.
    pub rate: u32,
    /// Clients per store.
    pub clients: u32,
    /// Spans per request.
    pub batch: u32,
    /// Time between two kills of each collector.
    pub kill_every: Duration,
}

impl Settings {
    /// Reads the environment; a value that does not parse is an error naming the variable.
    pub fn from_env() -> Result<Self, String> {
        let seconds = number(ENV_SECONDS, 600)?;
        let rate = number(ENV_RATE, 1000)?;
        let clients = number(ENV_CLIENTS, 4)?;
        let kill_every = number(ENV_KILL_EVERY, 20)?;
        if seconds < 20 || rate == 0 || clients == 0 || kill_every == 0 {
            return Err(format!(
                "{ENV_SECONDS} must be at least 20 and {ENV_RATE}, {ENV_CLIENTS}, {ENV_KILL_EVERY} above 0"
            ));
        }
        Ok(Self {
            duration: Duration::from_secs(seconds),
            rate: u32::try_from(rate).map_err(|_| format!("{ENV_RATE} is too large"))?,
            clients: u32::try_from(clients).map_err(|_| format!("{ENV_CLIENTS} is too large"))?,
            batch: 50,
            kill_every: Duration::from_secs(kill_every),
        })
    }

    /// The part of the run from `from` to `to` (fractions of it).
    fn span(&self, from: f64, to: f64) -> (Duration, Duration) {
        (self.duration.mul_f64(from), self.duration.mul_f64(to))
    }

    /// When ClickHouse is down: from a quarter of the run to 45 %.
    pub fn clickhouse_outage(&self) -> (Duration, Duration) {
        self.span(0.25, 0.45)
    }

    /// When the stores' filesystems are full: from 55 % of the run to 75 %.
    pub fn disk_full(&self) -> (Duration, Duration) {
        self.span(0.55, 0.75)
    }

    /// Collectors are killed until then (90 %), so that the end of the run is calm.
    pub fn kills_until(&self) -> Duration {
        self.duration.mul_f64(0.9)
    }

    /// The faults active at `at`, for the report.
    pub fn phase(&self, at: Duration) -> &'static str {
        let within = |(from, to): (Duration, Duration)| at >= from && at < to;
        if within(self.clickhouse_outage()) {
            "clickhouse down"
        } else if within(self.disk_full()) {
            "disk full"
        } else if at >= self.kills_until() {
            "calm"
        } else {
            "kills"
        }
    }
}

fn number(var: &str, default: u64) -> Result<u64, String> {
    match std::env::var(var) {
        Ok(text) => text
            .trim()
            .parse()
            .map_err(|_| format!("{var}={text:?} is not a whole number")),
        Err(_) => Ok(default),
    }
}
