//! SDK configuration. The same struct is filled from Rust or, through the JS API, from the object
//! passed to `Tracewire.start({...})` (camelCase keys, see [`fields`]).

mod fields;

pub use fields::Value;

use crate::{Error, Result};

/// SDK configuration. Only `endpoint` and `service_name` are required; every other field has a
/// documented default.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Base URL of the collector's OTLP/HTTP endpoint, e.g. `https://collector.example.com`;
    /// data goes to `{endpoint}/v1/traces` and `{endpoint}/v1/logs`. Required.
    pub endpoint: String,
    /// `service.name` of everything this page exports. Required.
    pub service_name: String,
    /// `service.version` resource attribute (default: none).
    pub service_version: Option<String>,
    /// `deployment.environment` resource attribute (default: none).
    pub environment: Option<String>,
    /// Ingest key sent as the `x-tracewire-key` header, and as the `key` query parameter for
    /// requests that cannot carry headers (beacons, page-exit keepalive). Default: none.
    pub ingest_key: Option<String>,
    /// Fraction of traces recorded, from 0.0 to 1.0 (default 1.0). Error records are always
    /// kept.
    pub sample_rate: f64,

    /// Most items waiting for export; new items beyond it are dropped and counted (default 2048).
    pub max_queue_items: usize,
    /// Most estimated bytes waiting for export (default 4 MiB).
    pub max_queue_bytes: usize,
    /// Most items per export request (default 512).
    pub max_batch_items: usize,
    /// Most estimated bytes per export request (default 512 KiB).
    pub max_batch_bytes: usize,
    /// Longest an item waits before an export is started, in milliseconds (default 5000).
    pub flush_interval_ms: u32,
    /// Export tries per batch, including the first (default 5).
    pub max_export_attempts: u32,
    /// First retry delay in milliseconds, growing by 1.5x per try with +-20% jitter (default 1000).
    pub retry_initial_ms: u32,
    /// Longest retry delay in milliseconds, unless the collector's `Retry-After` asks for more
    /// (default 5000).
    pub retry_max_ms: u32,
    /// gzip export bodies with `CompressionStream` when the browser has it (default true).
    pub compression: bool,
    /// Share of the browser's 64 KiB keepalive budget the SDK uses at page exit, in bytes
    /// (default 60000; at most 65536).
    pub keepalive_budget_bytes: usize,
    /// Flush on `visibilitychange` to hidden and on `pagehide` (default true).
    pub flush_on_page_exit: bool,

    /// Name of the JSON field that carries the trace context in messages (default
    /// `trace_context`).
    pub trace_context_field: String,
    /// Inject trace context into outgoing JSON object messages (default true).
    pub inject_trace_context: bool,
    /// JSON fields read, in order, for the message type used in span names (default `type`,
    /// `event`, `op`, `action`).
    pub message_type_fields: Vec<String>,
    /// URL patterns (`*` matches anything) of sockets whose text messages are wrapped in an
    /// envelope `{"data": ..., "trace_context": ..., "ts": ...}` (default: none).
    pub envelope_urls: Vec<String>,
    /// URL patterns (`*` matches anything) of payload-free sockets: their messages are never
    /// changed (text and binary go out exactly as the page sent them, even when `envelopeUrls`
    /// also matches); the connection's context goes in the handshake URL as the query parameter
    /// `traceparent`, and every message span carries its number on the connection
    /// (`ws.message.sequence`), which a backend following docs/semantic-conventions.md counts the
    /// same way (default: none).
    pub payload_free_urls: Vec<String>,
    /// `tracestate` sent with injected context (default empty).
    pub tracestate: String,
    /// Sent messages waiting longer than this for a reply are exported without a round-trip
    /// time, in milliseconds (default 10000).
    pub reply_timeout_ms: u32,
    /// Spans recorded per socket (its recorded `url.full`) and message type in each WebSocket
    /// rate interval: sends, and receives that do not continue a traced send, take from it;
    /// further messages are counted in `ws.message_rate` records instead (default 100).
    pub ws_spans_per_type: u64,
    /// The WebSocket counting interval, in milliseconds: allowances start again and the counts
    /// are reported once it has passed (at the exporter's next periodic tick, every
    /// `flush_interval_ms`), and before every export (default 10000).
    pub ws_rate_interval_ms: u32,
    /// Beyond the allowance, one message in this many still gets its spans (a send traced this
    /// way gets its reply traced too), so the waterfall keeps examples; 0: none (default 100).
    pub ws_trace_one_in: u64,

    /// Origins (`https://api.example.com`) whose fetch requests get a `traceparent` header; the
    /// page's own origin is always included (default: none besides it).
    pub propagate_to_origins: Vec<String>,
    /// Spans recorded per fetch route and rate interval; further requests are only counted
    /// (default 20).
    pub fetch_spans_per_route: u64,
    /// Interval of the per-route fetch request-rate report, in milliseconds (default 10000).
    pub fetch_rate_interval_ms: u32,

    /// Capture `error` and `unhandledrejection` on `window` and SDK panics (default true).
    pub capture_errors: bool,
    /// `console` methods (`trace`, `debug`, `log`, `info`, `warn`, `error`) whose calls are also
    /// recorded as log records; the console still shows exactly what the page passed (default:
    /// none, console capture off). Needs the cargo feature `console`.
    pub capture_console: Vec<String>,

    /// Remove query strings and fragments from recorded URLs (default true).
    pub strip_url_query: bool,
    /// Attribute keys (case-insensitive substrings) whose values are replaced by `[REDACTED]`
    /// (default: password, passwd, secret, token, authorization, cookie, api_key, apikey).
    pub deny_attributes: Vec<String>,
    /// Redact e-mail addresses in attribute values (default true).
    pub redact_emails: bool,
    /// Redact `Bearer <token>` credentials in attribute values (default true).
    pub redact_bearer_tokens: bool,
    /// Extra JavaScript regular expressions whose matches in attribute values are replaced by
    /// `[REDACTED]` (default: none).
    pub redact_patterns: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            endpoint: String::new(),
            service_name: String::new(),
            service_version: None,
            environment: None,
            ingest_key: None,
            sample_rate: 1.0,
            max_queue_items: 2048,
            max_queue_bytes: 4 << 20,
            max_batch_items: 512,
            max_batch_bytes: 512 << 10,
            flush_interval_ms: 5000,
            max_export_attempts: 5,
            retry_initial_ms: 1000,
            retry_max_ms: 5000,
            compression: true,
            keepalive_budget_bytes: 60_000,
            flush_on_page_exit: true,
            trace_context_field: tracewire_semconv::message::TRACE_CONTEXT_FIELD.into(),
            inject_trace_context: true,
            message_type_fields: ["type", "event", "op", "action"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            envelope_urls: Vec::new(),
            payload_free_urls: Vec::new(),
            tracestate: String::new(),
            reply_timeout_ms: 10_000,
            ws_spans_per_type: 100,
            ws_rate_interval_ms: 10_000,
            ws_trace_one_in: 100,
            propagate_to_origins: Vec::new(),
            fetch_spans_per_route: 20,
            fetch_rate_interval_ms: 10_000,
            capture_errors: true,
            capture_console: Vec::new(),
            strip_url_query: true,
            deny_attributes: [
                "password",
                "passwd",
                "secret",
                "token",
                "authorization",
                "cookie",
                "api_key",
                "apikey",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            redact_emails: true,
            redact_bearer_tokens: true,
            redact_patterns: Vec::new(),
        }
    }
}

pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Error {
    Error::InvalidConfig {
        field,
        message: message.into(),
    }
}

impl Config {
    /// A config with the two required fields set and defaults for the rest.
    pub fn new(endpoint: impl Into<String>, service_name: impl Into<String>) -> Self {
        Config {
            endpoint: endpoint.into(),
            service_name: service_name.into(),
            ..Config::default()
        }
    }

    /// Checks every field; the error names the first bad field and what it accepts.
    pub fn validate(mut self) -> Result<Config> {
        let endpoint = self.endpoint.trim().trim_end_matches('/').to_owned();
        let host = endpoint
            .strip_prefix("http://")
            .or_else(|| endpoint.strip_prefix("https://"));
        if host.is_none_or(str::is_empty) {
            return Err(invalid("endpoint", "must be an http:// or https:// URL"));
        }
        if endpoint.contains(['?', '#']) {
            return Err(invalid("endpoint", "must not contain a query or fragment"));
        }
        self.endpoint = endpoint;
        if self.service_name.trim().is_empty() {
            return Err(invalid("serviceName", "must not be empty"));
        }
        if !(0.0..=1.0).contains(&self.sample_rate) {
            return Err(invalid("sampleRate", "must be between 0.0 and 1.0"));
        }
        for (field, value) in [
            ("maxQueueItems", self.max_queue_items),
            ("maxQueueBytes", self.max_queue_bytes),
            ("maxBatchItems", self.max_batch_items),
            ("maxBatchBytes", self.max_batch_bytes),
        ] {
            if value == 0 {
                return Err(invalid(field, "must be greater than 0"));
            }
        }
        if self.flush_interval_ms == 0 {
            return Err(invalid("flushIntervalMs", "must be greater than 0"));
        }
        if self.max_export_attempts == 0 {
            return Err(invalid("maxExportAttempts", "must be at least 1"));
        }
        if self.retry_initial_ms > self.retry_max_ms {
            return Err(invalid("retryInitialMs", "must not exceed retryMaxMs"));
        }
        if self.keepalive_budget_bytes == 0 || self.keepalive_budget_bytes > 65_536 {
            return Err(invalid(
                "keepaliveBudgetBytes",
                "must be between 1 and 65536",
            ));
        }
        if self.trace_context_field.is_empty() {
            return Err(invalid("traceContextField", "must not be empty"));
        }
        // The envelope's own members: the context would replace the message (or its time).
        if !self.envelope_urls.is_empty()
            && matches!(self.trace_context_field.as_str(), "data" | "ts")
        {
            return Err(invalid(
                "traceContextField",
                "must not be `data` or `ts` when envelopeUrls wraps messages in {\"data\": ..., \"ts\": ...}",
            ));
        }
        if self.message_type_fields.iter().any(String::is_empty) {
            return Err(invalid("messageTypeFields", "entries must not be empty"));
        }
        if self.tracestate.len() > 512 || !self.tracestate.is_ascii() {
            return Err(invalid(
                "tracestate",
                "must be ASCII and at most 512 characters",
            ));
        }
        if self.ws_rate_interval_ms == 0 {
            return Err(invalid("wsRateIntervalMs", "must be greater than 0"));
        }
        if self.fetch_rate_interval_ms == 0 {
            return Err(invalid("fetchRateIntervalMs", "must be greater than 0"));
        }
        for origin in &self.propagate_to_origins {
            if !(origin.starts_with("http://") || origin.starts_with("https://"))
                || origin.trim_end_matches('/').matches('/').count() != 2
            {
                return Err(invalid(
                    "propagateToOrigins",
                    crate::json::quoted(origin) + " is not an origin like https://api.example.com",
                ));
            }
        }
        if !self.capture_console.is_empty() && !cfg!(feature = "console") {
            return Err(invalid(
                "captureConsole",
                "console capture is not in this build (cargo feature `console`)",
            ));
        }
        for method in &self.capture_console {
            if !crate::record::CONSOLE_METHODS.contains(&method.as_str()) {
                return Err(invalid(
                    "captureConsole",
                    crate::json::quoted(method)
                        + " is not one of trace, debug, log, info, warn, error",
                ));
            }
        }
        if let Some(key) = &self.ingest_key
            && (key.is_empty() || !key.bytes().all(|c| c.is_ascii_graphic()))
        {
            return Err(invalid("ingestKey", "must be non-empty printable ASCII"));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(r: Result<Config>) -> String {
        match r {
            Err(Error::InvalidConfig { field, .. }) => field.to_owned(),
            other => panic!("expected invalid config, got {other:?}"),
        }
    }

    #[test]
    fn minimal_json_config_gets_documented_defaults() {
        let c = Config::from_json(r#"{"endpoint":"http://127.0.0.1:4318/","serviceName":"web"}"#)
            .and_then(Config::validate)
            .expect("valid");
        assert_eq!(c.endpoint, "http://127.0.0.1:4318");
        assert_eq!(c.max_queue_items, 2048);
        assert_eq!(c.trace_context_field, "trace_context");
        assert_eq!(c.message_type_fields, vec!["type", "event", "op", "action"]);
        assert_eq!(c.keepalive_budget_bytes, 60_000);
        assert!(c.payload_free_urls.is_empty(), "payload-free is opt-in");
        assert_eq!(
            (
                c.ws_spans_per_type,
                c.ws_rate_interval_ms,
                c.ws_trace_one_in
            ),
            (100, 10_000, 100)
        );
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let r = Config::from_json(r#"{"endpoint":"http://a","serviceName":"s","sampleRat":0.5}"#);
        assert!(field_of(r).contains("unknown field"));
    }

    #[test]
    fn invalid_values_name_the_field() {
        assert_eq!(field_of(Config::new("ftp://x", "s").validate()), "endpoint");
        assert_eq!(
            field_of(Config::new("http://x", " ").validate()),
            "serviceName"
        );
        let mut c = Config::new("http://x", "s");
        c.sample_rate = 1.5;
        assert_eq!(field_of(c.validate()), "sampleRate");
        let mut c = Config::new("http://x", "s");
        c.keepalive_budget_bytes = 70_000;
        assert_eq!(field_of(c.validate()), "keepaliveBudgetBytes");
        let mut c = Config::new("http://x", "s");
        c.max_batch_items = 0;
        assert_eq!(field_of(c.validate()), "maxBatchItems");
        let mut c = Config::new("http://x", "s");
        c.propagate_to_origins = vec!["https://a.com/path".into()];
        assert_eq!(field_of(c.validate()), "propagateToOrigins");
        let mut c = Config::new("http://x", "s");
        c.ingest_key = Some("has space".into());
        assert_eq!(field_of(c.validate()), "ingestKey");
        let mut c = Config::new("http://x", "s");
        c.capture_console = vec!["error".into(), "table".into()];
        assert_eq!(field_of(c.validate()), "captureConsole");
        let mut c = Config::new("http://x", "s");
        c.ws_rate_interval_ms = 0;
        assert_eq!(field_of(c.validate()), "wsRateIntervalMs");
    }

    #[test]
    fn console_capture_is_off_by_default_and_needs_its_feature() {
        assert!(Config::default().capture_console.is_empty());
        let mut c = Config::new("http://x", "s");
        c.capture_console = vec!["error".into(), "warn".into()];
        match (c.validate(), cfg!(feature = "console")) {
            (Ok(c), true) => assert_eq!(c.capture_console, vec!["error", "warn"]),
            (Err(e), false) => assert!(e.message().contains("feature `console`")),
            (other, with_feature) => panic!("feature console {with_feature}: {other:?}"),
        }
    }

    /// Seen while writing the `sdk_message` fuzz target's property: with envelopes, a context
    /// field named like an envelope member made the envelope carry that key twice, and the
    /// context either replaced the message or was never read back.
    #[test]
    fn context_field_may_not_be_an_envelope_member_when_envelopes_are_on() {
        let mut c = Config::new("http://x", "s");
        c.trace_context_field = "data".into();
        assert!(c.clone().validate().is_ok(), "fine without envelopes");
        c.envelope_urls = vec!["wss://app.example.com/*".into()];
        assert_eq!(field_of(c.clone().validate()), "traceContextField");
        c.trace_context_field = "ts".into();
        assert_eq!(field_of(c.validate()), "traceContextField");
    }
}
