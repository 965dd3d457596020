//! Live tail: spans and log records are announced here once they are durable, and the
//! `/api/live` and `/api/logs/live` WebSocket clients receive those of their tenant. The
//! channels are bounded: a slow client skips records, it never slows ingest, and nothing is
//! built while nobody watches.

use std::sync::Arc;

use serde::Serialize;
use tokio::sync::broadcast;

use crate::correlate::Source;
use crate::model::{LogRecord, SpanRecord};

/// Spans (or log records) a watcher may fall behind by before it skips.
const CAPACITY: usize = 4_096;

/// One stored span as the live tail shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveSpan {
    /// The tenant (stored form); a watcher gets only its own tenant's spans.
    #[serde(skip)]
    pub tenant: String,
    /// Trace id.
    pub trace_id: String,
    /// Span id.
    pub span_id: String,
    /// Parent span id, empty for a root.
    pub parent_span_id: String,
    /// Span name.
    pub name: String,
    /// Span kind.
    pub kind: &'static str,
    /// `service.name`.
    pub service_name: String,
    /// `browser` or `backend`.
    pub source: &'static str,
    /// Start, unix nanoseconds as a decimal string.
    pub start_time_unix_nano: String,
    /// Duration in nanoseconds.
    pub duration_ns: i64,
    /// Status code.
    pub status_code: &'static str,
}

impl From<&SpanRecord> for LiveSpan {
    fn from(s: &SpanRecord) -> Self {
        Self {
            tenant: s.tenant.clone(),
            trace_id: s.trace_id.clone(),
            span_id: s.span_id.clone(),
            parent_span_id: s.parent_span_id.clone(),
            name: s.name.clone(),
            kind: s.kind.as_str(),
            service_name: s.service_name.clone(),
            source: Source::of(s).as_str(),
            start_time_unix_nano: s.start_ns.to_string(),
            duration_ns: s.duration_ns,
            status_code: s.status_code.as_str(),
        }
    }
}

/// The broadcasts of stored spans and log records. Cheap to clone.
#[derive(Clone)]
pub struct LiveFeed {
    sender: broadcast::Sender<Arc<LiveSpan>>,
    logs: broadcast::Sender<Arc<LogRecord>>,
}

impl Default for LiveFeed {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(CAPACITY).0,
            logs: broadcast::channel(CAPACITY).0,
        }
    }
}

impl LiveFeed {
    /// True when at least one client watches.
    pub fn watched(&self) -> bool {
        self.sender.receiver_count() > 0
    }

    /// Announces spans to every watcher.
    pub fn publish(&self, spans: Vec<LiveSpan>) {
        for span in spans {
            // An error only means the last watcher left meanwhile.
            let _ = self.sender.send(Arc::new(span));
        }
    }

    /// A new watcher, receiving spans published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LiveSpan>> {
        self.sender.subscribe()
    }

    /// True when at least one client watches log records.
    pub fn logs_watched(&self) -> bool {
        self.logs.receiver_count() > 0
    }

    /// Announces log records to every watcher of them.
    pub fn publish_logs(&self, records: Vec<LogRecord>) {
        for record in records {
            // An error only means the last watcher left meanwhile.
            let _ = self.logs.send(Arc::new(record));
        }
    }

    /// A new watcher of log records, receiving those published from now on.
    pub fn subscribe_logs(&self) -> broadcast::Receiver<Arc<LogRecord>> {
        self.logs.subscribe()
    }
}
