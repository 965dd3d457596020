//! What a log search asks for: the record filter ([`LogFilter`], shared by the list, the
//! histogram and the live tail), severity levels ([`Level`]) and the queries the stores answer.

use super::TextQuery;
use super::cursor::LogCursor;
use crate::model::LogRecord;

/// A severity level: a named range of OpenTelemetry severity numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Severity number 0 (or below): not given.
    Unspecified,
    /// 1 to 4.
    Trace,
    /// 5 to 8.
    Debug,
    /// 9 to 12.
    Info,
    /// 13 to 16.
    Warn,
    /// 17 to 20.
    Error,
    /// 21 to 24 (and above).
    Fatal,
}

impl Level {
    /// Every level, least severe first.
    pub const ALL: [Self; 7] = [
        Self::Unspecified,
        Self::Trace,
        Self::Debug,
        Self::Info,
        Self::Warn,
        Self::Error,
        Self::Fatal,
    ];

    /// The level of a severity number.
    pub fn of(severity_number: i64) -> Self {
        match severity_number {
            i64::MIN..=0 => Self::Unspecified,
            1..=4 => Self::Trace,
            5..=8 => Self::Debug,
            9..=12 => Self::Info,
            13..=16 => Self::Warn,
            17..=20 => Self::Error,
            _ => Self::Fatal,
        }
    }

    /// The severity numbers of the level, both ends included.
    pub fn numbers(self) -> (i64, i64) {
        match self {
            Self::Unspecified => (i64::from(i32::MIN), 0),
            Self::Trace => (1, 4),
            Self::Debug => (5, 8),
            Self::Info => (9, 12),
            Self::Warn => (13, 16),
            Self::Error => (17, 20),
            Self::Fatal => (21, i64::from(i32::MAX)),
        }
    }

    /// The level's name in the query API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::Trace => "trace",
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
            Self::Fatal => "fatal",
        }
    }

    /// Parses a level's name, in any case.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(name))
    }
}

/// Which log records a search selects, whatever their time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    /// Text the body must match.
    pub text: Option<TextQuery>,
    /// `service.name` is one of these (any service when empty).
    pub services: Vec<String>,
    /// The severity is one of these levels (any when empty).
    pub levels: Vec<Level>,
    /// The record's trace id (lowercase hex).
    pub trace_id: Option<String>,
    /// The record's span id (lowercase hex).
    pub span_id: Option<String>,
    /// Log attributes that must have these values (`session.id` and `user.id` among them).
    pub attributes: Vec<(String, String)>,
}

impl LogFilter {
    /// Whether `record` passes every filter: the rule each store's query follows.
    pub fn matches(&self, record: &LogRecord) -> bool {
        (self.services.is_empty() || self.services.contains(&record.service_name))
            && (self.levels.is_empty()
                || self
                    .levels
                    .contains(&Level::of(i64::from(record.severity_number))))
            && self.trace_id.as_ref().is_none_or(|t| *t == record.trace_id)
            && self.span_id.as_ref().is_none_or(|s| *s == record.span_id)
            && self
                .attributes
                .iter()
                .all(|(k, v)| record.log_attributes.get(k) == Some(v))
            && self.text.as_ref().is_none_or(|q| q.matches(&record.body))
    }

    /// The severity-number ranges the levels select, merged where they touch, in order.
    pub fn severity_ranges(&self) -> Vec<(i64, i64)> {
        let mut levels = self.levels.clone();
        levels.sort();
        levels.dedup();
        let mut ranges: Vec<(i64, i64)> = Vec::new();
        for (lo, hi) in levels.into_iter().map(Level::numbers) {
            match ranges.last_mut() {
                Some(last) if last.1 + 1 == lo => last.1 = hi,
                _ => ranges.push((lo, hi)),
            }
        }
        ranges
    }
}

/// A page of log search: the filter, a time window, and where the page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogQuery {
    /// Which records.
    pub filter: LogFilter,
    /// Records at or after this time, unix nanoseconds.
    pub start_ns: Option<i64>,
    /// Records before this time, unix nanoseconds.
    pub end_ns: Option<i64>,
    /// Records in the page at most.
    pub limit: usize,
    /// The page starts after the record this cursor points at.
    pub after: Option<LogCursor>,
}

/// Matching records counted per step and severity level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogCountQuery {
    /// Which records.
    pub filter: LogFilter,
    /// The first step starts here, unix nanoseconds.
    pub start_ns: i64,
    /// The window ends before this time.
    pub end_ns: i64,
    /// Step length in nanoseconds, positive.
    pub step_ns: i64,
}

/// How many matching records one step holds of one severity number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogCount {
    /// The step, counted from the window's start.
    pub step: i64,
    /// The records' severity number.
    pub severity_number: i64,
    /// How many.
    pub count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Attributes;

    #[test]
    fn levels_cover_every_severity_number_once() {
        for n in -3..30 {
            let level = Level::of(n);
            let (lo, hi) = level.numbers();
            assert!(lo <= n && n <= hi, "{n} in {level:?}");
        }
        assert_eq!(Level::from_name("WARN"), Some(Level::Warn));
        assert_eq!(Level::from_name("warning"), None);
    }

    #[test]
    fn touching_levels_merge_into_one_range() {
        let filter = LogFilter {
            levels: vec![Level::Fatal, Level::Warn, Level::Error, Level::Debug],
            ..LogFilter::default()
        };
        assert_eq!(
            filter.severity_ranges(),
            [(5, 8), (13, i64::from(i32::MAX))]
        );
    }

    #[test]
    fn a_record_passes_only_every_filter() {
        let record = LogRecord {
            tenant: String::new(),
            timestamp_ns: 5,
            observed_ns: 5,
            trace_id: "ab".repeat(16),
            span_id: String::new(),
            trace_flags: 0,
            severity_text: "ERROR".into(),
            severity_number: 17,
            service_name: "api".into(),
            body: "agent timeout".into(),
            scope_name: String::new(),
            scope_version: String::new(),
            resource_attributes: Attributes::new(),
            log_attributes: Attributes::from([("session.id".into(), "s1".into())]),
            event_name: String::new(),
        };
        let text = TextQuery::parse("timeout").expect("valid");
        let all = LogFilter {
            text: text.clone(),
            services: vec!["web".into(), "api".into()],
            levels: vec![Level::Error],
            trace_id: Some("ab".repeat(16)),
            span_id: None,
            attributes: vec![("session.id".into(), "s1".into())],
        };
        assert!(all.matches(&record));
        for broken in [
            LogFilter {
                services: vec!["web".into()],
                ..all.clone()
            },
            LogFilter {
                levels: vec![Level::Warn],
                ..all.clone()
            },
            LogFilter {
                span_id: Some("cd".repeat(8)),
                ..all.clone()
            },
            LogFilter {
                attributes: vec![("session.id".into(), "s2".into())],
                ..all.clone()
            },
            LogFilter {
                text: TextQuery::parse("-timeout").expect("valid"),
                ..all.clone()
            },
        ] {
            assert!(!broken.matches(&record), "{broken:?}");
        }
    }
}
