//! Clock-skew correction for a trace view: browser spans move onto the backend's clock by their
//! session's offset, clamped per trace so that a browser span never starts after a backend
//! child and never before a backend parent. The joins of an exchange count as such links too:
//! on a payload-free connection the backend receive is no child of the browser send, but the
//! message still cannot arrive before it left.

use std::collections::HashMap;

use tracewire_semconv::attribute;

use super::Source;
use super::exchange::exchanges;
use crate::model::SpanRecord;

/// The offset applied to each span of a trace (server minus client, nanoseconds), in the order
/// of the spans given; 0 for backend spans.
pub type SpanOffsets = Vec<i64>;

/// Offsets for the spans of one trace. `session_offset` gives a session's estimated offset;
/// browser spans without a known session offset start from 0 and are only clamped.
pub fn trace_offsets(
    spans: &[SpanRecord],
    session_offset: impl Fn(&str) -> Option<i64>,
) -> SpanOffsets {
    let by_id: HashMap<&str, &SpanRecord> = spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let session = |s: &SpanRecord| {
        s.span_attributes
            .get(attribute::SESSION_ID)
            .cloned()
            .unwrap_or_default()
    };
    // Per browser session in this trace: the lowest and highest offsets that keep nesting.
    let mut bounds: HashMap<String, (i64, i64)> = HashMap::new();
    let links = spans.iter().filter_map(|child| {
        let parent = by_id.get(child.parent_span_id.as_str())?;
        Some((*parent, child))
    });
    let joins = exchanges(spans).into_iter().flat_map(|x| {
        let reply = x.reply_sender.zip(x.reply);
        std::iter::once((x.send, x.server)).chain(reply)
    });
    for (parent, child) in links.chain(joins) {
        match (Source::of(parent), Source::of(child)) {
            (Source::Browser, Source::Backend) => {
                let entry = bounds
                    .entry(session(parent))
                    .or_insert((i64::MIN, i64::MAX));
                entry.1 = entry.1.min(child.start_ns - parent.start_ns);
            }
            (Source::Backend, Source::Browser) => {
                let entry = bounds.entry(session(child)).or_insert((i64::MIN, i64::MAX));
                entry.0 = entry.0.max(parent.start_ns - child.start_ns);
            }
            _ => {}
        }
    }
    spans
        .iter()
        .map(|s| match Source::of(s) {
            Source::Backend => 0,
            Source::Browser => {
                let id = session(s);
                let offset = session_offset(&id).unwrap_or(0);
                let (lo, hi) = bounds.get(&id).copied().unwrap_or((i64::MIN, i64::MAX));
                // When the bounds conflict, "never after its backend child" wins.
                offset.max(lo).min(hi)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{one_exchange, payload_free_connection};

    const MS: i64 = 1_000_000;

    #[test]
    fn browser_spans_move_by_the_session_offset() {
        let spans = one_exchange(2_000 * MS);
        let offsets = trace_offsets(&spans, |s| (s == "sess-1").then_some(2_000 * MS));
        for (span, offset) in spans.iter().zip(&offsets) {
            let expected = if Source::of(span) == Source::Browser {
                2_000 * MS
            } else {
                0
            };
            assert_eq!(*offset, expected, "{}", span.name);
        }
    }

    #[test]
    fn a_bad_estimate_is_clamped_so_spans_still_nest() {
        let spans = one_exchange(2_000 * MS);
        // Far too large: the send would start after its backend child.
        let offsets = trace_offsets(&spans, |_| Some(5_000 * MS));
        let send = spans
            .iter()
            .position(|s| s.name == "ws.send chat")
            .expect("send");
        let server = spans
            .iter()
            .position(|s| s.name == "ws.receive chat")
            .expect("server");
        assert!(spans[send].start_ns + offsets[send] <= spans[server].start_ns);
        // Unknown session offset: 0, then raised so the reply is not before the server span.
        let offsets = trace_offsets(&spans, |_| None);
        let reply = spans
            .iter()
            .position(|s| s.name == "ws.receive chat.reply")
            .expect("reply");
        assert!(spans[reply].start_ns + offsets[reply] >= spans[server].start_ns);
    }

    #[test]
    fn payload_free_joins_clamp_like_parents_and_children() {
        let spans = payload_free_connection(2_000 * MS);
        let at = |id: u8| {
            spans
                .iter()
                .position(|s| s.span_id == hex::encode([id; 8]))
                .expect("span")
        };
        // Far too large: send 1 would start after the backend received it.
        let offsets = trace_offsets(&spans, |_| Some(5_000 * MS));
        for (send, server) in [(0x11, 0x21), (0x12, 0x22)] {
            assert!(spans[at(send)].start_ns + offsets[at(send)] <= spans[at(server)].start_ns);
        }
        // Unknown: raised so that no reply arrives before the backend sent it.
        let offsets = trace_offsets(&spans, |_| None);
        for (sender, reply) in [(0x41, 0x51), (0x42, 0x52)] {
            assert!(spans[at(reply)].start_ns + offsets[at(reply)] >= spans[at(sender)].start_ns);
        }
        assert_eq!(
            offsets[at(0x11)],
            offsets[at(0x51)],
            "one shift per session"
        );
    }
}
