//! ClickHouse's RowBinary, the bytes an `INSERT ... FORMAT RowBinary` carries, written from any
//! row type's serde encoding ([`write_row`], [`ser`]) and read back by the same type
//! ([`read_row`], [`de`]): so a signal's row type ([`super::encode`]) decides its encoding, the
//! spool holds what the shipper sends, nothing is encoded again on the way to ClickHouse, and
//! what reads spooled rows back (deleting a user's rows) cannot drift from what wrote them. Integers and floats are little-endian, strings and arrays (serde sequences,
//! maps) carry a LEB128 length, `Option` is `Nullable` (a null byte first), structs and tuples
//! are their fields in order; a `Map` column is written from a sequence of pairs or a serde map.
//!
//! A spooled payload ([`payload`]) starts with the distinct `(tenant, trace id)` pairs of its
//! rows, for the correlation step, so the shipper never parses rows: a `u32` little-endian byte
//! length, then each pair as two RowBinary strings; then the rows. Signals whose rows belong to
//! no trace have an empty list.

use std::collections::BTreeSet;

mod de;
mod ser;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The `(tenant, trace id)` pairs of a spooled payload.
pub(super) type Traces = BTreeSet<(String, String)>;

/// A row that RowBinary cannot carry (a type without a RowBinary form, or a sequence of
/// unknown length): a mistake in a row type, never in the data.
#[derive(Debug, thiserror::Error)]
#[error("cannot write a row as RowBinary: {0}")]
pub struct RowBinaryError(String);

impl serde::ser::Error for RowBinaryError {
    fn custom<T: std::fmt::Display>(message: T) -> Self {
        Self(message.to_string())
    }
}

/// RowBinary that does not read back as the row type asked for: damaged data.
#[derive(Debug, thiserror::Error)]
#[error("a row does not read back: {0}")]
pub(super) struct Unreadable(String);

impl serde::de::Error for Unreadable {
    fn custom<T: std::fmt::Display>(message: T) -> Self {
        Self(message.to_string())
    }
}

/// Appends `row`'s RowBinary to `out`; on error `out` may hold part of the row.
pub(super) fn write_row<R: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    row: &R,
) -> Result<(), RowBinaryError> {
    row.serialize(&mut ser::Encoder(out))
}

/// Reads the row that starts at `*at` in `data` and moves `*at` past it.
pub(super) fn read_row<R: DeserializeOwned>(data: &[u8], at: &mut usize) -> Result<R, Unreadable> {
    let mut decoder = de::Decoder { data, at: *at };
    let row = R::deserialize(&mut decoder)?;
    *at = decoder.at;
    Ok(row)
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

    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    struct Row {
        number: i64,
        small: u8,
        text: String,
        pairs: Vec<(String, String)>,
        map: BTreeMap<String, u16>,
        nested: Vec<Vec<u32>>,
        missing: Option<String>,
        present: Option<bool>,
    }

    fn row() -> Row {
        Row {
            number: -2,
            small: 7,
            text: "hé".into(),
            pairs: vec![("k".into(), "v".into())],
            map: BTreeMap::from([("a".into(), 1)]),
            nested: vec![vec![], vec![5]],
            missing: None,
            present: Some(true),
        }
    }

    #[test]
    fn a_row_is_its_fields_in_order() {
        let row = row();
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
    fn rows_read_back_as_written_one_after_another() {
        let mut second = row();
        second.text = "y".repeat(200);
        second.missing = Some(String::new());
        second.present = None;
        let mut out = Vec::new();
        write_row(&mut out, &row()).expect("writes");
        let end_of_first = out.len();
        write_row(&mut out, &second).expect("writes");
        let mut at = 0;
        assert_eq!(read_row::<Row>(&out, &mut at).expect("reads"), row());
        assert_eq!(at, end_of_first);
        assert_eq!(read_row::<Row>(&out, &mut at).expect("reads"), second);
        assert_eq!(at, out.len());
    }

    #[test]
    fn damaged_rows_do_not_read_back() {
        let mut out = Vec::new();
        write_row(&mut out, &row()).expect("writes");
        for end in 0..out.len() {
            let mut at = 0;
            assert!(
                read_row::<Row>(&out[..end], &mut at).is_err(),
                "cut at {end}"
            );
            assert_eq!(at, 0, "a failed read does not move on");
        }
        let text_at = 9;
        for (at, byte) in [
            (text_at, 0xff),     // a length past the end
            (text_at + 1, 0xff), // not UTF-8
            (out.len() - 2, 2),  // a Nullable marker that is neither 0 nor 1
            (out.len() - 1, 2),  // a Bool that is neither
        ] {
            let mut damaged = out.clone();
            damaged[at] = byte;
            assert!(read_row::<Row>(&damaged, &mut 0).is_err(), "byte {at}");
        }
        assert!(
            read_row::<serde_json::Value>(&out, &mut 0).is_err(),
            "not self-describing"
        );
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
