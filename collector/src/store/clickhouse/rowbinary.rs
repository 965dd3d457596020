//! ClickHouse's RowBinary, the bytes an `INSERT ... FORMAT RowBinary` carries, written from any
//! row type's serde encoding ([`write_row`]): so a signal's row type ([`super::encode`]) decides
//! its encoding, the spool holds what the shipper sends, and nothing is encoded again on the way
//! to ClickHouse. Integers and floats are little-endian, strings and arrays (serde sequences,
//! maps) carry a LEB128 length, `Option` is `Nullable` (a null byte first), structs and tuples
//! are their fields in order; a `Map` column is written from a sequence of pairs or a serde map.
//!
//! A spooled payload ([`payload`]) starts with the distinct `(tenant, trace id)` pairs of its
//! rows, for the correlation step, so the shipper never parses rows: a `u32` little-endian byte
//! length, then each pair as two RowBinary strings; then the rows. Signals whose rows belong to
//! no trace have an empty list.

use std::collections::BTreeSet;

use serde::Serialize;
use serde::ser::{self, Impossible};

/// The `(tenant, trace id)` pairs of a spooled payload.
pub(super) type Traces = BTreeSet<(String, String)>;

/// A row that RowBinary cannot carry (a type without a RowBinary form, or a sequence of
/// unknown length): a mistake in a row type, never in the data.
#[derive(Debug, thiserror::Error)]
#[error("cannot write a row as RowBinary: {0}")]
pub struct RowBinaryError(String);

impl ser::Error for RowBinaryError {
    fn custom<T: std::fmt::Display>(message: T) -> Self {
        Self(message.to_string())
    }
}

/// Appends `row`'s RowBinary to `out`; on error `out` may hold part of the row.
pub(super) fn write_row<R: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    row: &R,
) -> Result<(), RowBinaryError> {
    row.serialize(&mut Encoder(out))
}

fn varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn string(out: &mut Vec<u8>, s: &[u8]) {
    varint(out, s.len());
    out.extend_from_slice(s);
}

/// The serde serializer writing RowBinary into a buffer.
struct Encoder<'o>(&'o mut Vec<u8>);

fn unsupported(what: &str) -> RowBinaryError {
    RowBinaryError(format!("{what} has no RowBinary form"))
}

impl<'o> ser::Serializer for &mut Encoder<'o> {
    type Ok = ();
    type Error = RowBinaryError;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Impossible<(), RowBinaryError>;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Impossible<(), RowBinaryError>;

    fn serialize_bool(self, v: bool) -> Result<(), RowBinaryError> {
        self.0.push(u8::from(v));
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), RowBinaryError> {
        self.0.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_i16(self, v: i16) -> Result<(), RowBinaryError> {
        self.0.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_i32(self, v: i32) -> Result<(), RowBinaryError> {
        self.0.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_i64(self, v: i64) -> Result<(), RowBinaryError> {
        self.0.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> Result<(), RowBinaryError> {
        self.0.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<(), RowBinaryError> {
        self.0.push(v);
        Ok(())
    }
    fn serialize_u16(self, v: u16) -> Result<(), RowBinaryError> {
        self.0.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_u32(self, v: u32) -> Result<(), RowBinaryError> {
        self.0.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_u64(self, v: u64) -> Result<(), RowBinaryError> {
        self.0.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> Result<(), RowBinaryError> {
        self.0.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<(), RowBinaryError> {
        self.0.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_f64(self, v: f64) -> Result<(), RowBinaryError> {
        self.0.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), RowBinaryError> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<(), RowBinaryError> {
        string(self.0, v.as_bytes());
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), RowBinaryError> {
        string(self.0, v);
        Ok(())
    }
    fn serialize_none(self) -> Result<(), RowBinaryError> {
        self.0.push(1);
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), RowBinaryError> {
        self.0.push(0);
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), RowBinaryError> {
        Err(unsupported("()"))
    }
    fn serialize_unit_struct(self, name: &'static str) -> Result<(), RowBinaryError> {
        Err(unsupported(name))
    }
    fn serialize_unit_variant(
        self,
        name: &'static str,
        _index: u32,
        _variant: &'static str,
    ) -> Result<(), RowBinaryError> {
        Err(unsupported(name))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), RowBinaryError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<(), RowBinaryError> {
        Err(unsupported(name))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Self, RowBinaryError> {
        varint(
            self.0,
            len.ok_or_else(|| unsupported("a sequence of unknown length"))?,
        );
        Ok(self)
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self, RowBinaryError> {
        Ok(self)
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self, RowBinaryError> {
        Ok(self)
    }
    fn serialize_tuple_variant(
        self,
        name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, RowBinaryError> {
        Err(unsupported(name))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Self, RowBinaryError> {
        varint(
            self.0,
            len.ok_or_else(|| unsupported("a map of unknown length"))?,
        );
        Ok(self)
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self, RowBinaryError> {
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, RowBinaryError> {
        Err(unsupported(name))
    }
}

impl ser::SerializeSeq for &mut Encoder<'_> {
    type Ok = ();
    type Error = RowBinaryError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Self::Error> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), RowBinaryError> {
        Ok(())
    }
}

impl ser::SerializeTuple for &mut Encoder<'_> {
    type Ok = ();
    type Error = RowBinaryError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Self::Error> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), RowBinaryError> {
        Ok(())
    }
}

impl ser::SerializeTupleStruct for &mut Encoder<'_> {
    type Ok = ();
    type Error = RowBinaryError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Self::Error> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), RowBinaryError> {
        Ok(())
    }
}

impl ser::SerializeMap for &mut Encoder<'_> {
    type Ok = ();
    type Error = RowBinaryError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Self::Error> {
        key.serialize(&mut **self)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Self::Error> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), RowBinaryError> {
        Ok(())
    }
}

impl ser::SerializeStruct for &mut Encoder<'_> {
    type Ok = ();
    type Error = RowBinaryError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        _key: &'static str,
        value: &T,
    ) -> Result<(), Self::Error> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), RowBinaryError> {
        Ok(())
    }
}

/// Adds a row's trace to `traces`. A trace's rows mostly come one after the other, so `last`
/// (the previous row's trace) saves looking it up again.
pub(super) fn add_trace(
    traces: &mut Traces,
    last: &mut Option<(String, String)>,
    (tenant, trace): (&str, &str),
) {
    if last
        .as_ref()
        .is_some_and(|(t, id)| t == tenant && id == trace)
    {
        return;
    }
    let pair = (tenant.to_owned(), trace.to_owned());
    traces.insert(pair.clone());
    *last = Some(pair);
}

/// The head of a spooled payload: its traces' section, to write before its rows.
pub(super) fn payload_head(traces: &Traces) -> Vec<u8> {
    let mut head = vec![0; 4];
    for (tenant, trace) in traces {
        string(&mut head, tenant.as_bytes());
        string(&mut head, trace.as_bytes());
    }
    let length = u32::try_from(head.len() - 4).unwrap_or(u32::MAX);
    head[..4].copy_from_slice(&length.to_le_bytes());
    head
}

fn read_varint(data: &[u8], at: &mut usize) -> Option<usize> {
    let mut n = 0usize;
    for shift in (0..64).step_by(7) {
        let byte = *data.get(*at)?;
        *at += 1;
        n |= usize::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(n);
        }
    }
    None
}

fn read_string(data: &[u8], at: &mut usize) -> Option<String> {
    let len = read_varint(data, at)?;
    let bytes = data.get(*at..at.checked_add(len)?)?;
    *at += len;
    String::from_utf8(bytes.to_vec()).ok()
}

/// The traces and the rows of a spooled payload; `None` when it is damaged.
pub(super) fn payload(data: &[u8]) -> Option<(Traces, &[u8])> {
    let length = u32::from_le_bytes(data.get(..4)?.try_into().ok()?) as usize;
    let section = data.get(4..4usize.checked_add(length)?)?;
    let mut traces = Traces::new();
    let mut at = 0;
    while at < section.len() {
        let tenant = read_string(section, &mut at)?;
        traces.insert((tenant, read_string(section, &mut at)?));
    }
    Some((traces, &data[4 + length..]))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[derive(Serialize)]
    struct Row<'a> {
        number: i64,
        small: u8,
        text: &'a str,
        pairs: Vec<(&'a str, &'a str)>,
        map: BTreeMap<&'a str, u16>,
        nested: Vec<Vec<u32>>,
        missing: Option<&'a str>,
        present: Option<bool>,
    }

    #[test]
    fn a_row_is_its_fields_in_order() {
        let row = Row {
            number: -2,
            small: 7,
            text: "hé",
            pairs: vec![("k", "v")],
            map: BTreeMap::from([("a", 1)]),
            nested: vec![vec![], vec![5]],
            missing: None,
            present: Some(true),
        };
        let mut out = Vec::new();
        write_row(&mut out, &row).expect("writes");
        let mut expected = (-2i64).to_le_bytes().to_vec();
        expected.push(7);
        expected.extend_from_slice(b"\x03h\xc3\xa9");
        expected.extend_from_slice(b"\x01\x01k\x01v");
        expected.extend_from_slice(b"\x01\x01a\x01\x00");
        expected.extend_from_slice(b"\x02\x00\x01\x05\x00\x00\x00");
        expected.extend_from_slice(b"\x01\x00\x01");
        assert_eq!(out, expected);
    }

    #[test]
    fn long_strings_take_a_multi_byte_length() {
        let mut out = Vec::new();
        write_row(&mut out, &"x".repeat(300)).expect("writes");
        assert_eq!(&out[..2], &[0xac, 0x02]);
        let mut at = 0;
        assert_eq!(read_string(&out, &mut at).map(|s| s.len()), Some(300));
    }

    #[test]
    fn types_without_a_rowbinary_form_are_refused() {
        #[derive(Serialize)]
        enum Kind {
            A(u8),
        }
        let mut out = Vec::new();
        assert!(write_row(&mut out, &Kind::A(1)).is_err());
        assert!(write_row(&mut out, &()).is_err());
    }

    #[test]
    fn payload_names_each_trace_once_and_keeps_the_rows() {
        let rows = [("", "a"), ("", "a"), ("t", "b"), ("", "a")];
        let mut traces = Traces::new();
        let mut last = None;
        for trace in rows {
            add_trace(&mut traces, &mut last, trace);
        }
        assert_eq!(traces.len(), 2);
        let mut data = payload_head(&traces);
        data.extend_from_slice(b"rows");
        assert_eq!(payload(&data), Some((traces, &b"rows"[..])));
        assert_eq!(payload(&data[..6]), None);
        let empty = payload_head(&Traces::new());
        assert_eq!(empty, [0, 0, 0, 0]);
        assert_eq!(payload(&empty), Some((Traces::new(), &b""[..])));
    }
}
