//! PagerDuty Events API v2: a `trigger` when an alert fires and a `resolve` when it resolves,
//! both with the alert's fingerprint as `dedup_key`, so PagerDuty keeps one incident per alert.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{Channel, Notification, SendError, post_json, rfc3339};
use crate::alerts::template::number;
use crate::store::AlertState;
use crate::tls::HttpClient;

/// PagerDuty's events endpoint.
pub const EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// A PagerDuty channel.
pub struct PagerDuty {
    pub(super) name: String,
    pub(super) routing_key: String,
    pub(super) url: hyper::Uri,
}

/// The event of one notification.
pub fn payload(n: &Notification, routing_key: &str) -> Value {
    if n.status == AlertState::Resolved {
        return json!({
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": n.fingerprint,
        });
    }
    let mut links = vec![json!({ "href": n.alert_url, "text": "Alert in Tracewire" })];
    if let Some(url) = &n.trace_url {
        links.push(json!({ "href": url, "text": "Slowest trace" }));
    }
    if let Some(url) = &n.session_url {
        links.push(json!({ "href": url, "text": "Session" }));
    }
    json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": n.fingerprint,
        "payload": {
            "summary": n.summary,
            "source": "tracewire",
            "severity": n.severity,
            "timestamp": rfc3339(n.starts_at_ns),
            "component": n.labels.get("service").cloned().unwrap_or_default(),
            "custom_details": {
                "value": n.value.map(number),
                "threshold": format!("{} {}", n.op, number(n.threshold)),
                "window": n.window,
                "labels": n.labels,
            },
        },
        "links": links,
    })
}

#[async_trait]
impl Channel for PagerDuty {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&self, n: &Notification, http: &HttpClient) -> Result<u16, SendError> {
        post_json(http, &self.url, &payload(n, &self.routing_key)).await
    }
}
