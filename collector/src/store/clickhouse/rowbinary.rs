//! Records straight to ClickHouse's RowBinary, the bytes an `INSERT ... FORMAT RowBinary`
//! carries, so that the spool holds what the shipper sends and nothing is decoded or encoded
//! again on the way to ClickHouse. Columns are [`SPAN_COLUMNS`] and [`LOG_COLUMNS`], in the
//! order of [`SpanRow`] and [`LogRow`] (whose serde encoding reads rows back).
//!
//! A spooled payload of spans starts with the distinct `(tenant, trace id)` pairs of its rows,
//! for the correlation step, so the shipper never parses rows: a `u32` little-endian byte length,
//! then each pair as two RowBinary strings; then the rows. A payload of logs is rows only.

use std::collections::BTreeSet;

use super::encode::{LogRow, SPAN_COLUMNS, SpanRow};
use crate::model::{Attributes, LogRecord, SpanRecord};

/// The [`LogRow`] columns in field order, for INSERT column lists.
pub(super) const LOG_COLUMNS: &str = "Timestamp, TraceId, SpanId, TraceFlags, SeverityText, \
    SeverityNumber, ServiceName, Body, ResourceAttributes, ScopeName, ScopeVersion, LogAttributes, \
    EventName, ObservedTimestamp, Tenant";

/// The `INSERT` statement for RowBinary rows of spans.
pub(super) fn insert_spans_sql(table: &str) -> String {
    format!("INSERT INTO {table} ({SPAN_COLUMNS}) FORMAT RowBinary")
}

/// The `INSERT` statement for RowBinary rows of log records.
pub(super) fn insert_logs_sql(table: &str) -> String {
    format!("INSERT INTO {table} ({LOG_COLUMNS}) FORMAT RowBinary")
}

/// The `(tenant, trace id)` pairs of a spooled payload of spans.
pub(super) type Traces = BTreeSet<(String, String)>;

fn varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn string(out: &mut Vec<u8>, s: &str) {
    varint(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

fn map(out: &mut Vec<u8>, map: &Attributes) {
    varint(out, map.len());
    for (k, v) in map {
        string(out, k);
        string(out, v);
    }
}

fn strings<'a>(out: &mut Vec<u8>, items: impl ExactSizeIterator<Item = &'a str>) {
    varint(out, items.len());
    for s in items {
        string(out, s);
    }
}

/// Appends one `otel_traces` row, as [`SpanRow::from`] would send it.
pub(super) fn span(out: &mut Vec<u8>, s: &SpanRecord) {
    out.extend_from_slice(&s.start_ns.to_le_bytes());
    for text in [
        &s.trace_id,
        &s.span_id,
        &s.parent_span_id,
        &s.trace_state,
        &s.name,
    ] {
        string(out, text);
    }
    string(out, s.kind.as_str());
    string(out, &s.service_name);
    map(out, &s.resource_attributes);
    string(out, &s.scope_name);
    string(out, &s.scope_version);
    map(out, &s.span_attributes);
    out.extend_from_slice(&s.duration_ns.max(0).unsigned_abs().to_le_bytes());
    string(out, s.status_code.as_str());
    string(out, &s.status_message);
    varint(out, s.events.len());
    for e in &s.events {
        out.extend_from_slice(&e.time_ns.to_le_bytes());
    }
    strings(out, s.events.iter().map(|e| e.name.as_str()));
    varint(out, s.events.len());
    for e in &s.events {
        map(out, &e.attributes);
    }
    strings(out, s.links.iter().map(|l| l.trace_id.as_str()));
    strings(out, s.links.iter().map(|l| l.span_id.as_str()));
    strings(out, s.links.iter().map(|l| l.trace_state.as_str()));
    varint(out, s.links.len());
    for l in &s.links {
        map(out, &l.attributes);
    }
    string(out, &s.tenant);
}

/// Appends one `otel_logs` row, as [`LogRow::from`] would send it.
pub(super) fn log(out: &mut Vec<u8>, l: &LogRecord) {
    out.extend_from_slice(&l.timestamp_ns.to_le_bytes());
    string(out, &l.trace_id);
    string(out, &l.span_id);
    // W3C trace flags are one byte; the upper bits of OTLP's field are reserved.
    out.push((l.trace_flags & 0xff) as u8);
    string(out, &l.severity_text);
    out.push(u8::try_from(l.severity_number.clamp(0, 255)).unwrap_or(0));
    string(out, &l.service_name);
    string(out, &l.body);
    map(out, &l.resource_attributes);
    string(out, &l.scope_name);
    string(out, &l.scope_version);
    map(out, &l.log_attributes);
    string(out, &l.event_name);
    out.extend_from_slice(&l.observed_ns.to_le_bytes());
    string(out, &l.tenant);
}

/// Adds the traces of `spans` to `traces`.
pub(super) fn add_traces<'a>(traces: &mut Traces, spans: impl IntoIterator<Item = &'a SpanRecord>) {
    // A trace's spans mostly come one after the other: copy its id once.
    let mut last = None;
    for s in spans {
        let key = (s.tenant.as_str(), s.trace_id.as_str());
        if last != Some(key) {
            traces.insert((s.tenant.clone(), s.trace_id.clone()));
            last = Some(key);
        }
    }
}

/// A spooled payload of spans: their traces, then their `rows` (made with [`span`]).
pub(super) fn spans_payload(traces: &Traces, rows: &[u8]) -> Vec<u8> {
    let mut section = Vec::new();
    for (tenant, trace) in traces {
        string(&mut section, tenant);
        string(&mut section, trace);
    }
    let mut out = Vec::with_capacity(4 + section.len() + rows.len());
    out.extend_from_slice(
        &u32::try_from(section.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    out.extend_from_slice(&section);
    out.extend_from_slice(rows);
    out
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

/// The traces and the rows of a spooled payload of spans; `None` when it is damaged.
pub(super) fn split_spans_payload(payload: &[u8]) -> Option<(Traces, &[u8])> {
    let length = u32::from_le_bytes(payload.get(..4)?.try_into().ok()?) as usize;
    let section = payload.get(4..4usize.checked_add(length)?)?;
    let mut traces = Traces::new();
    let mut at = 0;
    while at < section.len() {
        let tenant = read_string(section, &mut at)?;
        traces.insert((tenant, read_string(section, &mut at)?));
    }
    Some((traces, &payload[4 + length..]))
}

/// A payload of JSON lines (spool files written before RowBinary) as a RowBinary payload;
/// `None` when a line does not parse.
pub(super) fn from_json_lines(spans: bool, lines: &[u8]) -> Option<Vec<u8>> {
    let lines = lines.split(|b| *b == b'\n').filter(|l| !l.is_empty());
    let mut rows = Vec::new();
    if spans {
        let mut traces = Traces::new();
        for line in lines {
            let record = SpanRecord::from(serde_json::from_slice::<SpanRow>(line).ok()?);
            span(&mut rows, &record);
            add_traces(&mut traces, [&record]);
        }
        Some(spans_payload(&traces, &rows))
    } else {
        for line in lines {
            log(
                &mut rows,
                &LogRecord::from(serde_json::from_slice::<LogRow>(line).ok()?),
            );
        }
        Some(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{SpanEvent, SpanLink};
    use crate::testing::span as record;

    #[test]
    fn span_row_is_laid_out_column_by_column() {
        let mut s = record(1, 2, None, "api", "GET /x", 5, 7);
        s.resource_attributes = Attributes::from([("k".to_owned(), "v".to_owned())]);
        s.events.push(SpanEvent {
            time_ns: 6,
            name: "e".into(),
            attributes: Attributes::new(),
        });
        let mut out = Vec::new();
        span(&mut out, &s);
        let mut expected = 5i64.to_le_bytes().to_vec();
        for text in [&s.trace_id, &s.span_id, "", "", "GET /x", "Server", "api"] {
            expected.push(text.len() as u8);
            expected.extend_from_slice(text.as_bytes());
        }
        expected.extend_from_slice(b"\x01\x01k\x01v"); // one resource attribute
        expected.extend_from_slice(b"\x00\x00\x00"); // scope name, version, no span attributes
        expected.extend_from_slice(&7u64.to_le_bytes());
        expected.extend_from_slice(b"\x05Unset\x00");
        expected.push(1);
        expected.extend_from_slice(&6i64.to_le_bytes());
        expected.extend_from_slice(b"\x01\x01e\x01\x00"); // event names, one empty map
        expected.extend_from_slice(b"\x00\x00\x00\x00\x00"); // no links, empty tenant
        assert_eq!(out, expected);
    }

    #[test]
    fn long_strings_take_a_multi_byte_length() {
        let mut out = Vec::new();
        string(&mut out, &"x".repeat(300));
        assert_eq!(&out[..2], &[0xac, 0x02]);
        let mut at = 0;
        assert_eq!(read_string(&out, &mut at).map(|s| s.len()), Some(300));
    }

    #[test]
    fn spans_payload_names_each_trace_once_and_keeps_the_rows() {
        let a = record(1, 1, None, "api", "a", 1, 1);
        let b = record(1, 2, Some(1), "api", "b", 2, 1);
        let mut c = record(3, 3, None, "api", "c", 3, 1);
        c.links.push(SpanLink {
            trace_id: a.trace_id.clone(),
            span_id: a.span_id.clone(),
            trace_state: String::new(),
            attributes: Attributes::new(),
        });
        let spans = [a, b, c];
        let mut traces = Traces::new();
        let mut each = Vec::new();
        for s in &spans {
            span(&mut each, s);
            add_traces(&mut traces, [s]);
        }
        let payload = spans_payload(&traces, &each);
        let (traces, rows) = split_spans_payload(&payload).expect("intact");
        let expected: Traces = [&spans[0], &spans[2]]
            .iter()
            .map(|s| (String::new(), s.trace_id.clone()))
            .collect();
        assert_eq!(traces, expected);
        assert_eq!(rows, &each[..]);
        assert!(split_spans_payload(&payload[..6]).is_none());
    }

    #[test]
    fn json_lines_of_older_spools_become_the_same_rows() {
        let s = record(1, 2, None, "api", "GET /x", 5, 7);
        let mut lines = serde_json::to_vec(&SpanRow::from(&s)).expect("serialises");
        lines.push(b'\n');
        let mut row = Vec::new();
        span(&mut row, &s);
        let traces = Traces::from([(String::new(), s.trace_id.clone())]);
        assert_eq!(
            from_json_lines(true, &lines),
            Some(spans_payload(&traces, &row))
        );
        assert_eq!(from_json_lines(true, b"{not json}\n"), None);
    }
}
