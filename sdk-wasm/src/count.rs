//! Counting mode for WebSocket messages: per socket and message type, a span allowance per
//! interval, one message in K traced beyond it, and counts (with the round-trip times of
//! counted sends as latency-histogram bins) for every message that gets no span, reported as
//! one `ws.message_rate` record per key and interval. Pure, so the host tests cover it; the
//! browser side is in `browser/websocket/`.
//!
//! The per-message path allocates nothing once a key exists: keys are found by comparing the
//! socket's URL and the message type in a small `Vec` (like [`crate::rate`]).

use crate::json;
use tracewire_semconv::latency;

/// Most distinct (socket, message type) keys tracked; messages of further types are folded into
/// the type [`OTHER_TYPE`] of their socket.
pub const MAX_KEYS: usize = 100;
/// Room for the `other` keys of sockets first seen after [`MAX_KEYS`]; beyond it everything new
/// goes to the first `other` key, so a page opening sockets to ever new URLs cannot grow the
/// list without bound.
const MAX_OTHER_KEYS: usize = 10;
/// The message type that messages of types beyond [`MAX_KEYS`] are counted under.
pub const OTHER_TYPE: &str = "other";

/// What a message of a key gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Within the allowance: spans.
    Span,
    /// Beyond the allowance, the one in K that still gets spans.
    Traced,
    /// Beyond the allowance: counted only.
    Count,
}

/// What was counted for one key over one interval.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Sends without a span.
    pub sent: u64,
    /// Receives without a span.
    pub received: u64,
    /// Body bytes of the counted sends.
    pub sent_bytes: u64,
    /// Body bytes of the counted receives.
    pub received_bytes: u64,
    /// Counted receives whose listener threw.
    pub errors: u64,
    /// Messages beyond the allowance traced anyway (the one in K).
    pub traced: u64,
    /// Round trips of counted sends per histogram bin, by bin.
    pub rtt: Vec<(u32, u64)>,
}

impl Counts {
    /// Whether anything was counted (a record is due).
    pub fn any(&self) -> bool {
        self.sent + self.received + self.errors > 0 || !self.rtt.is_empty()
    }

    /// The round trips as space-separated `k:n` pairs (bin, round trips), by bin.
    pub fn rtt_text(&self) -> String {
        let mut out = String::with_capacity(self.rtt.len() * 8);
        for (i, &(k, n)) in self.rtt.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            json::push_u64(&mut out, u64::from(k));
            out.push(':');
            json::push_u64(&mut out, n);
        }
        out
    }
}

struct Key {
    /// Stays the key's while it lives (across intervals), for what is counted later (a round
    /// trip, a listener that threw).
    id: u32,
    url: String,
    message_type: Option<String>,
    /// Messages of the interval, spans or counted.
    seen: u64,
    /// Spans of the interval that took the allowance.
    spanned: u64,
    /// Messages of the interval beyond the allowance.
    beyond: u64,
    counts: Counts,
}

/// The counting state of one SDK instance, for all its sockets.
pub struct MessageCounter {
    keys: Vec<Key>,
    next_id: u32,
    spans_per_type: u64,
    one_in: u64,
    /// The histogram's bin bounds in nanoseconds, made on the first round trip.
    bounds: Vec<u64>,
}

impl MessageCounter {
    /// A counter allowing `spans_per_type` spans per key and interval and tracing one message in
    /// `one_in` beyond it (0: none).
    pub fn new(spans_per_type: u64, one_in: u64) -> Self {
        MessageCounter {
            keys: Vec::new(),
            next_id: 0,
            spans_per_type,
            one_in,
            bounds: Vec::new(),
        }
    }

    fn find(&self, url: &str, message_type: Option<&str>) -> Option<usize> {
        self.keys
            .iter()
            .position(|k| k.url == url && k.message_type.as_deref() == message_type)
    }

    fn at(&mut self, id: u32) -> Option<&mut Key> {
        self.keys.iter_mut().find(|k| k.id == id)
    }

    /// The key of a message of `message_type` on the socket `url` (counted as seen); its id.
    pub fn key(&mut self, url: &str, message_type: Option<&str>) -> u32 {
        let at = match self.find(url, message_type) {
            Some(i) => i,
            None if self.keys.len() < MAX_KEYS => self.push(url, message_type),
            None => match self.find(url, Some(OTHER_TYPE)) {
                Some(i) => i,
                None if self.keys.len() < MAX_KEYS + MAX_OTHER_KEYS => {
                    self.push(url, Some(OTHER_TYPE))
                }
                // The first key made past MAX_KEYS is an `other` key.
                None => MAX_KEYS,
            },
        };
        match self.keys.get_mut(at) {
            Some(k) => {
                k.seen += 1;
                k.id
            }
            None => u32::MAX,
        }
    }

    fn push(&mut self, url: &str, message_type: Option<&str>) -> usize {
        self.next_id = self.next_id.wrapping_add(1);
        self.keys.push(Key {
            id: self.next_id,
            url: url.to_owned(),
            message_type: message_type.map(str::to_owned),
            seen: 0,
            spanned: 0,
            beyond: 0,
            counts: Counts::default(),
        });
        self.keys.len() - 1
    }

    /// Decides about a message of key `id` that would get spans: within the allowance it does,
    /// beyond it one in K does ([`Verdict::Traced`], counted as `traced`), the rest is counted.
    pub fn admit(&mut self, id: u32) -> Verdict {
        let (allowance, one_in) = (self.spans_per_type, self.one_in);
        let Some(k) = self.at(id) else {
            return Verdict::Count;
        };
        if k.spanned < allowance {
            k.spanned += 1;
            return Verdict::Span;
        }
        k.beyond += 1;
        if one_in > 0 && k.beyond % one_in == 0 {
            k.counts.traced += 1;
            Verdict::Traced
        } else {
            Verdict::Count
        }
    }

    /// Counts a send of `bytes` without a span.
    pub fn sent(&mut self, id: u32, bytes: usize) {
        if let Some(k) = self.at(id) {
            k.counts.sent += 1;
            k.counts.sent_bytes += bytes as u64;
        }
    }

    /// Counts a receive of `bytes` without a span.
    pub fn received(&mut self, id: u32, bytes: usize) {
        if let Some(k) = self.at(id) {
            k.counts.received += 1;
            k.counts.received_bytes += bytes as u64;
        }
    }

    /// Counts a counted receive whose listener threw.
    pub fn error(&mut self, id: u32) {
        if let Some(k) = self.at(id) {
            k.counts.errors += 1;
        }
    }

    /// Counts the round trip of a counted send of key `id`, `rtt_ns` nanoseconds, in its bin
    /// (a key gone since, idle for a whole interval, no longer counts it).
    pub fn round_trip(&mut self, id: u32, rtt_ns: u64) {
        if self.bounds.is_empty() {
            latency::bin_lower_bounds(|b| self.bounds.push(b));
        }
        let bin = self.bounds.partition_point(|&low| low <= rtt_ns) as u32;
        let Some(k) = self.at(id) else {
            return;
        };
        let rtt = &mut k.counts.rtt;
        let at = rtt.iter().position(|&(b, _)| b >= bin).unwrap_or(rtt.len());
        match rtt.get_mut(at) {
            Some(e) if e.0 == bin => e.1 += 1,
            _ => rtt.insert(at, (bin, 1)),
        }
    }

    /// Ends the interval: hands `each` the socket URL, message type and counts of every key
    /// with anything counted, then every allowance and count starts from zero. Keys that saw no
    /// message in the interval are forgotten.
    pub fn drain(&mut self, mut each: impl FnMut(&str, Option<&str>, &Counts)) {
        self.keys.retain_mut(|k| {
            if k.counts.any() {
                each(&k.url, k.message_type.as_deref(), &k.counts);
            }
            let keep = k.seen > 0;
            k.counts = Counts::default();
            k.seen = 0;
            k.spanned = 0;
            k.beyond = 0;
            keep
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "wss://app.example.com/live";

    /// What a key reports: its URL, type and counts.
    #[derive(Debug, PartialEq)]
    struct Report {
        url: String,
        message_type: Option<String>,
        counts: Counts,
    }

    fn drain(c: &mut MessageCounter) -> Vec<Report> {
        let mut out = Vec::new();
        c.drain(|url, message_type, counts| {
            out.push(Report {
                url: url.to_owned(),
                message_type: message_type.map(str::to_owned),
                counts: counts.clone(),
            })
        });
        out
    }

    #[test]
    fn every_message_beyond_the_allowance_is_counted_or_traced_one_in_k() {
        let mut c = MessageCounter::new(10, 100);
        let chat = c.key(URL, Some("chat"));
        let mut verdicts = Vec::new();
        for _ in 0..3_000 {
            let v = c.admit(chat);
            if v == Verdict::Count {
                c.sent(chat, 200);
            }
            verdicts.push(v);
        }
        let spans = verdicts.iter().filter(|v| **v == Verdict::Span).count();
        let traced = verdicts.iter().filter(|v| **v == Verdict::Traced).count();
        assert_eq!(
            (spans, traced),
            (10, 29),
            "10 allowed, then 1 in 100 of 2,990"
        );
        assert_eq!(
            verdicts[109],
            Verdict::Traced,
            "the 100th beyond the allowance"
        );
        let reports = drain(&mut c);
        assert_eq!(reports.len(), 1);
        let r = &reports[0];
        assert_eq!(
            (r.url.as_str(), r.message_type.as_deref()),
            (URL, Some("chat"))
        );
        assert_eq!(r.counts.sent, 2_961);
        assert_eq!(r.counts.sent as usize + spans + traced, 3_000);
        assert_eq!(r.counts.sent_bytes, 2_961 * 200);
        assert_eq!(r.counts.traced, 29);
    }

    #[test]
    fn the_allowance_is_per_socket_and_type_and_starts_again_each_interval() {
        let mut c = MessageCounter::new(2, 0);
        let a = c.key(URL, Some("a"));
        let b = c.key(URL, None);
        let other_socket = c.key("wss://other/live", Some("a"));
        assert_eq!(c.key(URL, Some("a")), a, "found again");
        for id in [a, b, other_socket] {
            assert_eq!([c.admit(id), c.admit(id)], [Verdict::Span; 2]);
            assert_eq!(c.admit(id), Verdict::Count, "K = 0 traces none");
        }
        assert!(drain(&mut c).is_empty(), "nothing was counted");
        assert_eq!(c.admit(a), Verdict::Span);
    }

    #[test]
    fn receives_errors_and_bytes_are_counted_apart_from_sends() {
        let mut c = MessageCounter::new(0, 0);
        let k = c.key(URL, Some("tick"));
        c.received(k, 30);
        c.received(k, 12);
        c.error(k);
        c.sent(k, 5);
        let r = drain(&mut c).remove(0).counts;
        assert_eq!(
            r,
            Counts {
                sent: 1,
                received: 2,
                sent_bytes: 5,
                received_bytes: 42,
                errors: 1,
                traced: 0,
                rtt: Vec::new(),
            }
        );
    }

    #[test]
    fn round_trips_land_in_the_collectors_bins() {
        let mut c = MessageCounter::new(0, 0);
        let k = c.key(URL, None);
        // Bin k >= 1 holds [1 µs·1.02^(k−1), 1 µs·1.02^k); bin 0 is below 1 µs.
        for ns in [999, 1_000, 1_019, 1_020, 1_041, 1_041] {
            c.round_trip(k, ns);
        }
        c.round_trip(k, 25_000_000);
        let r = drain(&mut c).remove(0).counts;
        // 25 ms: ln(25,000)/ln(1.02) = 511.4, so bin 512.
        assert_eq!(r.rtt, vec![(0, 1), (1, 2), (2, 1), (3, 2), (512, 1)]);
        let mut c = MessageCounter::new(0, 0);
        let k = c.key(URL, None);
        for ns in [25_000_000, 1_000, 999, 1_000] {
            c.round_trip(k, ns);
        }
        assert_eq!(
            drain(&mut c)[0].counts.rtt_text(),
            "0:1 1:2 512:1",
            "by bin"
        );
        assert_eq!(r.rtt_text(), "0:1 1:2 2:1 3:2 512:1");
    }

    #[test]
    fn a_key_idle_for_an_interval_is_forgotten_and_its_late_round_trip_ignored() {
        let mut c = MessageCounter::new(0, 0);
        let k = c.key(URL, None);
        c.sent(k, 1);
        assert_eq!(drain(&mut c).len(), 1);
        c.round_trip(k, 5_000);
        assert_eq!(
            drain(&mut c)[0].counts.rtt_text(),
            "82:1",
            "kept one more interval"
        );
        assert!(drain(&mut c).is_empty());
        c.round_trip(k, 5_000);
        assert!(drain(&mut c).is_empty(), "the key is gone");
        assert_ne!(c.key(URL, None), k, "a new key");
    }

    #[test]
    fn distinct_keys_are_bounded_by_folding_into_other() {
        let mut c = MessageCounter::new(0, 0);
        for i in 0..(MAX_KEYS + 50) {
            let t = String::from("t") + &i.to_string();
            let k = c.key(URL, Some(&t));
            c.sent(k, 1);
        }
        for i in 0..50 {
            let url = String::from("wss://h/") + &i.to_string();
            let k = c.key(&url, Some("x"));
            c.sent(k, 1);
        }
        let reports = drain(&mut c);
        assert_eq!(reports.len(), MAX_KEYS + MAX_OTHER_KEYS);
        let other = |url: &str| {
            reports
                .iter()
                .find(|r| r.url == url && r.message_type.as_deref() == Some(OTHER_TYPE))
                .map(|r| r.counts.sent)
        };
        assert_eq!(
            other(URL),
            Some(50 + 41),
            "its own 50 and the sockets past the room"
        );
        assert_eq!(other("wss://h/0"), Some(1));
        let total: u64 = reports.iter().map(|r| r.counts.sent).sum();
        assert_eq!(total, (MAX_KEYS + 100) as u64, "nothing lost");
    }
}
