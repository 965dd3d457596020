//! Rollups on ClickHouse ([`crate::correlate::Rollup`]), added up by the engine: one query over
//! the window's round trips, each with its session's stored clock offset, grouped by step and
//! message type, so one row per bucket and type comes back instead of every round trip. Nothing
//! is stored for it, so any window and step is answered, and a round trip derived again or a
//! session's offset estimated again counts as it stands at the read, as [`super::round_trips`]
//! reads them.
//!
//! Durations and bins are computed in SQL exactly as [`ExchangeTimes::timings`] and
//! [`Histogram`] compute them in Rust: the bins are checked against [`bin_bounds`], which the
//! query gets as a parameter, because ClickHouse's `log` and Rust's differ in the last bit for
//! some values, which would move a value near a bound into the next bin.
//!
//! [`ExchangeTimes::timings`]: crate::model::ExchangeTimes::timings

use clickhouse::{Client, Row};
use serde::Deserialize;

use super::super::error::ClickHouseError;
use super::round_trips::MESSAGE_TYPE_FILTER;
use crate::correlate::{Histogram, Rollup, Rollups, bin_bounds};
use crate::model::RollupQuery;

/// Whether [`read`] answers `q`: any window with buckets of a positive step.
pub(in super::super) fn covers(q: &RollupQuery) -> bool {
    q.step_ns > 0 && q.buckets > 0
}

/// The rollups of a window per bucket and message type, of one message type when `filters` is
/// [`MESSAGE_TYPE_FILTER`]; durations are binned by [`BINS_SQL`]. A session without a stored
/// offset gets 0 (`ANY LEFT JOIN` fills in the default), as [`super::round_trips`] reads do;
/// `GLOBAL` lets the same SQL run on `Distributed` tables.
pub(super) fn rollups_sql(filters: &str) -> String {
    let bins = BINS_SQL;
    format!(
        "WITH {{bounds:Array(UInt64)}} AS bounds \
         SELECT bucket, message_type, count() AS count, countIf(error) AS errors, \
             sumMapIf([bins[1]], [toUInt64(1)], replied) AS total, \
             sumMap([bins[2]], [toUInt64(1)]) AS uplink, \
             sumMap([bins[3]], [toUInt64(1)]) AS server, \
             sumMapIf([bins[4]], [toUInt64(1)], replied) AS downlink, \
             countIf(replied) AS replies, \
             maxIf((total_ns, trace_id), replied) AS slowest, \
             max((send_ns, trace_id)) AS newest \
         FROM ( \
             SELECT toUnixTimestamp64Nano(r.ClientSendTime) AS send_ns, \
                 intDiv(send_ns - {{start_ns:Int64}}, {{step_ns:Int64}}) AS bucket, \
                 toString(ifNull(r.MessageType, '')) AS message_type, \
                 r.Error AS error, \
                 r.TraceId AS trace_id, \
                 isNotNull(r.ClientReceiveTime) AS replied, \
                 ifNull(toUnixTimestamp64Nano(r.ClientReceiveTime), 0) - send_ns AS total_ns, \
                 toUnixTimestamp64Nano(r.ServerDoneTime) \
                     - toUnixTimestamp64Nano(r.ServerReceiveTime) AS server_ns, \
                 toUnixTimestamp64Nano(r.ServerReceiveTime) - send_ns - o.ClockOffset \
                     AS apparent_uplink_ns, \
                 greatest(total_ns - server_ns, 0) AS delay_ns, \
                 if(replied, least(greatest(apparent_uplink_ns, 0), delay_ns), \
                     greatest(apparent_uplink_ns, 0)) AS uplink_ns, \
                 [total_ns, uplink_ns, server_ns, delay_ns - uplink_ns] AS durations, \
                 {bins} \
             FROM tracewire_ws_round_trips AS r FINAL \
             GLOBAL ANY LEFT JOIN ( \
                 SELECT SessionId, ClockOffset FROM tracewire_ws_session_offsets FINAL \
                 WHERE Tenant = {{tenant:String}}) AS o ON r.SessionId = o.SessionId \
             WHERE r.Tenant = {{tenant:String}} \
             AND r.ClientSendTime >= fromUnixTimestamp64Nano({{start_ns:Int64}}) \
             AND r.ClientSendTime < fromUnixTimestamp64Nano({{end_ns:Int64}}){filters}) \
         GROUP BY bucket, message_type"
    )
}

/// The [`Histogram`] bin of each duration of an array `durations` (Int64), as an array `bins`
/// (with `magnitudes` and `estimates` on the way), given the query parameter `bounds`
/// ([`bounds`]); each bin is first estimated from `log` (the first two bounds' ratio is γ),
/// then moved by one where a bound says so.
pub(super) const BINS_SQL: &str = "arrayMap(d -> abs(d), durations) AS magnitudes, \
    arrayMap(m -> if(m < bounds[1], 1, least(toUInt32(floor( \
        log(m / bounds[1]) / log(bounds[2] / bounds[1]))) + 1, \
            length(bounds) - 1)), magnitudes) AS estimates, \
    arrayMap((d, m, e) -> if(m < bounds[1], 0, \
        toInt32(sign(d) * (e - (m < bounds[e]) + (m >= bounds[e + 1])))), \
        durations, magnitudes, estimates) AS bins";

/// The `bounds` parameter of [`BINS_SQL`]: [`bin_bounds`] and a last, unreachable one
/// (`u64::MAX`).
pub(super) fn bounds() -> Vec<u64> {
    let mut bounds = bin_bounds().to_vec();
    bounds.push(u64::MAX);
    bounds
}

/// A histogram as ClickHouse's `sumMap` returns it: (bins, counts).
pub(super) fn histogram((bins, counts): (Vec<i32>, Vec<u64>)) -> Histogram {
    Histogram::from_bins(bins.into_iter().zip(counts))
}

/// One (bucket, message type) of [`rollups_sql`]; histograms as (bins, counts).
#[derive(Row, Deserialize)]
struct RollupRow {
    bucket: i64,
    message_type: String,
    count: u64,
    errors: u64,
    total: (Vec<i32>, Vec<u64>),
    uplink: (Vec<i32>, Vec<u64>),
    server: (Vec<i32>, Vec<u64>),
    downlink: (Vec<i32>, Vec<u64>),
    replies: u64,
    slowest: (i64, String),
    newest: (i64, String),
}

/// The round trips of `q`'s window added up per step and message type; see [`covers`].
pub(in super::super) async fn read(
    client: &Client,
    tenant: &str,
    q: &RollupQuery,
) -> Result<Rollups, ClickHouseError> {
    let mut out = Rollups::new(q.start_ns, q.step_ns, q.buckets);
    // Round trips after the last bucket are left out by the query, not after it.
    let buckets_end = i64::try_from(q.buckets)
        .ok()
        .and_then(|n| n.checked_mul(out.step_ns()))
        .and_then(|span| q.start_ns.checked_add(span))
        .unwrap_or(i64::MAX);
    let filter = q.message_type.as_ref().map_or("", |_| MESSAGE_TYPE_FILTER);
    let mut query = client
        .query(&rollups_sql(filter))
        .param("tenant", tenant)
        .param("start_ns", q.start_ns)
        .param("end_ns", q.end_ns.min(buckets_end))
        .param("step_ns", out.step_ns())
        .param("bounds", bounds());
    if let Some(kind) = &q.message_type {
        query = query.param("message_type", kind);
    }
    for row in query.fetch_all::<RollupRow>().await? {
        let rollup = Rollup {
            count: row.count,
            // Of round trips only: counted messages are added when read (crate::counted).
            counted: 0,
            errors: row.errors,
            total: histogram(row.total),
            uplink: histogram(row.uplink),
            server: histogram(row.server),
            downlink: histogram(row.downlink),
            slowest: (row.replies > 0).then_some(row.slowest),
            newest: Some(row.newest),
        };
        let start_ns = q.start_ns + row.bucket * out.step_ns();
        out.add(start_ns, &row.message_type, &rollup);
    }
    Ok(out)
}
