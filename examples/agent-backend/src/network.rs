//! `--network-delay-ms`: a random delay on each WebSocket message's way in and its reply's way
//! out, outside the backend's spans, as an uneven network would add. Tests use it to check the
//! collector's clock-offset estimate and its stated uncertainty against a known truth.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Random delays of 0 up to a maximum, drawn uniformly per message and direction.
#[derive(Debug, Clone)]
pub struct Delays {
    max_ns: u64,
    state: Arc<AtomicU64>,
}

impl Delays {
    /// Delays of up to `max_ms`; `None` for 0 (no delay, and the reply leaves inside the span).
    pub fn new(max_ms: u64, seed: u64) -> Option<Self> {
        (max_ms > 0).then(|| Self {
            max_ns: max_ms * 1_000_000,
            state: Arc::new(AtomicU64::new(seed | 1)),
        })
    }

    /// Waits for one random delay.
    pub async fn wait(&self) {
        tokio::time::sleep(self.next()).await;
    }

    /// The next delay (xorshift64*: fast, and good enough for spreading delays).
    fn next(&self) -> Duration {
        let step = |mut x: u64| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            x
        };
        let previous = self
            .state
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |x| Some(step(x)))
            .unwrap_or_else(|x| x);
        let random = step(previous).wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11;
        Duration::from_nanos(random % (self.max_ns + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_spread_over_the_whole_range_and_none_is_off() {
        assert!(Delays::new(0, 1).is_none());
        let delays = Delays::new(40, 7).expect("on");
        let drawn: Vec<_> = (0..2_000).map(|_| delays.next()).collect();
        let max = Duration::from_millis(40);
        assert!(drawn.iter().all(|d| *d <= max));
        assert!(drawn.iter().any(|d| *d < Duration::from_millis(2)));
        assert!(drawn.iter().any(|d| *d > Duration::from_millis(38)));
    }
}
