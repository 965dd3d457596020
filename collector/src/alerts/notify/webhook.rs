//! The generic webhook: one POST per notification, JSON in the Alertmanager webhook format
//! (version 4), so receivers written for Alertmanager take it unchanged.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{Channel, Notification, SendError, post_json, rfc3339};
use crate::alerts::template::number;
use crate::store::AlertState;
use crate::tls::HttpClient;

/// Alertmanager's "zero" time, for `endsAt` of a firing alert.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// A webhook channel.
pub struct Webhook {
    pub(super) name: String,
    pub(super) url: hyper::Uri,
}

/// The Alertmanager webhook payload of one notification, sent to `receiver`.
pub fn payload(n: &Notification, receiver: &str) -> Value {
    let status = n.status.as_str();
    let mut annotations = serde_json::Map::new();
    annotations.insert("summary".into(), json!(n.summary));
    annotations.insert(
        "value".into(),
        json!(n.value.map(number).unwrap_or_default()),
    );
    annotations.insert(
        "threshold".into(),
        json!(format!("{} {}", n.op, number(n.threshold))),
    );
    annotations.insert("window".into(), json!(n.window));
    if let Some(url) = &n.trace_url {
        annotations.insert("trace_url".into(), json!(url));
    }
    if let Some(url) = &n.session_url {
        annotations.insert("session_url".into(), json!(url));
    }
    let ends_at = match (n.status, n.ends_at_ns) {
        (AlertState::Resolved, Some(ns)) => rfc3339(ns),
        _ => ZERO_TIME.to_owned(),
    };
    json!({
        "version": "4",
        "groupKey": format!("{{}}:{{alertname=\"{}\"}}", n.rule),
        "truncatedAlerts": 0,
        "status": status,
        "receiver": receiver,
        "groupLabels": { "alertname": n.rule },
        "commonLabels": n.labels,
        "commonAnnotations": annotations,
        "externalURL": n.ui_url,
        "alerts": [{
            "status": status,
            "labels": n.labels,
            "annotations": annotations,
            "startsAt": rfc3339(n.starts_at_ns),
            "endsAt": ends_at,
            "generatorURL": n.alert_url,
            "fingerprint": n.fingerprint,
        }],
    })
}

#[async_trait]
impl Channel for Webhook {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&self, n: &Notification, http: &HttpClient) -> Result<u16, SendError> {
        post_json(http, &self.url, &payload(n, &self.name)).await
    }
}
