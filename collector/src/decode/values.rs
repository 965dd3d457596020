//! Attribute values to strings, the way the OpenTelemetry ClickHouse schema stores them:
//! strings as they are, numbers and booleans in their plain form, bytes as base64, arrays and
//! maps as JSON.

use base64::Engine;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use serde_json::Value as Json;
use tracewire_semconv::resource;

use crate::model::Attributes;

/// Collects key-value pairs into a map, moving their strings; a repeated key keeps its last
/// value.
pub(super) fn attributes(pairs: Vec<KeyValue>) -> Attributes {
    pairs
        .into_iter()
        .map(|kv| (kv.key, any_to_string(kv.value)))
        .collect()
}

/// The string form of a value; an empty value is the empty string. Strings are moved, not
/// copied.
pub(super) fn any_to_string(value: Option<AnyValue>) -> String {
    match value.and_then(|v| v.value) {
        // A string-table index only means something inside profiles, never in spans or logs.
        None | Some(Value::StringValueStrindex(_)) => String::new(),
        Some(Value::StringValue(s)) => s,
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        Some(Value::BytesValue(b)) => base64::engine::general_purpose::STANDARD.encode(b),
        Some(other @ (Value::ArrayValue(_) | Value::KvlistValue(_))) => {
            to_json(Some(&other)).to_string()
        }
    }
}

fn to_json(value: Option<&Value>) -> Json {
    match value {
        None | Some(Value::StringValueStrindex(_)) => Json::Null,
        Some(Value::StringValue(s)) => Json::from(s.as_str()),
        Some(Value::BoolValue(b)) => Json::from(*b),
        Some(Value::IntValue(i)) => Json::from(*i),
        Some(Value::DoubleValue(d)) => Json::from(*d),
        Some(Value::BytesValue(b)) => {
            Json::from(base64::engine::general_purpose::STANDARD.encode(b))
        }
        Some(Value::ArrayValue(a)) => {
            Json::Array(a.values.iter().map(|v| to_json(v.value.as_ref())).collect())
        }
        Some(Value::KvlistValue(kv)) => Json::Object(
            kv.values
                .iter()
                .map(|p| {
                    (
                        p.key.clone(),
                        to_json(p.value.as_ref().and_then(|v| v.value.as_ref())),
                    )
                })
                .collect(),
        ),
    }
}

/// `service.name` from resource attributes, with the OpenTelemetry fallback.
pub(super) fn service_name(resource: &Attributes) -> String {
    resource
        .get(resource::SERVICE_NAME)
        .filter(|s| !s.is_empty())
        .cloned()
        .unwrap_or_else(|| "unknown_service".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};

    fn any(value: Value) -> AnyValue {
        AnyValue { value: Some(value) }
    }

    #[test]
    fn scalars_stringify_plainly() {
        assert_eq!(
            any_to_string(Some(any(Value::StringValue("x".into())))),
            "x"
        );
        assert_eq!(any_to_string(Some(any(Value::BoolValue(true)))), "true");
        assert_eq!(any_to_string(Some(any(Value::IntValue(-42)))), "-42");
        assert_eq!(any_to_string(Some(any(Value::DoubleValue(1.5)))), "1.5");
        assert_eq!(
            any_to_string(Some(any(Value::BytesValue(vec![1, 2, 3])))),
            "AQID"
        );
        assert_eq!(any_to_string(None), "");
    }

    #[test]
    fn arrays_and_maps_become_json() {
        let array = any(Value::ArrayValue(ArrayValue {
            values: vec![any(Value::IntValue(1)), any(Value::StringValue("a".into()))],
        }));
        assert_eq!(any_to_string(Some(array)), r#"[1,"a"]"#);
        let map = any(Value::KvlistValue(KeyValueList {
            values: vec![KeyValue {
                key: "k".into(),
                value: Some(any(Value::BoolValue(false))),
                ..Default::default()
            }],
        }));
        assert_eq!(any_to_string(Some(map)), r#"{"k":false}"#);
    }

    #[test]
    fn service_name_falls_back_to_unknown_service() {
        assert_eq!(service_name(&Attributes::new()), "unknown_service");
    }
}
