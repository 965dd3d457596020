//! Payload-free WebSocket correlation (`payloadFreeUrls`): the connection's context travels in
//! the handshake URL and each message is identified by its number on the connection, so no
//! message is changed. Pure, so the host tests cover it.

use crate::context::{SpanId, TraceParent};
use crate::record::{AttrValue, Attributes};
use crate::text;
use tracewire_semconv::{attribute, message};

/// `url` with `traceparent=<tp>` added to its query (after `?` or `&` as the URL needs, before
/// any `#fragment`), and the exact text added. Taking that text out of the URL the browser
/// reports for the socket gives back what it reports for `url` itself: the added text has no
/// character the URL parser would escape.
pub fn handshake_url(url: &str, tp: &TraceParent) -> (String, String) {
    // The panic-free helpers of `text`: `split_at` would bring str's slicing panic (which
    // formats the text with the Unicode tables) into the wasm.
    let at = text::find(url, "#", false).unwrap_or(url.len());
    let (base, fragment) = (text::slice(url, 0, at), text::tail(url, at));
    let separator = match (text::find(base, "?", false), base.as_bytes().last()) {
        (None, _) => "?",
        (Some(_), Some(b'?' | b'&')) => "",
        _ => "&",
    };
    let added = String::from(separator) + message::HANDSHAKE_QUERY_PARAMETER + "=" + &tp.encode();
    (String::from(base) + &added + fragment, added)
}

/// Adds what ties a message span to its payload-free connection: `ws.message.sequence` (the
/// message's number on the connection in its direction, from 1) and `ws.connection.span_id`
/// (the connection's `ws.connect` span).
pub fn message_attributes(attributes: &mut Attributes, sequence: u32, connection: &SpanId) {
    attributes.push((
        attribute::WS_MESSAGE_SEQUENCE.into(),
        AttrValue::from(sequence),
    ));
    attributes.push((
        attribute::WS_CONNECTION_SPAN_ID.into(),
        connection.to_hex().into(),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::TraceId;

    fn tp() -> TraceParent {
        TraceParent {
            trace_id: TraceId([0xab; 16]),
            span_id: SpanId([0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]),
            flags: 1,
        }
    }

    const TP: &str = "traceparent=00-abababababababababababababababab-0123456789abcdef-01";

    #[test]
    fn the_parameter_starts_the_query_when_there_is_none() {
        let (url, added) = handshake_url("wss://app.example.com/live", &tp());
        assert_eq!(url, format!("wss://app.example.com/live?{TP}"));
        assert_eq!(added, format!("?{TP}"));
    }

    #[test]
    fn the_parameter_joins_an_existing_query() {
        let (url, added) = handshake_url("ws://h:81/p?room=7&token=x", &tp());
        assert_eq!(url, format!("ws://h:81/p?room=7&token=x&{TP}"));
        assert_eq!(added, format!("&{TP}"));
        let (url, added) = handshake_url("ws://h/p?", &tp());
        assert_eq!(url, format!("ws://h/p?{TP}"));
        assert_eq!(added, TP);
        let (url, _) = handshake_url("ws://h/p?a=1&", &tp());
        assert_eq!(url, format!("ws://h/p?a=1&{TP}"));
    }

    #[test]
    fn the_parameter_goes_before_the_fragment() {
        let (url, added) = handshake_url("ws://h/p?a=1#x?y", &tp());
        assert_eq!(url, format!("ws://h/p?a=1&{TP}#x?y"));
        assert_eq!(url.replacen(&added, "", 1), "ws://h/p?a=1#x?y");
        let (url, _) = handshake_url("ws://h/p#frag", &tp());
        assert_eq!(url, format!("ws://h/p?{TP}#frag"));
    }

    #[test]
    fn removing_the_added_text_gives_the_page_url_back() {
        for page in [
            "ws://h",
            "ws://h/",
            "ws://h/p?q=%20",
            "ws://h/p?",
            "ws://h/p#f",
        ] {
            let (url, added) = handshake_url(page, &tp());
            assert_eq!(url.replacen(&added, "", 1), page);
        }
    }

    #[test]
    fn the_parameter_is_the_connect_spans_traceparent_and_reads_back() {
        let (url, _) = handshake_url("ws://h/p?a=1", &tp());
        let value = url.split("traceparent=").nth(1).expect("parameter");
        assert_eq!(TraceParent::parse(value), Some(tp()));
    }

    #[test]
    fn message_spans_carry_the_sequence_and_the_connection_span_id() {
        let mut attributes = Attributes::new();
        message_attributes(&mut attributes, 3, &tp().span_id);
        assert_eq!(
            attributes,
            vec![
                ("ws.message.sequence".into(), AttrValue::Int(3)),
                (
                    "ws.connection.span_id".into(),
                    AttrValue::from("0123456789abcdef")
                ),
            ]
        );
    }
}
