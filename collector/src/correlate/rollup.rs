//! Rollups: what a set of round trips adds up to (how many, how many failed, latency
//! histograms, the slowest and the newest), per time bucket and message type. The dashboard's
//! answers are computed from rollups only, so a store may keep them per minute ([`MINUTE_NS`])
//! and add those up, or add up round trips as it reads them: both give the same answer.

use std::collections::BTreeMap;

use super::histogram::Histogram;
use crate::model::RoundTripPoint;

/// The span of time a stored rollup covers: one minute, starting on a whole minute.
pub const MINUTE_NS: i64 = 60_000_000_000;

/// What a set of round trips adds up to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rollup {
    /// Round trips: those traced, and sends the browser counted without a span ([`crate::counted`]).
    pub count: u64,
    /// The part of `count` the browser counted without a span; the rest was traced.
    pub counted: u64,
    /// Round trips whose backend handling or reply processing failed.
    pub errors: u64,
    /// Send to reply, of those with a reply (counted sends' too: the browser measured them).
    pub total: Histogram,
    /// Browser to backend, clock offset taken out.
    pub uplink: Histogram,
    /// Backend handling.
    pub server: Histogram,
    /// Backend to browser, of those with a reply.
    pub downlink: Histogram,
    /// The longest send-to-reply time and its trace; ties go to the greatest trace id.
    pub slowest: Option<(i64, String)>,
    /// The latest send and its trace; ties go to the greatest trace id.
    pub newest: Option<(i64, String)>,
}

fn keep_max(slot: &mut Option<(i64, String)>, value: i64, trace_id: &str) {
    if slot
        .as_ref()
        .is_none_or(|(v, id)| (value, trace_id) > (*v, id.as_str()))
    {
        *slot = Some((value, trace_id.to_owned()));
    }
}

impl Rollup {
    /// Counts one round trip, with its session's clock offset taken out.
    pub fn add(&mut self, point: &RoundTripPoint) {
        let t = point.times.timings(point.clock_offset_ns);
        self.count += 1;
        self.errors += u64::from(point.error);
        if let (Some(total), Some(downlink)) = (t.total_ns, t.downlink_ns) {
            self.total.add(total);
            self.downlink.add(downlink);
            keep_max(&mut self.slowest, total, &point.trace_id);
        }
        self.uplink.add(t.uplink_ns);
        self.server.add(t.server_ns);
        keep_max(
            &mut self.newest,
            point.times.client_send_ns,
            &point.trace_id,
        );
    }

    /// Adds everything `other` counted.
    pub fn merge(&mut self, other: &Rollup) {
        self.count += other.count;
        self.counted += other.counted;
        self.errors += other.errors;
        self.total.merge(&other.total);
        self.uplink.merge(&other.uplink);
        self.server.merge(&other.server);
        self.downlink.merge(&other.downlink);
        for (slot, theirs) in [
            (&mut self.slowest, &other.slowest),
            (&mut self.newest, &other.newest),
        ] {
            if let Some((value, trace_id)) = theirs {
                keep_max(slot, *value, trace_id);
            }
        }
    }

    /// Rollups of `points` per message type (empty for none).
    pub fn by_type<'a>(
        points: impl IntoIterator<Item = &'a RoundTripPoint>,
    ) -> BTreeMap<String, Rollup> {
        let mut out: BTreeMap<String, Rollup> = BTreeMap::new();
        for p in points {
            match out.get_mut(&p.message_type) {
                Some(r) => r.add(p),
                None => out.entry(p.message_type.clone()).or_default().add(p),
            }
        }
        out
    }
}

/// Rollups of a window `start_ns + i·step_ns` for `i < buckets`, per bucket and message type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollups {
    start_ns: i64,
    step_ns: i64,
    /// Per bucket, per message type.
    cells: Vec<BTreeMap<String, Rollup>>,
}

impl Rollups {
    /// No round trips yet; `step_ns` must be positive.
    pub fn new(start_ns: i64, step_ns: i64, buckets: usize) -> Self {
        Self {
            start_ns,
            step_ns: step_ns.max(1),
            cells: vec![BTreeMap::new(); buckets],
        }
    }

    /// Rollups of `points`; those outside the window are left out.
    pub fn of_points<'a>(
        start_ns: i64,
        step_ns: i64,
        buckets: usize,
        points: impl IntoIterator<Item = &'a RoundTripPoint>,
    ) -> Self {
        let mut out = Self::new(start_ns, step_ns, buckets);
        for p in points {
            if let Some(bucket) = out.bucket(p.times.client_send_ns) {
                out.cell(bucket, &p.message_type).add(p);
            }
        }
        out
    }

    fn bucket(&self, time_ns: i64) -> Option<usize> {
        let index = usize::try_from(time_ns.checked_sub(self.start_ns)? / self.step_ns).ok()?;
        (time_ns >= self.start_ns && index < self.cells.len()).then_some(index)
    }

    fn cell(&mut self, bucket: usize, message_type: &str) -> &mut Rollup {
        let types = &mut self.cells[bucket];
        if !types.contains_key(message_type) {
            types.insert(message_type.to_owned(), Rollup::default());
        }
        // Looked up by `&str` first, so a type's name is copied once, not per round trip.
        types.get_mut(message_type).expect("inserted above")
    }

    /// Adds a rollup of round trips sent at `time_ns` or in a span of time starting there that
    /// no bucket boundary crosses (a stored minute, when the step is whole minutes).
    pub fn add(&mut self, time_ns: i64, message_type: &str, rollup: &Rollup) {
        if let Some(bucket) = self.bucket(time_ns) {
            self.cell(bucket, message_type).merge(rollup);
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

    /// Every non-empty (bucket, message type) and its rollup, by bucket, then type.
    pub fn cells(&self) -> impl Iterator<Item = (usize, &str, &Rollup)> {
        self.cells.iter().enumerate().flat_map(|(bucket, types)| {
            types
                .iter()
                .map(move |(kind, rollup)| (bucket, kind.as_str(), rollup))
        })
    }

    /// Each bucket's rollup over every message type.
    pub fn per_bucket(&self) -> Vec<Rollup> {
        let mut out = vec![Rollup::default(); self.cells.len()];
        for (bucket, _, rollup) in self.cells() {
            out[bucket].merge(rollup);
        }
        out
    }

    /// Each message type's rollup over every bucket.
    pub fn per_type(&self) -> BTreeMap<&str, Rollup> {
        let mut out: BTreeMap<&str, Rollup> = BTreeMap::new();
        for (_, kind, rollup) in self.cells() {
            out.entry(kind).or_default().merge(rollup);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ExchangeTimes;

    const MS: i64 = 1_000_000;

    fn point(
        trace: &str,
        kind: &str,
        send: i64,
        server: i64,
        reply: Option<i64>,
    ) -> RoundTripPoint {
        RoundTripPoint {
            trace_id: trace.into(),
            message_type: kind.into(),
            times: ExchangeTimes {
                client_send_ns: send,
                server_receive_ns: send + 10 * MS + 500 * MS,
                server_done_ns: send + 10 * MS + 500 * MS + server,
                client_receive_ns: reply.map(|r| send + r),
                client_processing_ns: None,
            },
            error: trace.ends_with('!'),
            clock_offset_ns: 500 * MS,
        }
    }

    fn points() -> Vec<RoundTripPoint> {
        vec![
            point("a", "chat", 0, 4 * MS, Some(30 * MS)),
            point("b!", "chat", 70_000 * MS, 8 * MS, Some(90 * MS)),
            point("c", "run", 10 * MS, 2 * MS, None),
            point("d", "run", 130_000 * MS, 3 * MS, Some(20 * MS)),
            point("e!", "chat", 65_000 * MS, MS, Some(90 * MS)),
        ]
    }

    #[test]
    fn a_rollup_counts_takes_the_offset_out_and_keeps_the_slowest_and_newest() {
        let r = Rollup::by_type(&points()).remove("chat").expect("chat");
        assert_eq!((r.count, r.errors), (3, 2));
        assert_eq!(
            (r.total.count(), r.downlink.count(), r.uplink.count()),
            (3, 3, 3)
        );
        // 10 ms apparent uplink once the 500 ms offset is out.
        let up = r.uplink.percentiles().expect("counted");
        assert!((up.p99 - 10 * MS).abs() * 100 <= 10 * MS, "{up:?}");
        // Two at 90 ms: the greater trace id.
        assert_eq!(r.slowest, Some((90 * MS, "e!".into())));
        assert_eq!(r.newest, Some((70_000 * MS, "b!".into())));
        let run = Rollup::by_type(&points()).remove("run").expect("run");
        assert_eq!(
            (run.count, run.total.count(), run.server.count()),
            (2, 1, 2)
        );
    }

    #[test]
    fn minutes_added_up_equal_the_points_added_up() {
        let all = points();
        let direct = Rollups::of_points(0, 2 * MINUTE_NS, 2, &all);
        let mut minutes = Rollups::new(0, 2 * MINUTE_NS, 2);
        for minute in 0..3 {
            let of_minute = all
                .iter()
                .filter(|p| p.times.client_send_ns.div_euclid(MINUTE_NS) == minute);
            for (kind, rollup) in Rollup::by_type(of_minute) {
                minutes.add(minute * MINUTE_NS, &kind, &rollup);
            }
        }
        assert_eq!(minutes, direct);
        let per_bucket = direct.per_bucket();
        assert_eq!(
            per_bucket.iter().map(|r| r.count).collect::<Vec<_>>(),
            [4, 1]
        );
        assert_eq!(direct.per_type()["run"].count, 2);
    }

    #[test]
    fn counted_sends_add_to_the_count_and_say_so() {
        let mut r = Rollups::of_points(0, MINUTE_NS, 1, &points());
        let mut counted = Rollup {
            count: 5,
            counted: 5,
            errors: 1,
            ..Rollup::default()
        };
        counted.total.add(40 * MS);
        r.add(30_000 * MS, "chat", &counted);
        let chat = &r.per_type()["chat"];
        assert_eq!((chat.count, chat.counted, chat.errors), (6, 5, 1));
        assert_eq!(chat.total.count(), 2);
        assert_eq!(
            chat.slowest,
            Some((30 * MS, "a".into())),
            "only traced ones"
        );
        assert_eq!(r.per_bucket()[0].counted, 5);
    }

    #[test]
    fn outside_the_window_is_left_out() {
        let r = Rollups::of_points(MINUTE_NS, MINUTE_NS, 1, &points());
        assert_eq!(
            r.cells()
                .map(|(b, k, r)| (b, k, r.count))
                .collect::<Vec<_>>(),
            [(0, "chat", 2)]
        );
    }
}
