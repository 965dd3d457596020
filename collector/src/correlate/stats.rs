//! Percentiles of latency samples.

use serde::Serialize;

/// p50, p95 and p99 of a set of durations, nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: i64,
    /// 95th percentile.
    pub p95: i64,
    /// 99th percentile.
    pub p99: i64,
}

/// Nearest-rank percentiles; `None` for no samples. Sorts `values` in place.
pub fn percentiles(values: &mut [i64]) -> Option<Percentiles> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let rank = |p: f64| {
        let index = ((p * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1;
        values[index]
    };
    Some(Percentiles {
        p50: rank(0.50),
        p95: rank(0.95),
        p99: rank(0.99),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut values: Vec<i64> = (1..=100).rev().collect();
        assert_eq!(
            percentiles(&mut values),
            Some(Percentiles {
                p50: 50,
                p95: 95,
                p99: 99
            })
        );
        assert_eq!(
            percentiles(&mut [7]),
            Some(Percentiles {
                p50: 7,
                p95: 7,
                p99: 7
            })
        );
        assert_eq!(percentiles(&mut []), None);
    }
}
