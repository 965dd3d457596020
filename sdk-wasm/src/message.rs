//! Trace context inside WebSocket messages: reading a message's type, injecting the context into
//! JSON objects (or wrapping any text in an envelope), and reading it back from replies.
//!
//! Injection edits the text instead of re-serialising the parsed value, so the application's own
//! bytes (key order, spacing, number formatting) are kept exactly and only one field is added.

use crate::context::TraceParent;
use crate::json::{self, Member};
use crate::text;
use tracewire_semconv::message;

/// Result of inspecting an outgoing text message.
#[derive(Debug, PartialEq)]
pub struct Outgoing {
    /// The text to send (unchanged when injection did not apply).
    pub text: Option<String>,
    /// The message type read from the configured fields.
    pub message_type: Option<String>,
}

/// Builds the context object: `{"traceparent":"...","tracestate":"..."}`.
fn context_json(tp: &TraceParent, tracestate: &str) -> String {
    let mut out = String::with_capacity(96 + tracestate.len());
    out.push_str("{\"traceparent\":\"");
    out.push_str(&tp.encode());
    out.push('"');
    if !tracestate.is_empty() {
        out.push_str(",\"tracestate\":");
        json::push_str(&mut out, tracestate);
    }
    out.push('}');
    out
}

fn member<'m, 'a>(members: &'m [Member<'a>], key: &str) -> Option<&'m Member<'a>> {
    members.iter().find(|m| m.key == key)
}

/// Reads the message type: the first of `fields` holding a string (numbers are accepted too).
pub fn message_type(members: &[Member<'_>], fields: &[String]) -> Option<String> {
    fields.iter().find_map(|f| {
        let raw = member(members, f)?.value;
        match raw.as_bytes().first()? {
            b'"' => json::string_value(raw).map(|s| s.into_owned()),
            b'-' | b'0'..=b'9' => Some(raw.to_owned()),
            _ => None,
        }
    })
}

/// Longest message type kept (span names must stay low-cardinality and short).
const MAX_TYPE_LEN: usize = 64;

fn clean_type(t: Option<String>) -> Option<String> {
    t.map(|mut t| {
        if t.len() > MAX_TYPE_LEN {
            let mut cut = MAX_TYPE_LEN;
            while !t.is_char_boundary(cut) {
                cut -= 1;
            }
            t.truncate(cut);
        }
        t
    })
}

/// Where the context member goes in an outgoing JSON object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insertion {
    /// Offset just after the opening brace. Only ASCII whitespace precedes it, so it is the same
    /// in UTF-8 bytes and in UTF-16 units (JavaScript string indices).
    pub at: usize,
    /// Whether a comma must follow the inserted member (the object has members).
    pub comma: bool,
}

/// What to do with an outgoing text message.
#[derive(Debug, PartialEq)]
pub struct Plan {
    /// Where to insert the context; `None` leaves the message untouched.
    pub insertion: Option<Insertion>,
    /// The message type read from the configured fields.
    pub message_type: Option<String>,
}

/// Reads an outgoing text message: when it is a JSON object without `field` yet, says where the
/// context member goes.
pub fn plan_injection(text: &str, field: &str, type_fields: &[String]) -> Plan {
    let trimmed = text.trim_start();
    let members = if trimmed.starts_with('{') {
        json::object_members(text)
    } else {
        None
    };
    let Some(members) = members else {
        return Plan {
            insertion: None,
            message_type: None,
        };
    };
    let message_type = clean_type(message_type(&members, type_fields));
    if member(&members, field).is_some() {
        return Plan {
            insertion: None,
            message_type,
        };
    }
    Plan {
        insertion: Some(Insertion {
            at: text.len() - trimmed.len() + 1,
            comma: !members.is_empty(),
        }),
        message_type,
    }
}

/// The inserted member up to the `traceparent` value: `"<field>":{"traceparent":"`.
pub fn member_prefix(field: &str) -> String {
    let mut out = json::quoted(field);
    out.push_str(":{\"traceparent\":\"");
    out
}

/// The inserted member after the `traceparent` value: the `tracestate`, if any, and the closing
/// brace.
pub fn member_suffix(tracestate: &str) -> String {
    let mut out = String::from("\"");
    if !tracestate.is_empty() {
        out.push_str(",\"tracestate\":");
        json::push_str(&mut out, tracestate);
    }
    out.push('}');
    out
}

/// Builds the message with the context member inserted (the browser does the same in
/// JavaScript, to avoid decoding a new string out of wasm memory on every send).
pub fn apply(text: &str, ins: Insertion, prefix: &str, tp: &TraceParent, suffix: &str) -> String {
    let mut out = String::with_capacity(text.len() + prefix.len() + 56 + suffix.len());
    out.push_str(text::slice(text, 0, ins.at));
    out.push_str(prefix);
    out.push_str(&tp.encode());
    out.push_str(suffix);
    if ins.comma {
        out.push(',');
    }
    out.push_str(text::tail(text, ins.at));
    out
}

/// Inspects an outgoing text message and, when it is a JSON object without the field yet,
/// returns it with `"<field>": {traceparent, tracestate}` added as its first member.
pub fn inject(
    text: &str,
    field: &str,
    type_fields: &[String],
    tp: &TraceParent,
    tracestate: &str,
) -> Outgoing {
    let plan = plan_injection(text, field, type_fields);
    Outgoing {
        text: plan.insertion.map(|ins| {
            apply(
                text,
                ins,
                &member_prefix(field),
                tp,
                &member_suffix(tracestate),
            )
        }),
        message_type: plan.message_type,
    }
}

/// Wraps any text as `{"data": <original>, "<field>": {...}, "ts": <ms>}`. Text that is valid
/// JSON is embedded as JSON; anything else as a JSON string.
pub fn envelope(
    text: &str,
    field: &str,
    type_fields: &[String],
    tp: &TraceParent,
    tracestate: &str,
    ts_ms: f64,
) -> Outgoing {
    envelope_with(text, field, type_fields, tracestate, ts_ms, |_| *tp)
}

/// [`envelope`] with the context chosen once the message type is known (`context_for` is given
/// it), as the counting of messages per type decides whether the context is sampled.
pub fn envelope_with(
    text: &str,
    field: &str,
    type_fields: &[String],
    tracestate: &str,
    ts_ms: f64,
    context_for: impl FnOnce(Option<&str>) -> TraceParent,
) -> Outgoing {
    let valid = json::is_valid(text);
    let message_type = if valid {
        clean_type(json::object_members(text).and_then(|m| message_type(&m, type_fields)))
    } else {
        None
    };
    let tp = &context_for(message_type.as_deref());
    let mut out = String::with_capacity(text.len() + field.len() + 128);
    out.push_str("{\"data\":");
    if valid {
        out.push_str(text.trim());
    } else {
        json::push_str(&mut out, text);
    }
    out.push(',');
    json::push_str(&mut out, field);
    out.push(':');
    out.push_str(&context_json(tp, tracestate));
    out.push_str(",\"ts\":");
    json::push_i64(&mut out, ts_ms.round() as i64);
    out.push('}');
    Outgoing {
        text: Some(out),
        message_type,
    }
}

/// Context and type found in an incoming message.
#[derive(Debug, PartialEq)]
pub struct Incoming {
    /// The remote context, when the message carried a valid one.
    pub parent: Option<TraceParent>,
    /// The `tracestate` that came with it.
    pub tracestate: Option<String>,
    /// The message type.
    pub message_type: Option<String>,
}

/// Reads the context and type of an incoming text message (top level, or inside an envelope's
/// `data`).
pub fn extract(text: &str, field: &str, type_fields: &[String]) -> Incoming {
    let none = Incoming {
        parent: None,
        tracestate: None,
        message_type: None,
    };
    if !text.trim_start().starts_with('{') {
        return none;
    }
    let Some(members) = json::object_members(text) else {
        return none;
    };
    let mut message_type = message_type(&members, type_fields);
    if message_type.is_none()
        && let Some(data) =
            member(&members, message::ENVELOPE_DATA).and_then(|d| json::object_members(d.value))
    {
        message_type = self::message_type(&data, type_fields);
    }
    let carrier = member(&members, field).and_then(|c| json::object_members(c.value));
    let (parent, tracestate) = match carrier {
        Some(c) => (
            member(&c, message::TRACEPARENT)
                .and_then(|v| json::string_value(v.value))
                .and_then(|v| TraceParent::parse(&v)),
            member(&c, message::TRACESTATE)
                .and_then(|v| json::string_value(v.value))
                .map(|v| v.into_owned()),
        ),
        None => (None, None),
    };
    Incoming {
        parent,
        tracestate,
        message_type: clean_type(message_type),
    }
}

/// Whether `url` matches a pattern where `*` stands for any run of characters.
pub fn glob_match(pattern: &str, url: &str) -> bool {
    let p = pattern.as_bytes();
    let s = url.as_bytes();
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if pi < p.len() && p[pi] == s[si] {
            pi += 1;
            si += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::{SpanId, TraceId};
    use crate::json::is_valid as is_json;
    use serde_json::Value;

    fn tp() -> TraceParent {
        TraceParent {
            trace_id: TraceId([0x11; 16]),
            span_id: SpanId([0x22; 8]),
            flags: 1,
        }
    }

    fn types() -> Vec<String> {
        ["type", "event", "op", "action"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn injects_context_as_a_field_and_keeps_the_rest_verbatim() {
        let text = r#"{"op": "subscribe",  "b":1.50, "a":[1,2]}"#;
        let out = inject(text, "trace_context", &types(), &tp(), "tw=1");
        let injected = out.text.expect("injected");
        assert!(injected.ends_with(r#""op": "subscribe",  "b":1.50, "a":[1,2]}"#));
        let v: Value = serde_json::from_str(&injected).expect("valid json");
        assert_eq!(v["trace_context"]["traceparent"], tp().to_string());
        assert_eq!(v["trace_context"]["tracestate"], "tw=1");
        assert_eq!(out.message_type.as_deref(), Some("subscribe"));
    }

    #[test]
    fn injects_into_an_empty_object_without_a_trailing_comma() {
        let out = inject(" {}", "ctx", &types(), &tp(), "");
        let text = out.text.expect("injected");
        assert!(is_json(&text), "{text}");
        let v: Value = serde_json::from_str(&text).expect("json");
        assert!(v["ctx"]["tracestate"].is_null());
    }

    #[test]
    fn non_objects_and_invalid_json_are_left_alone() {
        for text in ["hello", "[1,2]", "\"str\"", "{not json", "42", ""] {
            assert_eq!(
                inject(text, "trace_context", &types(), &tp(), "").text,
                None,
                "{text}"
            );
        }
    }

    #[test]
    fn existing_field_is_not_overwritten() {
        let text = r#"{"type":"x","trace_context":{"traceparent":"keep"}}"#;
        let out = inject(text, "trace_context", &types(), &tp(), "");
        assert_eq!(out.text, None);
        assert_eq!(out.message_type.as_deref(), Some("x"));
    }

    #[test]
    fn type_is_the_first_configured_field_present() {
        let text = r#"{"action":"a","event":"e"}"#;
        assert_eq!(
            inject(text, "tc", &types(), &tp(), "")
                .message_type
                .as_deref(),
            Some("e")
        );
        let custom = vec!["kind".to_owned()];
        assert_eq!(
            inject(r#"{"kind":7}"#, "tc", &custom, &tp(), "")
                .message_type
                .as_deref(),
            Some("7")
        );
    }

    #[test]
    fn envelope_wraps_json_and_plain_text() {
        let out = envelope(
            r#"{"type":"t"}"#,
            "trace_context",
            &types(),
            &tp(),
            "",
            1234.4,
        );
        let v: Value = serde_json::from_str(&out.text.expect("wrapped")).expect("json");
        assert_eq!(v["data"]["type"], "t");
        assert_eq!(v["ts"], 1234);
        assert_eq!(v["trace_context"]["traceparent"], tp().to_string());
        assert_eq!(out.message_type.as_deref(), Some("t"));

        let out = envelope("ping \"x\"", "trace_context", &types(), &tp(), "", 1.0);
        let v: Value = serde_json::from_str(&out.text.expect("wrapped")).expect("json");
        assert_eq!(v["data"], "ping \"x\"");
    }

    #[test]
    fn an_envelopes_context_is_chosen_knowing_the_message_type() {
        let unsampled = TraceParent { flags: 0, ..tp() };
        let mut seen = None;
        let out = envelope_with(
            r#"{"type":"tick"}"#,
            "trace_context",
            &types(),
            "",
            1.0,
            |t| {
                seen = t.map(str::to_owned);
                unsampled
            },
        );
        assert_eq!(seen.as_deref(), Some("tick"));
        let v: Value = serde_json::from_str(&out.text.expect("wrapped")).expect("json");
        assert_eq!(v["trace_context"]["traceparent"], unsampled.to_string());
    }

    #[test]
    fn extract_reads_back_what_inject_wrote() {
        let sent = inject(
            r#"{"type":"chat"}"#,
            "trace_context",
            &types(),
            &tp(),
            "a=b",
        )
        .text
        .expect("injected");
        let got = extract(&sent, "trace_context", &types());
        assert_eq!(got.parent, Some(tp()));
        assert_eq!(got.tracestate.as_deref(), Some("a=b"));
        assert_eq!(got.message_type.as_deref(), Some("chat"));

        let wrapped = envelope(r#"{"op":"sub"}"#, "trace_context", &types(), &tp(), "", 0.0)
            .text
            .expect("wrapped");
        let got = extract(&wrapped, "trace_context", &types());
        assert_eq!(got.parent, Some(tp()));
        assert_eq!(got.message_type.as_deref(), Some("sub"));
    }

    #[test]
    fn extract_ignores_invalid_context() {
        let got = extract(
            r#"{"type":"x","trace_context":{"traceparent":"00-zz"}}"#,
            "trace_context",
            &types(),
        );
        assert_eq!(got.parent, None);
        assert_eq!(got.message_type.as_deref(), Some("x"));
        assert_eq!(extract("plain", "trace_context", &types()).parent, None);
    }

    #[test]
    fn long_types_are_truncated_on_a_char_boundary() {
        let long = format!(r#"{{"type":"{}"}}"#, "é".repeat(100));
        let t = inject(&long, "tc", &types(), &tp(), "")
            .message_type
            .expect("type");
        assert!(t.len() <= MAX_TYPE_LEN);
    }

    #[test]
    fn glob_patterns_match_urls() {
        assert!(glob_match(
            "wss://*.example.com/graphql*",
            "wss://api.example.com/graphql?x=1"
        ));
        assert!(glob_match("*", "anything"));
        assert!(glob_match("ws://h/exact", "ws://h/exact"));
        assert!(!glob_match("ws://h/exact", "ws://h/exact2"));
        assert!(!glob_match(
            "wss://*.example.com/*",
            "ws://api.example.com/"
        ));
        assert!(glob_match("*/echo*", "ws://127.0.0.1:9/echo?env=1"));
    }
}
