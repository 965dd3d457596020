//! Server-Sent Events: where an event carries the trace context of the server span that sent
//! it (docs/semantic-conventions.md, "Server-Sent Events"). Pure logic, used by the EventSource
//! instrumentation (feature `eventsource`).

use crate::context::TraceParent;
use crate::json;
use crate::message;
use tracewire_semconv::message::TRACEPARENT;
use tracewire_semconv::value;

/// The context an event continues and where it was found (`data` or `id`,
/// [`value::SSE_CONTEXT_DATA`] / [`value::SSE_CONTEXT_ID`]).
///
/// In order: the data is a JSON object with the context member `field` (as in WebSocket
/// messages: `{"trace_context": {"traceparent": "00-…"}}`) or a top-level `traceparent` string;
/// else the event's `id` is a `traceparent`. EventSource repeats the last id on later events
/// that set none, so an id equal to the previous event's (`previous_id`) is not used again.
pub fn event_parent(
    data: &str,
    id: &str,
    previous_id: &str,
    field: &str,
) -> Option<(TraceParent, &'static str)> {
    let from_data = message::extract(data, field, &[]).parent.or_else(|| {
        if !data.trim_start().starts_with('{') {
            return None;
        }
        json::object_members(data)?
            .iter()
            .find(|m| m.key == TRACEPARENT)
            .and_then(|m| json::string_value(m.value))
            .and_then(|v| TraceParent::parse(&v))
    });
    if let Some(p) = from_data {
        return Some((p, value::SSE_CONTEXT_DATA));
    }
    if id == previous_id {
        return None;
    }
    TraceParent::parse(id.trim()).map(|p| (p, value::SSE_CONTEXT_ID))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn the_context_comes_from_the_data_field_a_top_level_traceparent_or_a_new_id() {
        let nested = format!(r#"{{"trace_context":{{"traceparent":"{TP}"}},"price":1}}"#);
        let top = format!(r#"{{"traceparent":"{TP}","price":1}}"#);
        for data in [nested.as_str(), top.as_str()] {
            let (p, source) =
                event_parent(data, "", "", "trace_context").expect("context in the data");
            assert_eq!(p.encode(), TP);
            assert_eq!(source, "data");
        }
        let (p, source) =
            event_parent("tick 7", TP, "", "trace_context").expect("context in the id");
        assert_eq!((p.encode().as_str(), source), (TP, "id"));
    }

    #[test]
    fn an_inherited_id_plain_data_or_a_bad_context_continue_nothing() {
        assert_eq!(event_parent("tick 8", TP, TP, "trace_context"), None);
        assert_eq!(event_parent("tick", "42", "", "trace_context"), None);
        assert_eq!(
            event_parent(r#"{"traceparent":"00-zz"}"#, "", "", "trace_context"),
            None
        );
        assert_eq!(event_parent("", "", "", "trace_context"), None);
        assert_eq!(event_parent("[1,2]", "", "", "trace_context"), None);
    }
}
