//! Rules: the rules file's shape (`[[channels]]` and `[[rules]]`, the interface users and tests
//! rely on) and its validation into [`Rule`]s, with errors that name the rule (or channel) and
//! the field. Rules set through the API have the same shape as JSON ([`RuleSpec`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::condition::Condition;
use super::notify::{Channel, ChannelSpec};
use super::template::Template;
use crate::access::Tenant;

/// Longest accepted rule name.
const MAX_NAME_LEN: usize = 128;
/// Longest accepted window.
const MAX_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// A rules file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// The file could not be read.
    #[error("--rules: cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown keys.
    #[error("--rules: {path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line.
        message: String,
    },
    /// A rule or a channel is not usable.
    #[error("--rules: {path}: {problem}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Which rule or channel, which field, and what is accepted.
        problem: Problem,
    },
}

/// What is wrong with one rule or channel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{place}: {field}: {message}")]
pub struct Problem {
    /// `rule "poll storm"`, `channel "ops"`, or `rules[2]` when it has no name.
    pub place: String,
    /// The field.
    pub field: String,
    /// What is wrong and what is accepted.
    pub message: String,
}

impl Problem {
    fn new(place: &str, field: &str, message: impl Into<String>) -> Self {
        Self {
            place: place.to_owned(),
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// A comparison of the value with the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// Above.
    #[serde(rename = ">")]
    Above,
    /// At or above.
    #[serde(rename = ">=")]
    AtLeast,
    /// Below.
    #[serde(rename = "<")]
    Below,
    /// At or below.
    #[serde(rename = "<=")]
    AtMost,
}

impl Op {
    /// Whether `value` breaches `threshold`.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Self::Above => value > threshold,
            Self::AtLeast => value >= threshold,
            Self::Below => value < threshold,
            Self::AtMost => value <= threshold,
        }
    }

    /// As written in a rule.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Above => ">",
            Self::AtLeast => ">=",
            Self::Below => "<",
            Self::AtMost => "<=",
        }
    }
}

fn default_window() -> String {
    "5m".to_owned()
}

fn default_op() -> Op {
    Op::Above
}

fn default_for() -> String {
    "0s".to_owned()
}

fn default_severity() -> String {
    "warning".to_owned()
}

/// A rule as written: a `[[rules]]` table of the file, or the JSON body of
/// `PUT /api/alerts/rules/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Unique per tenant; `alertname` in notifications.
    #[serde(default)]
    pub name: String,
    /// The tenant (its id in the access file) whose data the rule reads [default: default];
    /// the file only: the API takes the token's tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// What is measured.
    pub condition: Condition,
    /// Over how long, e.g. `1m` [default: 5m].
    #[serde(default = "default_window")]
    pub window: String,
    /// `>`, `>=`, `<` or `<=` [default: >].
    #[serde(default = "default_op")]
    pub op: Op,
    /// The value compared with, in the condition's unit.
    pub threshold: f64,
    /// How long the condition must hold before the alert fires [default: 0s].
    #[serde(rename = "for", default = "default_for")]
    pub for_: String,
    /// `critical`, `error`, `warning` or `info` [default: warning].
    #[serde(default = "default_severity")]
    pub severity: String,
    /// Labels added to the alert's.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The summary template [default: the rule's name, value and threshold].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// The channels notified, by name.
    #[serde(default)]
    pub channels: Vec<String>,
}

/// Where a rule comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The rules file.
    File,
    /// The API.
    Api,
}

impl Source {
    /// As the API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Api => "api",
        }
    }
}

/// A checked rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Its name.
    pub name: String,
    /// Its tenant.
    pub tenant: Tenant,
    /// What is measured.
    pub condition: Condition,
    /// Over how long.
    pub window: Duration,
    /// As written, for templates.
    pub window_text: String,
    /// The comparison.
    pub op: Op,
    /// The threshold.
    pub threshold: f64,
    /// How long it must hold.
    pub for_: Duration,
    /// The severity.
    pub severity: String,
    /// The rule's labels.
    pub labels: BTreeMap<String, String>,
    /// The summary.
    pub summary: Template,
    /// The channels notified.
    pub channels: Vec<String>,
    /// Where it comes from.
    pub source: Source,
    /// As written.
    pub spec: RuleSpec,
}

/// Accepted severities (PagerDuty's).
pub const SEVERITIES: [&str; 4] = ["critical", "error", "warning", "info"];

fn duration(place: &str, field: &str, text: &str) -> Result<Duration, Problem> {
    humantime::parse_duration(text.trim()).map_err(|_| {
        Problem::new(
            place,
            field,
            format!("'{text}' is not a duration; expected e.g. 30s, 1m, 5m"),
        )
    })
}

impl RuleSpec {
    /// Checks the rule; `channels` are the names it may notify.
    pub fn check(
        &self,
        place: &str,
        source: Source,
        tenant: Tenant,
        channels: &BTreeMap<String, Arc<dyn Channel>>,
    ) -> Result<Rule, Problem> {
        let name = self.name.trim();
        if name.is_empty() || name.len() > MAX_NAME_LEN || name.contains(['/', '\n']) {
            return Err(Problem::new(
                place,
                "name",
                format!("give a name of 1 to {MAX_NAME_LEN} characters without `/`"),
            ));
        }
        let window = duration(place, "window", &self.window)?;
        if window.is_zero() || window > MAX_WINDOW {
            return Err(Problem::new(
                place,
                "window",
                "must be above 0s and at most 24h",
            ));
        }
        let for_ = duration(place, "for", &self.for_)?;
        if !self.threshold.is_finite() {
            return Err(Problem::new(place, "threshold", "must be a finite number"));
        }
        if !SEVERITIES.contains(&self.severity.as_str()) {
            return Err(Problem::new(
                place,
                "severity",
                format!(
                    "'{}' is not a severity; accepted: {}",
                    self.severity,
                    SEVERITIES.join(", ")
                ),
            ));
        }
        self.condition.check().map_err(|(field, message)| {
            Problem::new(place, &format!("condition.{field}"), message)
        })?;
        for channel in &self.channels {
            if !channels.contains_key(channel) {
                let known: Vec<&str> = channels.keys().map(String::as_str).collect();
                return Err(Problem::new(
                    place,
                    "channels",
                    format!(
                        "no channel named '{channel}' in the rules file; channels: {}",
                        if known.is_empty() {
                            "none".to_owned()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            }
        }
        let mut names: Vec<&str> = self.labels.keys().map(String::as_str).collect();
        names.extend(self.condition.instance_labels());
        let summary = match &self.summary {
            Some(text) => Template::parse(text, &names)
                .map_err(|message| Problem::new(place, "summary", message))?,
            None => Template::parse(
                "{{alertname}}: {{value}} (threshold {{op}} {{threshold}} over {{window}})",
                &names,
            )
            .map_err(|message| Problem::new(place, "summary", message))?,
        };
        Ok(Rule {
            name: name.to_owned(),
            tenant,
            condition: self.condition.clone(),
            window,
            window_text: self.window.trim().to_owned(),
            op: self.op,
            threshold: self.threshold,
            for_,
            severity: self.severity.clone(),
            labels: self.labels.clone(),
            summary,
            channels: self.channels.clone(),
            source,
            spec: self.clone(),
        })
    }
}

/// The rules file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RulesFile {
    channels: Vec<toml::Table>,
    rules: Vec<toml::Table>,
}

/// What a rules file holds, checked.
#[derive(Clone, Default)]
pub struct RuleSet {
    /// The channels by name.
    pub channels: BTreeMap<String, Arc<dyn Channel>>,
    /// The rules, in the file's order.
    pub rules: Vec<Rule>,
}

/// Where a table of the file is: its `name`, else its index.
fn place_of(kind: &str, index: usize, table: &toml::Table) -> String {
    match table.get("name").and_then(toml::Value::as_str) {
        Some(name) => format!("{kind} \"{name}\""),
        None => format!("{kind}s[{index}]"),
    }
}

/// The first line of a serde message, without TOML's position details.
fn message_of(e: &toml::de::Error) -> String {
    e.message().trim().replace('\n', " ")
}

impl RuleSet {
    /// Reads and checks the rules file at `path`.
    pub fn load(path: &Path) -> Result<Self, RulesError> {
        let text = std::fs::read_to_string(path).map_err(|source| RulesError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).map_err(|e| match e {
            Err(message) => RulesError::Syntax {
                path: path.to_owned(),
                message,
            },
            Ok(problem) => RulesError::Invalid {
                path: path.to_owned(),
                problem,
            },
        })
    }

    /// Parses and checks rules-file text: `Err(Err(_))` when it is not the file's shape,
    /// `Err(Ok(_))` when a rule or channel is not usable.
    pub fn parse(text: &str) -> Result<Self, Result<Problem, String>> {
        let file: RulesFile = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|span| text[..span.start].matches('\n').count() + 1);
            Err(match line {
                Some(line) => format!("line {line}: {}", message_of(&e)),
                None => message_of(&e),
            })
        })?;
        let mut channels: BTreeMap<String, Arc<dyn Channel>> = BTreeMap::new();
        for (index, table) in file.channels.iter().enumerate() {
            let place = place_of("channel", index, table);
            let spec = ChannelSpec::from_table(table.clone())
                .map_err(|(field, message)| Ok(Problem::new(&place, field, message)))?;
            let channel = spec
                .build()
                .map_err(|(field, message)| Ok(Problem::new(&place, field, message)))?;
            if channels.insert(spec.name.clone(), channel).is_some() {
                return Err(Ok(Problem::new(
                    &place,
                    "name",
                    "another channel has this name",
                )));
            }
        }
        let mut rules: Vec<Rule> = Vec::new();
        for (index, table) in file.rules.iter().enumerate() {
            let place = place_of("rule", index, table);
            let spec = RuleSpec::deserialize(toml::Value::Table(table.clone()))
                .map_err(|e| Ok(Problem::new(&place, "rule", message_of(&e))))?;
            let tenant = match &spec.tenant {
                Some(id) => {
                    Tenant::from_id(id).map_err(|m| Ok(Problem::new(&place, "tenant", m)))?
                }
                None => Tenant::default_tenant(),
            };
            let rule = spec
                .check(&place, Source::File, tenant, &channels)
                .map_err(Ok)?;
            if rules
                .iter()
                .any(|r| r.name == rule.name && r.tenant == rule.tenant)
            {
                return Err(Ok(Problem::new(
                    &place,
                    "name",
                    "another rule of the tenant has this name",
                )));
            }
            rules.push(rule);
        }
        Ok(Self { channels, rules })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[[channels]]
name = "ops"
type = "webhook"
url = "http://127.0.0.1:9000/hook"

[[rules]]
name = "poll storm"
condition = { kind = "hot_endpoint", route = "GET /api/agents", per_session = true }
window = "1m"
op = ">"
threshold = 20
for = "0s"
severity = "critical"
labels = { team = "web" }
summary = "{{route}} at {{value}}/s from session {{session_id}}"
channels = ["ops"]
"#;

    fn problem(text: &str) -> Problem {
        match RuleSet::parse(text) {
            Err(Ok(problem)) => problem,
            Err(Err(syntax)) => panic!("syntax error instead: {syntax}"),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn the_issue_example_file_loads() {
        let set = RuleSet::parse(FILE).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(set.channels.len(), 1);
        let rule = &set.rules[0];
        assert_eq!(rule.name, "poll storm");
        assert_eq!(rule.window, Duration::from_secs(60));
        assert_eq!(rule.threshold, 20.0);
        assert!(rule.tenant.is_default());
        assert_eq!(rule.channels, ["ops"]);
    }

    #[test]
    fn problems_name_the_rule_and_the_field() {
        let p = problem(&FILE.replace("window = \"1m\"", "window = \"soon\""));
        assert_eq!(
            (p.place.as_str(), p.field.as_str()),
            ("rule \"poll storm\"", "window")
        );
        let p = problem(&FILE.replace("channels = [\"ops\"]", "channels = [\"pager\"]"));
        assert_eq!(p.field, "channels");
        assert!(p.message.contains("ops"), "{}", p.message);
        let p = problem(&FILE.replace("{{session_id}}", "{{sesion}}"));
        assert_eq!(p.field, "summary");
        assert!(p.message.contains("sesion"), "{}", p.message);
        let p = problem(&FILE.replace("hot_endpoint", "cpu"));
        assert!(
            p.message.contains("cpu") && p.message.contains("ws_latency"),
            "{}",
            p.message
        );
        let p = problem(&FILE.replace("severity = \"critical\"", "severity = \"dire\""));
        assert_eq!(p.field, "severity");
        let p = problem(&FILE.replace("threshold = 20", "threshold = 20\nthreshhold = 3"));
        assert!(p.message.contains("threshhold"), "{}", p.message);
        let p = problem(&FILE.replace("type = \"webhook\"", "type = \"fax\""));
        assert_eq!(p.place, "channel \"ops\"");
    }

    #[test]
    fn a_syntax_error_names_the_line() {
        match RuleSet::parse("[[rules]\nname = 1") {
            Err(Err(message)) => assert!(message.starts_with("line 1"), "{message}"),
            _ => panic!("accepted"),
        }
    }
}
