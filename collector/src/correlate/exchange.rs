//! Exchanges: a browser `ws.send` span S, the backend span B that continued it, the browser's
//! `ws.receive` R of the reply that B's subtree sent back, and R's `ws.process` P.

use std::collections::HashMap;

use super::Source;
use super::skew::Sample;
use crate::model::{SpanKind, SpanRecord, StatusCode};

/// One browser message and what happened to it.
#[derive(Debug, Clone, Copy)]
pub struct Exchange<'a> {
    /// The browser's send span (S).
    pub send: &'a SpanRecord,
    /// The first backend span continuing it (B).
    pub server: &'a SpanRecord,
    /// The browser's receive span of the reply (R), when a reply carried B's context back.
    pub reply: Option<&'a SpanRecord>,
    /// The browser's processing of the reply (P).
    pub process: Option<&'a SpanRecord>,
    /// True when B or its backend children, or P, failed.
    pub error: bool,
}

/// Durations of an exchange, nanoseconds, with the client clock shifted by an offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// t4 − t1, when there was a reply.
    pub total_ns: Option<i64>,
    /// Browser to backend.
    pub uplink_ns: i64,
    /// t3 − t2.
    pub server_ns: i64,
    /// Backend to browser, when there was a reply.
    pub downlink_ns: Option<i64>,
    /// How long the page took to process the reply.
    pub client_processing_ns: Option<i64>,
}

impl<'a> Exchange<'a> {
    /// Client send time (client clock).
    pub fn t1(&self) -> i64 {
        self.send.start_ns
    }

    /// Server receive time (server clock).
    pub fn t2(&self) -> i64 {
        self.server.start_ns
    }

    /// Server done time (server clock).
    pub fn t3(&self) -> i64 {
        self.server.start_ns + self.server.duration_ns
    }

    /// Client receive time of the reply (client clock).
    pub fn t4(&self) -> Option<i64> {
        self.reply.map(|r| r.start_ns)
    }

    /// The exchange's clock-offset sample, when it had a reply.
    pub fn sample(&self) -> Option<Sample> {
        Some(Sample::from_times(
            self.t1(),
            self.t2(),
            self.t3(),
            self.t4()?,
        ))
    }

    /// A browser attribute of the send span.
    pub fn attribute(&self, key: &str) -> Option<&'a str> {
        self.send.span_attributes.get(key).map(String::as_str)
    }

    /// The durations, with `offset_ns` (server minus client) taken out of the cross-clock ones.
    /// Uplink is clamped to the measured network delay so neither direction is negative.
    pub fn timings(&self, offset_ns: i64) -> Timings {
        let server = self.t3() - self.t2();
        let uplink = self.t2() - self.t1() - offset_ns;
        let client_processing_ns = self.process.map(|p| p.duration_ns);
        match self.t4() {
            Some(t4) => {
                let total = t4 - self.t1();
                let delay = (total - server).max(0);
                let uplink = uplink.clamp(0, delay);
                Timings {
                    total_ns: Some(total),
                    uplink_ns: uplink,
                    server_ns: server,
                    downlink_ns: Some(delay - uplink),
                    client_processing_ns,
                }
            }
            None => Timings {
                total_ns: None,
                uplink_ns: uplink.max(0),
                server_ns: server,
                downlink_ns: None,
                client_processing_ns,
            },
        }
    }
}

fn named(span: &SpanRecord, operation: &str) -> bool {
    span.name == operation
        || span
            .name
            .strip_prefix(operation)
            .is_some_and(|rest| rest.starts_with(' '))
}

/// Whether a span is a browser `ws.send` span.
pub fn is_send(span: &SpanRecord) -> bool {
    span.kind == SpanKind::Producer && named(span, "ws.send") && Source::of(span) == Source::Browser
}

/// Spans by (trace id, parent span id).
type Children<'a> = HashMap<(&'a str, &'a str), Vec<&'a SpanRecord>>;

/// Every exchange among `spans` (the spans of one or more whole traces), in input order of the
/// send spans. Sends without a backend span continuing them are not exchanges.
pub fn exchanges(spans: &[SpanRecord]) -> Vec<Exchange<'_>> {
    let mut children: Children<'_> = HashMap::new();
    for span in spans {
        if !span.parent_span_id.is_empty() {
            children
                .entry((span.trace_id.as_str(), span.parent_span_id.as_str()))
                .or_default()
                .push(span);
        }
    }
    for list in children.values_mut() {
        list.sort_by_key(|s| (s.start_ns, s.span_id.as_str()));
    }
    fn kids_of<'s, 'a>(children: &'s Children<'a>, span: &'a SpanRecord) -> &'s [&'a SpanRecord] {
        children
            .get(&(span.trace_id.as_str(), span.span_id.as_str()))
            .map_or(&[], Vec::as_slice)
    }
    spans
        .iter()
        .filter(|s| is_send(s))
        .filter_map(|send| {
            let server = *kids_of(&children, send)
                .iter()
                .find(|c| Source::of(c) == Source::Backend)?;
            let mut error = false;
            let mut reply: Option<&SpanRecord> = None;
            let mut stack = vec![server];
            while let Some(span) = stack.pop() {
                error |= span.status_code == StatusCode::Error;
                for child in kids_of(&children, span) {
                    match Source::of(child) {
                        Source::Backend => stack.push(child),
                        Source::Browser if named(child, "ws.receive") => {
                            if reply.is_none_or(|r| child.start_ns < r.start_ns) {
                                reply = Some(child);
                            }
                        }
                        Source::Browser => {}
                    }
                }
            }
            let process = reply.and_then(|r| {
                kids_of(&children, r)
                    .iter()
                    .copied()
                    .find(|c| named(c, "ws.process"))
            });
            error |= process.is_some_and(|p| p.status_code == StatusCode::Error);
            Some(Exchange {
                send,
                server,
                reply,
                process,
                error,
            })
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::testing::span;

    const MS: i64 = 1_000_000;

    fn browser(mut s: SpanRecord, kind: SpanKind) -> SpanRecord {
        s.kind = kind;
        s.resource_attributes
            .insert("telemetry.sdk.language".into(), "webjs".into());
        s.span_attributes
            .insert("session.id".into(), "sess-1".into());
        s
    }

    /// S at 0 (client), B at 1000+offset…, R at 10 ms (client), P under R.
    pub(crate) fn one_exchange(offset: i64) -> Vec<SpanRecord> {
        let send = browser(
            span(1, 1, None, "web", "ws.send chat", 0, 0),
            SpanKind::Producer,
        );
        let mut server = span(
            1,
            2,
            Some(1),
            "api",
            "ws.receive chat",
            3 * MS + offset,
            4 * MS,
        );
        server.kind = SpanKind::Consumer;
        let db = span(1, 3, Some(2), "api", "db.query", 4 * MS + offset, 2 * MS);
        let reply = browser(
            span(1, 4, Some(2), "web", "ws.receive chat.reply", 10 * MS, 0),
            SpanKind::Consumer,
        );
        let process = browser(
            span(1, 5, Some(4), "web", "ws.process chat.reply", 10 * MS, MS),
            SpanKind::Consumer,
        );
        vec![process, reply, db, server, send]
    }

    #[test]
    fn finds_send_server_reply_and_process() {
        let spans = one_exchange(0);
        let found = exchanges(&spans);
        assert_eq!(found.len(), 1);
        let x = found[0];
        assert_eq!(
            (x.send.name.as_str(), x.server.name.as_str()),
            ("ws.send chat", "ws.receive chat")
        );
        assert_eq!(
            x.reply.map(|r| r.name.as_str()),
            Some("ws.receive chat.reply")
        );
        assert_eq!(
            x.process.map(|p| p.name.as_str()),
            Some("ws.process chat.reply")
        );
        assert_eq!(x.attribute("session.id"), Some("sess-1"));
        assert!(!x.error);
        assert_eq!(
            x.timings(0),
            Timings {
                total_ns: Some(10 * MS),
                uplink_ns: 3 * MS,
                server_ns: 4 * MS,
                downlink_ns: Some(3 * MS),
                client_processing_ns: Some(MS),
            }
        );
    }

    #[test]
    fn timings_take_the_clock_offset_out() {
        let offset = 2_000 * MS;
        let spans = one_exchange(offset);
        let x = exchanges(&spans)[0];
        assert_eq!(x.sample().map(|s| s.offset_ns), Some(offset));
        assert_eq!(x.timings(offset).uplink_ns, 3 * MS);
        assert_eq!(x.timings(offset).downlink_ns, Some(3 * MS));
        // Without the correction, uplink would be absurd; it is clamped to the network delay.
        assert_eq!(x.timings(0).uplink_ns, 6 * MS);
    }

    #[test]
    fn backend_errors_mark_the_exchange_and_lone_sends_are_skipped() {
        let mut spans = one_exchange(0);
        spans[2].status_code = StatusCode::Error;
        spans.push(browser(
            span(9, 1, None, "web", "ws.send ping", 0, 0),
            SpanKind::Producer,
        ));
        let found = exchanges(&spans);
        assert_eq!(found.len(), 1);
        assert!(found[0].error);
    }

    #[test]
    fn backend_producer_spans_are_not_browser_sends() {
        let mut s = span(1, 1, None, "api", "ws.send push", 0, 0);
        s.kind = SpanKind::Producer;
        assert!(!is_send(&s));
        let b = browser(
            span(1, 1, None, "web", "ws.sender", 0, 0),
            SpanKind::Producer,
        );
        assert!(!is_send(&b), "only ws.send or ws.send <type>");
    }
}
