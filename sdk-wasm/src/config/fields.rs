//! The configuration's keys: one table maps each camelCase key to its field and the kind of value
//! it takes. The JSON form ([`Config::from_json`]) and the JavaScript object given to
//! `Tracewire.start` both go through it, so they accept and reject exactly the same things.

use super::{Config, invalid};
use crate::{Error, Result, json};

/// A configuration value as written in JSON or in a JavaScript object.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `null`: "none" for the optional fields.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Number(f64),
    /// A string.
    Str(String),
    /// An array of strings.
    List(Vec<String>),
    /// Anything else (an object, an array with other items, a function): accepted by no field.
    Other,
}

impl Value {
    fn string(self, field: &'static str) -> Result<String> {
        match self {
            Value::Str(s) => Ok(s),
            _ => Err(invalid(field, "must be a string")),
        }
    }

    fn opt_string(self, field: &'static str) -> Result<Option<String>> {
        match self {
            Value::Null => Ok(None),
            v => v.string(field).map(Some),
        }
    }

    fn bool(self, field: &'static str) -> Result<bool> {
        match self {
            Value::Bool(b) => Ok(b),
            _ => Err(invalid(field, "must be true or false")),
        }
    }

    fn number(self, field: &'static str) -> Result<f64> {
        match self {
            Value::Number(n) => Ok(n),
            _ => Err(invalid(field, "must be a number")),
        }
    }

    fn whole(self, field: &'static str, max: f64) -> Result<f64> {
        match self {
            Value::Number(n) if n >= 0.0 && n.fract() == 0.0 && n <= max => Ok(n),
            _ => Err(invalid(field, "must be a whole number of at least 0")),
        }
    }

    fn u32(self, field: &'static str) -> Result<u32> {
        self.whole(field, f64::from(u32::MAX)).map(|n| n as u32)
    }

    fn usize(self, field: &'static str) -> Result<usize> {
        self.whole(field, usize::MAX as f64).map(|n| n as usize)
    }

    fn u64(self, field: &'static str) -> Result<u64> {
        // Beyond 2^53 a JavaScript number is no longer a whole count.
        self.whole(field, 9_007_199_254_740_992.0).map(|n| n as u64)
    }

    fn list(self, field: &'static str) -> Result<Vec<String>> {
        match self {
            Value::List(l) => Ok(l),
            _ => Err(invalid(field, "must be a list of strings")),
        }
    }

    /// Reads a raw JSON value (as [`json::object_members`] hands it out).
    fn from_json(raw: &str) -> Value {
        match raw.as_bytes().first() {
            Some(b'n') => Value::Null,
            Some(b't') => Value::Bool(true),
            Some(b'f') => Value::Bool(false),
            Some(b'"') => json::string_value(raw).map_or(Value::Other, |s| Value::Str(s.into())),
            Some(b'[') => json::array_items(raw)
                .and_then(|items| {
                    items
                        .into_iter()
                        .map(|i| json::string_value(i).map(String::from))
                        .collect::<Option<Vec<_>>>()
                })
                .map_or(Value::Other, Value::List),
            Some(b'-' | b'0'..=b'9') => raw.parse().map_or(Value::Other, Value::Number),
            _ => Value::Other,
        }
    }
}

/// Where a key's value goes, by kind.
enum Slot {
    Str(fn(&mut Config) -> &mut String),
    OptStr(fn(&mut Config) -> &mut Option<String>),
    Bool(fn(&mut Config) -> &mut bool),
    Number(fn(&mut Config) -> &mut f64),
    U32(fn(&mut Config) -> &mut u32),
    Usize(fn(&mut Config) -> &mut usize),
    U64(fn(&mut Config) -> &mut u64),
    List(fn(&mut Config) -> &mut Vec<String>),
}

/// The table of keys: `"key" => field: Kind` per configuration key.
macro_rules! keys {
    ($($name:literal => $field:ident: $kind:ident),* $(,)?) => {
        const KEYS: &[(&str, Slot)] = &[$(($name, Slot::$kind(|c| &mut c.$field)),)*];
    };
}

keys! {
    "endpoint" => endpoint: Str,
    "serviceName" => service_name: Str,
    "serviceVersion" => service_version: OptStr,
    "environment" => environment: OptStr,
    "ingestKey" => ingest_key: OptStr,
    "sampleRate" => sample_rate: Number,
    "maxQueueItems" => max_queue_items: Usize,
    "maxQueueBytes" => max_queue_bytes: Usize,
    "maxBatchItems" => max_batch_items: Usize,
    "maxBatchBytes" => max_batch_bytes: Usize,
    "flushIntervalMs" => flush_interval_ms: U32,
    "maxExportAttempts" => max_export_attempts: U32,
    "retryInitialMs" => retry_initial_ms: U32,
    "retryMaxMs" => retry_max_ms: U32,
    "compression" => compression: Bool,
    "keepaliveBudgetBytes" => keepalive_budget_bytes: Usize,
    "flushOnPageExit" => flush_on_page_exit: Bool,
    "traceContextField" => trace_context_field: Str,
    "injectTraceContext" => inject_trace_context: Bool,
    "messageTypeFields" => message_type_fields: List,
    "envelopeUrls" => envelope_urls: List,
    "payloadFreeUrls" => payload_free_urls: List,
    "tracestate" => tracestate: Str,
    "replyTimeoutMs" => reply_timeout_ms: U32,
    "wsSpansPerType" => ws_spans_per_type: U64,
    "wsRateIntervalMs" => ws_rate_interval_ms: U32,
    "wsTraceOneIn" => ws_trace_one_in: U64,
    "propagateToOrigins" => propagate_to_origins: List,
    "fetchSpansPerRoute" => fetch_spans_per_route: U64,
    "fetchRateIntervalMs" => fetch_rate_interval_ms: U32,
    "captureErrors" => capture_errors: Bool,
    "captureConsole" => capture_console: List,
    "stripUrlQuery" => strip_url_query: Bool,
    "denyAttributes" => deny_attributes: List,
    "redactEmails" => redact_emails: Bool,
    "redactBearerTokens" => redact_bearer_tokens: Bool,
    "redactPatterns" => redact_patterns: List,
}

impl Config {
    /// Sets the field named `key` (its camelCase name, as in JSON and JavaScript). Fails with
    /// [`Error::InvalidConfig`] naming the field when the value has the wrong kind, or with the
    /// field `config (unknown field)` for a key the SDK does not know.
    pub fn set(&mut self, key: &str, value: Value) -> Result<()> {
        let Some(&(name, ref slot)) = KEYS.iter().find(|(name, _)| *name == key) else {
            return Err(Error::InvalidConfig {
                field: "config (unknown field)",
                message: String::from("unknown field ") + &json::quoted(key),
            });
        };
        match slot {
            Slot::Str(f) => *f(self) = value.string(name)?,
            Slot::OptStr(f) => *f(self) = value.opt_string(name)?,
            Slot::Bool(f) => *f(self) = value.bool(name)?,
            Slot::Number(f) => *f(self) = value.number(name)?,
            Slot::U32(f) => *f(self) = value.u32(name)?,
            Slot::Usize(f) => *f(self) = value.usize(name)?,
            Slot::U64(f) => *f(self) = value.u64(name)?,
            Slot::List(f) => *f(self) = value.list(name)?,
        }
        Ok(())
    }

    /// Parses the JSON form (an object with camelCase keys), rejecting unknown fields; keys left
    /// out keep their defaults.
    pub fn from_json(text: &str) -> Result<Config> {
        let members =
            json::object_members(text).ok_or_else(|| invalid("config", "must be a JSON object"))?;
        let mut config = Config::default();
        for m in members {
            config.set(&m.key, Value::from_json(m.value))?;
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(r: Result<Config>) -> &'static str {
        match r {
            Err(Error::InvalidConfig { field, .. }) => field,
            other => panic!("expected invalid config, got {other:?}"),
        }
    }

    #[test]
    fn every_key_of_the_typescript_config_is_accepted() {
        // The keys of `TracewireConfig` in browser/js.rs, each with a value of its kind.
        let ts = include_str!("../browser/js.rs");
        let start = ts
            .find("export interface TracewireConfig")
            .expect("interface");
        let body = &ts[start..start + ts[start..].find("\n}").expect("end")];
        let mut seen = 0;
        for line in body.lines().map(str::trim) {
            let Some((key, kind)) = line.split_once("?:").or_else(|| line.split_once(": ")) else {
                continue;
            };
            if key.contains(' ') || key.starts_with('/') || key.starts_with('*') {
                continue;
            }
            let value = match kind.trim().trim_end_matches(';') {
                "string" => Value::Str("x".into()),
                "number" => Value::Number(3.0),
                "boolean" => Value::Bool(false),
                "string[]" => Value::List(vec!["x".into()]),
                "TracewireConsoleMethod[]" => Value::List(vec!["error".into()]),
                other => panic!("kind {other} of {key}"),
            };
            let mut c = Config::default();
            c.set(key, value).unwrap_or_else(|e| panic!("{key}: {e}"));
            assert_ne!(c, Config::default(), "{key} sets a field");
            seen += 1;
        }
        assert_eq!(seen, 37);
    }

    #[test]
    fn values_of_the_wrong_kind_name_the_field() {
        let mut c = Config::default();
        for (key, value) in [
            ("endpoint", Value::Number(1.0)),
            ("sampleRate", Value::Str("0.5".into())),
            ("maxQueueItems", Value::Number(1.5)),
            ("maxQueueItems", Value::Number(-1.0)),
            ("flushIntervalMs", Value::Number(5e9)),
            ("compression", Value::Null),
            ("envelopeUrls", Value::Other),
            ("payloadFreeUrls", Value::Str("wss://*".into())),
        ] {
            match c.set(key, value) {
                Err(Error::InvalidConfig { field, .. }) => assert_eq!(field, key),
                other => panic!("{key}: {other:?}"),
            }
        }
        c.set("serviceVersion", Value::Null)
            .expect("null clears an optional field");
        assert_eq!(c.service_version, None);
    }

    #[test]
    fn the_json_form_reads_every_kind() {
        let c = Config::from_json(
            r#"{"endpoint":"http://a","serviceName":"s\u00e9","sampleRate":0.25,
                "maxBatchItems":100,"compression":false,"environment":null,
                "envelopeUrls":["wss://*/graphql","ws://x"],"payloadFreeUrls":["wss://*/pb"]}"#,
        )
        .expect("valid");
        assert_eq!(c.service_name, "sé");
        assert_eq!(c.sample_rate, 0.25);
        assert_eq!(c.max_batch_items, 100);
        assert!(!c.compression);
        assert_eq!(c.envelope_urls, vec!["wss://*/graphql", "ws://x"]);
        assert_eq!(c.payload_free_urls, vec!["wss://*/pb"]);
        assert_eq!(field_of(Config::from_json("[1]")), "config");
        assert_eq!(
            field_of(Config::from_json(r#"{"envelopeUrls":[1]}"#)),
            "envelopeUrls"
        );
    }
}
