//! Per-route request counting for fetch, so a page that floods one endpoint shows up as one
//! aggregated count per interval instead of thousands of spans.

use crate::text;

/// Counts of one route over one interval.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteCount {
    /// `METHOD origin/path` with ids replaced by `{id}`.
    pub route: String,
    /// Requests seen.
    pub requests: u64,
    /// Requests beyond the per-interval span allowance (counted, no span recorded).
    pub suppressed: u64,
}

/// Request counts per route for the current interval, in the order the routes were first seen.
#[derive(Debug, Default)]
pub struct RouteCounter {
    counts: Vec<RouteCount>,
    spans_per_route: u64,
}

/// Most distinct routes tracked per interval; more are folded into one `other` route so a page
/// generating unique URLs cannot grow the list without bound.
pub const MAX_ROUTES: usize = 200;

impl RouteCounter {
    /// A counter that allows `spans_per_route` spans per route and interval.
    pub fn new(spans_per_route: u64) -> Self {
        RouteCounter {
            counts: Vec::new(),
            spans_per_route,
        }
    }

    /// Counts one request; returns whether it should still get its own span.
    pub fn record(&mut self, route: String) -> bool {
        let at = match self.counts.iter().position(|c| c.route == route) {
            Some(i) => i,
            None => {
                let other = self.counts.len() >= MAX_ROUTES;
                let key = if other { "other".to_owned() } else { route };
                match self.counts.iter().position(|c| c.route == key) {
                    Some(i) => i,
                    None => {
                        self.counts.push(RouteCount {
                            route: key,
                            requests: 0,
                            suppressed: 0,
                        });
                        self.counts.len() - 1
                    }
                }
            }
        };
        let Some(entry) = self.counts.get_mut(at) else {
            return false;
        };
        entry.requests += 1;
        if entry.requests > self.spans_per_route {
            entry.suppressed += 1;
            false
        } else {
            true
        }
    }

    /// Ends the interval: returns the counts and starts from zero.
    pub fn drain(&mut self) -> Vec<RouteCount> {
        std::mem::take(&mut self.counts)
    }
}

fn is_id_segment(seg: &str) -> bool {
    let digits = seg.bytes().filter(u8::is_ascii_digit).count();
    let hexish = seg.bytes().all(|c| c.is_ascii_hexdigit() || c == b'-');
    (!seg.is_empty() && digits == seg.len())
        || (seg.len() >= 16 && hexish)
        || (seg.len() >= 8 && digits * 2 >= seg.len())
}

/// The route of a request: method, origin and path with the query removed and id-like path
/// segments (numbers, UUIDs, long hex) replaced by `{id}`.
pub fn route_of(method: &str, url: &str) -> String {
    let url = crate::scrub::strip_query(url);
    let (origin, path) = match text::find(url, "://", false) {
        Some(i) => match text::tail(url, i + 3).find('/') {
            Some(j) => url.split_at_checked(i + 3 + j).unwrap_or((url, "/")),
            None => (url, "/"),
        },
        None => ("", url),
    };
    let mut out = String::with_capacity(method.len() + url.len() + 1);
    out.push_str(&method.to_ascii_uppercase());
    out.push(' ');
    out.push_str(origin);
    for (i, seg) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(if is_id_segment(seg) { "{id}" } else { seg });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_drop_query_and_collapse_ids() {
        assert_eq!(
            route_of("get", "https://h.io/api/agents?poll=1"),
            "GET https://h.io/api/agents"
        );
        assert_eq!(
            route_of("GET", "https://h.io/api/agents/123/logs"),
            "GET https://h.io/api/agents/{id}/logs"
        );
        assert_eq!(
            route_of("PUT", "/api/run/3f2a9c1e-8b7d-4c6e-9a1f-2b3c4d5e6f70"),
            "PUT /api/run/{id}"
        );
        assert_eq!(route_of("GET", "https://h.io"), "GET https://h.io/");
    }

    #[test]
    fn a_flood_becomes_counts_after_the_span_allowance() {
        let mut c = RouteCounter::new(5);
        let spans = (0..1000)
            .filter(|_| c.record("GET /api/agents".into()))
            .count();
        assert_eq!(spans, 5);
        c.record("POST /api/x".into());
        let counts = c.drain();
        assert_eq!(
            counts,
            vec![
                RouteCount {
                    route: "GET /api/agents".into(),
                    requests: 1000,
                    suppressed: 995
                },
                RouteCount {
                    route: "POST /api/x".into(),
                    requests: 1,
                    suppressed: 0
                },
            ]
        );
        assert!(c.drain().is_empty());
        assert!(
            c.record("GET /api/agents".into()),
            "allowance resets each interval"
        );
    }

    #[test]
    fn distinct_routes_are_bounded() {
        let mut c = RouteCounter::new(1);
        for i in 0..(MAX_ROUTES + 50) {
            c.record(format!("GET /r{i}x"));
        }
        let counts = c.drain();
        assert_eq!(counts.len(), MAX_ROUTES + 1);
        assert_eq!(
            counts
                .iter()
                .find(|r| r.route == "other")
                .map(|r| r.requests),
            Some(50)
        );
    }
}
