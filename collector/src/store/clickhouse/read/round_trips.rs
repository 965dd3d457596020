//! Reads of the correlation step's records on ClickHouse, answering exactly what the SQLite
//! store answers: round trips and session clock offsets (which [`super::super::derive`]
//! writes; `FINAL` keeps the newest version of each). Values are server-side parameters.

use std::collections::{BTreeSet, HashMap};

use clickhouse::Client;

use super::super::encode::{ROUND_TRIP_COLUMNS, RoundTripRow, SessionOffsetRow};
use super::super::error::ClickHouseError;
use crate::model::{RoundTrip, RoundTripPoint, RoundTripQuery, SessionOffset};

/// Round trips of one message type.
pub(super) const MESSAGE_TYPE_FILTER: &str = " AND MessageType = {message_type:String}";

/// Optional filters of [`round_trips_sql`], in order; each is used only when its value is given.
pub(super) const ROUND_TRIP_FILTERS: [&str; 3] = [
    " AND SessionId = {session_id:String}",
    " AND ServiceName = {service:String}",
    MESSAGE_TYPE_FILTER,
];

/// Round trips sent in a window, newest first, with the given filter fragments.
pub(super) fn round_trips_sql(filters: &str) -> String {
    format!(
        "SELECT {ROUND_TRIP_COLUMNS} FROM tracewire_ws_round_trips FINAL \
         WHERE Tenant = {{tenant:String}} \
         AND ClientSendTime >= fromUnixTimestamp64Nano({{start_ns:Int64}}) \
         AND ClientSendTime < fromUnixTimestamp64Nano({{end_ns:Int64}}){filters} \
         ORDER BY ClientSendTime DESC, SendSpanId DESC LIMIT {{limit:UInt64}}"
    )
}

/// The stored clock offsets of the given sessions.
pub(super) const SESSION_OFFSETS_SQL: &str = "SELECT Tenant, SessionId, ClockOffset, Samples, \
    Version FROM tracewire_ws_session_offsets FINAL \
    WHERE Tenant = {tenant:String} AND SessionId IN {sessions:Array(String)}";

/// The stored clock offsets of these sessions of `tenant`.
async fn offsets(
    client: &Client,
    tenant: &str,
    sessions: BTreeSet<&str>,
) -> Result<HashMap<String, SessionOffset>, ClickHouseError> {
    if sessions.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<SessionOffsetRow> = client
        .query(SESSION_OFFSETS_SQL)
        .param("tenant", tenant)
        .param("sessions", sessions.into_iter().collect::<Vec<_>>())
        .fetch_all()
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.session_id.clone(), SessionOffset::from(&r)))
        .collect())
}

pub(in super::super) async fn round_trips(
    client: &Client,
    tenant: &str,
    q: &RoundTripQuery,
) -> Result<Vec<(RoundTrip, i64)>, ClickHouseError> {
    let given = [
        q.session_id.as_ref(),
        q.service.as_ref(),
        q.message_type.as_ref(),
    ];
    let filters: String = ROUND_TRIP_FILTERS
        .iter()
        .zip(given)
        .filter(|(_, value)| value.is_some())
        .map(|(fragment, _)| *fragment)
        .collect();
    let mut query = client
        .query(&round_trips_sql(&filters))
        .param("tenant", tenant)
        .param("start_ns", q.start_ns)
        .param("end_ns", q.end_ns)
        .param("limit", q.limit as u64);
    for (name, value) in ["session_id", "service", "message_type"]
        .into_iter()
        .zip(given)
    {
        if let Some(value) = value {
            query = query.param(name, value);
        }
    }
    let rows: Vec<RoundTripRow> = query.fetch_all().await?;
    let offsets = offsets(
        client,
        tenant,
        rows.iter()
            .filter_map(|r| r.session_id.as_deref())
            .collect(),
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let offset = r
                .session_id
                .as_ref()
                .and_then(|s| offsets.get(s))
                .map_or(0, |o| o.offset_ns);
            (RoundTrip::from(r), offset)
        })
        .collect())
}

pub(in super::super) async fn round_trip_points(
    client: &Client,
    tenant: &str,
    q: &RoundTripQuery,
) -> Result<Vec<RoundTripPoint>, ClickHouseError> {
    let q = RoundTripQuery {
        session_id: None,
        service: None,
        ..q.clone()
    };
    Ok(round_trips(client, tenant, &q)
        .await?
        .into_iter()
        .map(|(r, clock_offset_ns)| RoundTripPoint {
            trace_id: r.trace_id,
            message_type: r.message_type.unwrap_or_default(),
            times: r.times,
            error: r.error,
            clock_offset_ns,
        })
        .collect())
}

pub(in super::super) async fn session_offset(
    client: &Client,
    tenant: &str,
    session_id: &str,
) -> Result<Option<SessionOffset>, ClickHouseError> {
    Ok(offsets(client, tenant, BTreeSet::from([session_id]))
        .await?
        .remove(session_id))
}
