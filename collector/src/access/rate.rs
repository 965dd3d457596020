//! Ingest rates: `rate = "500/s"` on a key, enforced with a token bucket that holds twice the
//! rate (a burst of two seconds' worth) and refills continuously.

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many seconds' worth of items a bucket holds when full.
const BURST_SECONDS: f64 = 2.0;

/// A rate of spans plus log records, e.g. `500/s`, `6000/m` or `100000/h`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    per_second: f64,
    text_count: u64,
    text_unit: char,
}

impl Rate {
    /// Items per second.
    pub fn per_second(self) -> f64 {
        self.per_second
    }
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "'{text}' is not a rate; expected a whole number of items per s, m or h, e.g. \"500/s\""
            )
        };
        let (count, unit) = text.trim().split_once('/').ok_or_else(bad)?;
        let count: u64 = count.trim().parse().map_err(|_| bad())?;
        if count == 0 {
            return Err(format!(
                "'{text}' allows nothing; give at least 1 item per unit"
            ));
        }
        let (seconds, unit) = match unit.trim() {
            "s" | "sec" | "second" => (1.0, 's'),
            "m" | "min" | "minute" => (60.0, 'm'),
            "h" | "hour" => (3600.0, 'h'),
            _ => return Err(bad()),
        };
        Ok(Self {
            per_second: count as f64 / seconds,
            text_count: count,
            text_unit: unit,
        })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.text_count, self.text_unit)
    }
}

/// A token bucket for one key. Shared by every request that uses the key.
#[derive(Debug)]
pub struct Bucket {
    rate: Rate,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    /// A full bucket.
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            state: Mutex::new(State {
                tokens: capacity(rate),
                updated: Instant::now(),
            }),
        }
    }

    /// The rate this bucket enforces.
    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// `Ok` when the bucket holds at least one item, else how long until it does: a cheap check
    /// before a request's body is read and decoded.
    pub fn check(&self) -> Result<(), Duration> {
        self.check_at(Instant::now())
    }

    /// Takes `items` tokens, or answers how long until that many are there (nothing is taken).
    /// A request larger than the burst is let through when the bucket is full and leaves it in
    /// debt, so that a key's rate bounds every request size but only on average.
    pub fn take(&self, items: u64) -> Result<(), Duration> {
        self.take_at(items, Instant::now())
    }

    fn refill(&self, state: &mut State, now: Instant) {
        let elapsed = now.saturating_duration_since(state.updated).as_secs_f64();
        state.tokens = (state.tokens + elapsed * self.rate.per_second).min(capacity(self.rate));
        state.updated = now;
    }

    fn check_at(&self, now: Instant) -> Result<(), Duration> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        self.refill(&mut state, now);
        if state.tokens >= 1.0 {
            Ok(())
        } else {
            Err(self.wait_for(1.0 - state.tokens))
        }
    }

    fn take_at(&self, items: u64, now: Instant) -> Result<(), Duration> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        self.refill(&mut state, now);
        let wanted = items as f64;
        let needed = wanted.min(capacity(self.rate));
        if state.tokens >= needed {
            state.tokens -= wanted;
            Ok(())
        } else {
            Err(self.wait_for(needed - state.tokens))
        }
    }

    fn wait_for(&self, tokens: f64) -> Duration {
        Duration::from_secs_f64((tokens / self.rate.per_second).max(0.001))
    }
}

fn capacity(rate: Rate) -> f64 {
    (rate.per_second * BURST_SECONDS).max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(text: &str) -> Rate {
        text.parse().expect("valid rate")
    }

    #[test]
    fn rates_parse_per_second_minute_and_hour() {
        assert_eq!(rate("500/s").per_second(), 500.0);
        assert_eq!(rate("60/m").per_second(), 1.0);
        assert_eq!(rate("7200 / hour").per_second(), 2.0);
        assert_eq!(rate("60/min").to_string(), "60/m");
        for bad in ["500", "0/s", "-1/s", "1.5/s", "5/day", "/s"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_full_bucket_allows_twice_the_rate_then_refills_at_the_rate() {
        let bucket = Bucket::new(rate("10/s"));
        let start = Instant::now();
        assert_eq!(bucket.take_at(15, start), Ok(()));
        assert_eq!(bucket.take_at(5, start), Ok(()));
        let wait = bucket.take_at(5, start).expect_err("empty");
        assert!(
            wait > Duration::from_millis(450) && wait <= Duration::from_millis(500),
            "{wait:?}"
        );
        assert!(bucket.check_at(start).is_err());
        let later = start + Duration::from_millis(500);
        assert_eq!(bucket.check_at(later), Ok(()));
        assert_eq!(bucket.take_at(5, later), Ok(()));
        assert!(bucket.take_at(1, later).is_err());
    }

    #[test]
    fn a_request_larger_than_the_burst_passes_a_full_bucket_and_leaves_debt() {
        let bucket = Bucket::new(rate("10/s"));
        let start = Instant::now();
        assert_eq!(bucket.take_at(50, start), Ok(()));
        let wait = bucket.check_at(start).expect_err("in debt");
        assert!(wait >= Duration::from_secs(3), "{wait:?}");
        assert!(bucket.take_at(50, start + Duration::from_secs(4)).is_err());
        assert_eq!(bucket.take_at(50, start + Duration::from_secs(5)), Ok(()));
    }
}
