//! Clock-offset estimation between a browser and the backend, from message exchanges.
//!
//! An exchange (client send `t1`, server receive `t2`, server done `t3`, client receive `t4`)
//! bounds the offset θ (server clock minus client clock) on both sides, because neither
//! direction can take negative time: the message took `t2 − t1 − θ ≥ 0` and the reply
//! `t4 − t3 + θ ≥ 0`, so `t3 − t4 ≤ θ ≤ t2 − t1`. The interval is as wide as the exchange's
//! network delay δ = (t4 − t1) − (t3 − t2); its midpoint is the NTP sample.
//!
//! Every honest exchange's interval holds the true offset, so the estimate is the region the
//! most intervals share (Marzullo's algorithm, as NTP's intersection step): with every
//! exchange consistent, that is the intersection of all, from `θ − (smallest downlink)` to
//! `θ + (smallest uplink)`. The estimate is its midpoint and the uncertainty its half width,
//! which is never more than half the delay of the best exchange (plus the clock resolution
//! below). Exchanges that contradict the others (a reply sent long before the backend span
//! ended, a clock stepped mid-exchange) fall out of the majority instead of pulling the
//! estimate.

/// How far a browser's clock reading may be from the true time: browsers coarsen
/// `performance.now()` to 100 µs outside cross-origin isolation. Each exchange's interval is
/// widened by this much on both sides.
pub const CLIENT_CLOCK_RESOLUTION_NS: i64 = 100_000;

/// One exchange's bounds on the offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// The lowest offset the exchange allows, `t3 − t4` (the reply took no time).
    pub low_ns: i64,
    /// The highest, `t2 − t1` (the message took no time).
    pub high_ns: i64,
}

impl Sample {
    /// The sample of an exchange: client send `t1`, server receive `t2`, server done `t3`,
    /// client receive `t4`.
    pub fn from_times(t1: i64, t2: i64, t3: i64, t4: i64) -> Self {
        Self {
            low_ns: t3 - t4,
            high_ns: t2 - t1,
        }
    }

    /// θ, the NTP sample: the middle of the bounds.
    pub fn offset_ns(&self) -> i64 {
        self.low_ns + (self.high_ns - self.low_ns) / 2
    }

    /// δ, the exchange's round-trip network delay.
    pub fn delay_ns(&self) -> i64 {
        self.high_ns - self.low_ns
    }
}

/// A session's estimated clock offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Estimate {
    /// Server clock minus client clock, nanoseconds.
    pub offset_ns: i64,
    /// The true offset is within this many nanoseconds of `offset_ns` if the exchanges the
    /// estimate used are honest.
    pub uncertainty_ns: i64,
    /// Exchanges the estimate used: those whose bounds share its region.
    pub samples: usize,
}

/// Estimates the offset from exchanges; `None` without a usable sample. Samples whose delay is
/// negative beyond the clock resolution (impossible on one clock pair) are ignored.
pub fn estimate(samples: &[Sample]) -> Option<Estimate> {
    let slack = CLIENT_CLOCK_RESOLUTION_NS;
    // Interval ends, widened by the resolution: starts sort before ends at one point, so
    // intervals that touch overlap.
    let mut ends: Vec<(i64, bool)> = samples
        .iter()
        .filter(|s| s.delay_ns() + 2 * slack >= 0)
        .flat_map(|s| [(s.low_ns - slack, false), (s.high_ns + slack, true)])
        .collect();
    if ends.is_empty() {
        return None;
    }
    ends.sort_unstable();
    // The region most intervals share; among equals, the narrowest, then the lowest.
    let (mut depth, mut best) = (0usize, None::<(usize, i64, i64)>);
    for (i, &(at, is_end)) in ends.iter().enumerate() {
        if is_end {
            depth -= 1;
            continue;
        }
        depth += 1;
        // Every start has its end later, so a next point exists.
        let Some(&(until, _)) = ends.get(i + 1) else {
            continue;
        };
        let better =
            best.is_none_or(|(d, lo, hi)| depth > d || (depth == d && until - at < hi - lo));
        if better {
            best = Some((depth, at, until));
        }
    }
    let (samples, low, high) = best?;
    let half = (high - low) / 2;
    Some(Estimate {
        offset_ns: low + half,
        uncertainty_ns: high - low - half,
        samples,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 1_000_000;
    const RES: i64 = CLIENT_CLOCK_RESOLUTION_NS;

    /// An exchange over a path with the given one-way delays, server time = client time + offset.
    fn exchange(offset: i64, uplink: i64, server: i64, downlink: i64, at: i64) -> Sample {
        let t1 = at;
        let t2 = t1 + uplink + offset;
        let t3 = t2 + server;
        let t4 = t3 - offset + downlink;
        Sample::from_times(t1, t2, t3, t4)
    }

    /// A small deterministic generator (xorshift64*), so the random cases are reproducible.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: i64) -> i64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as i64 % n
        }
    }

    /// Checks the two promises: the truth is inside the band, and the band is no wider than
    /// the best exchange allows.
    fn check(samples: &[Sample], truth: i64) -> Estimate {
        let got = estimate(samples).expect("estimate");
        assert!(
            (got.offset_ns - truth).abs() <= got.uncertainty_ns,
            "{got:?} vs truth {truth}"
        );
        let best = samples.iter().map(Sample::delay_ns).min().expect("samples");
        assert!(
            got.uncertainty_ns <= best / 2 + 1 + RES,
            "{got:?}, best delay {best}"
        );
        got
    }

    #[test]
    fn bounds_and_sample_of_one_exchange() {
        let s = exchange(2_000 * MS, 3 * MS, MS, 5 * MS, 0);
        assert_eq!((s.low_ns, s.high_ns), (1_995 * MS, 2_003 * MS));
        assert_eq!((s.offset_ns(), s.delay_ns()), (1_999 * MS, 8 * MS));
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
                uncertainty_ns: 5 * MS + RES,
                samples: 20
            })
        );
    }

    #[test]
    fn the_band_is_set_by_the_smallest_uplink_and_downlink() {
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
        // A few quiet exchanges: the smallest uplink is 4 ms, the smallest downlink 4 ms.
        for (i, (up, down)) in [(4, 6), (5, 4), (6, 5), (5, 5)].into_iter().enumerate() {
            samples.push(exchange(
                offset,
                up * MS,
                2 * MS,
                down * MS,
                10_000 * MS + i as i64,
            ));
        }
        let mean = samples.iter().map(Sample::offset_ns).sum::<i64>() / samples.len() as i64;
        assert!((mean - offset).abs() > 15 * MS, "the naive mean is biased");
        let got = check(&samples, offset);
        assert_eq!(got.offset_ns, offset);
        assert_eq!(got.uncertainty_ns, 4 * MS + RES);
        assert_eq!(got.samples, 64);
    }

    #[test]
    fn a_single_exchange_is_enough_and_none_is_nothing() {
        let s = exchange(7 * MS, 3 * MS, MS, 3 * MS, 0);
        assert_eq!(
            estimate(&[s]),
            Some(Estimate {
                offset_ns: 7 * MS,
                uncertainty_ns: 3 * MS + RES,
                samples: 1
            })
        );
        assert_eq!(estimate(&[]), None);
    }

    #[test]
    fn impossible_samples_are_ignored() {
        let bad = Sample {
            low_ns: 99 * MS,
            high_ns: 94 * MS,
        };
        let good = exchange(3 * MS, 2 * MS, MS, 2 * MS, 0);
        assert_eq!(estimate(&[bad, good]).map(|e| e.offset_ns), Some(3 * MS));
        assert_eq!(estimate(&[bad]), None);
    }

    #[test]
    fn exchanges_that_contradict_the_others_fall_out() {
        let offset = 500 * MS;
        let mut samples: Vec<_> = (0..10)
            .map(|i| exchange(offset, (2 + i % 3) * MS, MS, (3 + i % 2) * MS, i * MS))
            .collect();
        // Replies sent 30 ms before the backend span ended: they claim a negative downlink.
        for i in 0..3 {
            samples.push(exchange(
                offset,
                2 * MS,
                35 * MS,
                -30 * MS + i * MS,
                100 * MS,
            ));
        }
        let got = estimate(&samples).expect("estimate");
        assert_eq!(got.samples, 10);
        assert!(
            (got.offset_ns - offset).abs() <= got.uncertainty_ns,
            "{got:?}"
        );
        assert_eq!(got.uncertainty_ns, (2 * MS + 3 * MS) / 2 + RES);
    }

    /// Backend clock 2 s ahead, 0 to 40 ms of random delay each way outside the backend's span.
    const TRUTH: i64 = 2_000 * MS;
    const JITTER: i64 = 40 * MS;

    #[test]
    fn paced_exchanges_with_random_delays_stay_in_the_band_and_within_a_millisecond() {
        for seed in 1..=100 {
            let mut rng = Rng(seed);
            let samples: Vec<_> = (0..200)
                .map(|i| {
                    let (up, down) = (rng.below(JITTER), rng.below(JITTER));
                    exchange(TRUTH, up, 2 * MS + rng.below(MS), down, i * 100 * MS)
                })
                .collect();
            let got = check(&samples, TRUTH);
            assert!((got.offset_ns - TRUTH).abs() <= MS, "seed {seed}: {got:?}");
        }
    }

    #[test]
    fn bursts_queued_on_the_uplink_stay_in_the_band() {
        for seed in 1..=100 {
            let mut rng = Rng(seed);
            let mut samples = Vec::new();
            for burst in 0..3 {
                // 40 messages leave at once; the backend handles them one after another, so
                // each waits for the one before (outside its span, so on its uplink).
                let sent = burst * 1_000 * MS;
                let mut free = 0;
                for _ in 0..40 {
                    let arrival = sent + rng.below(JITTER);
                    let start = arrival.max(free);
                    let server = 2 * MS;
                    free = start + server;
                    let down = rng.below(JITTER);
                    samples.push(exchange(TRUTH, start - sent, server, down, sent));
                }
            }
            check(&samples, TRUTH);
        }
    }

    #[test]
    fn without_jitter_the_estimate_is_within_half_a_millisecond() {
        let mut rng = Rng(7);
        let samples: Vec<_> = (0..50)
            .map(|i| {
                // A steady path: 3 ms each way, give or take a few microseconds.
                let (up, down) = (3 * MS + rng.below(5_000), 3 * MS + rng.below(5_000));
                exchange(TRUTH, up, MS, down, i * 100 * MS)
            })
            .collect();
        let got = check(&samples, TRUTH);
        assert!((got.offset_ns - TRUTH).abs() <= MS / 2, "{got:?}");
    }
}
