//! Evaluation: every interval, at the same slot boundaries on every collector, each rule is
//! claimed in the store for the slot ([`crate::store::AlertLedger::claim`]); the one collector
//! that got it reads the rule's condition, steps each alert's state ([`super::state`]), writes
//! the new states and transitions, and hands notifications to the [`Notifier`]. A slot's winner
//! first waits (briefly) for the previous slot's winner to have written its states, so the two
//! never notify the same transition.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tracing::{debug, warn};

use super::notify::{Channel, Notification};
use super::rules::{Op, Rule};
use super::state::step;
use super::template::number;
use super::{Alerts, now_ns};
use crate::access::id_of_stored;
use crate::store::{AlertRecord, AlertState, Scope, StoreError, TransitionRecord};

/// The longest the correlation step may take to catch up before an evaluation.
const CATCH_UP: Duration = Duration::from_secs(2);

/// The alert key of a sample's instance labels: `k=v` joined by `,`.
fn key_of(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// A stable id of an alert.
fn fingerprint(tenant: &str, rule: &str, key: &str) -> String {
    let mut hash = Sha256::new();
    for part in [tenant, rule, key] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hex::encode(&hash.finalize()[..16])
}

/// Percent-encodes a path segment or query value.
pub(super) fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One alert's part of an evaluation: its previous record, whether its condition holds, its
/// instance labels, value, slowest trace and session.
type Outcome<'a> = (
    Option<&'a AlertRecord>,
    bool,
    BTreeMap<String, String>,
    Option<f64>,
    Option<String>,
    Option<String>,
);

/// How bad a state is, for the rule's own record.
fn rank(state: AlertState) -> u8 {
    match state {
        AlertState::Inactive => 0,
        AlertState::Resolved => 1,
        AlertState::Pending => 2,
        AlertState::Firing => 3,
    }
}

impl Alerts {
    /// Evaluates every rule once per interval, until the task is aborted.
    pub(super) async fn run(self: Arc<Self>) {
        let interval = i64::try_from(self.interval.as_nanos()).unwrap_or(i64::MAX);
        loop {
            // Wake at the next slot boundary, the same instant on every collector.
            let now = now_ns();
            let next = now - now.rem_euclid(interval) + interval;
            tokio::time::sleep(Duration::from_nanos(u64::try_from(next - now).unwrap_or(0))).await;
            let rules = self.all_rules().await;
            if rules.is_empty() {
                continue;
            }
            if let Err(e) = self.store.derive(CATCH_UP).await {
                warn!(error = %e, "Correlation step failed before alert evaluation");
            }
            for rule in rules {
                if let Err(e) = self.evaluate(&rule, next, interval).await {
                    warn!(rule = %rule.name, tenant = %rule.tenant, error = %e, "Alert rule not evaluated");
                }
            }
        }
    }

    /// Claims and (when claimed) evaluates `rule` in the slot starting at `slot_ns`.
    async fn evaluate(&self, rule: &Rule, slot_ns: i64, interval: i64) -> Result<(), StoreError> {
        let ledger = self.store.alerts(Scope::of_tenant(rule.tenant.stored()));
        if !ledger.claim(&rule.name, slot_ns, &self.owner).await? {
            debug!(rule = %rule.name, slot_ns, "Slot evaluated by another collector");
            return Ok(());
        }
        let previous_slot = slot_ns - interval;
        let mut previous = ledger.states(Some(&rule.name)).await?;
        if ledger.claimed(&rule.name, previous_slot).await? {
            let deadline = tokio::time::Instant::now() + self.interval / 2;
            while !previous
                .iter()
                .any(|r| r.key.is_empty() && r.slot_ns >= previous_slot)
                && tokio::time::Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
                previous = ledger.states(Some(&rule.name)).await?;
            }
        }
        let mut previous: BTreeMap<String, AlertRecord> =
            previous.into_iter().map(|r| (r.key.clone(), r)).collect();
        let rule_record = previous.remove("");
        let now = now_ns();
        let window_ns = i64::try_from(rule.window.as_nanos()).unwrap_or(i64::MAX);
        let samples = rule
            .condition
            .sample(&self.store.reader(ledger_scope(rule)), now, window_ns)
            .await?;
        let for_ns = i64::try_from(rule.for_.as_nanos()).unwrap_or(i64::MAX);

        let mut states = Vec::new();
        let mut transitions = Vec::new();
        let mut notify = Vec::new();
        let mut seen = Vec::new();
        let mut outcomes: Vec<Outcome<'_>> = Vec::new();
        for sample in &samples {
            let key = key_of(&sample.labels);
            seen.push(key.clone());
            outcomes.push((
                previous.get(&key),
                rule.op.holds(sample.value, rule.threshold),
                sample.labels.clone(),
                Some(sample.value),
                sample.trace_id.clone(),
                sample.session_id.clone(),
            ));
        }
        for (key, record) in &previous {
            if !seen.contains(key) && record.state != AlertState::Inactive {
                let instance: BTreeMap<String, String> = record
                    .labels
                    .iter()
                    .filter(|(k, _)| rule.condition.instance_labels().contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                outcomes.push((
                    Some(record),
                    false,
                    instance,
                    None,
                    None,
                    record.session_id.clone(),
                ));
            }
        }
        for (prev, holds, instance, value, trace_id, session_id) in outcomes {
            let key = key_of(&instance);
            let s = step(prev, holds, now, for_ns);
            let mut labels = rule.labels.clone();
            labels.extend(instance);
            labels.insert("alertname".into(), rule.name.clone());
            labels.insert("severity".into(), rule.severity.clone());
            let summary = self.summary(
                rule,
                &labels,
                value,
                s.to,
                trace_id.as_deref(),
                session_id.as_deref(),
            );
            let record = AlertRecord {
                rule: rule.name.clone(),
                key: key.clone(),
                slot_ns,
                state: s.to,
                since_ns: if s.changed() {
                    now
                } else {
                    prev.map_or(now, |p| p.since_ns)
                },
                active_since_ns: s.active_since_ns,
                value,
                labels: labels.clone(),
                summary: summary.clone(),
                trace_id: trace_id.clone(),
                session_id: session_id.clone(),
            };
            if s.changed() {
                transitions.push(TransitionRecord {
                    time_ns: now,
                    rule: rule.name.clone(),
                    key: key.clone(),
                    from: s.from,
                    to: s.to,
                    value,
                    labels: labels.clone(),
                    summary: summary.clone(),
                    trace_id: trace_id.clone(),
                    session_id: session_id.clone(),
                });
            }
            if s.notifies() {
                let starts_at_ns = prev
                    .and_then(|p| p.active_since_ns)
                    .or(s.active_since_ns)
                    .unwrap_or(now);
                notify.push(self.notification(rule, &record, starts_at_ns, now));
            }
            states.push(record);
        }
        states.push(self.rule_record(rule, rule_record.as_ref(), &states, slot_ns, now));
        ledger.record(&states, &transitions).await?;
        if !notify.is_empty() {
            let silences = ledger.silences(now).await?;
            let channels = self.channels();
            for notification in notify {
                for name in &rule.channels {
                    let Some(channel) = channels.get(name) else {
                        warn!(rule = %rule.name, channel = %name, "Alert channel is gone; not notified");
                        continue;
                    };
                    self.notifier
                        .notify(
                            notification.clone(),
                            Arc::clone(channel) as Arc<dyn Channel>,
                            &silences,
                        )
                        .await;
                }
            }
        }
        Ok(())
    }

    /// The rule's own record: the worst state of its alerts and the value furthest past the
    /// threshold.
    fn rule_record(
        &self,
        rule: &Rule,
        previous: Option<&AlertRecord>,
        alerts: &[AlertRecord],
        slot_ns: i64,
        now: i64,
    ) -> AlertRecord {
        let state = alerts
            .iter()
            .map(|a| a.state)
            .max_by_key(|s| rank(*s))
            .unwrap_or(AlertState::Inactive);
        let values = alerts.iter().filter_map(|a| a.value);
        let value = match rule.op {
            Op::Above | Op::AtLeast => values.reduce(f64::max),
            Op::Below | Op::AtMost => values.reduce(f64::min),
        };
        let since_ns = match previous {
            Some(p) if p.state == state => p.since_ns,
            _ => now,
        };
        AlertRecord {
            rule: rule.name.clone(),
            key: String::new(),
            slot_ns,
            state,
            since_ns,
            active_since_ns: None,
            value,
            labels: rule.labels.clone(),
            summary: String::new(),
            trace_id: None,
            session_id: None,
        }
    }

    fn links(
        &self,
        rule: &Rule,
        trace_id: Option<&str>,
        session_id: Option<&str>,
    ) -> (String, Option<String>, Option<String>) {
        let base = &self.ui_url;
        (
            format!("{base}/alerts?rule={}", encode(&rule.name)),
            trace_id.map(|id| format!("{base}/trace/{}", encode(id))),
            session_id
                .filter(|s| !s.is_empty())
                .map(|id| format!("{base}/sessions/{}", encode(id))),
        )
    }

    fn summary(
        &self,
        rule: &Rule,
        labels: &BTreeMap<String, String>,
        value: Option<f64>,
        state: AlertState,
        trace_id: Option<&str>,
        session_id: Option<&str>,
    ) -> String {
        let (alert_url, trace_url, session_url) = self.links(rule, trace_id, session_id);
        let mut values = labels.clone();
        values.insert(
            "value".into(),
            value.map(number).unwrap_or_else(|| "no data".into()),
        );
        values.insert("threshold".into(), number(rule.threshold));
        values.insert("op".into(), rule.op.as_str().into());
        values.insert("window".into(), rule.window_text.clone());
        values.insert("state".into(), state.as_str().into());
        values.insert("alert_url".into(), alert_url);
        values.insert("trace_url".into(), trace_url.unwrap_or_default());
        values.insert("session_url".into(), session_url.unwrap_or_default());
        rule.summary.render(&values)
    }

    fn notification(
        &self,
        rule: &Rule,
        record: &AlertRecord,
        starts_at_ns: i64,
        now: i64,
    ) -> Notification {
        let tenant = rule.tenant.stored().to_owned();
        let (alert_url, trace_url, session_url) = self.links(
            rule,
            record.trace_id.as_deref(),
            record.session_id.as_deref(),
        );
        let mut labels = record.labels.clone();
        if !tenant.is_empty() {
            labels.insert("tenant".into(), id_of_stored(&tenant).to_owned());
        }
        Notification {
            fingerprint: fingerprint(&tenant, &rule.name, &record.key),
            tenant,
            rule: rule.name.clone(),
            key: record.key.clone(),
            status: record.state,
            severity: rule.severity.clone(),
            labels,
            summary: record.summary.clone(),
            value: record.value,
            threshold: rule.threshold,
            op: rule.op.as_str(),
            window: rule.window_text.clone(),
            starts_at_ns,
            ends_at_ns: (record.state == AlertState::Resolved).then_some(now),
            ui_url: self.ui_url.clone(),
            alert_url,
            trace_url,
            session_url,
        }
    }
}

fn ledger_scope(rule: &Rule) -> Scope {
    Scope::of_tenant(rule.tenant.stored())
}
