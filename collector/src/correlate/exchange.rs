//! Exchanges: a browser `ws.send` span S, the backend span B that continued it, the browser's
//! `ws.receive` R of the reply that B's subtree sent back, and R's `ws.process` P.
//!
//! With context injected into messages, B is a child of S and R a child of a span in B's
//! subtree. On a payload-free connection every span is a child of the connection's `ws.connect`
//! span C, and messages are joined by number instead: B is the backend receive span with S's
//! `ws.connection.span_id` and `ws.message.sequence`, and R the browser receive span with the
//! connection and sequence of the first backend `ws.send` in B's subtree.

use std::collections::HashMap;

use tracewire_semconv::{attribute, span};

use super::Source;
use crate::model::{ExchangeTimes, SpanKind, SpanRecord, StatusCode};

/// One browser message and what happened to it.
#[derive(Debug, Clone, Copy)]
pub struct Exchange<'a> {
    /// The browser's send span (S).
    pub send: &'a SpanRecord,
    /// The first backend span continuing it (B).
    pub server: &'a SpanRecord,
    /// The browser's receive span of the reply (R), when a reply carried B's context back or,
    /// on a payload-free connection, had the number of a message B's subtree sent.
    pub reply: Option<&'a SpanRecord>,
    /// The backend span the reply left from: R's parent, or on a payload-free connection the
    /// backend `ws.send` span R's number names.
    pub reply_sender: Option<&'a SpanRecord>,
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

/// A message's place on a payload-free connection: the connection's span id (lowercase) and
/// the message's sequence number in its direction.
type Numbered = (String, u64);

/// Receive spans of payload-free connections by (trace id, connection, sequence), earliest
/// first.
type ByNumber<'a> = HashMap<(&'a str, Numbered), Vec<&'a SpanRecord>>;

/// The connection and sequence a span carries, when it carries both.
fn numbered(span: &SpanRecord) -> Option<Numbered> {
    let connection = span.span_attributes.get(attribute::WS_CONNECTION_SPAN_ID)?;
    let sequence = span
        .span_attributes
        .get(attribute::WS_MESSAGE_SEQUENCE)?
        .parse()
        .ok()?;
    Some((connection.to_ascii_lowercase(), sequence))
}

/// Whether a span is a backend's receive span of a message (CONSUMER or SERVER, `ws.receive`
/// or `ws.receive <type>`).
fn is_backend_receive(span: &SpanRecord) -> bool {
    matches!(span.kind, SpanKind::Consumer | SpanKind::Server)
        && named(span, span::WS_RECEIVE)
        && Source::of(span) == Source::Backend
}

/// Whether a span is the browser's receive span of a message.
fn is_browser_receive(span: &SpanRecord) -> bool {
    named(span, span::WS_RECEIVE) && Source::of(span) == Source::Browser
}

fn by_number<'a>(spans: &'a [SpanRecord], keep: fn(&SpanRecord) -> bool) -> ByNumber<'a> {
    let mut found: ByNumber<'a> = HashMap::new();
    for span in spans.iter().filter(|s| keep(s)) {
        if let Some(number) = numbered(span) {
            found
                .entry((span.trace_id.as_str(), number))
                .or_default()
                .push(span);
        }
    }
    for list in found.values_mut() {
        list.sort_by_key(|s| (s.start_ns, s.span_id.as_str()));
    }
    found
}

fn earliest<'a>(
    found: &ByNumber<'a>,
    trace_id: &'a str,
    number: Numbered,
) -> Option<&'a SpanRecord> {
    found.get(&(trace_id, number))?.first().copied()
}

fn earlier(span: &SpanRecord, than: Option<&SpanRecord>) -> bool {
    than.is_none_or(|t| (span.start_ns, &span.span_id) < (t.start_ns, &t.span_id))
}

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
    let backend_receives = by_number(spans, is_backend_receive);
    let browser_receives = by_number(spans, is_browser_receive);
    spans
        .iter()
        .filter(|s| is_send(s))
        .filter_map(|send| {
            let trace_id = send.trace_id.as_str();
            let continued = kids_of(&children, send)
                .iter()
                .copied()
                .find(|c| Source::of(c) == Source::Backend);
            // Without a backend child, a payload-free send joins the receive of its number.
            let (server, connection) = match continued {
                Some(server) => (server, None),
                None => {
                    let number = numbered(send)?;
                    let connection = number.0.clone();
                    (
                        earliest(&backend_receives, trace_id, number)?,
                        Some(connection),
                    )
                }
            };
            let mut error = false;
            let mut reply: Option<(&SpanRecord, &SpanRecord)> = None;
            let mut sent: Option<(&SpanRecord, u64)> = None;
            let mut stack = vec![server];
            while let Some(span) = stack.pop() {
                error |= span.status_code == StatusCode::Error;
                for child in kids_of(&children, span) {
                    match Source::of(child) {
                        Source::Backend => {
                            stack.push(child);
                            if let (Some(connection), Some((on, sequence))) =
                                (&connection, numbered(child))
                                && named(child, span::WS_SEND)
                                && on == *connection
                                && earlier(child, sent.map(|(s, _)| s))
                            {
                                sent = Some((child, sequence));
                            }
                        }
                        Source::Browser
                            if connection.is_none() && named(child, span::WS_RECEIVE) =>
                        {
                            if reply.is_none_or(|(r, _)| child.start_ns < r.start_ns) {
                                reply = Some((child, span));
                            }
                        }
                        Source::Browser => {}
                    }
                }
            }
            if let (Some(connection), Some((sender, sequence))) = (connection, sent) {
                reply = earliest(&browser_receives, trace_id, (connection, sequence))
                    .map(|r| (r, sender));
            }
            let (reply, reply_sender) = reply.unzip();
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
                reply_sender,
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
    use crate::testing::{browser, numbered, one_exchange, payload_free_connection, span};

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
        assert_eq!(times.sample().map(|s| s.offset_ns()), Some(offset));
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

    fn id(byte: u8) -> String {
        hex::encode([byte; 8])
    }

    fn position(spans: &[SpanRecord], byte: u8) -> usize {
        spans
            .iter()
            .position(|s| s.span_id == id(byte))
            .expect("span in the fixture")
    }

    #[test]
    fn payload_free_send_n_joins_receive_n_and_its_reply() {
        let spans = payload_free_connection(0);
        let found = exchanges(&spans);
        let ids = |x: &Exchange<'_>| {
            (
                x.send.span_id.clone(),
                x.server.span_id.clone(),
                x.reply.map(|r| r.span_id.clone()),
                x.reply_sender.map(|r| r.span_id.clone()),
                x.process.map(|p| p.span_id.clone()),
            )
        };
        assert_eq!(
            found.iter().map(ids).collect::<Vec<_>>(),
            [
                (
                    id(0x11),
                    id(0x21),
                    Some(id(0x51)),
                    Some(id(0x41)),
                    Some(id(0x61))
                ),
                (
                    id(0x12),
                    id(0x22),
                    Some(id(0x52)),
                    Some(id(0x42)),
                    Some(id(0x62))
                ),
            ]
        );
        // The same four times as an exchange with injected context.
        let injected = exchanges(&one_exchange(0))[0].times().timings(0);
        for x in &found {
            assert_eq!(x.times().timings(0), injected);
            assert!(!x.error);
        }
    }

    #[test]
    fn payload_free_receives_of_other_connections_or_traces_do_not_join() {
        let mut spans = payload_free_connection(0);
        // Another connection's receive with the same number, earlier than the right one.
        let mut other = spans[position(&spans, 0x21)].clone();
        other.span_id = id(0x71);
        other.start_ns -= MS;
        other
            .span_attributes
            .insert(attribute::WS_CONNECTION_SPAN_ID.into(), id(0x70));
        spans.push(other.clone());
        let found = exchanges(&spans);
        assert_eq!(found[0].server.span_id, id(0x21));
        // Without its own receive, send 1 joins nothing: neither the other connection's
        // receive 1 nor, in another trace, a receive of its own connection with number 1.
        spans.remove(position(&spans, 0x21));
        let mut elsewhere = other;
        elsewhere.trace_id = hex::encode([2u8; 16]);
        elsewhere.span_id = id(0x72);
        elsewhere.span_attributes.insert(
            attribute::WS_CONNECTION_SPAN_ID.into(),
            crate::testing::fixtures::payload_free_connection_id(),
        );
        spans.push(elsewhere);
        let found = exchanges(&spans);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].send.span_id, id(0x12));
    }

    #[test]
    fn payload_free_reply_is_found_by_the_downlink_sequence() {
        let mut spans = payload_free_connection(0);
        // The server pushed six messages before the first reply: the reply to message 1 is
        // downlink message 7, and the browser received it as its message 7.
        let sender = position(&spans, 0x41);
        spans[sender] = numbered(spans[sender].clone(), 7);
        let receive = position(&spans, 0x51);
        spans[receive] = numbered(spans[receive].clone(), 7);
        // A later message of the same handling (a push) is not the reply.
        let mut push = spans[sender].clone();
        push.span_id = id(0x81);
        push.start_ns += MS;
        spans.push(numbered(push, 1));
        let found = exchanges(&spans);
        assert_eq!(found[0].reply.map(|r| r.span_id.clone()), Some(id(0x51)));
        assert_eq!(
            found[0].reply_sender.map(|r| r.span_id.clone()),
            Some(id(0x41))
        );
        // Exchange 2's reply is downlink message 2, which now is the browser's message 2.
        assert_eq!(found[1].reply.map(|r| r.span_id.clone()), Some(id(0x52)));
    }

    #[test]
    fn payload_free_send_without_a_matching_receive_is_no_exchange() {
        let mut spans = payload_free_connection(0);
        spans.push(numbered(
            browser(
                span(1, 0x13, Some(0x10), "web", "ws.send chat", 30 * MS, 0),
                SpanKind::Producer,
            ),
            3,
        ));
        // A send without numbers never joins by number.
        let mut bare = spans[position(&spans, 0x11)].clone();
        bare.span_id = id(0x14);
        bare.span_attributes.remove(attribute::WS_MESSAGE_SEQUENCE);
        spans.push(bare);
        let found = exchanges(&spans);
        assert_eq!(found.len(), 2);
        assert!(found.iter().all(|x| x.send.span_id != id(0x13)));
    }

    #[test]
    fn payload_free_errors_and_lost_replies() {
        let mut spans = payload_free_connection(0);
        let db = position(&spans, 0x32);
        spans[db].status_code = StatusCode::Error;
        // The browser never got reply 1 (the connection dropped).
        spans.remove(position(&spans, 0x51));
        let found = exchanges(&spans);
        assert_eq!(found.len(), 2);
        assert!(!found[0].error);
        assert_eq!(found[0].reply.map(|r| r.span_id.clone()), None);
        assert!(found[1].error);
    }
}
