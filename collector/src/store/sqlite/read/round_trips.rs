//! Reads of the correlation step's records: round trips and session clock offsets (which
//! [`super::super::derive`] writes). Every value is bound as a parameter.

use rusqlite::{Connection, OptionalExtension, Row, ToSql};

use super::super::error::SqliteError;
use crate::model::{ExchangeTimes, RoundTrip, RoundTripPoint, RoundTripQuery, SessionOffset};

/// The columns of a round trip, in [`round_trip_from_row`]'s order, with the session's stored
/// clock offset last (`r` is `ws_round_trips`, `o` is `ws_session_offsets`).
const ROUND_TRIP_COLUMNS: &str = "r.tenant, r.trace_id, r.send_span_id, r.server_span_id, \
     r.receive_span_id, r.session_id, r.user_id, r.url, r.message_type, r.service, \
     r.server_service, r.client_send_ns, r.server_receive_ns, r.server_done_ns, \
     r.client_receive_ns, r.client_processing_ns, r.error, coalesce(o.offset_ns, 0)";
const WITH_OFFSETS: &str = "ws_round_trips r LEFT JOIN ws_session_offsets o \
     ON o.tenant = r.tenant AND o.session_id = r.session_id";

fn times_from_row(row: &Row<'_>, first: usize) -> rusqlite::Result<ExchangeTimes> {
    Ok(ExchangeTimes {
        client_send_ns: row.get(first)?,
        server_receive_ns: row.get(first + 1)?,
        server_done_ns: row.get(first + 2)?,
        client_receive_ns: row.get(first + 3)?,
        client_processing_ns: row.get(first + 4)?,
    })
}

fn round_trip_from_row(row: &Row<'_>) -> rusqlite::Result<(RoundTrip, i64)> {
    Ok((
        RoundTrip {
            tenant: row.get(0)?,
            trace_id: row.get(1)?,
            send_span_id: row.get(2)?,
            server_span_id: row.get(3)?,
            receive_span_id: row.get(4)?,
            session_id: row.get(5)?,
            user_id: row.get(6)?,
            url: row.get(7)?,
            message_type: row.get(8)?,
            service: row.get(9)?,
            server_service: row.get(10)?,
            times: times_from_row(row, 11)?,
            error: row.get(16)?,
            version: 0,
        },
        row.get(17)?,
    ))
}

pub(in super::super) fn round_trips(
    conn: &Connection,
    tenant: &str,
    q: &RoundTripQuery,
) -> Result<Vec<(RoundTrip, i64)>, SqliteError> {
    let mut sql = format!(
        "SELECT {ROUND_TRIP_COLUMNS} FROM {WITH_OFFSETS} \
         WHERE r.tenant = ? AND r.client_send_ns >= ? AND r.client_send_ns < ?"
    );
    let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
    let mut values: Vec<&dyn ToSql> = vec![&tenant, &q.start_ns, &q.end_ns];
    for (column, value) in [
        ("session_id", &q.session_id),
        ("service", &q.service),
        ("message_type", &q.message_type),
    ] {
        if let Some(value) = value {
            sql.push_str(&format!(" AND r.{column} = ?"));
            values.push(value);
        }
    }
    sql.push_str(" ORDER BY r.client_send_ns DESC, r.send_span_id DESC LIMIT ?");
    values.push(&limit);
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(&values[..], round_trip_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(in super::super) fn round_trip_points(
    conn: &Connection,
    tenant: &str,
    q: &RoundTripQuery,
) -> Result<Vec<RoundTripPoint>, SqliteError> {
    let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
    let mut sql = format!(
        "SELECT r.trace_id, coalesce(r.message_type, ''), r.client_send_ns, r.server_receive_ns, \
         r.server_done_ns, r.client_receive_ns, r.client_processing_ns, r.error, \
         coalesce(o.offset_ns, 0) FROM {WITH_OFFSETS} \
         WHERE r.tenant = ? AND r.client_send_ns >= ? AND r.client_send_ns < ?"
    );
    let mut values: Vec<&dyn ToSql> = vec![&tenant, &q.start_ns, &q.end_ns];
    if let Some(message_type) = &q.message_type {
        sql.push_str(" AND r.message_type = ?");
        values.push(message_type);
    }
    // The primary key's order; aggregates do not depend on the order of equal send times.
    sql.push_str(" ORDER BY r.client_send_ns DESC LIMIT ?");
    values.push(&limit);
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(&values[..], |row| {
        Ok(RoundTripPoint {
            trace_id: row.get(0)?,
            message_type: row.get(1)?,
            times: times_from_row(row, 2)?,
            error: row.get(7)?,
            clock_offset_ns: row.get(8)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(in super::super) fn session_offset(
    conn: &Connection,
    tenant: &str,
    session_id: &str,
) -> Result<Option<SessionOffset>, SqliteError> {
    Ok(conn
        .prepare_cached(
            "SELECT offset_ns, samples FROM ws_session_offsets WHERE tenant = ?1 AND session_id = ?2",
        )?
        .query_row([tenant, session_id], |row| {
            Ok(SessionOffset {
                offset_ns: row.get(0)?,
                samples: row.get::<_, i64>(1)?.unsigned_abs(),
            })
        })
        .optional()?)
}
