//! Clock-offset estimation between a browser and the backend, from message exchanges.
//!
//! Each exchange gives the NTP sample θ = ((t2 − t1) + (t3 − t4)) / 2 with network delay
//! δ = (t4 − t1) − (t3 − t2). An asymmetric path (a slow uplink, a queued reply) moves θ away
//! from the true offset by up to δ / 2, so exchanges with small δ are the trustworthy ones: the
//! estimate is the weighted median of θ over the lowest-delay quarter of the samples, weighted
//! by 1 / (δ + 1 ms)².

/// One exchange's offset sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// θ: server clock minus client clock, nanoseconds.
    pub offset_ns: i64,
    /// δ: round-trip network delay, nanoseconds.
    pub delay_ns: i64,
}

impl Sample {
    /// The sample of an exchange: client send `t1`, server receive `t2`, server done `t3`,
    /// client receive `t4`.
    pub fn from_times(t1: i64, t2: i64, t3: i64, t4: i64) -> Self {
        Self {
            offset_ns: ((t2 - t1) + (t3 - t4)) / 2,
            delay_ns: (t4 - t1) - (t3 - t2),
        }
    }
}

/// A session's estimated clock offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Estimate {
    /// Server clock minus client clock, nanoseconds.
    pub offset_ns: i64,
    /// Exchanges the estimate used.
    pub samples: usize,
}

/// Fewest exchanges an estimate keeps, when there are that many.
const MIN_KEPT: usize = 3;
/// The delay added to every sample's weight, so a zero delay does not weigh infinitely.
const WEIGHT_FLOOR_NS: f64 = 1_000_000.0;

/// Estimates the offset from exchanges; `None` without a usable sample. Samples with a negative
/// delay (impossible on one clock pair; a clock stepped mid-exchange) are ignored.
pub fn estimate(samples: &[Sample]) -> Option<Estimate> {
    let mut usable: Vec<Sample> = samples
        .iter()
        .copied()
        .filter(|s| s.delay_ns >= 0)
        .collect();
    if usable.is_empty() {
        return None;
    }
    usable.sort_by_key(|s| (s.delay_ns, s.offset_ns));
    let keep = usable.len().div_ceil(4).max(MIN_KEPT).min(usable.len());
    let mut best: Vec<(i64, f64)> = usable[..keep]
        .iter()
        .map(|s| {
            let spread = s.delay_ns as f64 + WEIGHT_FLOOR_NS;
            (s.offset_ns, 1.0 / (spread * spread))
        })
        .collect();
    best.sort_by_key(|(offset, _)| *offset);
    let half = best.iter().map(|(_, w)| w).sum::<f64>() / 2.0;
    let mut acc = 0.0;
    let offset = best
        .iter()
        .find(|(_, w)| {
            acc += w;
            acc >= half
        })
        .map_or(best[best.len() - 1].0, |(offset, _)| *offset);
    Some(Estimate {
        offset_ns: offset,
        samples: keep,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 1_000_000;

    /// An exchange over a path with the given one-way delays, server time = client time + offset.
    fn exchange(offset: i64, uplink: i64, server: i64, downlink: i64, at: i64) -> Sample {
        let t1 = at;
        let t2 = t1 + uplink + offset;
        let t3 = t2 + server;
        let t4 = t3 - offset + downlink;
        Sample::from_times(t1, t2, t3, t4)
    }

    #[test]
    fn symmetric_paths_give_the_exact_offset() {
        let samples: Vec<_> = (0..20)
            .map(|i| exchange(2_000 * MS, 5 * MS, 3 * MS, 5 * MS, i * 100 * MS))
            .collect();
        assert_eq!(
            estimate(&samples),
            Some(Estimate {
                offset_ns: 2_000 * MS,
                samples: 5
            })
        );
    }

    #[test]
    fn asymmetric_slow_exchanges_do_not_pull_the_estimate() {
        let offset = -1_234 * MS;
        let mut samples = Vec::new();
        // Most exchanges queue on the uplink (a busy socket): each alone is off by tens of ms.
        for i in 0..60 {
            samples.push(exchange(
                offset,
                40 * MS + i * MS,
                2 * MS,
                4 * MS,
                i * 50 * MS,
            ));
        }
        // A few quiet exchanges with nearly symmetric paths.
        for (i, (up, down)) in [(4, 4), (5, 4), (4, 5), (6, 5), (5, 5)]
            .into_iter()
            .enumerate()
        {
            samples.push(exchange(
                offset,
                up * MS,
                2 * MS,
                down * MS,
                10_000 * MS + i as i64 * MS,
            ));
        }
        let mean = samples.iter().map(|s| s.offset_ns).sum::<i64>() / samples.len() as i64;
        assert!((mean - offset).abs() > 15 * MS, "the naive mean is biased");
        let got = estimate(&samples).expect("estimate");
        assert!(
            (got.offset_ns - offset).abs() <= MS,
            "estimate {} vs {offset}",
            got.offset_ns
        );
    }

    #[test]
    fn a_single_exchange_is_enough_and_none_is_nothing() {
        let s = exchange(7 * MS, 3 * MS, MS, 3 * MS, 0);
        assert_eq!(
            estimate(&[s]),
            Some(Estimate {
                offset_ns: 7 * MS,
                samples: 1
            })
        );
        assert_eq!(estimate(&[]), None);
    }

    #[test]
    fn impossible_samples_are_ignored() {
        let bad = Sample {
            offset_ns: 99 * MS,
            delay_ns: -5 * MS,
        };
        let good = exchange(3 * MS, 2 * MS, MS, 2 * MS, 0);
        assert_eq!(estimate(&[bad, good]).map(|e| e.offset_ns), Some(3 * MS));
        assert_eq!(estimate(&[bad]), None);
    }
}
