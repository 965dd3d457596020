//! Alerts: rules over what the collector stores (WebSocket latency and errors, poll storms,
//! services' rate, errors and latency, log searches, metrics), evaluated every interval inside
//! the collector and sent to webhooks, Slack, PagerDuty and e-mail. Rules come from the rules
//! file ([`rules`], reloaded on SIGHUP) and from the API (kept in the store, so every collector
//! sees them); each rule reads its own tenant's data. [`engine`] evaluates them, once per slot
//! across every collector on one store; [`notify`] sends what changed.

mod condition;
mod config;
mod engine;
pub mod notify;
pub mod rules;
mod state;
pub mod template;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::task::JoinHandle;
use tracing::warn;

pub use condition::{Condition, Leg, Quantile, Sample};
pub use config::{
    AlertOptions, DEFAULT_ALERT_INTERVAL, ENV_ALERT_INTERVAL, ENV_ALERT_UI_URL, ENV_RULES,
};
pub use rules::{Problem, Rule, RuleSet, RuleSpec, RulesError, Source};

use self::notify::{Channel, Notifier};
use crate::access::Tenant;
use crate::access::id_of_stored;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::tls::TlsError;

/// Now, unix nanoseconds.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Why the alert engine cannot start.
#[derive(Debug, thiserror::Error)]
pub enum AlertsError {
    /// The rules file cannot be used.
    #[error("{0}")]
    Rules(#[from] RulesError),
    /// The HTTP client for notifications cannot be set up.
    #[error("alert notifications: {0}")]
    Client(#[from] TlsError),
}

/// The alert engine of one collector.
pub struct Alerts {
    store: Arc<Store>,
    path: Option<PathBuf>,
    file: RwLock<Arc<RuleSet>>,
    interval: Duration,
    /// This collector's id in evaluation claims.
    owner: String,
    notifier: Notifier,
    metrics: Arc<Metrics>,
    ui_url: String,
}

impl Alerts {
    /// Loads the rules file (when given) and sets up notifications; `api` is the API listener's
    /// address, the UI's address in links unless `--alert-ui-url` says otherwise; evaluations,
    /// transitions and notifications are counted in `metrics`.
    pub fn new(
        store: Arc<Store>,
        metrics: Arc<Metrics>,
        options: &AlertOptions,
        api: SocketAddr,
        api_tls: bool,
    ) -> Result<Arc<Self>, AlertsError> {
        let file = match &options.rules {
            Some(path) => RuleSet::load(path)?,
            None => RuleSet::default(),
        };
        let ui_url = match &options.alert_ui_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("{}://{api}", if api_tls { "https" } else { "http" }),
        };
        let owner: [u8; 16] = rand::random();
        Ok(Arc::new(Self {
            notifier: Notifier::start(
                Arc::clone(&store),
                Arc::clone(&metrics),
                crate::tls::http_client()?,
            ),
            metrics,
            store,
            path: options.rules.clone(),
            file: RwLock::new(Arc::new(file)),
            interval: options.interval(),
            owner: hex::encode(owner),
            ui_url,
        }))
    }

    /// Starts evaluating.
    pub fn spawn(self: &Arc<Self>) -> JoinHandle<()> {
        tokio::spawn(Arc::clone(self).run())
    }

    /// Lets the notifications queued or being sent finish, at most `within` (evaluation stopped
    /// first); answers how many are still not done then.
    pub async fn drain_notifications(&self, within: Duration) -> usize {
        self.notifier.drain(within).await
    }

    /// The rules file's path, when one is in force.
    pub fn path(&self) -> Option<&PathBuf> {
        self.path.as_ref()
    }

    /// Reads the rules file again; on error the rules in force stay. Answers how many rules
    /// and channels it holds.
    pub fn reload(&self) -> Result<(usize, usize), RulesError> {
        let Some(path) = &self.path else {
            return Ok((0, 0));
        };
        let set = RuleSet::load(path)?;
        let counts = (set.rules.len(), set.channels.len());
        if let Ok(mut file) = self.file.write() {
            *file = Arc::new(set);
        }
        Ok(counts)
    }

    fn file(&self) -> Arc<RuleSet> {
        self.file.read().map(|f| Arc::clone(&f)).unwrap_or_default()
    }

    /// The channels of the rules file.
    pub fn channels(&self) -> BTreeMap<String, Arc<dyn Channel>> {
        self.file().channels.clone()
    }

    /// The rules of the file in force.
    pub fn file_rules(&self) -> Vec<Rule> {
        self.file().rules.clone()
    }

    /// Every rule in force: the file's, then those set through the API (a stored rule that no
    /// longer checks, e.g. naming a channel gone from the file, is logged and left out).
    pub async fn all_rules(&self) -> Vec<Rule> {
        let file = self.file();
        let mut rules = file.rules.clone();
        match self.store.all_alert_rules().await {
            Ok(stored) => {
                for (tenant, record) in stored {
                    let place = format!("rule \"{}\"", record.name);
                    let rule = serde_json::from_value::<RuleSpec>(record.body)
                        .map_err(|e| Problem {
                            place: place.clone(),
                            field: "rule".into(),
                            message: e.to_string(),
                        })
                        .and_then(|spec| {
                            let tenant =
                                Tenant::from_id(id_of_stored(&tenant)).map_err(|m| Problem {
                                    place: place.clone(),
                                    field: "tenant".into(),
                                    message: m,
                                })?;
                            spec.check(&place, Source::Api, tenant, &file.channels)
                        });
                    match rule {
                        Ok(rule) => rules.push(rule),
                        Err(problem) => warn!("Stored alert rule left out: {problem}"),
                    }
                }
            }
            Err(e) => warn!(error = %e, "Cannot read the alert rules set through the API"),
        }
        rules
    }

    /// The rules in force of the tenant stored as `tenant`.
    pub async fn rules_of(&self, tenant: &str) -> Vec<Rule> {
        let mut rules = self.all_rules().await;
        rules.retain(|r| r.tenant.stored() == tenant);
        rules
    }
}
