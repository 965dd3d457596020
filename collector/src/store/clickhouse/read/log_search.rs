//! Log search on ClickHouse, answering exactly what the SQLite store answers, on the
//! exporter's `otel_logs` as it is. The window narrows first (`TimestampTime`, the partition
//! and primary key column), then the service (the primary key's first column), then the text:
//!
//! - a word is `hasTokenCaseInsensitive(Body, word)`;
//! - a phrase or prefix is a `match` on a regular expression that spells out the token rules
//!   (separators are exactly the ASCII characters that are not letters or digits; each ASCII
//!   letter is a class of its two cases, so only ASCII case folds);
//! - `hasTokenCaseInsensitive` cannot use the `tokenbf_v1` index on `Body`, which holds tokens
//!   as written, so each required token also goes into an `indexHint` with every ASCII case
//!   spelling of it (up to [`MAX_SPELLINGS`] spellings a query): the index skips the granules
//!   that hold none, and the hint filters nothing itself. The spellings are the needles of one
//!   `multiSearchAny`, each between spaces so that the index reads it as a whole token; that
//!   costs the engine's query analysis far less than an `OR` of as many `hasToken`s.
//!
//! Every user value is a server-side query parameter.

use clickhouse::{Client, Row};
use serde::Deserialize;

use super::super::encode::{LOG_COLUMNS, LogRow};
use super::super::error::ClickHouseError;
use crate::logsearch::{LogCount, LogCountQuery, LogCursor, LogFilter, LogQuery, Term, TextQuery};
use crate::model::LogRecord;

/// The most case spellings of tokens a query hints the index with (a word of eight letters
/// has 256).
const MAX_SPELLINGS: usize = 256;
/// Needles per `multiSearchAny`, the most older ClickHouse versions take.
const NEEDLES: usize = 255;

/// The ASCII characters that separate tokens, as a regular-expression class.
const SEPARATOR: &str = r"[\x00-\x2F\x3A-\x40\x5B-\x60\x7B-\x7F]";

/// Records of the same time come in the order of [`crate::logsearch::cursor`].
const ORDER: &str = "ORDER BY Timestamp DESC, TraceId DESC, SpanId DESC, ServiceName DESC, \
    SeverityNumber DESC, Body DESC";

/// A query parameter's value.
enum Value {
    Text(String),
    Texts(Vec<String>),
    Int(i64),
    UInt(u64),
}

/// A statement's conditions and their named parameters.
#[derive(Default)]
struct Sql {
    conditions: Vec<String>,
    params: Vec<(String, Value)>,
}

impl Sql {
    /// A new parameter, `{pN:type}` in SQL.
    fn param(&mut self, value: Value) -> String {
        let name = format!("p{}", self.params.len());
        let kind = match &value {
            Value::Text(_) => "String",
            Value::Texts(_) => "Array(String)",
            Value::Int(_) => "Int64",
            Value::UInt(_) => "UInt64",
        };
        let placeholder = format!("{{{name}:{kind}}}");
        self.params.push((name, value));
        placeholder
    }

    fn text(&mut self, value: &str) -> String {
        self.param(Value::Text(value.to_owned()))
    }

    fn int(&mut self, value: i64) -> String {
        self.param(Value::Int(value))
    }

    fn and(&mut self, condition: String) {
        self.conditions.push(condition);
    }

    /// The tenant, the window and every filter but the text.
    fn filtered(
        tenant: &str,
        filter: &LogFilter,
        start_ns: Option<i64>,
        end_ns: Option<i64>,
    ) -> Self {
        let mut sql = Self::default();
        let tenant = sql.text(tenant);
        sql.and(format!("Tenant = {tenant}"));
        if let Some(start_ns) = start_ns {
            sql.since(start_ns);
        }
        if let Some(end_ns) = end_ns {
            sql.before(end_ns);
        }
        if !filter.services.is_empty() {
            let services = sql.param(Value::Texts(filter.services.clone()));
            sql.and(format!("ServiceName IN {services}"));
        }
        let ranges = filter.severity_ranges();
        if !ranges.is_empty() {
            let any: Vec<String> = ranges
                .iter()
                .map(|&(lo, hi)| {
                    let (lo, hi) = (sql.int(lo), sql.int(hi));
                    format!("SeverityNumber BETWEEN {lo} AND {hi}")
                })
                .collect();
            sql.and(format!("({})", any.join(" OR ")));
        }
        if let Some(trace_id) = &filter.trace_id {
            let trace_id = sql.text(trace_id);
            sql.and(format!("TraceId = {trace_id}"));
        }
        if let Some(span_id) = &filter.span_id {
            let span_id = sql.text(span_id);
            sql.and(format!("SpanId = {span_id}"));
        }
        for (key, value) in &filter.attributes {
            let (key, value) = (sql.text(key), sql.text(value));
            sql.and(format!(
                "mapContains(LogAttributes, {key}) AND LogAttributes[{key}] = {value}"
            ));
        }
        if let Some(text) = &filter.text {
            sql.text_query(text);
        }
        sql
    }

    /// Records at or after `ns`: whole seconds on the partition and key column, then exactly.
    fn since(&mut self, ns: i64) {
        let seconds = self.int(seconds(ns));
        let ns = self.int(ns);
        self.and(format!(
            "TimestampTime >= toDateTime({seconds}) AND Timestamp >= fromUnixTimestamp64Nano({ns})"
        ));
    }

    /// Records before `ns`.
    fn before(&mut self, ns: i64) {
        let seconds = self.int(seconds(ns.saturating_sub(1)));
        let ns = self.int(ns);
        self.and(format!(
            "TimestampTime <= toDateTime({seconds}) AND Timestamp < fromUnixTimestamp64Nano({ns})"
        ));
    }

    /// Records at or before the cursor's key.
    fn after(&mut self, cursor: &LogCursor) {
        self.before(cursor.time_ns.saturating_add(1));
        let time = self.int(cursor.time_ns);
        let trace = self.text(&cursor.trace_id);
        let span = self.text(&cursor.span_id);
        let service = self.text(&cursor.service_name);
        let severity = self.int(cursor.severity_number);
        self.and(format!(
            "(Timestamp, TraceId, SpanId, toString(ServiceName), toInt64(SeverityNumber)) <= \
             (fromUnixTimestamp64Nano({time}), {trace}, {span}, {service}, {severity})"
        ));
    }

    fn text_query(&mut self, text: &TextQuery) {
        let mut spellings_left = MAX_SPELLINGS;
        for term in text.terms() {
            let condition = if term.is_word() {
                let token = self.text(&term.tokens[0]);
                format!("hasTokenCaseInsensitive(Body, {token})")
            } else {
                let pattern = self.text(&pattern(term));
                format!("match(Body, {pattern})")
            };
            if term.exclude {
                self.and(format!("NOT {condition}"));
                continue;
            }
            self.and(condition);
            let whole = term.tokens.len() - usize::from(term.prefix);
            for token in &term.tokens[..whole] {
                let spellings = case_spellings(token, spellings_left);
                if spellings.is_empty() {
                    continue;
                }
                spellings_left -= spellings.len();
                let any: Vec<String> = spellings
                    .chunks(NEEDLES)
                    .map(|chunk| {
                        let needles = chunk.iter().map(|s| format!(" {s} ")).collect();
                        let needles = self.param(Value::Texts(needles));
                        format!("multiSearchAny(Body, {needles})")
                    })
                    .collect();
                self.and(format!("indexHint({})", any.join(" OR ")));
            }
        }
    }

    fn where_clause(&self) -> String {
        self.conditions.join(" AND ")
    }

    fn bind(self, client: &Client, statement: &str) -> clickhouse::query::Query {
        let mut query = client.query(statement);
        for (name, value) in self.params {
            query = match value {
                Value::Text(v) => query.param(&name, v),
                Value::Texts(v) => query.param(&name, v),
                Value::Int(v) => query.param(&name, v),
                Value::UInt(v) => query.param(&name, v),
            };
        }
        query
    }
}

/// Whole seconds of a time, within what `DateTime` holds.
fn seconds(ns: i64) -> i64 {
    ns.div_euclid(1_000_000_000).clamp(0, i64::from(u32::MAX))
}

/// A regular expression that finds `term`'s tokens one after the other, each whole (the last
/// one only at its start, for a prefix), in any ASCII case.
fn pattern(term: &Term) -> String {
    let spelled: Vec<String> = term
        .tokens
        .iter()
        .map(|token| {
            token
                .chars()
                .map(|c| {
                    if c.is_ascii_alphabetic() {
                        format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())
                    } else if c.is_ascii() {
                        // Digits; tokens hold no other ASCII.
                        regex_escape(c)
                    } else {
                        c.to_string()
                    }
                })
                .collect()
        })
        .collect();
    let end = if term.prefix {
        String::new()
    } else {
        format!("(?:{SEPARATOR}|$)")
    };
    format!(
        "(?:^|{SEPARATOR}){}{end}",
        spelled.join(&format!("{SEPARATOR}+"))
    )
}

fn regex_escape(c: char) -> String {
    if c.is_ascii_alphanumeric() {
        c.to_string()
    } else {
        format!("\\x{:02X}", u32::from(c))
    }
}

/// Every spelling of `token` with its ASCII letters in either case, when there are at most
/// `budget`; none otherwise.
fn case_spellings(token: &str, budget: usize) -> Vec<String> {
    let letters = token.chars().filter(char::is_ascii_alphabetic).count();
    if letters >= usize::BITS as usize || (1usize << letters) > budget {
        return Vec::new();
    }
    (0..1usize << letters)
        .map(|mask| {
            let mut bit = 0;
            token
                .chars()
                .map(|c| {
                    if !c.is_ascii_alphabetic() {
                        return c;
                    }
                    let upper = mask & (1 << bit) != 0;
                    bit += 1;
                    if upper {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    }
                })
                .collect()
        })
        .collect()
}

/// Matching records, newest first, after the query's cursor, at most `q.limit`.
pub(in super::super) async fn search(
    client: &Client,
    tenant: &str,
    q: &LogQuery,
) -> Result<Vec<LogRecord>, ClickHouseError> {
    let mut sql = Sql::filtered(tenant, &q.filter, q.start_ns, q.end_ns);
    if let Some(cursor) = &q.after {
        sql.after(cursor);
    }
    let limit = sql.param(Value::UInt(q.limit as u64));
    let offset = sql.param(Value::UInt(q.after.as_ref().map_or(0, |c| c.skip)));
    let statement = format!(
        "SELECT {LOG_COLUMNS} FROM otel_logs WHERE {} {ORDER} LIMIT {limit} OFFSET {offset}",
        sql.where_clause()
    );
    super::records::<LogRow<'_>, _>(sql.bind(client, &statement)).await
}

#[derive(Row, Deserialize)]
struct CountRow {
    step: i64,
    severity: i64,
    count: u64,
}

/// Matching records of the window, counted per step and severity number.
pub(in super::super) async fn counts(
    client: &Client,
    tenant: &str,
    q: &LogCountQuery,
) -> Result<Vec<LogCount>, ClickHouseError> {
    let mut sql = Sql::filtered(tenant, &q.filter, Some(q.start_ns), Some(q.end_ns));
    let start = sql.int(q.start_ns);
    let step = sql.int(q.step_ns);
    let statement = format!(
        "SELECT intDiv(toUnixTimestamp64Nano(Timestamp) - {start}, {step}) AS step, \
         toInt64(SeverityNumber) AS severity, count() AS count \
         FROM otel_logs WHERE {} GROUP BY step, severity",
        sql.where_clause()
    );
    let rows = sql.bind(client, &statement).fetch_all::<CountRow>().await?;
    Ok(rows
        .into_iter()
        .map(|r| LogCount {
            step: r.step,
            severity_number: r.severity,
            count: r.count,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(q: &str) -> Term {
        TextQuery::parse(q).expect("valid").expect("terms").terms()[0].clone()
    }

    #[test]
    fn spellings_cover_every_ascii_case_and_respect_the_budget() {
        let mut all = case_spellings("a1é", 4);
        all.sort();
        assert_eq!(all, ["A1é", "a1é"]);
        assert_eq!(case_spellings("abc", 8).len(), 8);
        assert!(case_spellings("abcd", 8).is_empty());
        assert_eq!(case_spellings("42", 1), ["42"]);
    }

    #[test]
    fn patterns_spell_out_tokens_separators_and_case() {
        let sep = SEPARATOR;
        assert_eq!(
            pattern(&term(r#""a b1""#)),
            format!("(?:^|{sep})[aA]{sep}+[bB]1(?:{sep}|$)")
        );
        assert_eq!(pattern(&term("ti*")), format!("(?:^|{sep})[tT][iI]"));
    }
}
