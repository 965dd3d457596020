//! Paging through log records. Records come newest first; records of the same time are
//! ordered by trace id, span id, service and severity number (all descending), then by body.
//! A cursor holds the first five of the last record a page returned, and how many records
//! of that exact key the pages so far returned, so the next page starts right after it even
//! when many records share a time. Both stores order and page the same way.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::model::LogRecord;

/// The longest cursor accepted, in characters.
const MAX_CURSOR_CHARS: usize = 4_096;

/// Where a page of log records starts: after `skip` records of this key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogCursor {
    /// Unix nanoseconds.
    pub time_ns: i64,
    /// Trace id, or empty.
    pub trace_id: String,
    /// Span id, or empty.
    pub span_id: String,
    /// `service.name`.
    pub service_name: String,
    /// Severity number.
    pub severity_number: i64,
    /// Records with exactly this key that earlier pages returned.
    pub skip: u64,
}

/// A cursor that is not one this collector handed out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cursor is not one that GET /api/logs returned; pass next_cursor as it was given")]
pub struct CursorError;

impl LogCursor {
    fn at(record: &LogRecord, skip: u64) -> Self {
        Self {
            time_ns: record.timestamp_ns,
            trace_id: record.trace_id.clone(),
            span_id: record.span_id.clone(),
            service_name: record.service_name.clone(),
            severity_number: i64::from(record.severity_number),
            skip,
        }
    }

    fn holds(&self, record: &LogRecord) -> bool {
        self.time_ns == record.timestamp_ns
            && self.trace_id == record.trace_id
            && self.span_id == record.span_id
            && self.service_name == record.service_name
            && self.severity_number == i64::from(record.severity_number)
    }

    /// The opaque text form handed to clients.
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(&(
            self.time_ns,
            &self.trace_id,
            &self.span_id,
            &self.service_name,
            self.severity_number,
            self.skip,
        ))
        .unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    /// Reads a cursor from [`LogCursor::encode`]'s text.
    pub fn decode(text: &str) -> Result<Self, CursorError> {
        if text.len() > MAX_CURSOR_CHARS {
            return Err(CursorError);
        }
        let json = URL_SAFE_NO_PAD.decode(text).map_err(|_| CursorError)?;
        let (time_ns, trace_id, span_id, service_name, severity_number, skip) =
            serde_json::from_slice(&json).map_err(|_| CursorError)?;
        Ok(Self {
            time_ns,
            trace_id,
            span_id,
            service_name,
            severity_number,
            skip,
        })
    }
}

/// One page of log records and where the next one starts, if any follow.
#[derive(Debug, Clone, PartialEq)]
pub struct LogPage {
    /// The records, newest first.
    pub records: Vec<LogRecord>,
    /// The next page's cursor; `None` on the last page.
    pub next: Option<LogCursor>,
}

/// Cuts the records a store returned for a page of `limit` (it asks for one more, to learn
/// whether more follow) to the page, with the cursor of the next page when there is one.
/// `after` is the cursor the page was asked with.
pub fn page(mut records: Vec<LogRecord>, limit: usize, after: Option<&LogCursor>) -> LogPage {
    let more = records.len() > limit;
    records.truncate(limit);
    let last = match records.last() {
        Some(last) if more => last,
        _ => {
            return LogPage {
                records,
                next: None,
            };
        }
    };
    let same = records.iter().rev().take_while(|r| key_eq(r, last)).count() as u64;
    // When the whole page continues the cursor's group, the records before it count too.
    let skip = match after {
        Some(cursor) if cursor.holds(last) => cursor.skip + same,
        _ => same,
    };
    let next = Some(LogCursor::at(last, skip));
    LogPage { records, next }
}

fn key_eq(a: &LogRecord, b: &LogRecord) -> bool {
    a.timestamp_ns == b.timestamp_ns
        && a.trace_id == b.trace_id
        && a.span_id == b.span_id
        && a.service_name == b.service_name
        && a.severity_number == b.severity_number
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Attributes;

    fn record(time_ns: i64, body: &str) -> LogRecord {
        LogRecord {
            tenant: String::new(),
            timestamp_ns: time_ns,
            observed_ns: 0,
            trace_id: String::new(),
            span_id: String::new(),
            trace_flags: 0,
            severity_text: String::new(),
            severity_number: 9,
            service_name: "api".into(),
            body: body.into(),
            scope_name: String::new(),
            scope_version: String::new(),
            resource_attributes: Attributes::new(),
            log_attributes: Attributes::new(),
            event_name: String::new(),
        }
    }

    #[test]
    fn cursors_survive_their_text_form_and_refuse_others() {
        let cursor = LogCursor::at(&record(7, "x"), 3);
        assert_eq!(LogCursor::decode(&cursor.encode()), Ok(cursor));
        for bad in ["", "not base64!", "WzFd", &"A".repeat(5000)] {
            assert_eq!(LogCursor::decode(bad), Err(CursorError), "{bad}");
        }
    }

    #[test]
    fn a_full_page_points_past_its_last_record_and_counts_its_ties() {
        let rows = vec![
            record(9, "a"),
            record(8, "b"),
            record(8, "c"),
            record(7, "d"),
        ];
        let first = page(rows.clone(), 3, None);
        assert_eq!(first.records.len(), 3);
        let next = first.next.expect("more follow");
        assert_eq!((next.time_ns, next.skip), (8, 2));
        assert_eq!(
            page(rows[..3].to_vec(), 3, None).next,
            None,
            "nothing follows"
        );
    }

    #[test]
    fn a_page_inside_one_group_adds_to_the_cursor_skip() {
        let tied: Vec<LogRecord> = (0..5).map(|i| record(8, &i.to_string())).collect();
        let first = LogCursor::at(&tied[0], 2);
        let next = page(tied[2..].to_vec(), 2, Some(&first)).next;
        assert_eq!(next.expect("more").skip, 4);
    }
}
