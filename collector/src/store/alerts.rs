//! What the alert engine ([`crate::alerts`]) keeps in the store, so that every collector on one
//! store sees the same rules, states, history, silences and notification log, and evaluates each
//! rule once per slot: the records ([`AlertRecord`], [`TransitionRecord`],
//! [`NotificationRecord`], [`SilenceRecord`], [`RuleRecord`]) and the contract each engine
//! implements ([`AlertBook`]). Engines keep each record's fields as a JSON body next to the few
//! columns they look rows up by, so both engines store the same thing.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::error::StoreError;
use super::read::Scope;

/// Where an alert is in its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// The condition does not hold (and never fired since it last held).
    #[default]
    Inactive,
    /// The condition holds, for less than the rule's `for`.
    Pending,
    /// The condition has held for the rule's `for`: notified.
    Firing,
    /// It fired and the condition stopped holding: notified.
    Resolved,
}

impl AlertState {
    /// The state's name, as the API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inactive => "inactive",
            Self::Pending => "pending",
            Self::Firing => "firing",
            Self::Resolved => "resolved",
        }
    }
}

/// The current state of a rule (`key` empty) or of one of its alerts (one per label set the
/// condition answers, e.g. per session for a per-session poll storm).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRecord {
    /// The rule's name.
    pub rule: String,
    /// The alert's identity within the rule: its instance labels, `k=v` joined by `,`; empty
    /// for the rule's own record.
    pub key: String,
    /// The start of the evaluation slot that wrote it, unix nanoseconds.
    pub slot_ns: i64,
    /// The state.
    pub state: AlertState,
    /// When it entered the state, unix nanoseconds.
    pub since_ns: i64,
    /// Since when the condition holds without a break (pending or firing), unix nanoseconds.
    pub active_since_ns: Option<i64>,
    /// The condition's value at the last evaluation (the rule's record: the highest of its
    /// alerts'); none without data.
    pub value: Option<f64>,
    /// The rule's labels and the alert's instance labels.
    pub labels: BTreeMap<String, String>,
    /// The rule's summary template filled in.
    pub summary: String,
    /// The slowest trace of the window, when the condition knows one.
    pub trace_id: Option<String>,
    /// The session behind the value, when the condition knows one.
    pub session_id: Option<String>,
}

/// A change of state, for the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransitionRecord {
    /// When, unix nanoseconds.
    pub time_ns: i64,
    /// The rule's name.
    pub rule: String,
    /// The alert's key ([`AlertRecord::key`]).
    pub key: String,
    /// The state before.
    pub from: AlertState,
    /// The state after.
    pub to: AlertState,
    /// The value that made the change.
    pub value: Option<f64>,
    /// The alert's labels.
    pub labels: BTreeMap<String, String>,
    /// The summary then.
    pub summary: String,
    /// The slowest trace of the window, when known.
    pub trace_id: Option<String>,
    /// The session behind the value, when known.
    pub session_id: Option<String>,
}

/// One attempt to notify a channel, or a notification not sent (silenced, dropped).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationRecord {
    /// When, unix nanoseconds.
    pub time_ns: i64,
    /// The rule's name.
    pub rule: String,
    /// The alert's key.
    pub key: String,
    /// The channel's name.
    pub channel: String,
    /// `firing` or `resolved`.
    pub status: AlertState,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// `sent`, `failed` (retried while attempts are left), `gave_up`, `silenced` or `dropped`.
    pub outcome: String,
    /// The receiver's HTTP status (or SMTP code), when it answered.
    pub code: Option<u16>,
    /// What went wrong.
    pub error: Option<String>,
}

/// A matcher of a silence: a label (`alertname` is the rule's name) equal or not equal to a
/// value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matcher {
    /// The label.
    pub name: String,
    /// The value.
    pub value: String,
    /// True for `=`, false for `!=`.
    #[serde(default = "yes")]
    pub equal: bool,
}

fn yes() -> bool {
    true
}

/// A silence: alerts whose labels match every matcher are recorded but not sent until the end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SilenceRecord {
    /// Its id.
    pub id: String,
    /// Every one must match.
    pub matchers: Vec<Matcher>,
    /// From, unix nanoseconds.
    pub starts_ns: i64,
    /// Until, unix nanoseconds.
    pub ends_ns: i64,
    /// Why.
    pub comment: String,
    /// When it was made or last changed, unix nanoseconds.
    pub updated_ns: i64,
}

impl SilenceRecord {
    /// Whether it silences an alert with `labels` at `now_ns`.
    pub fn silences(&self, labels: &BTreeMap<String, String>, now_ns: i64) -> bool {
        (self.starts_ns..self.ends_ns).contains(&now_ns)
            && self.matchers.iter().all(|m| {
                let value = labels.get(&m.name).map_or("", String::as_str);
                (value == m.value) == m.equal
            })
    }
}

/// A rule set through the API: its JSON as `PUT` took it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleRecord {
    /// The rule's name.
    pub name: String,
    /// The rule, as JSON.
    pub body: serde_json::Value,
    /// When it was set, unix nanoseconds.
    pub updated_ns: i64,
}

/// What every engine keeps for the alert engine. Every method takes the tenant's stored value
/// ([`Scope::tenant`]) except [`AlertBook::all_rules`], which the engine reads for every tenant.
#[async_trait]
pub(crate) trait AlertBook: Send + Sync {
    /// Claims the evaluation of `rule` in the slot starting at `slot_ns` for `owner`; true for
    /// the one claimer that got it, whichever collector asks first.
    async fn claim(
        &self,
        tenant: &str,
        rule: &str,
        slot_ns: i64,
        owner: &str,
    ) -> Result<bool, StoreError>;

    /// Whether any collector claimed that slot.
    async fn claimed(&self, tenant: &str, rule: &str, slot_ns: i64) -> Result<bool, StoreError>;

    /// The current records of `rule`'s alerts (of every rule when `None`), the rule's own
    /// included.
    async fn states(
        &self,
        tenant: &str,
        rule: Option<&str>,
    ) -> Result<Vec<AlertRecord>, StoreError>;

    /// Writes the new states of one evaluation and its transitions.
    async fn record(
        &self,
        tenant: &str,
        states: &[AlertRecord],
        transitions: &[TransitionRecord],
    ) -> Result<(), StoreError>;

    /// Transitions of `rule` (of every rule when `None`), newest first, at most `limit`.
    async fn history(
        &self,
        tenant: &str,
        rule: Option<&str>,
        limit: usize,
    ) -> Result<Vec<TransitionRecord>, StoreError>;

    /// Adds an entry to the notification log.
    async fn log_notification(
        &self,
        tenant: &str,
        entry: &NotificationRecord,
    ) -> Result<(), StoreError>;

    /// The notification log, newest first, at most `limit`.
    async fn notifications(
        &self,
        tenant: &str,
        limit: usize,
    ) -> Result<Vec<NotificationRecord>, StoreError>;

    /// Silences ending after `after_ns`.
    async fn silences(&self, tenant: &str, after_ns: i64)
    -> Result<Vec<SilenceRecord>, StoreError>;

    /// Makes or replaces (by id) a silence.
    async fn put_silence(&self, tenant: &str, silence: &SilenceRecord) -> Result<(), StoreError>;

    /// The rules set through the API, with their tenants, of every tenant.
    async fn all_rules(&self) -> Result<Vec<(String, RuleRecord)>, StoreError>;

    /// Sets a rule.
    async fn put_rule(&self, tenant: &str, rule: &RuleRecord) -> Result<(), StoreError>;

    /// Deletes a rule; whether it was there.
    async fn delete_rule(&self, tenant: &str, name: &str) -> Result<bool, StoreError>;
}

/// The alert records of one [`Scope`]; get one from [`Store::alerts`](super::Store::alerts).
pub struct AlertLedger<'a> {
    book: &'a dyn AlertBook,
    scope: Scope,
}

impl<'a> AlertLedger<'a> {
    pub(super) fn new(book: &'a dyn AlertBook, scope: Scope) -> Self {
        Self { book, scope }
    }

    fn tenant(&self) -> &str {
        self.scope.tenant()
    }

    /// [`AlertBook::claim`].
    pub async fn claim(&self, rule: &str, slot_ns: i64, owner: &str) -> Result<bool, StoreError> {
        self.book.claim(self.tenant(), rule, slot_ns, owner).await
    }

    /// [`AlertBook::claimed`].
    pub async fn claimed(&self, rule: &str, slot_ns: i64) -> Result<bool, StoreError> {
        self.book.claimed(self.tenant(), rule, slot_ns).await
    }

    /// [`AlertBook::states`].
    pub async fn states(&self, rule: Option<&str>) -> Result<Vec<AlertRecord>, StoreError> {
        self.book.states(self.tenant(), rule).await
    }

    /// [`AlertBook::record`].
    pub async fn record(
        &self,
        states: &[AlertRecord],
        transitions: &[TransitionRecord],
    ) -> Result<(), StoreError> {
        self.book.record(self.tenant(), states, transitions).await
    }

    /// [`AlertBook::history`].
    pub async fn history(
        &self,
        rule: Option<&str>,
        limit: usize,
    ) -> Result<Vec<TransitionRecord>, StoreError> {
        self.book.history(self.tenant(), rule, limit).await
    }

    /// [`AlertBook::log_notification`].
    pub async fn log_notification(&self, entry: &NotificationRecord) -> Result<(), StoreError> {
        self.book.log_notification(self.tenant(), entry).await
    }

    /// [`AlertBook::notifications`].
    pub async fn notifications(&self, limit: usize) -> Result<Vec<NotificationRecord>, StoreError> {
        self.book.notifications(self.tenant(), limit).await
    }

    /// [`AlertBook::silences`].
    pub async fn silences(&self, after_ns: i64) -> Result<Vec<SilenceRecord>, StoreError> {
        self.book.silences(self.tenant(), after_ns).await
    }

    /// [`AlertBook::put_silence`].
    pub async fn put_silence(&self, silence: &SilenceRecord) -> Result<(), StoreError> {
        self.book.put_silence(self.tenant(), silence).await
    }

    /// The rules of this scope set through the API.
    pub async fn rules(&self) -> Result<Vec<RuleRecord>, StoreError> {
        Ok(self
            .book
            .all_rules()
            .await?
            .into_iter()
            .filter(|(tenant, _)| tenant == self.tenant())
            .map(|(_, rule)| rule)
            .collect())
    }

    /// [`AlertBook::put_rule`].
    pub async fn put_rule(&self, rule: &RuleRecord) -> Result<(), StoreError> {
        self.book.put_rule(self.tenant(), rule).await
    }

    /// [`AlertBook::delete_rule`].
    pub async fn delete_rule(&self, name: &str) -> Result<bool, StoreError> {
        self.book.delete_rule(self.tenant(), name).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_silence_matches_while_it_lasts_and_every_matcher_holds() {
        let silence = SilenceRecord {
            id: "s".into(),
            matchers: vec![
                Matcher {
                    name: "alertname".into(),
                    value: "poll storm".into(),
                    equal: true,
                },
                Matcher {
                    name: "team".into(),
                    value: "db".into(),
                    equal: false,
                },
            ],
            starts_ns: 10,
            ends_ns: 20,
            comment: String::new(),
            updated_ns: 10,
        };
        let labels: BTreeMap<String, String> = [("alertname", "poll storm"), ("team", "web")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into();
        assert!(silence.silences(&labels, 15));
        assert!(!silence.silences(&labels, 20), "ended");
        assert!(!silence.silences(&labels, 9), "not started");
        let mut db = labels.clone();
        db.insert("team".into(), "db".into());
        assert!(!silence.silences(&db, 15), "a != matcher");
    }
}
