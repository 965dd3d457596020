//! E-mail over SMTP (the `lettre` crate): STARTTLS by default (a server that does not offer it
//! is refused), optionally trusting a private CA, with a login when a username is given. The
//! subject says the state, the rule and the summary; the plain-text body adds the value, the
//! labels and links.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Mailboxes};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Deserialize;

use super::{Channel, Notification, SendError, secret};
use crate::alerts::template::number;
use crate::store::AlertState;
use crate::tls::HttpClient;

/// The longest an SMTP conversation may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

fn default_security() -> Security {
    Security::Starttls
}

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Security {
    /// Plain connection upgraded with STARTTLS, which the server must offer (port 587).
    Starttls,
    /// TLS from the start (port 465).
    Tls,
    /// No encryption: only for a relay on the same host.
    None,
}

/// The settings of an `email` channel.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSpec {
    /// The SMTP server, `host:port`.
    pub smtp: String,
    /// `starttls`, `tls` or `none` [default: starttls].
    #[serde(default = "default_security")]
    pub security: Security,
    /// A PEM file of CA certificates to trust besides the public ones.
    pub ca: Option<PathBuf>,
    /// The login, when the server wants one.
    pub username: Option<String>,
    /// The password.
    pub password: Option<String>,
    /// The environment variable holding the password.
    pub password_env: Option<String>,
    /// The sender, e.g. `Tracewire <alerts@example.com>`.
    pub from: String,
    /// The recipients.
    pub to: Vec<String>,
}

/// An e-mail channel.
pub struct Email {
    name: String,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Mailboxes,
}

type Invalid = (&'static str, String);

impl EmailSpec {
    /// The channel, checked: addresses parse, the CA loads, the password is found.
    pub(super) fn build(&self, name: String) -> Result<Email, Invalid> {
        let (host, port) = self
            .smtp
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h.to_owned(), p.parse::<u16>().ok()?)))
            .filter(|(h, _)| !h.is_empty())
            .ok_or((
                "smtp",
                format!(
                    "'{}' is not host:port, e.g. smtp.example.com:587",
                    self.smtp
                ),
            ))?;
        let from: Mailbox = self
            .from
            .parse()
            .map_err(|e| ("from", format!("'{}' is not an address: {e}", self.from)))?;
        if self.to.is_empty() {
            return Err(("to", "give at least one recipient".into()));
        }
        let mut to = Mailboxes::new();
        for address in &self.to {
            to.push(
                address
                    .parse()
                    .map_err(|e| ("to", format!("'{address}' is not an address: {e}")))?,
            );
        }
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host)
            .port(port)
            .timeout(Some(SMTP_TIMEOUT));
        if self.security != Security::None {
            let mut tls = TlsParameters::builder(host.clone());
            if let Some(path) = &self.ca {
                let pem = std::fs::read(path)
                    .map_err(|e| ("ca", format!("cannot read {}: {e}", path.display())))?;
                let cert = Certificate::from_pem(&pem).map_err(|e| {
                    (
                        "ca",
                        format!("{} is not a PEM certificate: {e}", path.display()),
                    )
                })?;
                tls = tls.add_root_certificate(cert);
            }
            let tls = tls.build_rustls().map_err(|e| ("ca", e.to_string()))?;
            builder = builder.tls(match self.security {
                Security::Tls => Tls::Wrapper(tls),
                _ => Tls::Required(tls),
            });
        }
        if let Some(user) = &self.username {
            let password = secret(&self.password, &self.password_env, "password")?;
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        Ok(Email {
            name,
            transport: builder.build(),
            from,
            to,
        })
    }
}

/// The subject and plain-text body of one notification.
pub fn message(n: &Notification) -> (String, String) {
    let state = match n.status {
        AlertState::Resolved => "RESOLVED",
        _ => "FIRING",
    };
    let subject = format!("[{state}] {}: {}", n.rule, n.summary);
    let mut body = format!(
        "{}\n\nRule: {}\nState: {}\nSeverity: {}\nValue: {} (threshold {} {} over {})\n",
        n.summary,
        n.rule,
        n.status.as_str(),
        n.severity,
        n.value.map(number).unwrap_or_else(|| "no data".into()),
        n.op,
        number(n.threshold),
        n.window,
    );
    body.push_str("\nLabels:\n");
    for (k, v) in &n.labels {
        body.push_str(&format!("  {k} = {v}\n"));
    }
    body.push_str(&format!("\nAlert: {}\n", n.alert_url));
    if let Some(url) = &n.trace_url {
        body.push_str(&format!("Slowest trace: {url}\n"));
    }
    if let Some(url) = &n.session_url {
        body.push_str(&format!("Session: {url}\n"));
    }
    (subject, body)
}

#[async_trait]
impl Channel for Email {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&self, n: &Notification, _http: &HttpClient) -> Result<u16, SendError> {
        let (subject, body) = message(n);
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(subject)
            .header(ContentType::TEXT_PLAIN);
        for to in self.to.iter() {
            builder = builder.to(to.clone());
        }
        let email = builder.body(body).map_err(|e| SendError {
            code: None,
            message: e.to_string(),
            retryable: false,
        })?;
        match self.transport.send(email).await {
            Ok(response) => Ok(response.code().to_string().parse().unwrap_or(250)),
            Err(e) => Err(SendError {
                code: e.status().and_then(|c| c.to_string().parse().ok()),
                retryable: !e.is_permanent(),
                message: format!("SMTP: {e}"),
            }),
        }
    }
}
