//! Slack incoming webhooks: a readable message (`text` for notifications and clients without
//! blocks, and the same as a section block) with the value, the threshold and links.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{Channel, Notification, SendError, post_json};
use crate::alerts::template::number;
use crate::store::AlertState;
use crate::tls::HttpClient;

/// A Slack channel.
pub struct Slack {
    pub(super) name: String,
    pub(super) url: hyper::Uri,
}

/// The message of one notification.
pub fn payload(n: &Notification) -> Value {
    let head = match n.status {
        AlertState::Resolved => format!(":white_check_mark: *RESOLVED* {}", n.rule),
        _ => format!(":rotating_light: *FIRING* [{}] {}", n.severity, n.rule),
    };
    let value = n.value.map(number).unwrap_or_else(|| "no data".to_owned());
    let mut text = format!(
        "{head}\n{}\nValue {value} (threshold {} {} over {})",
        n.summary,
        n.op,
        number(n.threshold),
        n.window
    );
    let mut links = vec![format!("<{}|Alert>", n.alert_url)];
    if let Some(url) = &n.trace_url {
        links.push(format!("<{url}|Slowest trace>"));
    }
    if let Some(url) = &n.session_url {
        links.push(format!("<{url}|Session>"));
    }
    text.push('\n');
    text.push_str(&links.join(" · "));
    json!({
        "text": text,
        "blocks": [{ "type": "section", "text": { "type": "mrkdwn", "text": text } }],
    })
}

#[async_trait]
impl Channel for Slack {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&self, n: &Notification, http: &HttpClient) -> Result<u16, SendError> {
        post_json(http, &self.url, &payload(n)).await
    }
}
