//! Exchanges: a browser `ws.send` span S, the backend span B that continued it, the browser's
//! `ws.receive` R of the reply that B's subtree sent back, and R's `ws.process` P.

use std::collections::HashMap;

use tracewire_semconv::span;

use super::Source;
use crate::model::{ExchangeTimes, SpanKind, SpanRecord, StatusCode};

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

impl<'a> Exchange<'a> {
    /// The four times of the exchange, each on its own side's clock.
    pub fn times(&self) -> ExchangeTimes {
        ExchangeTimes {
            client_send_ns: self.send.start_ns,
            server_receive_ns: self.server.start_ns,
            server_done_ns: self.server.start_ns + self.server.duration_ns,
            client_receive_ns: self.reply.map(|r| r.start_ns),
            client_processing_ns: self.process.map(|p| p.duration_ns),
        }
    }

    /// A browser attribute of the send span.
    pub fn attribute(&self, key: &str) -> Option<&'a str> {
        self.send.span_attributes.get(key).map(String::as_str)
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
    span.kind == SpanKind::Producer
        && named(span, span::WS_SEND)
        && Source::of(span) == Source::Browser
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
                        Source::Browser if named(child, span::WS_RECEIVE) => {
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
                    .find(|c| named(c, span::WS_PROCESS))
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
mod tests {
    use super::*;
    use crate::correlate::Timings;
    use crate::testing::{browser, one_exchange, span};

    const MS: i64 = 1_000_000;

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
            x.times().timings(0),
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
        let times = x.times();
        assert_eq!(times.sample().map(|s| s.offset_ns), Some(offset));
        assert_eq!(times.timings(offset).uplink_ns, 3 * MS);
        assert_eq!(times.timings(offset).downlink_ns, Some(3 * MS));
        // Without the correction, uplink would be absurd; it is clamped to the network delay.
        assert_eq!(times.timings(0).uplink_ns, 6 * MS);
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
