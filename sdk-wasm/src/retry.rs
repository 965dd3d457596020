//! Which export responses are retried, and when.
//!
//! Follows the OTLP/HTTP client rules: only network errors and 429, 502, 503, 504 are retried,
//! with exponential backoff and jitter, and a server's `Retry-After` wins over the schedule.

/// What to do with an export after a response (or a network failure).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted (2xx, including partial success, which clients must not retry).
    Done,
    /// Transient: try again later.
    Retry,
    /// Permanent (any other status): give up and count the items as dropped.
    GiveUp,
}

/// Classifies an HTTP status; `None` stands for a network error.
pub fn classify(status: Option<u16>) -> Outcome {
    match status {
        None => Outcome::Retry,
        Some(200..=299) => Outcome::Done,
        Some(429 | 502 | 503 | 504) => Outcome::Retry,
        Some(_) => Outcome::GiveUp,
    }
}

/// Backoff schedule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Total tries including the first.
    pub max_attempts: u32,
    /// Delay before the second try, in milliseconds.
    pub initial_ms: f64,
    /// Growth factor per try.
    pub multiplier: f64,
    /// Upper bound of the computed delay, in milliseconds.
    pub max_ms: f64,
    /// Relative jitter, e.g. 0.2 for +-20%.
    pub jitter: f64,
}

/// Longest `Retry-After` honoured; a server asking for more gets the items counted as dropped
/// rather than held in the page for minutes.
pub const MAX_RETRY_AFTER_MS: f64 = 60_000.0;

impl RetryPolicy {
    /// Delay before try number `attempt + 1`, after `attempt` failed tries (1-based), or `None`
    /// when no tries are left. `unit` is a random number in `[0, 1)`; `retry_after_ms` is the
    /// server's `Retry-After`, if it sent one.
    pub fn delay_ms(&self, attempt: u32, unit: f64, retry_after_ms: Option<f64>) -> Option<f64> {
        if attempt >= self.max_attempts {
            return None;
        }
        if let Some(ra) = retry_after_ms {
            return (ra <= MAX_RETRY_AFTER_MS).then_some(ra.max(0.0));
        }
        let exp = self.multiplier.powi(attempt.saturating_sub(1) as i32);
        let base = (self.initial_ms * exp).min(self.max_ms);
        let factor = 1.0 + self.jitter * (2.0 * unit - 1.0);
        Some((base * factor).max(0.0))
    }
}

/// Parses a `Retry-After` value in delay-seconds form. The HTTP-date form is handled by the
/// browser layer (it needs a date parser), which falls back to this for numbers.
pub fn parse_retry_after_seconds(value: &str) -> Option<f64> {
    let v = value.trim();
    if v.is_empty() || !v.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    v.parse::<u32>().ok().map(|s| f64::from(s) * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: RetryPolicy = RetryPolicy {
        max_attempts: 5,
        initial_ms: 1000.0,
        multiplier: 1.5,
        max_ms: 5000.0,
        jitter: 0.2,
    };

    #[test]
    fn only_transient_statuses_and_network_errors_are_retried() {
        assert_eq!(classify(None), Outcome::Retry);
        for s in [429, 502, 503, 504] {
            assert_eq!(classify(Some(s)), Outcome::Retry, "{s}");
        }
        for s in [400, 401, 403, 404, 413, 415, 500, 501] {
            assert_eq!(classify(Some(s)), Outcome::GiveUp, "{s}");
        }
        assert_eq!(classify(Some(200)), Outcome::Done);
        assert_eq!(classify(Some(204)), Outcome::Done);
    }

    #[test]
    fn schedule_grows_by_the_multiplier_and_is_capped() {
        let mid = 0.5; // no jitter
        let delays: Vec<_> = (1..5)
            .map(|a| POLICY.delay_ms(a, mid, None).expect("left"))
            .collect();
        assert_eq!(delays, vec![1000.0, 1500.0, 2250.0, 3375.0]);
        let long = RetryPolicy {
            max_attempts: 20,
            ..POLICY
        };
        assert_eq!(long.delay_ms(10, mid, None), Some(5000.0));
    }

    #[test]
    fn stops_after_max_attempts() {
        assert!(POLICY.delay_ms(4, 0.5, None).is_some());
        assert_eq!(POLICY.delay_ms(5, 0.5, None), None);
        assert_eq!(POLICY.delay_ms(5, 0.5, Some(10.0)), None);
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        let low = POLICY.delay_ms(1, 0.0, None).expect("left");
        let high = POLICY.delay_ms(1, 0.999_999, None).expect("left");
        assert!((low - 800.0).abs() < 1e-6);
        assert!(high < 1200.0 && high > 1199.0);
    }

    #[test]
    fn retry_after_overrides_the_schedule_within_a_bound() {
        assert_eq!(POLICY.delay_ms(1, 0.5, Some(7000.0)), Some(7000.0));
        assert_eq!(POLICY.delay_ms(1, 0.5, Some(120_000.0)), None);
        assert_eq!(parse_retry_after_seconds(" 3 "), Some(3000.0));
        assert_eq!(
            parse_retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT"),
            None
        );
        assert_eq!(parse_retry_after_seconds("-1"), None);
    }
}
