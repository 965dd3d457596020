//! The query string of the log endpoints, checked one parameter at a time with errors that
//! name the parameter and what it accepts. The record filters are the same on all three
//! endpoints; which of the others an endpoint takes is its [`Endpoint`].

use tracewire_semconv::attribute;

use super::super::ApiError;
use super::super::params::{limit, timestamp};
use crate::logsearch::{Level, LogCursor, LogFilter, TextQuery};

/// Records in a page when `limit` is not given.
pub(super) const DEFAULT_LIMIT: usize = 100;
/// The largest page.
pub(super) const MAX_LIMIT: usize = 1_000;
/// The prefix of attribute filters: `attr.KEY=VALUE`.
const ATTR: &str = "attr.";

/// Which log endpoint a query string is for: each takes the filters and some of the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Endpoint {
    /// `GET /api/logs`: a window, a page size and a cursor.
    List,
    /// `GET /api/logs/histogram`: a window and a step.
    Histogram,
    /// `GET /api/logs/live`: the filters only.
    Live,
}

impl Endpoint {
    fn accepts(self, name: &str) -> bool {
        match name {
            "start" | "end" => self != Self::Live,
            "limit" | "cursor" => self == Self::List,
            "step" => self == Self::Histogram,
            _ => false,
        }
    }
}

/// A checked log query string.
#[derive(Debug, Default)]
pub(super) struct LogParams {
    /// The record filters.
    pub filter: LogFilter,
    /// `start`, unix nanoseconds.
    pub start_ns: Option<i64>,
    /// `end`, unix nanoseconds.
    pub end_ns: Option<i64>,
    /// `limit`.
    pub limit: usize,
    /// `cursor`.
    pub after: Option<LogCursor>,
    /// `step`, as given.
    pub step: Option<String>,
}

fn bad(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::bad_request(code, message)
}

/// Reads the query string of `endpoint`.
pub(super) fn parse(raw: Option<&str>, endpoint: Endpoint) -> Result<LogParams, ApiError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw.unwrap_or("")).map_err(|e| {
            bad(
                "invalid_query",
                format!("cannot read the query string: {e}"),
            )
        })?;
    let mut params = LogParams {
        limit: DEFAULT_LIMIT,
        ..LogParams::default()
    };
    let mut seen: Vec<String> = Vec::new();
    for (name, value) in pairs {
        let repeatable = matches!(name.as_str(), "service" | "severity") || name.starts_with(ATTR);
        if !repeatable {
            if seen.contains(&name) {
                return Err(bad(
                    "invalid_query",
                    format!("{name} is given more than once"),
                ));
            }
            seen.push(name.clone());
        }
        if let Some(key) = name.strip_prefix(ATTR) {
            if key.is_empty() || key.contains('"') {
                return Err(bad(
                    "invalid_attribute",
                    format!(
                        "'{name}' is not an attribute filter; use attr.KEY=VALUE, e.g. attr.http.route=/api/agents"
                    ),
                ));
            }
            params.filter.attributes.push((key.to_owned(), value));
            continue;
        }
        if !is_filter(&name) && !endpoint.accepts(&name) {
            return Err(bad("invalid_query", unknown(&name, endpoint)));
        }
        // An empty value is the same as leaving the parameter out.
        if value.is_empty() {
            continue;
        }
        match name.as_str() {
            "q" => {
                params.filter.text =
                    TextQuery::parse(&value).map_err(|e| bad("invalid_q", format!("q: {e}")))?;
            }
            "service" => params.filter.services.push(value),
            "severity" => params
                .filter
                .levels
                .push(Level::from_name(&value).ok_or_else(|| {
                bad(
                    "invalid_severity",
                    format!(
                        "severity '{value}' is not accepted; use one of {} (repeat it for several)",
                        Level::ALL.map(Level::as_str).join(", ")
                    ),
                )
            })?),
            "trace_id" => params.filter.trace_id = Some(hex_id("trace_id", &value, 32)?),
            "span_id" => params.filter.span_id = Some(hex_id("span_id", &value, 16)?),
            "session_id" => params
                .filter
                .attributes
                .push((attribute::SESSION_ID.to_owned(), value)),
            "user_id" => params
                .filter
                .attributes
                .push((attribute::USER_ID.to_owned(), value)),
            "start" => params.start_ns = Some(timestamp("start", &value)?),
            "end" => params.end_ns = Some(timestamp("end", &value)?),
            "limit" => params.limit = limit(Some(&value), DEFAULT_LIMIT, MAX_LIMIT)?,
            "cursor" => {
                params.after = Some(
                    LogCursor::decode(&value).map_err(|e| bad("invalid_cursor", e.to_string()))?,
                );
            }
            _ => params.step = Some(value),
        }
    }
    if let (Some(start), Some(end)) = (params.start_ns, params.end_ns)
        && start >= end
    {
        return Err(bad("invalid_time", "start must be before end"));
    }
    Ok(params)
}

fn is_filter(name: &str) -> bool {
    matches!(
        name,
        "q" | "service" | "severity" | "trace_id" | "span_id" | "session_id" | "user_id"
    )
}

fn unknown(name: &str, endpoint: Endpoint) -> String {
    match (name, endpoint) {
        ("start" | "end" | "limit" | "cursor", Endpoint::Live) => {
            format!(
                "{name} is not accepted on the live tail, which streams records as they are stored"
            )
        }
        ("limit" | "cursor", Endpoint::Histogram) => {
            format!("{name} is not accepted on the histogram, which counts the whole window")
        }
        ("step", _) => "step is accepted on /api/logs/histogram only".to_owned(),
        _ => format!(
            "unknown parameter '{name}'; use q, service, severity, trace_id, span_id, session_id, user_id, attr.KEY, start, end, limit, cursor (and step on the histogram)"
        ),
    }
}

/// A trace or span id of `digits` hex digits, not all zeros; returned lowercase.
fn hex_id(param: &'static str, value: &str, digits: usize) -> Result<String, ApiError> {
    let ok = value.len() == digits
        && value.bytes().all(|b| b.is_ascii_hexdigit())
        && value.bytes().any(|b| b != b'0');
    if !ok {
        let code = if param == "trace_id" {
            "invalid_trace_id"
        } else {
            "invalid_span_id"
        };
        return Err(bad(
            code,
            format!("{param} '{value}' is not accepted; use {digits} hex digits, not all zero"),
        ));
    }
    Ok(value.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(pairs: &[(&str, &str)]) -> Result<LogParams, ApiError> {
        parse(
            Some(&serde_urlencoded::to_string(pairs).expect("encodes")),
            Endpoint::List,
        )
    }

    #[test]
    fn every_filter_is_read() {
        let p = list(&[
            ("q", "timeout -healthz"),
            ("service", "api"),
            ("service", "web"),
            ("severity", "ERROR"),
            ("severity", "fatal"),
            ("trace_id", &"AB".repeat(16)),
            ("span_id", &"cd".repeat(8)),
            ("session_id", "s1"),
            ("user_id", "u1"),
            ("attr.http.route", "/api/a=b"),
            ("start", "2026-11-21T10:00:00Z"),
            ("end", "1795255300000000000"),
            ("limit", "5"),
        ])
        .expect("valid");
        assert_eq!(p.filter.services, ["api", "web"]);
        assert_eq!(p.filter.levels, [Level::Error, Level::Fatal]);
        assert_eq!(p.filter.trace_id.as_deref(), Some("ab".repeat(16).as_str()));
        assert_eq!(
            p.filter.attributes,
            [
                ("session.id".to_owned(), "s1".to_owned()),
                ("user.id".to_owned(), "u1".to_owned()),
                ("http.route".to_owned(), "/api/a=b".to_owned()),
            ]
        );
        assert_eq!(p.filter.text.expect("q").terms().len(), 2);
        assert_eq!(p.start_ns, Some(1_795_255_200_000_000_000));
        assert_eq!(p.limit, 5);
    }

    #[test]
    fn bad_values_name_the_parameter_and_malformed_q_says_where() {
        for (k, v, code) in [
            ("q", "\"open", "invalid_q"),
            ("severity", "warning", "invalid_severity"),
            ("trace_id", "xyz", "invalid_trace_id"),
            ("span_id", "00000000000000000", "invalid_span_id"),
            ("limit", "1001", "invalid_limit"),
            ("cursor", "nope", "invalid_cursor"),
            ("start", "yesterday", "invalid_time"),
            ("servce", "api", "invalid_query"),
            ("attr.", "x", "invalid_attribute"),
            ("step", "1m", "invalid_query"),
        ] {
            match list(&[(k, v)]) {
                Err(ApiError::BadRequest { code: got, message }) => {
                    assert_eq!(got, code, "{k}={v}: {message}");
                    assert!(message.contains(k.trim_end_matches('.')), "{k}: {message}");
                }
                other => panic!("{k}={v}: {other:?}"),
            }
        }
        let Err(ApiError::BadRequest { message, .. }) = list(&[("q", "ok \"never")]) else {
            panic!("malformed q accepted");
        };
        assert!(message.contains("character 4"), "{message}");
        assert!(list(&[("q", "a"), ("q", "b")]).is_err(), "q twice");
        assert!(list(&[("start", "5"), ("end", "5")]).is_err());
    }

    #[test]
    fn each_endpoint_takes_its_own_parameters() {
        let raw = "q=x&start=1&end=2&step=1m";
        assert_eq!(
            parse(Some(raw), Endpoint::Histogram)
                .expect("histogram")
                .step
                .as_deref(),
            Some("1m")
        );
        for (raw, endpoint) in [
            ("start=1", Endpoint::Live),
            ("cursor=x", Endpoint::Live),
            ("limit=5", Endpoint::Histogram),
        ] {
            assert!(parse(Some(raw), endpoint).is_err(), "{raw} on {endpoint:?}");
        }
        assert!(parse(Some("q=&service=&severity="), Endpoint::Live).is_ok());
    }
}
