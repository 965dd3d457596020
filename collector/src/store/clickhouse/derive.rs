//! The correlation step on ClickHouse. Once ClickHouse confirmed an INSERT of spans, and before
//! its spool files are removed, the shipper re-derives the round trips of every trace in it from
//! all of the trace's stored spans and re-estimates the clock offset of every session they
//! touch. Rows carry versions (spans of the trace for a round trip, round trips with a reply for
//! a session's offset) and the tables keep the highest, so collectors sharing a database
//! converge: whichever derives last after both INSERTs sees every span, and a derivation from
//! fewer spans never replaces one from more. A failure leaves the files in the spool, so the
//! INSERT (deduplicated by its token) and this step are retried, after a crash too.

use std::collections::{BTreeMap, BTreeSet};

use clickhouse::{Client, Row, RowOwned, RowWrite};
use serde::Deserialize;
use tracewire_semconv::resource::{BROWSER_SDK_LANGUAGE, TELEMETRY_SDK_LANGUAGE};
use tracewire_semconv::span::WS_SEND;

use super::encode::{RoundTripRow, SessionOffsetRow};
use super::error::ClickHouseError;
use super::read::spans_of_traces;
use crate::correlate::{SESSION_SAMPLES, estimate, round_trips};
use crate::model::ExchangeTimes;

/// Traces whose spans one read fetches.
const TRACES_PER_READ: usize = 1_000;
/// Sessions whose round trips one read fetches.
const SESSIONS_PER_READ: usize = 1_000;

/// The newest round trips with a reply of each given session (at most `samples` each), with
/// how many the session has in all.
pub(super) const SESSION_SAMPLES_SQL: &str = "SELECT assumeNotNull(SessionId) AS session, \
    count() OVER (PARTITION BY SessionId) AS replied, ClientSendTime, ServerReceiveTime, \
    ServerDoneTime, assumeNotNull(ClientReceiveTime) AS ClientReceive \
    FROM tracewire_ws_round_trips FINAL \
    WHERE Tenant = {tenant:String} AND SessionId IN {sessions:Array(String)} \
    AND ClientReceiveTime IS NOT NULL \
    ORDER BY session, ClientSendTime DESC LIMIT {samples:UInt64} BY session";

/// Those of the given traces that hold a browser send span (PRODUCER, named `ws.send` or
/// `ws.send <type>`, from a browser resource): only they can hold round trips (a payload-free
/// connection's trace holds its sends too), and finding them reads three columns instead of
/// every span of every trace.
pub(super) fn traces_with_sends_sql() -> String {
    format!(
        "SELECT DISTINCT TraceId FROM otel_traces \
         WHERE Tenant = {{tenant:String}} AND TraceId IN {{trace_ids:Array(String)}} \
         AND SpanKind = 'Producer' AND (SpanName = '{WS_SEND}' OR startsWith(SpanName, '{WS_SEND} ')) \
         AND ResourceAttributes['{TELEMETRY_SDK_LANGUAGE}'] = '{BROWSER_SDK_LANGUAGE}'"
    )
}

#[derive(Row, Deserialize)]
struct SampleRow {
    session: String,
    replied: u64,
    client_send: i64,
    server_receive: i64,
    server_done: i64,
    client_receive: i64,
}

/// Runs the correlation step for these `(tenant, trace id)` pairs. `settings` go with every
/// INSERT (cluster mode waits for the shards, so the reads that follow see the rows).
pub(super) async fn derive(
    client: &Client,
    settings: &[(&'static str, &'static str)],
    traces: &BTreeSet<(String, String)>,
) -> Result<(), ClickHouseError> {
    let mut by_tenant: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (tenant, trace_id) in traces {
        by_tenant.entry(tenant).or_default().push(trace_id.clone());
    }
    for (tenant, traces) in by_tenant {
        let mut sessions = BTreeSet::new();
        for chunk in traces.chunks(TRACES_PER_READ) {
            let chunk: Vec<String> = client
                .query(&traces_with_sends_sql())
                .param("tenant", tenant)
                .param("trace_ids", chunk)
                .fetch_all()
                .await?;
            if chunk.is_empty() {
                continue;
            }
            let spans = spans_of_traces(client, tenant, &chunk).await?;
            let records = round_trips(&spans);
            sessions.extend(records.iter().filter_map(|r| r.session_id.clone()));
            let rows: Vec<RoundTripRow> = records.iter().map(RoundTripRow::from).collect();
            insert(client, settings, "tracewire_ws_round_trips", &rows).await?;
        }
        let sessions: Vec<String> = sessions.into_iter().collect();
        for chunk in sessions.chunks(SESSIONS_PER_READ) {
            let offsets = estimate_offsets(client, tenant, chunk).await?;
            insert(client, settings, "tracewire_ws_session_offsets", &offsets).await?;
        }
    }
    Ok(())
}

/// Estimates the offsets of these sessions again from the round trips they have left and
/// stores them; answers how many sessions still have one.
pub(super) async fn reestimate_offsets(
    client: &Client,
    settings: &[(&'static str, &'static str)],
    tenant: &str,
    sessions: &[String],
) -> Result<usize, ClickHouseError> {
    let mut kept = 0;
    for chunk in sessions.chunks(SESSIONS_PER_READ) {
        let offsets = estimate_offsets(client, tenant, chunk).await?;
        kept += offsets.len();
        insert(client, settings, "tracewire_ws_session_offsets", &offsets).await?;
    }
    Ok(kept)
}

/// The offsets of these sessions estimated from their stored round trips, as SQLite's step
/// estimates them; sessions without a usable sample get none.
async fn estimate_offsets(
    client: &Client,
    tenant: &str,
    sessions: &[String],
) -> Result<Vec<SessionOffsetRow>, ClickHouseError> {
    let rows: Vec<SampleRow> = client
        .query(SESSION_SAMPLES_SQL)
        .param("tenant", tenant)
        .param("sessions", sessions)
        .param("samples", SESSION_SAMPLES as u64)
        .fetch_all()
        .await?;
    let mut by_session: BTreeMap<&str, (u64, Vec<_>)> = BTreeMap::new();
    for r in &rows {
        let times = ExchangeTimes {
            client_send_ns: r.client_send,
            server_receive_ns: r.server_receive,
            server_done_ns: r.server_done,
            client_receive_ns: Some(r.client_receive),
            client_processing_ns: None,
        };
        let (_, samples) = by_session
            .entry(r.session.as_str())
            .or_insert((r.replied, Vec::new()));
        samples.extend(times.sample());
    }
    Ok(by_session
        .into_iter()
        .filter_map(|(session, (replied, samples))| {
            estimate(&samples).map(|e| SessionOffsetRow {
                tenant: tenant.to_owned(),
                session_id: session.to_owned(),
                clock_offset: e.offset_ns,
                clock_offset_uncertainty: Some(e.uncertainty_ns),
                samples: e.samples as u64,
                version: replied,
            })
        })
        .collect())
}

/// One INSERT of derived rows (none when `rows` is empty). Not deduplicated: storing a
/// derivation again is harmless, as the highest version wins.
async fn insert<R: RowOwned + RowWrite>(
    client: &Client,
    settings: &[(&'static str, &'static str)],
    table: &str,
    rows: &[R],
) -> Result<(), ClickHouseError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut insert = client
        .insert::<R>(table)
        .await?
        .with_setting("insert_deduplicate", "0")
        // Browser clocks put round trips on many days, like their spans.
        .with_setting("max_partitions_per_insert_block", "0");
    for (name, value) in settings {
        insert = insert.with_setting(*name, *value);
    }
    for row in rows {
        insert.write(row).await?;
    }
    Ok(insert.end().await?)
}
