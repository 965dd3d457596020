//! Deleting a user's or a session's data ([`crate::store::Subject`]) in one write transaction on
//! the writer's connection, so it comes after every batch queued before it: the traces that
//! name the subject (on a span, a log record or a round trip) are collected in a temporary
//! table, then their spans, the subject's logs and those traces' logs, their round trips and
//! their waiting correlation work go, and the clock offsets of the sessions involved are
//! estimated again from what is left (gone when nothing is). The minutes of the deleted round
//! trips and spans are rolled up again (round trips' and span metrics' rollups) before the
//! answer.
//!
//! `user.id` has no index: deleting a user reads the tenant's spans once.

use std::collections::BTreeSet;

use rusqlite::{Connection, TransactionBehavior, params};

use super::error::SqliteError;
use super::rollup::{self, MINUTES_PER_REFRESH};
use super::{calls, derive, table};
use crate::store::{Deleted, Subject};
use tracewire_semconv::attribute::SESSION_ID;

/// Deletes `subject`'s rows of `tenant`; answers the counts once the rollups are up to date.
pub(super) fn run(
    conn: &mut Connection,
    tenant: &str,
    subject: &Subject,
) -> Result<Deleted, SqliteError> {
    let deleted = delete(conn, tenant, subject)?;
    while rollup::refresh(conn, MINUTES_PER_REFRESH, i64::MAX)? > 0 {}
    while calls::refresh(conn, MINUTES_PER_REFRESH, i64::MAX)? > 0 {}
    Ok(deleted)
}

fn delete(conn: &mut Connection, tenant: &str, subject: &Subject) -> Result<Deleted, SqliteError> {
    let path = format!("$.\"{}\"", subject.attribute());
    let session_path = format!("$.\"{SESSION_ID}\"");
    // The round-trip column that names the subject; a fixed identifier, never input.
    let column = match subject {
        Subject::User(_) => "user_id",
        Subject::Session(_) => "session_id",
    };
    let id = subject.id();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS doomed_traces (trace_id TEXT PRIMARY KEY);
         DELETE FROM doomed_traces;",
    )?;
    tx.execute(
        "INSERT OR IGNORE INTO doomed_traces SELECT trace_id FROM spans WHERE tenant = ?1 \
         AND (json_extract(span_attributes, ?2) = ?3 OR json_extract(resource_attributes, ?2) = ?3)",
        params![tenant, path, id],
    )?;
    tx.execute(
        "INSERT OR IGNORE INTO doomed_traces SELECT trace_id FROM logs WHERE tenant = ?1 \
         AND trace_id != '' \
         AND (json_extract(log_attributes, ?2) = ?3 OR json_extract(resource_attributes, ?2) = ?3)",
        params![tenant, path, id],
    )?;
    tx.execute(
        &format!(
            "INSERT OR IGNORE INTO doomed_traces SELECT trace_id FROM ws_round_trips \
             WHERE tenant = ?1 AND {column} = ?2"
        ),
        params![tenant, id],
    )?;

    let mut sessions: BTreeSet<String> = BTreeSet::new();
    if let Subject::Session(session) = subject {
        sessions.insert(session.clone());
    }
    {
        let mut stmt = tx.prepare(&format!(
            "SELECT DISTINCT json_extract(span_attributes, ?2) FROM spans \
             WHERE tenant = ?1 AND trace_id IN (SELECT trace_id FROM doomed_traces) \
             UNION SELECT session_id FROM ws_round_trips \
             WHERE tenant = ?1 AND (trace_id IN (SELECT trace_id FROM doomed_traces) OR {column} = ?3)"
        ))?;
        let found = stmt.query_map(params![tenant, session_path, id], |row| {
            row.get::<_, Option<String>>(0)
        })?;
        for session in found {
            sessions.extend(session?);
        }
    }

    let mut deleted = Deleted::default();
    let send_times: Vec<i64> = {
        let mut stmt = tx.prepare(&format!(
            "DELETE FROM ws_round_trips WHERE tenant = ?1 \
             AND (trace_id IN (SELECT trace_id FROM doomed_traces) OR {column} = ?2) \
             RETURNING client_send_ns"
        ))?;
        stmt.query_map(params![tenant, id], |row| row.get(0))?
            .collect::<Result<_, _>>()?
    };
    deleted.round_trips = send_times.len() as u64;
    rollup::mark_stale(&tx, tenant, send_times)?;
    // Each session's offset is estimated again from the round trips it has left (a session
    // shared with another user keeps one); with none left, it goes.
    let offsets = |tx: &rusqlite::Transaction<'_>| -> Result<usize, SqliteError> {
        let mut stmt = tx.prepare_cached(
            "SELECT count(*) FROM ws_session_offsets WHERE tenant = ?1 AND session_id = ?2",
        )?;
        let mut n = 0;
        for session in &sessions {
            n += stmt.query_row(params![tenant, session], |row| row.get::<_, i64>(0))? as usize;
        }
        Ok(n)
    };
    let before = offsets(&tx)?;
    for session in &sessions {
        derive::update_offset(&tx, tenant, session)?;
    }
    deleted.session_offsets = before.saturating_sub(offsets(&tx)?) as u64;
    // The span metrics of the minutes the doomed spans were in are rolled up again without them.
    let doomed: BTreeSet<String> = tx
        .prepare("SELECT trace_id FROM doomed_traces")?
        .query_map([], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    calls::mark_traces(&tx, tenant, &doomed)?;
    deleted.spans = tx.execute(
        "DELETE FROM spans WHERE tenant = ?1 AND trace_id IN (SELECT trace_id FROM doomed_traces)",
        params![tenant],
    )? as u64;
    let logs: Vec<i64> = tx
        .prepare(
            "SELECT rowid FROM logs WHERE tenant = ?1 \
             AND ((trace_id != '' AND trace_id IN (SELECT trace_id FROM doomed_traces)) \
                  OR json_extract(log_attributes, ?2) = ?3 \
                  OR json_extract(resource_attributes, ?2) = ?3)",
        )?
        .query_map(params![tenant, path, id], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    deleted.logs = table::delete_logs(&tx, &logs)?;
    tx.execute(
        "DELETE FROM ws_pending WHERE tenant = ?1 AND trace_id IN (SELECT trace_id FROM doomed_traces)",
        params![tenant],
    )?;
    tx.execute("DELETE FROM doomed_traces", [])?;
    tx.commit()?;
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::correlate::MINUTE_NS;
    use crate::model::{Batch, LogRecord, RollupQuery, RoundTripQuery, SpanRecord};
    use crate::store::{Scope, Store, Subject};
    use crate::testing::{one_exchange, temp_store};

    /// Exchange `trace` of `user` in `session`, with a log record of the user's.
    fn exchange(tenant: &str, trace: u8, user: &str, session: &str) -> Batch {
        let spans: Vec<SpanRecord> = one_exchange(0)
            .into_iter()
            .map(|mut s| {
                s.tenant = tenant.to_owned();
                s.trace_id = hex::encode([trace; 16]);
                if s.span_attributes.contains_key("session.id") {
                    s.span_attributes
                        .insert("session.id".into(), session.into());
                    s.span_attributes.insert("user.id".into(), user.into());
                }
                s
            })
            .collect();
        let log = LogRecord {
            tenant: tenant.to_owned(),
            timestamp_ns: 1,
            observed_ns: 0,
            trace_id: String::new(),
            span_id: String::new(),
            trace_flags: 0,
            severity_text: "INFO".into(),
            severity_number: 9,
            service_name: "web".into(),
            body: "clicked".into(),
            scope_name: String::new(),
            scope_version: String::new(),
            resource_attributes: Default::default(),
            log_attributes: [("user.id".to_owned(), user.to_owned())].into(),
            event_name: String::new(),
        };
        Batch {
            spans,
            logs: vec![log],
            ..Batch::default()
        }
    }

    async fn counts(store: &Store, tenant: &str) -> (usize, u64) {
        let reader = store.reader(Scope::of_tenant(tenant));
        let trips = reader
            .round_trips(&RoundTripQuery {
                start_ns: i64::MIN,
                end_ns: i64::MAX,
                limit: 100,
                ..RoundTripQuery::default()
            })
            .await
            .expect("reads");
        let rollups = reader
            .rollups(&RollupQuery {
                start_ns: 0,
                end_ns: MINUTE_NS,
                step_ns: MINUTE_NS,
                buckets: 1,
                ..RollupQuery::default()
            })
            .await
            .expect("reads")
            .expect("whole minutes are rolled up");
        (trips.len(), rollups.per_bucket()[0].count)
    }

    #[tokio::test]
    async fn a_users_traces_logs_round_trips_offsets_and_rollups_go_and_nobody_elses() {
        let (_dir, store, _) = temp_store(1_000).await;
        for batch in [
            exchange("", 1, "u-1", "s-1"),
            exchange("", 2, "u-2", "s-2"),
            exchange("other", 1, "u-1", "s-1"),
        ] {
            store
                .queue()
                .try_submit(batch)
                .expect("room")
                .durable()
                .await
                .expect("stored");
        }
        assert!(store.derive(Duration::from_secs(5)).await.expect("derives"));
        assert_eq!(counts(&store, "").await, (2, 2));

        let deleted = store
            .delete(&Scope::default(), &Subject::User("u-1".into()))
            .await
            .expect("deletes");
        assert_eq!(
            (
                deleted.spans,
                deleted.logs,
                deleted.round_trips,
                deleted.session_offsets
            ),
            (5, 1, 1, 1)
        );
        let reader = store.reader(Scope::default());
        assert!(
            reader
                .trace(&hex::encode([1u8; 16]))
                .await
                .expect("reads")
                .is_empty()
        );
        assert_eq!(
            reader
                .trace(&hex::encode([2u8; 16]))
                .await
                .expect("reads")
                .len(),
            5
        );
        assert!(reader.session_offset("s-1").await.expect("reads").is_none());
        assert!(reader.session_offset("s-2").await.expect("reads").is_some());
        assert_eq!(
            counts(&store, "").await,
            (1, 1),
            "round trips and the minute's rollup"
        );
        // The same user id and trace id in another tenant are another tenant's data.
        assert_eq!(counts(&store, "other").await, (1, 1));
        let other = store.reader(Scope::of_tenant("other"));
        assert_eq!(
            other
                .trace(&hex::encode([1u8; 16]))
                .await
                .expect("reads")
                .len(),
            5
        );

        let again = store
            .delete(&Scope::default(), &Subject::User("u-1".into()))
            .await
            .expect("deletes");
        assert_eq!(again, crate::store::Deleted::default());
        let session = store
            .delete(&Scope::default(), &Subject::Session("s-2".into()))
            .await
            .expect("deletes");
        assert_eq!(
            (session.spans, session.round_trips, session.session_offsets),
            (5, 1, 1)
        );
        assert_eq!(counts(&store, "").await, (0, 0));
    }
}
