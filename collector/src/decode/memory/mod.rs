//! How much memory a request will take once decoded, estimated from its bytes without decoding
//! it, so that ingest can refuse what would not fit before allocating any of it. A request's
//! size says little on its own: an empty span is two bytes of protobuf and about 300 bytes
//! decoded, and a resource's attributes are copied into every span under it, so 2 MB of
//! attributes over 10,000 spans become 20 GB of records.
//!
//! The walk follows the OTLP schema ([`TRACES`], [`LOGS`], [`METRICS`]) over protobuf or JSON, adds up the
//! decoded structs (with room for vector growth), the bytes of strings, the per-item copies of
//! resources and scopes, and, in JSON, the copies serde makes of nested attribute values; the
//! total is multiplied by [`STAGES`] for the records and store encodings built from it.
//! Malformed input gets a conservative estimate from its length; the decoder then refuses it.

mod schema;

use std::mem::size_of;

use super::Encoding;
use schema::{LOGS, METRICS, TRACES};

/// Copies of the decoded request alive at once: the OTLP structs, the records made from them,
/// and the store's encoding of the records.
const STAGES: u64 = 3;
/// Vectors grow by doubling, so a decoded element may take up to twice its size.
const GROWTH: u64 = 2;
/// Estimate per input byte when the input is malformed (the decoder refuses it soon).
const MALFORMED_FACTOR: u64 = 4;
/// Deepest nesting walked; prost refuses deeper messages too (its recursion limit is 100).
const MAX_DEPTH: usize = 100;

/// How a field is held once decoded.
#[derive(Clone, Copy)]
enum Field {
    /// A nested message, optional or repeated.
    Message(&'static Schema),
    /// A string or bytes field, or one element of a repeated one: its bytes are copied.
    Bytes,
    /// A repeated number (bucket counts, bounds): eight bytes an element, packed or not.
    Numbers,
}

/// One message type of the OTLP schema, as far as memory goes.
struct Schema {
    /// Size of the decoded struct.
    size: usize,
    /// Fields that take memory: number, JSON name, kind. Others take none beyond the struct.
    fields: &'static [(u32, &'static str, Field)],
    /// Whether each instance is one stored item (a span, a log record or a metric point).
    item: bool,
    /// Fields copied into every item below an instance (its resource, its scope).
    per_item: &'static [u32],
    /// Whether serde buffers the whole value again for each level of nesting (attribute values
    /// in JSON are flattened enums).
    buffered: bool,
}

const fn schema(size: usize, fields: &'static [(u32, &'static str, Field)]) -> Schema {
    Schema {
        size,
        fields,
        item: false,
        per_item: &[],
        buffered: false,
    }
}

/// Bytes a trace export request will take once decoded, stored records and encodings included.
pub fn traces_memory(body: &[u8], encoding: Encoding) -> u64 {
    estimate(body, encoding, &TRACES)
}

/// Bytes a logs export request will take once decoded, stored records and encodings included.
pub fn logs_memory(body: &[u8], encoding: Encoding) -> u64 {
    estimate(body, encoding, &LOGS)
}

/// Bytes a metrics export request will take once decoded, stored records and encodings
/// included.
pub fn metrics_memory(body: &[u8], encoding: Encoding) -> u64 {
    estimate(body, encoding, &METRICS)
}

fn estimate(body: &[u8], encoding: Encoding, schema: &'static Schema) -> u64 {
    let tally = match encoding {
        Encoding::Protobuf => protobuf::walk(body, schema, 0),
        Encoding::Json => json::walk(body, schema),
    };
    match tally {
        Some(tally) => (schema.size as u64)
            .saturating_add(tally.bytes)
            .saturating_mul(STAGES),
        None => (body.len() as u64).saturating_mul(MALFORMED_FACTOR),
    }
}

/// Memory under one message.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Tally {
    /// Bytes, the message's own struct excepted.
    bytes: u64,
    /// Items (spans or log records) below it, itself included.
    items: u64,
}

impl Tally {
    /// Adds one child message (its struct, with growth room, and what is under it), held
    /// `copies` times; answers the bytes added.
    fn add_child(&mut self, schema: &Schema, child: Tally, copies: u64) -> u64 {
        let bytes = (schema.size as u64)
            .saturating_mul(GROWTH * copies)
            .saturating_add(child.bytes);
        self.bytes = self.bytes.saturating_add(bytes);
        self.items = self.items.saturating_add(child.items);
        bytes
    }

    /// Adds a string or bytes value of `len` bytes (its header as an element, too), held
    /// `copies` times; answers the bytes of one copy.
    fn add_bytes(&mut self, len: u64, copies: u64) -> u64 {
        let one = len.saturating_add(size_of::<String>() as u64);
        self.bytes = self.bytes.saturating_add(one.saturating_mul(copies));
        one
    }

    /// Adds `count` elements of a repeated number, with growth room, held `copies` times.
    fn add_numbers(&mut self, count: u64, copies: u64) {
        let bytes = count.saturating_mul(size_of::<u64>() as u64 * GROWTH);
        self.bytes = self.bytes.saturating_add(bytes.saturating_mul(copies));
    }

    /// Closes a message of `schema`: counts it as an item if it is one, and copies its
    /// per-item fields (`per_item` bytes) into each item below it.
    fn finish(mut self, schema: &Schema, per_item: u64) -> Self {
        if schema.item {
            self.items = self.items.saturating_add(1);
        }
        self.bytes = self
            .bytes
            .saturating_add(per_item.saturating_mul(self.items));
        self
    }
}

fn field(schema: &Schema, number: u32) -> Option<Field> {
    schema
        .fields
        .iter()
        .find(|(n, _, _)| *n == number)
        .map(|(_, _, f)| *f)
}

fn json_field(schema: &Schema, name: &[u8]) -> Option<(u32, Field)> {
    schema
        .fields
        .iter()
        .find(|(_, n, _)| n.as_bytes() == name)
        .map(|(number, _, f)| (*number, *f))
}

/// The protobuf wire format, read as prost reads it (unknown fields skipped, groups too).
mod protobuf {
    use super::{Field, MAX_DEPTH, Schema, Tally, field};

    fn varint(buf: &mut &[u8]) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = buf.split_first()?;
            *buf = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    fn take<'a>(buf: &mut &'a [u8], len: u64) -> Option<&'a [u8]> {
        let len = usize::try_from(len).ok()?;
        if len > buf.len() {
            return None;
        }
        let (head, rest) = buf.split_at(len);
        *buf = rest;
        Some(head)
    }

    /// Skips one field's value of `wire` type; for a group, up to its end tag.
    fn skip(buf: &mut &[u8], wire: u64, number: u64, depth: usize) -> Option<()> {
        match wire {
            0 => varint(buf).map(|_| ()),
            1 => take(buf, 8).map(|_| ()),
            2 => {
                let len = varint(buf)?;
                take(buf, len).map(|_| ())
            }
            3 => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                loop {
                    let key = varint(buf)?;
                    let (inner, inner_wire) = (key >> 3, key & 7);
                    if inner_wire == 4 {
                        return (inner == number).then_some(());
                    }
                    skip(buf, inner_wire, inner, depth + 1)?;
                }
            }
            5 => take(buf, 4).map(|_| ()),
            _ => None,
        }
    }

    /// The memory under one message of `schema` encoded in `buf`; `None` when malformed.
    pub(super) fn walk(mut buf: &[u8], schema: &Schema, depth: usize) -> Option<Tally> {
        if depth > MAX_DEPTH {
            return None;
        }
        let mut tally = Tally::default();
        let mut per_item = 0u64;
        while !buf.is_empty() {
            let key = varint(&mut buf)?;
            let (number, wire) = (key >> 3, key & 7);
            let known = u32::try_from(number)
                .ok()
                .and_then(|n| field(schema, n).map(|f| (n, f)));
            match known {
                Some((n, Field::Message(child))) if wire == 2 => {
                    let len = varint(&mut buf)?;
                    let inner = walk(take(&mut buf, len)?, child, depth + 1)?;
                    let bytes = tally.add_child(child, inner, 1);
                    if schema.per_item.contains(&n) {
                        per_item = per_item.saturating_add(bytes);
                    }
                }
                Some((n, Field::Bytes)) if wire == 2 => {
                    let len = varint(&mut buf)?;
                    take(&mut buf, len)?;
                    let bytes = tally.add_bytes(len, 1);
                    if schema.per_item.contains(&n) {
                        per_item = per_item.saturating_add(bytes);
                    }
                }
                // Packed: at most one element per byte (varints); one element otherwise.
                Some((_, Field::Numbers)) if wire == 2 => {
                    let len = varint(&mut buf)?;
                    take(&mut buf, len)?;
                    tally.add_numbers(len, 1);
                }
                Some((_, Field::Numbers)) if matches!(wire, 0 | 1 | 5) => {
                    skip(&mut buf, wire, number, depth)?;
                    tally.add_numbers(1, 1);
                }
                // prost refuses a known field with another wire type.
                Some(_) => return None,
                None => skip(&mut buf, wire, number, depth)?,
            }
        }
        Some(tally.finish(schema, per_item))
    }
}

/// OTLP/JSON: objects with the schema's lowerCamelCase keys, repeated fields as arrays.
mod json {
    use super::{Field, MAX_DEPTH, Schema, Tally, json_field};

    struct Reader<'a> {
        b: &'a [u8],
        pos: usize,
    }

    impl<'a> Reader<'a> {
        fn ws(&mut self) {
            while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.pos) {
                self.pos += 1;
            }
        }

        fn peek(&mut self) -> Option<u8> {
            self.ws();
            self.b.get(self.pos).copied()
        }

        fn eat(&mut self, c: u8) -> bool {
            if self.peek() == Some(c) {
                self.pos += 1;
                true
            } else {
                false
            }
        }

        /// A string; answers its raw contents (escapes left in).
        fn string(&mut self) -> Option<&'a [u8]> {
            if !self.eat(b'"') {
                return None;
            }
            let start = self.pos;
            loop {
                match *self.b.get(self.pos)? {
                    b'"' => {
                        self.pos += 1;
                        return self.b.get(start..self.pos - 1);
                    }
                    b'\\' => self.pos += 2,
                    _ => self.pos += 1,
                }
            }
        }

        /// Skips any value (nesting bounded).
        fn skip(&mut self, depth: usize) -> Option<()> {
            if depth > MAX_DEPTH * 2 {
                return None;
            }
            match self.peek()? {
                b'"' => self.string().map(|_| ()),
                b'{' => self.members(|r, _| r.skip(depth + 1)),
                b'[' => self.elements(|r| r.skip(depth + 1)),
                _ => {
                    let start = self.pos;
                    while let Some(c) = self.b.get(self.pos) {
                        if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                            break;
                        }
                        self.pos += 1;
                    }
                    (self.pos > start).then_some(())
                }
            }
        }

        fn members(
            &mut self,
            mut each: impl FnMut(&mut Self, &'a [u8]) -> Option<()>,
        ) -> Option<()> {
            if !self.eat(b'{') {
                return None;
            }
            if self.eat(b'}') {
                return Some(());
            }
            loop {
                let key = self.string()?;
                if !self.eat(b':') {
                    return None;
                }
                each(self, key)?;
                if self.eat(b'}') {
                    return Some(());
                }
                if !self.eat(b',') {
                    return None;
                }
            }
        }

        fn elements(&mut self, mut each: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
            if !self.eat(b'[') {
                return None;
            }
            if self.eat(b']') {
                return Some(());
            }
            loop {
                each(self)?;
                if self.eat(b']') {
                    return Some(());
                }
                if !self.eat(b',') {
                    return None;
                }
            }
        }

        /// One message of `schema`; `copies` is how many times serde holds it at once.
        fn message(&mut self, schema: &Schema, depth: usize, copies: u64) -> Option<Tally> {
            if depth > MAX_DEPTH {
                return None;
            }
            let mut tally = Tally::default();
            let mut per_item = 0u64;
            self.members(|r, key| {
                let Some((number, field)) = json_field(schema, key) else {
                    return r.skip(depth);
                };
                match field {
                    Field::Bytes => match r.peek()? {
                        b'[' => r.elements(|r| {
                            let s = r.string()?;
                            tally.add_bytes(s.len() as u64, copies);
                            Some(())
                        }),
                        b'"' => {
                            let s = r.string()?;
                            let bytes = tally.add_bytes(s.len() as u64, copies);
                            if schema.per_item.contains(&number) {
                                per_item = per_item.saturating_add(bytes);
                            }
                            Some(())
                        }
                        _ => r.skip(depth),
                    },
                    Field::Numbers => match r.peek()? {
                        b'[' => r.elements(|r| {
                            tally.add_numbers(1, copies);
                            r.skip(depth)
                        }),
                        _ => r.skip(depth),
                    },
                    Field::Message(child) => {
                        // serde buffers a flattened value before decoding it, again at each
                        // level, and every buffer lives until the outermost value is decoded.
                        let copies = copies + u64::from(child.buffered);
                        let mut one = |r: &mut Self| -> Option<()> {
                            if r.peek()? != b'{' {
                                return r.skip(depth);
                            }
                            let inner = r.message(child, depth + 1, copies)?;
                            let bytes = tally.add_child(child, inner, copies);
                            if schema.per_item.contains(&number) {
                                per_item = per_item.saturating_add(bytes);
                            }
                            Some(())
                        };
                        match r.peek()? {
                            b'[' => r.elements(one),
                            _ => one(r),
                        }
                    }
                }
            })?;
            Some(tally.finish(schema, per_item))
        }
    }

    /// The memory under a JSON request of `schema`; `None` when malformed.
    pub(super) fn walk(body: &[u8], schema: &Schema) -> Option<Tally> {
        let mut r = Reader { b: body, pos: 0 };
        let tally = r.message(schema, 0, 1)?;
        r.ws();
        (r.pos == body.len()).then_some(tally)
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use prost::Message;

    use super::*;

    fn kv(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue {
                value: Some(Value::StringValue(value.into())),
            }),
            ..Default::default()
        }
    }

    fn request(resource_attributes: usize, spans: usize) -> ExportTraceServiceRequest {
        let span = Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            name: "GET /".into(),
            ..Default::default()
        };
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: (0..resource_attributes)
                        .map(|i| kv(&format!("key{i}"), "value"))
                        .collect(),
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans: vec![span; spans],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn protobuf_and_json_estimates_agree_and_grow_with_spans() {
        let small = request(3, 10);
        let large = request(3, 1000);
        let proto_small = traces_memory(&small.encode_to_vec(), Encoding::Protobuf);
        let proto_large = traces_memory(&large.encode_to_vec(), Encoding::Protobuf);
        assert!(
            proto_large > 50 * proto_small,
            "{proto_small} {proto_large}"
        );
        let json = serde_json::to_vec(&large).expect("json");
        let json_large = traces_memory(&json, Encoding::Json);
        assert!(
            json_large >= proto_large && json_large < 3 * proto_large,
            "{proto_large} {json_large}"
        );
        // At least the decoded spans themselves.
        assert!(proto_large > 1000 * size_of::<Span>() as u64);
    }

    #[test]
    fn empty_spans_cost_their_decoded_size_not_their_two_bytes() {
        // 100,000 empty spans: 200 KB of protobuf.
        let mut body = vec![0x0a, 0, 0x12, 0];
        let mut scope = Vec::new();
        for _ in 0..100_000 {
            scope.extend_from_slice(&[0x12, 0]);
        }
        let mut resource_spans = vec![0x12];
        push_varint(&mut resource_spans, scope.len() as u64);
        resource_spans.extend_from_slice(&scope);
        body.clear();
        body.push(0x0a);
        push_varint(&mut body, resource_spans.len() as u64);
        body.extend_from_slice(&resource_spans);
        let decoded = ExportTraceServiceRequest::decode(&body[..]).expect("valid protobuf");
        assert_eq!(
            decoded.resource_spans[0].scope_spans[0].spans.len(),
            100_000
        );
        let estimate = traces_memory(&body, Encoding::Protobuf);
        assert!(
            estimate > 100_000 * size_of::<Span>() as u64,
            "{estimate} for {} bytes",
            body.len()
        );
    }

    fn push_varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    #[test]
    fn resource_attributes_count_once_per_span() {
        let few_spans = traces_memory(&request(1000, 1).encode_to_vec(), Encoding::Protobuf);
        let many_spans = traces_memory(&request(1000, 100).encode_to_vec(), Encoding::Protobuf);
        // Once in the request and once per span: 2 copies against 101.
        assert!(many_spans > 45 * few_spans, "{few_spans} {many_spans}");
    }

    #[test]
    fn nested_json_values_count_each_buffered_copy() {
        let mut value =
            r#"{"stringValue":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"#.to_owned();
        let flat = format!(
            r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"body":{value}}}]}}]}}]}}"#
        );
        for _ in 0..30 {
            value = format!(r#"{{"arrayValue":{{"values":[{value}]}}}}"#);
        }
        let nested = format!(
            r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"body":{value}}}]}}]}}]}}"#
        );
        let flat = logs_memory(flat.as_bytes(), Encoding::Json);
        let nested = logs_memory(nested.as_bytes(), Encoding::Json);
        assert!(nested > 20 * flat, "{flat} {nested}");
    }

    #[test]
    fn malformed_input_gets_a_conservative_estimate() {
        assert_eq!(
            traces_memory(&[0x0a, 0xff], Encoding::Protobuf),
            2 * MALFORMED_FACTOR
        );
        assert_eq!(
            traces_memory(b"{\"resourceSpans\":", Encoding::Json),
            17 * 4
        );
        // Unknown fields of every wire type are skipped as prost skips them.
        let unknown = [0x78, 1, 0x79, 0, 0, 0, 0, 0, 0, 0, 0, 0x7d, 0, 0, 0, 0];
        assert_eq!(
            traces_memory(&unknown, Encoding::Protobuf),
            size_of::<ExportTraceServiceRequest>() as u64 * STAGES
        );
    }
}
