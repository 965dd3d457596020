//! Summary templates: text with `{{name}}` placeholders, checked when the rule is loaded (an
//! unknown name is an error that lists the known ones) and filled in for each alert.

use std::collections::BTreeMap;

/// Placeholders every rule may use besides its labels and its condition's instance labels.
pub const BUILT_IN: [&str; 10] = [
    "alertname",
    "value",
    "threshold",
    "op",
    "window",
    "severity",
    "state",
    "alert_url",
    "trace_url",
    "session_url",
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Name(String),
}

/// A checked template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parses `text`; `labels` are the label names the rule's alerts carry.
    pub fn parse(text: &str, labels: &[&str]) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let close = after.find("}}").ok_or_else(|| {
                format!(
                    "`{{{{` at byte {} is not closed with `}}}}`",
                    text.len() - rest.len() + open
                )
            })?;
            let name = after[..close].trim();
            let name = name.strip_prefix("labels.").unwrap_or(name);
            if !BUILT_IN.contains(&name) && !labels.contains(&name) {
                let mut known: Vec<&str> = BUILT_IN.to_vec();
                known.extend(labels);
                return Err(format!(
                    "{{{{{name}}}}} is not a placeholder of this rule; known: {}",
                    known.join(", ")
                ));
            }
            parts.push(Part::Name(name.to_owned()));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Self { parts })
    }

    /// The text with each placeholder's value from `values` (empty when it has none).
    pub fn render(&self, values: &BTreeMap<String, String>) -> String {
        self.parts
            .iter()
            .map(|part| match part {
                Part::Text(text) => text.as_str(),
                Part::Name(name) => values.get(name).map_or("", String::as_str),
            })
            .collect()
    }
}

/// A value as templates and notifications write it: at most two decimals, no trailing zeros.
pub fn number(value: f64) -> String {
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_and_unknown_ones_refused() {
        let t = Template::parse(
            "{{route}} at {{value}}/s from {{ labels.session_id }}",
            &["route", "session_id"],
        )
        .expect("valid");
        let values: BTreeMap<String, String> =
            [("route", "GET /a"), ("value", "25"), ("session_id", "s1")]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .into();
        assert_eq!(t.render(&values), "GET /a at 25/s from s1");
        let err = Template::parse("{{nope}}", &["route"]).expect_err("unknown");
        assert!(err.contains("nope") && err.contains("route"), "{err}");
        assert!(Template::parse("{{value", &[]).is_err());
    }

    #[test]
    fn numbers_have_at_most_two_decimals() {
        assert_eq!(number(25.0), "25");
        assert_eq!(number(0.126), "0.13");
        assert_eq!(number(1.5), "1.5");
    }
}
