//! Calls added up: how many, how many failed, and a latency histogram ([`Calls`]), per time
//! bucket and pair of names ([`CallRollups`]); then per group of pairs over the window and per
//! bucket ([`Totals`]), which is what the query API answers.

use std::collections::BTreeMap;

use crate::correlate::{Histogram, Percentiles};

/// What a set of calls adds up to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calls {
    /// Calls.
    pub count: u64,
    /// Calls with status `Error`.
    pub errors: u64,
    /// Their durations.
    pub durations: Histogram,
}

impl Calls {
    /// Counts one call.
    pub fn add(&mut self, duration_ns: i64, error: bool) {
        self.count += 1;
        self.errors += u64::from(error);
        self.durations.add(duration_ns);
    }

    /// Adds everything `other` counted.
    pub fn merge(&mut self, other: &Calls) {
        self.count += other.count;
        self.errors += other.errors;
        self.durations.merge(&other.durations);
    }

    /// Failed calls over calls; `None` without calls.
    pub fn error_ratio(&self) -> Option<f64> {
        (self.count > 0).then(|| self.errors as f64 / self.count as f64)
    }

    /// p50, p95 and p99 of the durations; `None` without calls.
    pub fn percentiles(&self) -> Option<Percentiles> {
        self.durations.percentiles()
    }
}

/// Calls of a window `start_ns + i·step_ns` for `i < buckets`, per bucket and pair of names
/// (service and operation, or caller and callee).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRollups {
    start_ns: i64,
    step_ns: i64,
    /// Per bucket, per first name, per second name.
    cells: Vec<BTreeMap<String, BTreeMap<String, Calls>>>,
}

impl CallRollups {
    /// No calls yet; a step below 1 ns counts as 1 ns.
    pub fn new(start_ns: i64, step_ns: i64, buckets: usize) -> Self {
        Self {
            start_ns,
            step_ns: step_ns.max(1),
            cells: vec![BTreeMap::new(); buckets],
        }
    }

    fn bucket(&self, time_ns: i64) -> Option<usize> {
        let index = usize::try_from(time_ns.checked_sub(self.start_ns)? / self.step_ns).ok()?;
        (time_ns >= self.start_ns && index < self.cells.len()).then_some(index)
    }

    fn cell(&mut self, bucket: usize, a: &str, b: &str) -> &mut Calls {
        // Looked up by `&str` first, so names are copied once per cell, not per call.
        let firsts = &mut self.cells[bucket];
        if !firsts.contains_key(a) {
            firsts.insert(a.to_owned(), BTreeMap::new());
        }
        let seconds = firsts.get_mut(a).expect("inserted above");
        if !seconds.contains_key(b) {
            seconds.insert(b.to_owned(), Calls::default());
        }
        seconds.get_mut(b).expect("inserted above")
    }

    /// Counts one call at `time_ns` of the pair `(a, b)`; outside the window it is left out.
    pub fn add_call(&mut self, time_ns: i64, a: &str, b: &str, duration_ns: i64, error: bool) {
        if let Some(bucket) = self.bucket(time_ns) {
            self.cell(bucket, a, b).add(duration_ns, error);
        }
    }

    /// Adds calls of the pair `(a, b)` made at `time_ns` or in a span of time starting there
    /// that no bucket boundary crosses (a stored minute, when the step is whole minutes).
    pub fn add(&mut self, time_ns: i64, a: &str, b: &str, calls: &Calls) {
        if let Some(bucket) = self.bucket(time_ns) {
            self.cell(bucket, a, b).merge(calls);
        }
    }

    /// The first bucket's start.
    pub fn start_ns(&self) -> i64 {
        self.start_ns
    }

    /// The buckets' length.
    pub fn step_ns(&self) -> i64 {
        self.step_ns
    }

    /// How many buckets.
    pub fn buckets(&self) -> usize {
        self.cells.len()
    }

    /// The end of the last bucket (saturating).
    pub fn end_ns(&self) -> i64 {
        Self::end_of(self.start_ns, self.step_ns, self.cells.len())
    }

    /// The end of the last of `buckets` buckets of `step_ns` from `start_ns` (saturating),
    /// as [`CallRollups::new`] lays them out.
    pub fn end_of(start_ns: i64, step_ns: i64, buckets: usize) -> i64 {
        i64::try_from(buckets)
            .ok()
            .and_then(|n| n.checked_mul(step_ns.max(1)))
            .and_then(|span| start_ns.checked_add(span))
            .unwrap_or(i64::MAX)
    }

    /// Every non-empty (bucket, pair) and its calls, by bucket, then pair.
    pub fn cells(&self) -> impl Iterator<Item = (usize, (&str, &str), &Calls)> {
        self.cells.iter().enumerate().flat_map(|(bucket, firsts)| {
            firsts.iter().flat_map(move |(a, seconds)| {
                seconds
                    .iter()
                    .map(move |(b, calls)| (bucket, (a.as_str(), b.as_str()), calls))
            })
        })
    }

    /// The calls added up per group of pairs (`group` names a pair's group), each over the
    /// window and per bucket; groups ordered by name.
    pub fn totals<'a, K: Ord>(&'a self, group: impl Fn(&'a str, &'a str) -> K) -> Vec<Totals<K>> {
        let mut out: BTreeMap<K, Totals<()>> = BTreeMap::new();
        for (bucket, (a, b), calls) in self.cells() {
            let totals = out.entry(group(a, b)).or_insert_with(|| Totals {
                key: (),
                all: Calls::default(),
                series: vec![Calls::default(); self.cells.len()],
            });
            totals.all.merge(calls);
            totals.series[bucket].merge(calls);
        }
        out.into_iter()
            .map(|(key, t)| Totals {
                key,
                all: t.all,
                series: t.series,
            })
            .collect()
    }
}

/// One group's calls over a window and per bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totals<K> {
    /// The group.
    pub key: K,
    /// Over the whole window.
    pub all: Calls,
    /// Per bucket, one entry per bucket.
    pub series: Vec<Calls>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;
    const MINUTE: i64 = 60 * S;

    /// (time, service, operation, duration, error)
    fn calls() -> Vec<(i64, &'static str, &'static str, i64, bool)> {
        vec![
            (0, "api", "GET /a", 10_000_000, false),
            (5 * S, "api", "GET /a", 30_000_000, true),
            (70 * S, "api", "GET /b", 2_000_000, false),
            (65 * S, "tools", "GET /t", 1_000_000, false),
            (130 * S, "api", "GET /a", 20_000_000, false),
            (-S, "api", "GET /a", 1, false),
        ]
    }

    fn direct(start: i64, step: i64, buckets: usize) -> CallRollups {
        let mut out = CallRollups::new(start, step, buckets);
        for (t, a, b, d, e) in calls() {
            out.add_call(t, a, b, d, e);
        }
        out
    }

    #[test]
    fn minutes_added_up_equal_the_calls_added_up() {
        let mut minutes = CallRollups::new(0, 2 * MINUTE, 2);
        for minute in -1..3 {
            let mut of_minute = CallRollups::new(minute * MINUTE, MINUTE, 1);
            for (t, a, b, d, e) in calls() {
                of_minute.add_call(t, a, b, d, e);
            }
            for (_, (a, b), c) in of_minute.cells() {
                minutes.add(minute * MINUTE, a, b, c);
            }
        }
        assert_eq!(minutes, direct(0, 2 * MINUTE, 2));
    }

    #[test]
    fn totals_group_pairs_over_the_window_and_per_bucket() {
        let rollups = direct(0, MINUTE, 3);
        let services = rollups.totals(|service, _| service);
        assert_eq!(
            services
                .iter()
                .map(|t| (t.key, t.all.count))
                .collect::<Vec<_>>(),
            [("api", 4), ("tools", 1)],
            "the call before the window is left out"
        );
        let api = &services[0];
        assert_eq!(api.all.errors, 1);
        assert_eq!(
            api.series.iter().map(|c| c.count).collect::<Vec<_>>(),
            [2, 1, 1]
        );
        assert_eq!(api.series[0].error_ratio(), Some(0.5));
        assert_eq!(services[1].series[0].error_ratio(), None);
        let p = api.series[0].percentiles().expect("two calls");
        assert!((p.p99 - 30_000_000).abs() * 100 <= 30_000_000, "{p:?}");
        let operations = rollups.totals(|_, operation| operation);
        assert_eq!(operations.len(), 3);
        assert_eq!(rollups.end_ns(), 3 * MINUTE);
    }
}
