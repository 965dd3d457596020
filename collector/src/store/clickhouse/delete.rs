//! Deleting a user's or a session's data ([`crate::store::Subject`]) on ClickHouse, with the
//! shipper held back so that no INSERT or correlation step runs meanwhile:
//! 1. the traces that name the subject are collected, from ClickHouse (spans, log records,
//!    round trips) and from the rows still in the spool;
//! 2. the spool is rewritten without their rows, so they are never shipped;
//! 3. ClickHouse deletes their rows with lightweight `DELETE FROM ... WHERE` statements (a
//!    mutation that marks the rows in each affected part as deleted; queries skip them at once
//!    and merges drop them from disk later), counted just before;
//! 4. the clock offsets of the sessions involved are estimated again from the round trips left.
//!
//! Rollups need nothing: ClickHouse adds round trips up at query time.

use std::collections::BTreeSet;

use clickhouse::Client;
use tracewire_semconv::attribute::SESSION_ID;

use super::derive::reestimate_offsets;
use super::error::ClickHouseError;
use super::schema::Layout;
use super::spool::Spool;
use super::table::{Probe, table};
use crate::signal::Signal;
use crate::store::error::StoreError;
use crate::store::{Deleted, Subject};

/// Trace ids one statement carries.
const TRACES_PER_STATEMENT: usize = 10_000;

/// What the deletion works with.
pub(super) struct Deletion<'a> {
    pub client: &'a Client,
    pub layout: &'a Layout,
    /// The spool, when there is one (a `delete` command may find none).
    pub spool: Option<&'a Spool>,
    pub settings: &'a [(&'static str, &'static str)],
    pub tenant: &'a str,
    pub subject: &'a Subject,
}

impl Deletion<'_> {
    /// The round-trip column that names the subject (a fixed identifier, never input).
    fn column(&self) -> &'static str {
        match self.subject {
            Subject::User(_) => "UserId",
            Subject::Session(_) => "SessionId",
        }
    }

    /// Runs the deletion; the shipper must be held back by the caller.
    pub(super) async fn run(&self) -> Result<Deleted, StoreError> {
        let mut traces = self.stored_traces().await?;
        let (spooled, mut sessions) = self.spooled_traces()?;
        traces.extend(spooled);
        sessions.extend(self.stored_sessions(&traces).await?);
        if let Subject::Session(id) = self.subject {
            sessions.insert(id.clone());
        }
        let traces: Vec<String> = traces.into_iter().collect();
        let sessions: Vec<String> = sessions.into_iter().collect();

        let mut deleted = self.purge_spool(&traces)?;
        deleted += self.purge_clickhouse(&traces, &sessions).await?;
        Ok(deleted)
    }

    /// Traces in ClickHouse with a span, a log record or a round trip naming the subject.
    async fn stored_traces(&self) -> Result<BTreeSet<String>, ClickHouseError> {
        let mut traces = BTreeSet::new();
        for sql in [
            "SELECT DISTINCT TraceId FROM otel_traces WHERE Tenant = {tenant:String} \
             AND (SpanAttributes[{key:String}] = {id:String} \
                  OR ResourceAttributes[{key:String}] = {id:String})"
                .to_owned(),
            "SELECT DISTINCT TraceId FROM otel_logs WHERE Tenant = {tenant:String} \
             AND TraceId != '' AND (LogAttributes[{key:String}] = {id:String} \
                  OR ResourceAttributes[{key:String}] = {id:String})"
                .to_owned(),
            format!(
                "SELECT DISTINCT TraceId FROM tracewire_ws_round_trips \
                 WHERE Tenant = {{tenant:String}} AND {} = {{id:String}}",
                self.column()
            ),
        ] {
            let found: Vec<String> = self
                .client
                .query(&sql)
                .param("tenant", self.tenant)
                .param("key", self.subject.attribute())
                .param("id", self.subject.id())
                .fetch_all()
                .await?;
            traces.extend(found);
        }
        Ok(traces)
    }

    /// Traces of spooled spans and log records that name the subject, and the sessions of
    /// those spans.
    fn spooled_traces(&self) -> Result<(BTreeSet<String>, BTreeSet<String>), StoreError> {
        let mut traces = BTreeSet::new();
        let mut sessions = BTreeSet::new();
        let Some(spool) = self.spool else {
            return Ok((traces, sessions));
        };
        for signal in Signal::ALL {
            // Sifting with a filter that keeps everything reads every row and rewrites nothing.
            spool.rewrite(signal, |name, format, payload| {
                table(signal).sift(name, format, payload, &mut |row: &Probe<'_>| {
                    if row.tenant == self.tenant && self.subject.named_in(row.attributes()) {
                        if !row.trace_id.is_empty() {
                            traces.insert(row.trace_id.to_owned());
                        }
                        sessions.extend(
                            row.attributes()
                                .filter(|(k, _)| *k == SESSION_ID)
                                .map(|(_, v)| v.to_owned()),
                        );
                    }
                    false
                })
            })?;
        }
        Ok((traces, sessions))
    }

    /// The sessions of the subject's traces and round trips in ClickHouse.
    async fn stored_sessions(
        &self,
        traces: &BTreeSet<String>,
    ) -> Result<BTreeSet<String>, ClickHouseError> {
        let traces: Vec<&String> = traces.iter().collect();
        let mut sessions = BTreeSet::new();
        let by_round_trips = format!(
            "SELECT DISTINCT assumeNotNull(SessionId) FROM tracewire_ws_round_trips \
             WHERE Tenant = {{tenant:String}} AND SessionId IS NOT NULL \
             AND ({} = {{id:String}} OR TraceId IN {{traces:Array(String)}})",
            self.column()
        );
        let by_spans = "SELECT DISTINCT SpanAttributes[{key:String}] FROM otel_traces \
             WHERE Tenant = {tenant:String} AND TraceId IN {traces:Array(String)} \
             AND mapContains(SpanAttributes, {key:String})";
        for chunk in traces
            .chunks(TRACES_PER_STATEMENT)
            .chain(traces.is_empty().then_some(&[][..]))
        {
            for (sql, key) in [(by_round_trips.as_str(), ""), (by_spans, SESSION_ID)] {
                let found: Vec<String> = self
                    .client
                    .query(sql)
                    .param("tenant", self.tenant)
                    .param("id", self.subject.id())
                    .param("key", key)
                    .param("traces", chunk)
                    .fetch_all()
                    .await?;
                sessions.extend(found);
            }
        }
        Ok(sessions)
    }

    /// Rewrites the spool without the subject's rows and the rows of its traces. Metric points
    /// are aggregates that name no user or session: they stay.
    fn purge_spool(&self, traces: &[String]) -> Result<Deleted, StoreError> {
        let doomed: BTreeSet<&str> = traces.iter().map(String::as_str).collect();
        let mut deleted = Deleted::default();
        let Some(spool) = self.spool else {
            return Ok(deleted);
        };
        for (signal, count) in [
            (Signal::Traces, &mut deleted.spans),
            (Signal::Logs, &mut deleted.logs),
        ] {
            *count += spool.rewrite(signal, |name, format, payload| {
                table(signal).sift(name, format, payload, &mut |row: &Probe<'_>| {
                    row.tenant == self.tenant
                        && (doomed.contains(row.trace_id)
                            || self.subject.named_in(row.attributes()))
                })
            })?;
        }
        Ok(deleted)
    }

    /// Counts, then deletes, the rows in ClickHouse; then re-estimates the sessions' offsets.
    async fn purge_clickhouse(
        &self,
        traces: &[String],
        sessions: &[String],
    ) -> Result<Deleted, ClickHouseError> {
        let mut deleted = Deleted::default();
        let column = self.column();
        let of_traces = "Tenant = {tenant:String} AND TraceId IN {traces:Array(String)}";
        let named_logs = "Tenant = {tenant:String} AND (LogAttributes[{key:String}] = {id:String} \
             OR ResourceAttributes[{key:String}] = {id:String})";
        let named_round_trips = format!("Tenant = {{tenant:String}} AND {column} = {{id:String}}");
        // Each statement: table, what to count, which rows; trace chunks first, then the rows
        // that name the subject without one of its traces.
        let mut statements: Vec<(&str, &str, String, Vec<&[String]>)> = Vec::new();
        let chunks: Vec<&[String]> = traces.chunks(TRACES_PER_STATEMENT).collect();
        statements.push((
            "otel_traces",
            "count()",
            of_traces.to_owned(),
            chunks.clone(),
        ));
        statements.push(("otel_logs", "count()", of_traces.to_owned(), chunks.clone()));
        statements.push(("otel_logs", "count()", named_logs.to_owned(), vec![&[][..]]));
        statements.push((
            "tracewire_ws_round_trips",
            "uniqExact(TraceId, SendSpanId)",
            of_traces.to_owned(),
            chunks,
        ));
        statements.push((
            "tracewire_ws_round_trips",
            "uniqExact(TraceId, SendSpanId)",
            named_round_trips,
            vec![&[][..]],
        ));
        for (table, count, filter, chunks) in &statements {
            for chunk in chunks {
                let n = self.delete(table, count, filter, chunk, &[]).await?;
                match *table {
                    "otel_traces" => deleted.spans += n,
                    "otel_logs" => deleted.logs += n,
                    _ => deleted.round_trips += n,
                }
            }
        }
        if !sessions.is_empty() {
            let filter = "Tenant = {tenant:String} AND SessionId IN {sessions:Array(String)}";
            let table = "tracewire_ws_session_offsets";
            let before = self
                .delete(table, "uniqExact(SessionId)", filter, &[], sessions)
                .await?;
            // As the shipper runs the correlation step: rows read by position.
            let derive = self.client.clone().with_validation(false);
            let kept = reestimate_offsets(&derive, self.settings, self.tenant, sessions).await?;
            deleted.session_offsets = before.saturating_sub(kept as u64);
        }
        Ok(deleted)
    }

    /// Counts the rows of `table` that `filter` picks (with `count`), then deletes them
    /// (lightweight DELETE, on every shard's local table in cluster mode); answers the count.
    async fn delete(
        &self,
        table: &str,
        count: &str,
        filter: &str,
        traces: &[String],
        sessions: &[String],
    ) -> Result<u64, ClickHouseError> {
        let bind = |sql: &str| {
            self.client
                .query(sql)
                .param("tenant", self.tenant)
                .param("key", self.subject.attribute())
                .param("id", self.subject.id())
                .param("traces", traces)
                .param("sessions", sessions)
        };
        let rows: u64 = bind(&format!("SELECT {count} FROM {table} WHERE {filter}"))
            .fetch_one()
            .await?;
        if rows > 0 {
            bind(&format!(
                "{} WHERE {filter}",
                self.layout.delete_from(table)
            ))
            .execute()
            .await?;
        }
        Ok(rows)
    }
}
