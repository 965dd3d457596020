//! The alert engine's records in SQLite ([`crate::store::AlertRecord`] and the others): on a
//! read-write connection of their own, apart from the batch writer, with SQLite's busy wait. A
//! claim is an `INSERT OR IGNORE` on the primary key (tenant, rule, slot): of two collectors
//! on one file, only the first insert changes a row. History, the notification log and claims
//! older than the retention are deleted as new ones are written.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::config::BUSY_TIMEOUT;
use super::error::SqliteError;
use crate::store::alerts::{
    AlertBook, AlertRecord, NotificationRecord, RuleRecord, SilenceRecord, TransitionRecord,
};
use crate::store::error::StoreError;

/// Claims are needed for a few slots only; they are kept this long.
const CLAIMS_KEPT_NS: i64 = 3_600 * 1_000_000_000;

/// The alert records of one database file.
pub(super) struct SqliteAlertBook {
    path: PathBuf,
    retention_ns: i64,
    conn: Arc<Mutex<Option<Connection>>>,
}

impl SqliteAlertBook {
    /// The book of the (migrated) file at `path`, keeping history for `retention`.
    pub(super) fn new(path: PathBuf, retention: Option<Duration>) -> Self {
        let retention_ns = retention
            .and_then(|r| i64::try_from(r.as_nanos()).ok())
            .unwrap_or(i64::MAX);
        Self {
            path,
            retention_ns,
            conn: Arc::new(Mutex::new(None)),
        }
    }

    /// Runs `f` on the book's connection in a blocking task.
    async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, SqliteError> + Send + 'static,
    {
        let slot = Arc::clone(&self.conn);
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = slot
                .lock()
                .map_err(|_| StoreError::Task("the alert connection is poisoned".into()))?;
            if guard.is_none() {
                let conn = Connection::open(&path).map_err(SqliteError::from)?;
                conn.busy_timeout(BUSY_TIMEOUT).map_err(SqliteError::from)?;
                *guard = Some(conn);
            }
            let conn = guard
                .as_mut()
                .ok_or_else(|| StoreError::Task("no connection".into()))?;
            f(conn).map_err(StoreError::from)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }
}

fn body<T: Serialize>(value: &T) -> Result<String, SqliteError> {
    Ok(serde_json::to_string(value)?)
}

fn bodies<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<T>, SqliteError> {
    let mut statement = conn.prepare_cached(sql)?;
    let texts = statement
        .query_map(params, |row| row.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    texts
        .iter()
        .map(|text| serde_json::from_str(text).map_err(SqliteError::from))
        .collect()
}

fn limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

#[async_trait]
impl AlertBook for SqliteAlertBook {
    async fn claim(
        &self,
        tenant: &str,
        rule: &str,
        slot_ns: i64,
        owner: &str,
    ) -> Result<bool, StoreError> {
        let (tenant, rule, owner) = (tenant.to_owned(), rule.to_owned(), owner.to_owned());
        self.run(move |conn| {
            let tx = conn.transaction()?;
            let changed = tx.execute(
                "INSERT OR IGNORE INTO alert_claims (tenant, rule, slot_ns, owner) VALUES (?1, ?2, ?3, ?4)",
                params![tenant, rule, slot_ns, owner],
            )?;
            tx.execute(
                "DELETE FROM alert_claims WHERE tenant = ?1 AND rule = ?2 AND slot_ns < ?3",
                params![tenant, rule, slot_ns.saturating_sub(CLAIMS_KEPT_NS)],
            )?;
            tx.commit()?;
            Ok(changed == 1)
        })
        .await
    }

    async fn claimed(&self, tenant: &str, rule: &str, slot_ns: i64) -> Result<bool, StoreError> {
        let (tenant, rule) = (tenant.to_owned(), rule.to_owned());
        self.run(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT 1 FROM alert_claims WHERE tenant = ?1 AND rule = ?2 AND slot_ns = ?3",
                )?
                .query_row(params![tenant, rule, slot_ns], |_| Ok(()))
                .optional()?
                .is_some())
        })
        .await
    }

    async fn states(
        &self,
        tenant: &str,
        rule: Option<&str>,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        let (tenant, rule) = (tenant.to_owned(), rule.map(str::to_owned));
        self.run(move |conn| match rule {
            Some(rule) => bodies(
                conn,
                "SELECT body FROM alert_states WHERE tenant = ?1 AND rule = ?2 ORDER BY key",
                params![tenant, rule],
            ),
            None => bodies(
                conn,
                "SELECT body FROM alert_states WHERE tenant = ?1 ORDER BY rule, key",
                params![tenant],
            ),
        })
        .await
    }

    async fn record(
        &self,
        tenant: &str,
        states: &[AlertRecord],
        transitions: &[TransitionRecord],
    ) -> Result<(), StoreError> {
        let tenant = tenant.to_owned();
        let (states, transitions) = (states.to_vec(), transitions.to_vec());
        let retention_ns = self.retention_ns;
        self.run(move |conn| {
            let tx = conn.transaction()?;
            for state in &states {
                tx.prepare_cached(
                    "INSERT INTO alert_states (tenant, rule, key, slot_ns, body) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (tenant, rule, key) DO UPDATE SET slot_ns = excluded.slot_ns, body = excluded.body
                     WHERE excluded.slot_ns >= alert_states.slot_ns",
                )?
                .execute(params![tenant, state.rule, state.key, state.slot_ns, body(state)?])?;
            }
            for t in &transitions {
                tx.prepare_cached(
                    "INSERT INTO alert_history (tenant, time_ns, rule, body) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![tenant, t.time_ns, t.rule, body(t)?])?;
            }
            if let Some(newest) = transitions.iter().map(|t| t.time_ns).max() {
                let before = newest.saturating_sub(retention_ns);
                tx.execute(
                    "DELETE FROM alert_history WHERE tenant = ?1 AND time_ns < ?2",
                    params![tenant, before],
                )?;
                tx.execute(
                    "DELETE FROM alert_notifications WHERE tenant = ?1 AND time_ns < ?2",
                    params![tenant, before],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn history(
        &self,
        tenant: &str,
        rule: Option<&str>,
        max: usize,
    ) -> Result<Vec<TransitionRecord>, StoreError> {
        let (tenant, rule) = (tenant.to_owned(), rule.map(str::to_owned));
        self.run(move |conn| match rule {
            Some(rule) => bodies(
                conn,
                "SELECT body FROM alert_history WHERE tenant = ?1 AND rule = ?2 \
                 ORDER BY time_ns DESC, rowid DESC LIMIT ?3",
                params![tenant, rule, limit(max)],
            ),
            None => bodies(
                conn,
                "SELECT body FROM alert_history WHERE tenant = ?1 \
                 ORDER BY time_ns DESC, rowid DESC LIMIT ?2",
                params![tenant, limit(max)],
            ),
        })
        .await
    }

    async fn log_notification(
        &self,
        tenant: &str,
        entry: &NotificationRecord,
    ) -> Result<(), StoreError> {
        let (tenant, entry) = (tenant.to_owned(), entry.clone());
        self.run(move |conn| {
            conn.prepare_cached(
                "INSERT INTO alert_notifications (tenant, time_ns, body) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![tenant, entry.time_ns, body(&entry)?])?;
            Ok(())
        })
        .await
    }

    async fn notifications(
        &self,
        tenant: &str,
        max: usize,
    ) -> Result<Vec<NotificationRecord>, StoreError> {
        let tenant = tenant.to_owned();
        self.run(move |conn| {
            bodies(
                conn,
                "SELECT body FROM alert_notifications WHERE tenant = ?1 \
                 ORDER BY time_ns DESC, rowid DESC LIMIT ?2",
                params![tenant, limit(max)],
            )
        })
        .await
    }

    async fn silences(
        &self,
        tenant: &str,
        after_ns: i64,
    ) -> Result<Vec<SilenceRecord>, StoreError> {
        let tenant = tenant.to_owned();
        self.run(move |conn| {
            bodies(
                conn,
                "SELECT body FROM alert_silences WHERE tenant = ?1 AND ends_ns > ?2 ORDER BY ends_ns",
                params![tenant, after_ns],
            )
        })
        .await
    }

    async fn put_silence(&self, tenant: &str, silence: &SilenceRecord) -> Result<(), StoreError> {
        let (tenant, silence) = (tenant.to_owned(), silence.clone());
        self.run(move |conn| {
            conn.execute(
                "INSERT INTO alert_silences (tenant, id, ends_ns, body) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (tenant, id) DO UPDATE SET ends_ns = excluded.ends_ns, body = excluded.body",
                params![tenant, silence.id, silence.ends_ns, body(&silence)?],
            )?;
            Ok(())
        })
        .await
    }

    async fn all_rules(&self) -> Result<Vec<(String, RuleRecord)>, StoreError> {
        self.run(|conn| {
            let mut statement =
                conn.prepare_cached("SELECT tenant, body FROM alert_rules ORDER BY tenant, name")?;
            let rows = statement
                .query_map([], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter()
                .map(|(tenant, text)| Ok((tenant, serde_json::from_str(&text)?)))
                .collect()
        })
        .await
    }

    async fn put_rule(&self, tenant: &str, rule: &RuleRecord) -> Result<(), StoreError> {
        let (tenant, rule) = (tenant.to_owned(), rule.clone());
        self.run(move |conn| {
            conn.execute(
                "INSERT INTO alert_rules (tenant, name, body) VALUES (?1, ?2, ?3)
                 ON CONFLICT (tenant, name) DO UPDATE SET body = excluded.body",
                params![tenant, rule.name, body(&rule)?],
            )?;
            Ok(())
        })
        .await
    }

    async fn delete_rule(&self, tenant: &str, name: &str) -> Result<bool, StoreError> {
        let (tenant, name) = (tenant.to_owned(), name.to_owned());
        self.run(move |conn| {
            let tx = conn.transaction()?;
            let deleted = tx.execute(
                "DELETE FROM alert_rules WHERE tenant = ?1 AND name = ?2",
                params![tenant, name],
            )?;
            tx.execute(
                "DELETE FROM alert_states WHERE tenant = ?1 AND rule = ?2",
                params![tenant, name],
            )?;
            tx.commit()?;
            Ok(deleted == 1)
        })
        .await
    }
}
