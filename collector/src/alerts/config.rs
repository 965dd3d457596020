//! The alert engine's options: the rules file, how often rules are evaluated, and the web UI's
//! address for links in notifications. Their keys in the config file are flat, as their flags.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::options::{Interval, InvalidOption};

/// Environment variable for [`AlertOptions::rules`].
pub const ENV_RULES: &str = "TRACEWIRE_RULES";
/// Environment variable for [`AlertOptions::alert_interval`].
pub const ENV_ALERT_INTERVAL: &str = "TRACEWIRE_ALERT_INTERVAL";
/// Default for [`AlertOptions::alert_interval`].
pub const DEFAULT_ALERT_INTERVAL: Duration = Duration::from_secs(15);
/// Environment variable for [`AlertOptions::alert_ui_url`].
pub const ENV_ALERT_UI_URL: &str = "TRACEWIRE_ALERT_UI_URL";

/// The shortest accepted [`AlertOptions::alert_interval`].
const MIN_ALERT_INTERVAL: Duration = Duration::from_millis(100);

/// Alert rules and their evaluation.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, clap::Args)]
#[serde(default, deny_unknown_fields)]
pub struct AlertOptions {
    /// Alert rules and notification channels (TOML, see docs/alerts.md); SIGHUP reloads it, and
    /// a file that does not load keeps the rules in force. Rules set through the API
    /// (`PUT /api/alerts/rules/{name}`) apply with or without one.
    #[arg(long, value_name = "FILE", env = ENV_RULES, global = true)]
    pub rules: Option<PathBuf>,
    /// How often every rule is evaluated, e.g. `15s` [default: 15s].
    #[arg(long, value_name = "DURATION", env = ENV_ALERT_INTERVAL, global = true)]
    pub alert_interval: Option<Interval>,
    /// The web UI's address as the receivers of notifications reach it, for the links in them,
    /// e.g. `https://tracewire.example.com` [default: the API listener's address].
    #[arg(long, value_name = "URL", env = ENV_ALERT_UI_URL, global = true)]
    pub alert_ui_url: Option<String>,
}

impl AlertOptions {
    /// Puts the options given on the command line (or in the environment) over these.
    pub fn overlay(&mut self, cli: Self) {
        if cli.rules.is_some() {
            self.rules = cli.rules;
        }
        if cli.alert_interval.is_some() {
            self.alert_interval = cli.alert_interval;
        }
        if cli.alert_ui_url.is_some() {
            self.alert_ui_url = cli.alert_ui_url;
        }
    }

    /// The evaluation interval.
    pub fn interval(&self) -> Duration {
        self.alert_interval.map_or(DEFAULT_ALERT_INTERVAL, |i| i.0)
    }

    /// Checks what parsing alone cannot.
    pub fn validate(&self) -> Result<(), InvalidOption> {
        if self.interval() < MIN_ALERT_INTERVAL {
            return Err(InvalidOption::new(
                "alert-interval",
                "must be at least 100ms; 15s suits most rules",
            ));
        }
        if let Some(url) = &self.alert_ui_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(InvalidOption::new(
                "alert-ui-url",
                format!("'{url}' is not an http:// or https:// URL"),
            ));
        }
        Ok(())
    }
}
