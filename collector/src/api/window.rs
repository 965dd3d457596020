//! The time window of a request, read in one place for every endpoint that takes one:
//! [`Windowed`] extracts `start` and `end` (the last hour when absent) with the endpoint's own
//! query parameters, [`Stepped`] also the `step` of a series. The endpoint's parameters are
//! checked as strictly as before: an unknown one is refused.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::params::{duration_ns, timestamp};
use crate::model::RollupQuery;

/// The window used when `start` is not given: the last hour.
const DEFAULT_WINDOW_NS: i64 = 3_600 * 1_000_000_000;
/// Most buckets in a series.
const MAX_BUCKETS: i64 = 1_000;
/// Buckets in a series when `step` is not given.
const DEFAULT_BUCKETS: i64 = 60;

/// Now, unix nanoseconds.
pub(super) fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// A request's time window, `start_ns..end_ns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Window {
    /// Unix nanoseconds, inclusive.
    pub start_ns: i64,
    /// Unix nanoseconds, exclusive.
    pub end_ns: i64,
}

impl Window {
    /// `start` and `end` parameters, defaulting to the last hour.
    fn new(start: Option<&str>, end: Option<&str>) -> Result<Self, ApiError> {
        Self::from_ns(
            start.map(|v| timestamp("start", v)).transpose()?,
            end.map(|v| timestamp("end", v)).transpose()?,
        )
    }

    /// A window from bounds already read (unix nanoseconds), defaulting to the last hour.
    pub(super) fn from_ns(start_ns: Option<i64>, end_ns: Option<i64>) -> Result<Self, ApiError> {
        let end_ns = end_ns.unwrap_or_else(now_ns);
        let start_ns = start_ns.unwrap_or(end_ns.saturating_sub(DEFAULT_WINDOW_NS));
        if start_ns >= end_ns {
            return Err(ApiError::bad_request(
                "invalid_time",
                "start must be before end",
            ));
        }
        Ok(Self { start_ns, end_ns })
    }

    /// The window's round trips (of `message_type` when given) added up in `buckets` steps
    /// of `step_ns`.
    pub(super) fn rollups(
        &self,
        message_type: Option<String>,
        step_ns: i64,
        buckets: usize,
    ) -> RollupQuery {
        RollupQuery {
            message_type,
            start_ns: self.start_ns,
            end_ns: self.end_ns,
            step_ns,
            buckets,
        }
    }

    /// The step of a series over the window and its number of buckets: `step` when given,
    /// else about [`DEFAULT_BUCKETS`] buckets of at least a second; at most [`MAX_BUCKETS`].
    pub(super) fn steps(&self, step: Option<&str>) -> Result<(i64, usize), ApiError> {
        let span = self.end_ns - self.start_ns;
        let step = match step {
            Some(v) => duration_ns("step", v)?,
            None => (span / DEFAULT_BUCKETS).max(1_000_000_000),
        };
        let buckets = (span + step - 1) / step;
        if buckets > MAX_BUCKETS {
            return Err(ApiError::bad_request(
                "invalid_step",
                format!(
                    "step is too small for the window: {buckets} buckets, at most {MAX_BUCKETS}"
                ),
            ));
        }
        Ok((step, usize::try_from(buckets).unwrap_or(0)))
    }
}

/// An endpoint's query parameters `P` (without `start` and `end`) and the request's window.
pub(super) struct Windowed<P> {
    /// The endpoint's own parameters.
    pub params: P,
    /// The window.
    pub window: Window,
}

impl<S: Send + Sync, P: DeserializeOwned> FromRequestParts<S> for Windowed<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let (params, [start, end]) = split(parts.uri.query(), ["start", "end"])?;
        let window = Window::new(start.as_deref(), end.as_deref())?;
        Ok(Self { params, window })
    }
}

/// An endpoint's query parameters `P` (without `start`, `end` and `step`), the request's
/// window and the step of its series.
pub(super) struct Stepped<P> {
    /// The endpoint's own parameters.
    pub params: P,
    /// The window.
    pub window: Window,
    /// Each bucket's length, nanoseconds.
    pub step_ns: i64,
    /// How many buckets cover the window.
    pub buckets: usize,
}

impl<S: Send + Sync, P: DeserializeOwned> FromRequestParts<S> for Stepped<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let (params, [start, end, step]) = split(parts.uri.query(), ["start", "end", "step"])?;
        let window = Window::new(start.as_deref(), end.as_deref())?;
        let (step_ns, buckets) = window.steps(step.as_deref())?;
        Ok(Self {
            params,
            window,
            step_ns,
            buckets,
        })
    }
}

/// The values of the parameters `taken` (each at most once), and the other parameters as `P`.
fn split<P: DeserializeOwned, const N: usize>(
    query: Option<&str>,
    taken: [&str; N],
) -> Result<(P, [Option<String>; N]), ApiError> {
    let invalid = |message: String| ApiError::bad_request("invalid_query", message);
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|e| invalid(format!("Failed to deserialize query string: {e}")))?;
    let mut values: [Option<String>; N] = std::array::from_fn(|_| None);
    let mut rest = Vec::with_capacity(pairs.len());
    for (key, value) in pairs {
        match taken.iter().position(|t| *t == key) {
            Some(i) if values[i].is_some() => {
                return Err(invalid(format!(
                    "Failed to deserialize query string: duplicate field `{key}`"
                )));
            }
            Some(i) => values[i] = Some(value),
            None => rest.push((key, value)),
        }
    }
    let rest = serde_urlencoded::to_string(&rest)
        .map_err(|e| invalid(format!("Failed to deserialize query string: {e}")))?;
    let params = serde_urlencoded::from_str(&rest)
        .map_err(|e| invalid(format!("Failed to deserialize query string: {e}")))?;
    Ok((params, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Params {
        limit: Option<String>,
    }

    #[test]
    fn window_parameters_are_taken_out_and_the_rest_checked_strictly() {
        let (params, [start, end]): (Params, _) =
            split(Some("start=1&limit=5&end=9"), ["start", "end"]).expect("valid");
        assert_eq!(params.limit.as_deref(), Some("5"));
        assert_eq!((start.as_deref(), end.as_deref()), (Some("1"), Some("9")));
        for query in ["start=1&start=2", "limit=1&lmit=2", "step=1s"] {
            let err = split::<Params, 2>(Some(query), ["start", "end"]).expect_err(query);
            assert!(
                matches!(
                    err,
                    ApiError::BadRequest {
                        code: "invalid_query",
                        ..
                    }
                ),
                "{query}: {err}"
            );
        }
    }

    #[test]
    fn windows_default_to_the_last_hour_and_steps_to_sixty_buckets() {
        let window = Window::new(None, Some("7200000000000")).expect("valid");
        assert_eq!(window.start_ns, 3_600_000_000_000);
        assert_eq!(window.steps(None).expect("valid"), (60_000_000_000, 60));
        assert!(Window::new(Some("9"), Some("9")).is_err());
        assert!(window.steps(Some("1ms")).is_err());
    }
}
