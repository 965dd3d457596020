//! The final checks: what each store holds, span by span, against what the clients were told,
//! and whether any file (SQLite database, spool) is damaged.

use std::collections::HashMap;
use std::path::Path;

use clickhouse::Row;
use serde::Deserialize;

use crate::load::{Key, Record, SERVICE};

/// One store's verdict.
#[derive(Debug, Default)]
pub struct Counts {
    /// Spans that got a 200.
    pub acknowledged: u64,
    /// Distinct spans stored.
    pub stored: u64,
    /// Rows beyond the first for a span stored more than once.
    pub duplicated: u64,
    /// Acknowledged spans not stored.
    pub lost: u64,
    /// Stored spans that were sent but never acknowledged (their client gave up).
    pub unacknowledged: u64,
    /// Stored spans that were never sent.
    pub unknown: u64,
}

impl Counts {
    /// Compares `stored` (rows per span) with what the clients recorded.
    pub fn of(record: &Record, stored: &HashMap<Key, u64>) -> Self {
        let mut counts = Self {
            acknowledged: record.acknowledged.len() as u64,
            stored: stored.len() as u64,
            ..Self::default()
        };
        for (key, rows) in stored {
            counts.duplicated += rows.saturating_sub(1);
            if !record.acknowledged.contains(key) {
                if record.sent.contains(key) {
                    counts.unacknowledged += 1;
                } else {
                    counts.unknown += 1;
                }
            }
        }
        counts.lost = record
            .acknowledged
            .iter()
            .filter(|k| !stored.contains_key(k))
            .count() as u64;
        counts
    }

    /// Whether every acknowledged span is stored exactly once and nothing else is.
    pub fn exact(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.unacknowledged == 0 && self.unknown == 0
    }
}

fn key(trace: &str, span: &str) -> Option<Key> {
    Some((
        u128::from_str_radix(trace, 16).ok()?,
        u64::from_str_radix(span, 16).ok()?,
    ))
}

/// The soak's spans in a SQLite file, and the file's `PRAGMA integrity_check` verdict.
pub fn sqlite(path: &Path) -> Result<(HashMap<Key, u64>, String), String> {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .map_err(|e| format!("integrity_check: {e}"))?;
    let mut stmt = conn
        .prepare(
            "SELECT trace_id, span_id, count(*) FROM spans WHERE service_name = ?1 \
             GROUP BY trace_id, span_id",
        )
        .map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map([SERVICE], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
            ))
        })
        .map_err(|e| e.to_string())?;
    let mut stored = HashMap::new();
    for row in rows {
        let (trace, span, count) = row.map_err(|e| e.to_string())?;
        let key = key(&trace, &span).ok_or_else(|| format!("bad ids {trace} {span}"))?;
        stored.insert(key, u64::try_from(count).unwrap_or(0));
    }
    Ok((stored, integrity))
}

#[derive(Row, Deserialize)]
struct StoredSpan {
    trace_id: String,
    span_id: String,
    rows: u64,
}

/// The soak's spans in ClickHouse, every row counted (MergeTree keeps a row sent twice).
pub async fn clickhouse(client: &clickhouse::Client) -> Result<HashMap<Key, u64>, String> {
    let rows: Vec<StoredSpan> = client
        .query(
            "SELECT TraceId AS trace_id, SpanId AS span_id, count() AS rows FROM otel_traces \
             WHERE ServiceName = ? GROUP BY TraceId, SpanId",
        )
        .bind(SERVICE)
        .fetch_all()
        .await
        .map_err(|e| format!("ClickHouse: {e}"))?;
    let mut stored = HashMap::new();
    for row in rows {
        let key = key(&row.trace_id, &row.span_id)
            .ok_or_else(|| format!("bad ids {} {}", row.trace_id, row.span_id))?;
        stored.insert(key, row.rows);
    }
    Ok(stored)
}

/// What is left in a spool directory that should be empty: files waiting, damaged files moved
/// aside, temporary files. Empty when all is well.
pub fn spool_leftovers(dir: &Path) -> Vec<String> {
    let mut left = Vec::new();
    let list = |dir: &Path| -> Vec<String> {
        std::fs::read_dir(dir)
            .map(|items| {
                items
                    .filter_map(Result::ok)
                    .filter_map(|i| i.file_name().to_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    for name in list(dir) {
        if name == "id" || name == "rejected" {
            continue;
        }
        left.push(name);
    }
    for name in list(&dir.join("rejected")) {
        left.push(format!("rejected/{name}"));
    }
    left.sort();
    left
}
