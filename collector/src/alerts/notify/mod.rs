//! Notifications: the channels of the rules file (one trait, [`Channel`], implemented by
//! [`webhook`] in the Alertmanager webhook format, [`slack`], [`pagerduty`] Events API v2 and
//! [`email`] over SMTP), and the [`Notifier`] that sends them. Evaluation only enqueues into a
//! bounded queue with a non-blocking try; a worker sends each notification in a task of its
//! own, retrying with backoff, and writes every attempt into the notification log. When the
//! collector stops, [`Notifier::drain`] lets what is queued or being sent finish for a while.

pub mod email;
pub mod pagerduty;
pub mod slack;
pub mod webhook;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde::Deserialize;
use tokio::sync::{Notify, Semaphore, mpsc};
use tracing::warn;

use super::now_ns;
use crate::metrics::Metrics;
use crate::store::{AlertState, NotificationRecord, Scope, SilenceRecord, Store};
use crate::tls::HttpClient;

/// Notifications waiting to be sent at most; more are dropped (and logged as dropped).
const QUEUE: usize = 1_024;
/// Notifications being sent at once at most.
const IN_FLIGHT: usize = 16;
/// Attempts per notification at most.
pub const MAX_ATTEMPTS: u32 = 5;
/// The wait before the second attempt; it doubles before each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// The longest one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// What receivers are told about one alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The rule's tenant, as stored.
    pub tenant: String,
    /// The rule's name.
    pub rule: String,
    /// The alert's key within the rule.
    pub key: String,
    /// `Firing` or `Resolved`.
    pub status: AlertState,
    /// The rule's severity.
    pub severity: String,
    /// `alertname`, `severity`, the rule's labels and the alert's instance labels.
    pub labels: BTreeMap<String, String>,
    /// The summary, filled in.
    pub summary: String,
    /// The value that made the change.
    pub value: Option<f64>,
    /// The rule's threshold, comparison and window, as written.
    pub threshold: f64,
    /// `>`, `>=`, `<` or `<=`.
    pub op: &'static str,
    /// The window, as written.
    pub window: String,
    /// When the alert started firing (or pending), unix nanoseconds.
    pub starts_at_ns: i64,
    /// When it resolved, unix nanoseconds.
    pub ends_at_ns: Option<i64>,
    /// A stable id of the alert (tenant, rule and key): PagerDuty's `dedup_key`.
    pub fingerprint: String,
    /// The web UI's base address.
    pub ui_url: String,
    /// The alert on the UI's Alerts page.
    pub alert_url: String,
    /// The slowest trace of the window on the UI, when known.
    pub trace_url: Option<String>,
    /// The session behind the value on the UI, when known.
    pub session_url: Option<String>,
}

/// Why a channel did not take a notification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    /// The receiver's status (HTTP) or reply code (SMTP), when it answered.
    pub code: Option<u16>,
    /// What happened.
    pub message: String,
    /// Whether another attempt may succeed.
    pub retryable: bool,
}

/// One way of telling people: a channel of the rules file.
#[async_trait]
pub trait Channel: Send + Sync {
    /// The channel's name in the rules file.
    fn name(&self) -> &str;

    /// The channel's `type` in the rules file (`webhook`, `slack`, `pagerduty`, `email`).
    fn kind(&self) -> &'static str;

    /// Sends one notification; the receiver's status or reply code when it took it.
    async fn send(&self, notification: &Notification, http: &HttpClient) -> Result<u16, SendError>;
}

fn default_pagerduty_url() -> String {
    pagerduty::EVENTS_URL.to_owned()
}

/// A `[[channels]]` table of the rules file.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelSpec {
    /// Rules name it in `channels`.
    pub name: String,
    /// How it sends (`type` and its settings).
    pub kind: ChannelKind,
}

/// The kinds of channels with their settings; a secret can come from an environment variable
/// (`url_env`, `routing_key_env`, `password_env`) instead of the file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ChannelKind {
    /// JSON in the Alertmanager webhook format.
    Webhook {
        /// Where to POST.
        url: Option<String>,
        /// The environment variable holding the URL.
        url_env: Option<String>,
    },
    /// A Slack incoming webhook.
    Slack {
        /// The incoming webhook's URL.
        url: Option<String>,
        /// The environment variable holding the URL.
        url_env: Option<String>,
    },
    /// PagerDuty Events API v2.
    Pagerduty {
        /// The integration's routing key.
        routing_key: Option<String>,
        /// The environment variable holding the routing key.
        routing_key_env: Option<String>,
        /// The events endpoint [default: https://events.pagerduty.com/v2/enqueue].
        #[serde(default = "default_pagerduty_url")]
        url: String,
    },
    /// E-mail over SMTP.
    Email(email::EmailSpec),
}

/// The value of a setting given in the file or in an environment variable.
pub(super) fn secret(
    value: &Option<String>,
    env: &Option<String>,
    field: &'static str,
) -> Result<String, (&'static str, String)> {
    match (value, env) {
        (Some(_), Some(_)) => Err((field, format!("give `{field}` or `{field}_env`, not both"))),
        (Some(v), None) => Ok(v.clone()),
        (None, Some(var)) => std::env::var(var).map_err(|_| {
            (
                field,
                format!("the environment variable {var} (from `{field}_env`) is not set"),
            )
        }),
        (None, None) => Err((field, format!("give `{field}` or `{field}_env`"))),
    }
}

fn http_url(url: String, field: &'static str) -> Result<hyper::Uri, (&'static str, String)> {
    let uri: hyper::Uri = url
        .parse()
        .map_err(|_| (field, "is not a URL".to_owned()))?;
    match uri.scheme_str() {
        Some("http" | "https") if uri.host().is_some() => Ok(uri),
        _ => Err((field, "must be an http:// or https:// URL".to_owned())),
    }
}

impl ChannelSpec {
    /// Reads a `[[channels]]` table: `name`, then `type` and its settings.
    pub fn from_table(mut table: toml::Table) -> Result<Self, (&'static str, String)> {
        let name = match table.remove("name") {
            Some(toml::Value::String(name)) => name,
            _ => return Err(("name", "give the channel a name (a string)".into())),
        };
        let kind = ChannelKind::deserialize(toml::Value::Table(table))
            .map_err(|e| ("type", e.message().trim().replace('\n', " ")))?;
        Ok(Self { name, kind })
    }

    /// The channel, with its secrets read: `Err((field, message))` when it cannot work.
    pub fn build(&self) -> Result<Arc<dyn Channel>, (&'static str, String)> {
        let name = self.name.clone();
        if name.trim().is_empty() {
            return Err(("name", "give the channel a name".into()));
        }
        Ok(match &self.kind {
            ChannelKind::Webhook { url, url_env } => Arc::new(webhook::Webhook {
                name,
                url: http_url(secret(url, url_env, "url")?, "url")?,
            }),
            ChannelKind::Slack { url, url_env } => Arc::new(slack::Slack {
                name,
                url: http_url(secret(url, url_env, "url")?, "url")?,
            }),
            ChannelKind::Pagerduty {
                routing_key,
                routing_key_env,
                url,
            } => Arc::new(pagerduty::PagerDuty {
                name,
                routing_key: secret(routing_key, routing_key_env, "routing_key")?,
                url: http_url(url.clone(), "url")?,
            }),
            ChannelKind::Email(spec) => Arc::new(spec.build(name)?),
        })
    }
}

/// POSTs `body` as JSON to `url`; the status when it is 2xx.
pub(super) async fn post_json(
    http: &HttpClient,
    url: &hyper::Uri,
    body: &serde_json::Value,
) -> Result<u16, SendError> {
    let request = hyper::Request::post(url.clone())
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(
            hyper::header::USER_AGENT,
            concat!("tracewire/", env!("CARGO_PKG_VERSION")),
        )
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| SendError {
            code: None,
            message: e.to_string(),
            retryable: false,
        })?;
    let response = http.request(request).await.map_err(|e| SendError {
        code: None,
        message: format!("cannot reach the receiver: {e}"),
        retryable: true,
    })?;
    let status = response.status();
    if status.is_success() {
        // Read the answer so that the connection can be reused.
        let _ = response.into_body().collect().await;
        return Ok(status.as_u16());
    }
    Err(SendError {
        code: Some(status.as_u16()),
        message: format!("the receiver answered {status}"),
        retryable: status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429,
    })
}

/// A notification to send on a channel.
struct Job {
    notification: Notification,
    channel: Arc<dyn Channel>,
}

/// Sends notifications in the background; cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    queue: mpsc::Sender<Job>,
    log: Log,
    unsent: Unsent,
}

/// Notifications queued or being sent, and a wake-up for each one done.
#[derive(Clone, Default)]
struct Unsent {
    count: Arc<AtomicUsize>,
    done: Arc<Notify>,
}

impl Unsent {
    fn finished(&self) {
        self.count.fetch_sub(1, Ordering::AcqRel);
        self.done.notify_waiters();
    }
}

/// Where attempts are recorded: the store's notification log and the collector's metrics.
#[derive(Clone)]
struct Log {
    store: Arc<Store>,
    metrics: Arc<Metrics>,
}

impl Notifier {
    /// Starts the worker that sends what is enqueued, logging into `store` and counting in
    /// `metrics`.
    pub fn start(store: Arc<Store>, metrics: Arc<Metrics>, http: HttpClient) -> Self {
        let (queue, mut jobs) = mpsc::channel::<Job>(QUEUE);
        let log = Log { store, metrics };
        let worker_log = log.clone();
        let unsent = Unsent::default();
        let worker_unsent = unsent.clone();
        tokio::spawn(async move {
            let slots = Arc::new(Semaphore::new(IN_FLIGHT));
            while let Some(job) = jobs.recv().await {
                let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
                    return;
                };
                let (log, http, unsent) = (worker_log.clone(), http.clone(), worker_unsent.clone());
                tokio::spawn(async move {
                    deliver(&log, &http, job).await;
                    drop(permit);
                    unsent.finished();
                });
            }
        });
        Self { queue, log, unsent }
    }

    /// Waits until every notification queued or being sent is done (sent, given up), at most
    /// `within`; answers how many are still not done then.
    pub async fn drain(&self, within: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let done = self.unsent.done.notified();
            let left = self.unsent.count.load(Ordering::Acquire);
            if left == 0 {
                return 0;
            }
            if tokio::time::timeout_at(deadline, done).await.is_err() {
                return self.unsent.count.load(Ordering::Acquire);
            }
        }
    }

    /// Sends `notification` on `channel` unless a silence of `silences` matches it (then it
    /// is only logged as silenced); never waits: a full queue drops it, logged as dropped.
    pub async fn notify(
        &self,
        notification: Notification,
        channel: Arc<dyn Channel>,
        silences: &[SilenceRecord],
    ) {
        let silenced = silences
            .iter()
            .any(|s| s.silences(&notification.labels, now_ns()));
        let outcome = if silenced {
            "silenced"
        } else {
            // Counted before it is queued, so that the worker never finishes it uncounted.
            self.unsent.count.fetch_add(1, Ordering::AcqRel);
            match self.queue.try_send(Job {
                notification: notification.clone(),
                channel: Arc::clone(&channel),
            }) {
                Ok(()) => return,
                Err(_) => {
                    self.unsent.count.fetch_sub(1, Ordering::AcqRel);
                    warn!(rule = %notification.rule, "Alert notification queue full; notification dropped");
                    "dropped"
                }
            }
        };
        self.log
            .write(&notification, channel.as_ref(), 0, outcome, None, None)
            .await;
    }
}

impl Log {
    /// Counts one attempt and writes it into the notification log (failures to write it are
    /// logged).
    async fn write(
        &self,
        n: &Notification,
        channel: &dyn Channel,
        attempt: u32,
        outcome: &'static str,
        code: Option<u16>,
        error: Option<String>,
    ) {
        self.metrics.alert_notification(channel.kind(), outcome);
        let entry = NotificationRecord {
            time_ns: now_ns(),
            rule: n.rule.clone(),
            key: n.key.clone(),
            channel: channel.name().to_owned(),
            status: n.status,
            attempt,
            outcome: outcome.to_owned(),
            code,
            error,
        };
        if let Err(e) = self
            .store
            .alerts(Scope::of_tenant(&n.tenant))
            .log_notification(&entry)
            .await
        {
            warn!(error = %e, rule = %n.rule, "Cannot write the alert notification log");
        }
    }
}

/// Sends one notification, retrying with backoff, and logs every attempt.
async fn deliver(log: &Log, http: &HttpClient, job: Job) {
    let Job {
        notification,
        channel,
    } = job;
    let mut backoff = FIRST_BACKOFF;
    for attempt in 1..=MAX_ATTEMPTS {
        let result =
            match tokio::time::timeout(ATTEMPT_TIMEOUT, channel.send(&notification, http)).await {
                Ok(result) => result,
                Err(_) => Err(SendError {
                    code: None,
                    message: format!("no answer within {ATTEMPT_TIMEOUT:?}"),
                    retryable: true,
                }),
            };
        match result {
            Ok(code) => {
                log.write(
                    &notification,
                    channel.as_ref(),
                    attempt,
                    "sent",
                    Some(code),
                    None,
                )
                .await;
                return;
            }
            Err(e) => {
                let last = attempt == MAX_ATTEMPTS || !e.retryable;
                let outcome = if last { "gave_up" } else { "failed" };
                warn!(
                    rule = %notification.rule,
                    channel = channel.name(),
                    attempt,
                    error = %e,
                    "Alert notification failed"
                );
                log.write(
                    &notification,
                    channel.as_ref(),
                    attempt,
                    outcome,
                    e.code,
                    Some(e.message),
                )
                .await;
                if last {
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
    }
}

/// RFC 3339 time of unix nanoseconds, UTC, milliseconds.
pub(super) fn rfc3339(ns: i64) -> String {
    let time = std::time::UNIX_EPOCH + Duration::from_nanos(u64::try_from(ns).unwrap_or(0));
    humantime::format_rfc3339_millis(time).to_string()
}
