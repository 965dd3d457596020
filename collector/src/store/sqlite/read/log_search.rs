//! Log search on SQLite: the filters as SQL, and the `q` text through the FTS5 index
//! (`logs_fts`) or, where reading newest records first finds a page sooner, through
//! `tw_match(body, q)`, the reference matcher ([`TextQuery::matches`]) as an SQL function.
//!
//! A page asks for the newest matching records. It reads the newest [`PROBE_ROWS`] records of
//! the window one by one first: for a common word they hold the page. Otherwise the share of
//! matches among them says what the rest costs less with: reading on (up to [`SCAN_ROWS`]
//! records) or the index, which finds every older match for sorting by time. Until the
//! background build of the index is done ([`super::super::fts`]), every read matches row by
//! row, so answers are complete meanwhile. Every value is bound as a parameter.

use rusqlite::functions::FunctionFlags;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension};
use tracewire_semconv::attribute::SESSION_ID;

use super::super::encode::{LOG_COLUMNS, select_logs};
use super::super::error::SqliteError;
use super::super::fts::unindexed_below;
use crate::logsearch::{LogCount, LogCountQuery, LogCursor, LogFilter, LogQuery, TextQuery};
use crate::model::LogRecord;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Newest records a page reads one by one first: when they hold the page (a common word), the
/// index is not needed (fewer in tests, so that small stores take every path).
#[cfg(not(test))]
const PROBE_ROWS: i64 = 500;
#[cfg(test)]
const PROBE_ROWS: i64 = 20;
/// Newest records a page reads one by one at most, when the probe says that costs less than
/// the index.
#[cfg(not(test))]
const SCAN_ROWS: i64 = 20_000;
#[cfg(test)]
const SCAN_ROWS: i64 = 60;

/// The SQL function matching a body against a canonical `q` ([`TextQuery`]'s `Display`).
const MATCH_FUNCTION: &str = "tw_match";

/// Records of the same time come in the order of [`crate::logsearch::cursor`].
const ORDER: &str = "ORDER BY logs.timestamp_ns DESC, logs.trace_id DESC, logs.span_id DESC, \
    logs.service_name DESC, logs.severity_number DESC, logs.body DESC";

/// Adds `tw_match(body, q)` to a reader connection: whether `body` matches `q`. The parsed
/// query is kept for the statement, so each row only tokenizes its body.
pub(in super::super) fn register(conn: &Connection) -> Result<(), SqliteError> {
    conn.create_scalar_function(
        MATCH_FUNCTION,
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let query = ctx.get_or_create_aux(1, |q| -> Result<_, BoxError> {
                Ok(TextQuery::parse(q.as_str()?)?)
            })?;
            let body = ctx.get_raw(0).as_str().unwrap_or("");
            Ok(query.as_ref().as_ref().is_none_or(|q| q.matches(body)))
        },
    )?;
    Ok(())
}

/// A statement under construction: its clauses and the values of their `?`s, in order.
#[derive(Default)]
struct Sql {
    clauses: Vec<String>,
    values: Vec<Value>,
}

impl Sql {
    fn and(&mut self, clause: impl Into<String>, values: impl IntoIterator<Item = Value>) {
        self.clauses.push(clause.into());
        self.values.extend(values);
    }

    fn text(value: &str) -> Value {
        Value::Text(value.to_owned())
    }

    fn int(value: i64) -> Value {
        Value::Integer(value)
    }

    /// The tenant, the window and every filter but the text.
    fn filtered(tenant: &str, filter: &LogFilter, start_ns: i64, end_ns: i64) -> Self {
        let mut sql = Self::default();
        sql.and("logs.tenant = ?", [Self::text(tenant)]);
        sql.and(
            "logs.timestamp_ns >= ? AND logs.timestamp_ns < ?",
            [Self::int(start_ns), Self::int(end_ns)],
        );
        if !filter.services.is_empty() {
            let marks = vec!["?"; filter.services.len()].join(", ");
            sql.and(
                format!("logs.service_name IN ({marks})"),
                filter.services.iter().map(|s| Self::text(s)),
            );
        }
        let ranges = filter.severity_ranges();
        if !ranges.is_empty() {
            let any = vec!["logs.severity_number BETWEEN ? AND ?"; ranges.len()].join(" OR ");
            sql.and(
                format!("({any})"),
                ranges
                    .iter()
                    .flat_map(|&(lo, hi)| [Self::int(lo), Self::int(hi)]),
            );
        }
        if let Some(trace_id) = &filter.trace_id {
            // The trace index holds only records with a trace.
            sql.and(
                "logs.trace_id = ? AND logs.trace_id != ''",
                [Self::text(trace_id)],
            );
        }
        if let Some(span_id) = &filter.span_id {
            sql.and("logs.span_id = ?", [Self::text(span_id)]);
        }
        for (key, value) in &filter.attributes {
            if key == SESSION_ID {
                // Written as the session index is, so that it serves.
                sql.and(
                    format!("json_extract(logs.log_attributes, '$.\"{SESSION_ID}\"') = ?"),
                    [Self::text(value)],
                );
            } else {
                sql.and(
                    "json_extract(logs.log_attributes, ?) = ?",
                    [Self::text(&format!("$.\"{key}\"")), Self::text(value)],
                );
            }
        }
        sql
    }

    /// Records at or before the cursor's key.
    fn after(&mut self, cursor: &LogCursor) {
        self.and(
            "logs.timestamp_ns <= ? AND (logs.timestamp_ns, logs.trace_id, logs.span_id, \
             logs.service_name, logs.severity_number) <= (?, ?, ?, ?, ?)",
            [
                Self::int(cursor.time_ns),
                Self::int(cursor.time_ns),
                Self::text(&cursor.trace_id),
                Self::text(&cursor.span_id),
                Self::text(&cursor.service_name),
                Self::int(cursor.severity_number),
            ],
        );
    }

    fn matched_one_by_one(&mut self, text: &TextQuery) {
        self.and(
            format!("{MATCH_FUNCTION}(logs.body, ?)"),
            [Self::text(&text.to_string())],
        );
    }

    fn where_clause(&self) -> String {
        self.clauses.join(" AND ")
    }
}

/// The FTS5 expression of the required terms (`None` when there are none) and of the
/// excluded ones, which follow as `NOT`.
fn fts_expression(text: &TextQuery) -> Option<String> {
    let phrase = |t: &crate::logsearch::Term| {
        format!(
            "\"{}\"{}",
            t.tokens.join(" ").replace('"', "\"\""),
            if t.prefix { "*" } else { "" }
        )
    };
    let required: Vec<String> = text.required().map(phrase).collect();
    if required.is_empty() {
        return None;
    }
    let mut expression = format!("({})", required.join(" AND "));
    for term in text.excluded() {
        expression.push_str(" NOT ");
        expression.push_str(&phrase(term));
    }
    Some(expression)
}

/// The FTS5 expression matching any excluded term, for queries that only exclude.
fn fts_any_excluded(text: &TextQuery) -> String {
    text.excluded()
        .map(|t| {
            format!(
                "\"{}\"{}",
                t.tokens.join(" ").replace('"', "\"\""),
                if t.prefix { "*" } else { "" }
            )
        })
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// The select list, each column of `logs`.
fn columns() -> String {
    LOG_COLUMNS
        .split(", ")
        .map(|c| format!("logs.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs one page query: `sql`'s filters over `logs` (joined to the index's matches of
/// `indexed`, when given), newest first, `limit` after skipping `offset`.
fn page_query(
    conn: &Connection,
    mut sql: Sql,
    indexed: Option<&str>,
    limit: usize,
    offset: u64,
) -> Result<Vec<LogRecord>, SqliteError> {
    let mut values = Vec::with_capacity(sql.values.len() + 3);
    let from = match indexed {
        Some(expression) => {
            values.push(Sql::text(expression));
            "logs_fts CROSS JOIN logs ON logs.rowid = logs_fts.rowid"
        }
        None => "logs",
    };
    let fts = if indexed.is_some() {
        "logs_fts MATCH ? AND "
    } else {
        ""
    };
    values.append(&mut sql.values);
    values.push(Sql::int(i64::try_from(limit).unwrap_or(i64::MAX)));
    values.push(Sql::int(i64::try_from(offset).unwrap_or(i64::MAX)));
    let statement = format!(
        "SELECT {} FROM {from} WHERE {fts}{} {ORDER} LIMIT ? OFFSET ?",
        columns(),
        sql.where_clause()
    );
    let refs: Vec<&dyn rusqlite::ToSql> = values.iter().map(|v| v as _).collect();
    select_logs(conn, &statement, &refs)
}

/// About how many records the file holds (rowids have gaps where records were deleted).
fn stored_rows(conn: &Connection) -> Result<i64, SqliteError> {
    let rows: Option<i64> = conn
        .prepare_cached("SELECT (SELECT max(rowid) FROM logs) - (SELECT min(rowid) FROM logs) + 1")?
        .query_row([], |row| row.get(0))?;
    Ok(rows.unwrap_or(0))
}

/// The time of the `rows`th newest record of the window (of the one service, when one is
/// asked for) at or before the cursor; `None` when there are fewer.
fn scan_bound(
    conn: &Connection,
    tenant: &str,
    q: &LogQuery,
    (start_ns, end_ns): (i64, i64),
    rows: i64,
) -> Result<Option<i64>, SqliteError> {
    let mut sql = Sql::default();
    sql.and("logs.tenant = ?", [Sql::text(tenant)]);
    let until = q
        .after
        .as_ref()
        .map_or(end_ns, |c| c.time_ns.saturating_add(1).min(end_ns));
    sql.and(
        "logs.timestamp_ns >= ? AND logs.timestamp_ns < ?",
        [Sql::int(start_ns), Sql::int(until)],
    );
    if let [service] = q.filter.services.as_slice() {
        sql.and("logs.service_name = ?", [Sql::text(service)]);
    }
    sql.values.push(Sql::int(rows));
    let statement = format!(
        "SELECT logs.timestamp_ns FROM logs WHERE {} ORDER BY logs.timestamp_ns DESC LIMIT 1 OFFSET ?",
        sql.where_clause()
    );
    let refs: Vec<&dyn rusqlite::ToSql> = sql.values.iter().map(|v| v as _).collect();
    Ok(conn
        .prepare_cached(&statement)?
        .query_row(refs.as_slice(), |row| row.get(0))
        .optional()?)
}

/// Matching records, newest first, after the query's cursor, at most `q.limit`.
pub(in super::super) fn search(
    conn: &Connection,
    tenant: &str,
    q: &LogQuery,
) -> Result<Vec<LogRecord>, SqliteError> {
    let (start_ns, end_ns) = (q.start_ns.unwrap_or(i64::MIN), q.end_ns.unwrap_or(i64::MAX));
    let base = || {
        let mut sql = Sql::filtered(tenant, &q.filter, start_ns, end_ns);
        if let Some(cursor) = &q.after {
            sql.after(cursor);
        }
        sql
    };
    let skip = q.after.as_ref().map_or(0, |c| c.skip);
    let Some(text) = &q.filter.text else {
        return page_query(conn, base(), None, q.limit, skip);
    };
    let expression = match unindexed_below(conn)? {
        Some(_) => None,
        None => fts_expression(text),
    };
    let newest_first = |lower: Option<i64>, upper: Option<i64>| {
        let mut sql = base();
        if let Some(lower) = lower {
            sql.and("logs.timestamp_ns >= ?", [Sql::int(lower)]);
        }
        if let Some(upper) = upper {
            sql.and("logs.timestamp_ns < ?", [Sql::int(upper)]);
        }
        sql.matched_one_by_one(text);
        sql
    };
    // Until the index holds every record, or when nothing narrows the search (only
    // exclusions), every record of the window is matched one by one, newest first.
    let Some(expression) = expression else {
        return page_query(conn, newest_first(None, None), None, q.limit, skip);
    };
    let window = (start_ns, end_ns);
    let probe = scan_bound(conn, tenant, q, window, PROBE_ROWS)?;
    let mut records = page_query(conn, newest_first(probe, None), None, q.limit, skip)?;
    let Some(mut below) = probe else {
        return Ok(records);
    };
    if records.len() >= q.limit {
        return Ok(records);
    }
    // The probe's share of matches says which costs less for the rest: reading on (about
    // needed / share records) or the index (about share * records lookups, each about twice
    // a read).
    let share = records.len() as f64 / PROBE_ROWS as f64;
    let needed = (q.limit - records.len()) as f64;
    if share > 0.0 && needed / share < 2.0 * share * stored_rows(conn)? as f64 {
        let bound = scan_bound(conn, tenant, q, window, SCAN_ROWS)?;
        let more = page_query(
            conn,
            newest_first(bound, Some(below)),
            None,
            needed as usize,
            0,
        )?;
        records.extend(more);
        match bound {
            Some(bound) if records.len() < q.limit => below = bound,
            _ => return Ok(records),
        }
    }
    let mut older = base();
    older.and("logs.timestamp_ns < ?", [Sql::int(below)]);
    let rest = page_query(conn, older, Some(&expression), q.limit - records.len(), 0)?;
    records.extend(rest);
    Ok(records)
}

/// Matching records of the window, counted per step and severity number.
pub(in super::super) fn counts(
    conn: &Connection,
    tenant: &str,
    q: &LogCountQuery,
) -> Result<Vec<LogCount>, SqliteError> {
    let mut sql = Sql::filtered(tenant, &q.filter, q.start_ns, q.end_ns);
    let mut from = "logs";
    let mut values = vec![Sql::int(q.start_ns), Sql::int(q.step_ns)];
    if let Some(text) = &q.filter.text {
        let built = unindexed_below(conn)?.is_none();
        match fts_expression(text) {
            Some(expression) if built => {
                from = "logs_fts CROSS JOIN logs ON logs.rowid = logs_fts.rowid";
                sql.clauses.insert(0, "logs_fts MATCH ?".into());
                sql.values.insert(0, Sql::text(&expression));
            }
            None if built => sql.and(
                "logs.rowid NOT IN (SELECT rowid FROM logs_fts WHERE logs_fts MATCH ?)",
                [Sql::text(&fts_any_excluded(text))],
            ),
            _ => sql.matched_one_by_one(text),
        }
    }
    values.append(&mut sql.values);
    let statement = format!(
        "SELECT (logs.timestamp_ns - ?) / ?, logs.severity_number, count(*) FROM {from} \
         WHERE {} GROUP BY 1, 2",
        sql.where_clause()
    );
    let refs: Vec<&dyn rusqlite::ToSql> = values.iter().map(|v| v as _).collect();
    let mut stmt = conn.prepare_cached(&statement)?;
    let rows = stmt.query_map(refs.as_slice(), |row| {
        Ok(LogCount {
            step: row.get(0)?,
            severity_number: row.get(1)?,
            count: row.get::<_, i64>(2)?.try_into().unwrap_or(0),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
