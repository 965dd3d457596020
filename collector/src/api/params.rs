//! Query-string parameters of trace search, checked one by one with errors that name the
//! parameter and what it accepts.

use std::time::UNIX_EPOCH;

use serde::Deserialize;
use tracewire_semconv::attribute;

use super::error::ApiError;
use crate::model::TraceQuery;

/// Traces returned when `limit` is not given.
pub(super) const DEFAULT_LIMIT: usize = 20;
/// The largest `limit` accepted.
pub(super) const MAX_LIMIT: usize = 1000;

/// `GET /api/traces` parameters as sent (all but the repeatable `attr`); unknown parameters
/// are refused so typos show.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SearchParams {
    session_id: Option<String>,
    user_id: Option<String>,
    service: Option<String>,
    name: Option<String>,
    parent_service: Option<String>,
    min_duration_ms: Option<String>,
    max_duration_ms: Option<String>,
    status: Option<String>,
    start: Option<String>,
    end: Option<String>,
    limit: Option<String>,
}

/// Parses a search query string: named parameters once each, `attr=key=value` any number of
/// times.
pub(super) fn search_query(raw: Option<&str>) -> Result<TraceQuery, ApiError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw.unwrap_or("")).map_err(|e| {
            ApiError::bad_request(
                "invalid_query",
                format!("cannot read the query string: {e}"),
            )
        })?;
    let mut named = serde_json::Map::new();
    let mut attributes = Vec::new();
    for (key, value) in pairs {
        if key == "attr" {
            let (k, v) = value
                .split_once('=')
                .filter(|(k, _)| !k.is_empty() && !k.contains('"'))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_attribute",
                        format!("attr '{value}' is not accepted; use attr=key=value, e.g. attr=http.route=/api/agents"),
                    )
                })?;
            attributes.push((k.to_owned(), v.to_owned()));
        } else if named
            .insert(key.clone(), serde_json::Value::String(value))
            .is_some()
        {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("{key} is given more than once"),
            ));
        }
    }
    let params: SearchParams = serde_json::from_value(serde_json::Value::Object(named))
        .map_err(|e| ApiError::bad_request("invalid_query", e.to_string()))?;
    params.into_query(attributes)
}

impl SearchParams {
    fn into_query(self, mut attributes: Vec<(String, String)>) -> Result<TraceQuery, ApiError> {
        for (key, value) in [
            (attribute::SESSION_ID, self.session_id),
            (attribute::USER_ID, self.user_id),
        ] {
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                attributes.push((key.to_owned(), value));
            }
        }
        let query = TraceQuery {
            attributes,
            service: self.service.filter(|s| !s.is_empty()),
            name: self.name.filter(|s| !s.is_empty()),
            parent_service: self.parent_service.filter(|s| !s.is_empty()),
            min_duration_ns: self
                .min_duration_ms
                .as_deref()
                .map(|v| duration_ms("min_duration_ms", v))
                .transpose()?,
            max_duration_ns: self
                .max_duration_ms
                .as_deref()
                .map(|v| duration_ms("max_duration_ms", v))
                .transpose()?,
            errors_only: match self.status.as_deref() {
                None | Some("" | "any") => false,
                Some("error") => true,
                Some(other) => {
                    return Err(ApiError::bad_request(
                        "invalid_status",
                        format!(
                            "status '{other}' is not accepted; use status=error or leave it out"
                        ),
                    ));
                }
            },
            start_ns: self
                .start
                .as_deref()
                .map(|v| timestamp("start", v))
                .transpose()?,
            end_ns: self
                .end
                .as_deref()
                .map(|v| timestamp("end", v))
                .transpose()?,
            limit: limit(self.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?,
        };
        if let (Some(min), Some(max)) = (query.min_duration_ns, query.max_duration_ns)
            && min > max
        {
            return Err(ApiError::bad_request(
                "invalid_duration",
                "min_duration_ms is larger than max_duration_ms",
            ));
        }
        Ok(query)
    }
}

fn duration_ms(param: &str, value: &str) -> Result<i64, ApiError> {
    value
        .parse::<f64>()
        .ok()
        .filter(|ms| ms.is_finite() && *ms >= 0.0 && *ms < 1e12)
        .map(|ms| (ms * 1e6).round() as i64)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_duration",
                format!(
                    "{param} '{value}' is not accepted; use a non-negative number of milliseconds"
                ),
            )
        })
}

/// Unix nanoseconds, or an RFC 3339 time such as `2026-11-21T10:00:00Z`.
pub(super) fn timestamp(param: &str, value: &str) -> Result<i64, ApiError> {
    if let Ok(ns) = value.parse::<i64>()
        && ns >= 0
    {
        return Ok(ns);
    }
    humantime::parse_rfc3339_weak(value)
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_nanos()).ok())
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_time",
                format!("{param} '{value}' is not accepted; use unix nanoseconds or RFC 3339, e.g. 2026-11-21T10:00:00Z"),
            )
        })
}

/// A duration such as `5m`, `30s` or `1h`, or a whole number of nanoseconds.
pub(super) fn duration_ns(param: &str, value: &str) -> Result<i64, ApiError> {
    if let Ok(ns) = value.parse::<i64>()
        && ns > 0
    {
        return Ok(ns);
    }
    humantime::parse_duration(value)
        .ok()
        .and_then(|d| i64::try_from(d.as_nanos()).ok())
        .filter(|ns| *ns > 0)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_duration",
                format!("{param} '{value}' is not accepted; use a duration such as 30s, 5m, 1h or nanoseconds"),
            )
        })
}

/// `limit` from 1 to `max`, `default` when absent.
pub(super) fn limit(value: Option<&str>, default: usize, max: usize) -> Result<usize, ApiError> {
    match value {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_limit",
                    format!("limit '{v}' is not accepted; use a whole number from 1 to {max}"),
                )
            }),
    }
}

/// A trace id from the path: 32 hex digits, not all zeros; returned lowercase.
pub(super) fn trace_id(value: &str) -> Result<String, ApiError> {
    let ok = value.len() == 32
        && value.bytes().all(|b| b.is_ascii_hexdigit())
        && value.bytes().any(|b| b != b'0');
    if !ok {
        return Err(ApiError::bad_request(
            "invalid_trace_id",
            format!("'{value}' is not a trace id; use 32 hex digits, not all zero"),
        ));
    }
    Ok(value.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Result<TraceQuery, ApiError> {
        let query = serde_urlencoded::to_string(pairs).expect("encodes");
        search_query(Some(&query))
    }

    #[test]
    fn defaults_and_conversions() {
        let q = params(&[]).expect("valid");
        assert_eq!(q.limit, DEFAULT_LIMIT);
        let q = params(&[
            ("min_duration_ms", "1.5"),
            ("status", "error"),
            ("parent_service", "web"),
            ("start", "2026-11-21T10:00:00Z"),
            ("end", "5"),
        ])
        .expect("valid");
        assert_eq!(q.min_duration_ns, Some(1_500_000));
        assert!(q.errors_only);
        assert_eq!(q.parent_service.as_deref(), Some("web"));
        assert_eq!(q.start_ns, Some(1_795_255_200_000_000_000));
        assert_eq!(q.end_ns, Some(5));
    }

    #[test]
    fn bad_values_name_the_parameter() {
        for (k, v) in [
            ("limit", "0"),
            ("limit", "5000"),
            ("min_duration_ms", "-1"),
            ("status", "ok"),
            ("start", "yesterday"),
        ] {
            let err = params(&[(k, v)]).expect_err("invalid");
            assert!(err.to_string().contains(k), "{k}={v}: {err}");
        }
    }

    #[test]
    fn session_user_and_repeated_attributes_become_attribute_filters() {
        let q = params(&[
            ("session_id", "s1"),
            ("attr", "http.route=/api/a=b"),
            ("attr", "k=v"),
            ("user_id", "u"),
        ])
        .expect("valid");
        let expected: Vec<(String, String)> = [
            ("http.route", "/api/a=b"),
            ("k", "v"),
            ("session.id", "s1"),
            ("user.id", "u"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        assert_eq!(q.attributes, expected);
        assert!(params(&[("attr", "novalue")]).is_err());
        assert!(params(&[("attr", "=v")]).is_err());
        assert!(params(&[("limit", "5"), ("limit", "6")]).is_err());
        assert!(
            params(&[("servce", "x")])
                .expect_err("typo")
                .to_string()
                .contains("servce")
        );
    }

    #[test]
    fn trace_ids_are_checked_and_lowercased() {
        assert_eq!(
            trace_id("5B8EFFF798038103D269B633813FC60C").expect("valid"),
            "5b8efff798038103d269b633813fc60c"
        );
        assert!(trace_id("00000000000000000000000000000000").is_err());
        assert!(trace_id("xyz").is_err());
    }
}
