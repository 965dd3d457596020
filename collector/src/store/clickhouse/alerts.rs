//! The alert engine's records in ClickHouse ([`crate::store::AlertRecord`] and the others), in
//! the tables of schema version 4 ([`super::schema`]). A claim is an INSERT whose deduplication
//! token is the tenant, rule and slot, so ClickHouse keeps the first claimer's row only; each
//! claimer then reads whose row it is. Replaced records are read with `FINAL`.

use async_trait::async_trait;
use clickhouse::{Client, Row, RowOwned, RowWrite};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::ClickHouseError;
use crate::store::alerts::{
    AlertBook, AlertRecord, NotificationRecord, RuleRecord, SilenceRecord, TransitionRecord,
};
use crate::store::error::StoreError;

/// The alert records of one database.
pub(super) struct ClickHouseAlertBook {
    pub(super) client: Client,
    /// Settings of every INSERT (cluster mode: wait for the shards).
    pub(super) settings: Vec<(&'static str, &'static str)>,
}

#[derive(Row, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ClaimRow {
    tenant: String,
    rule: String,
    slot: i64,
    owner: String,
}

#[derive(Row, Serialize)]
#[serde(rename_all = "PascalCase")]
struct StateRow {
    tenant: String,
    rule: String,
    key: String,
    version: u64,
    body: String,
}

#[derive(Row, Serialize)]
#[serde(rename_all = "PascalCase")]
struct HistoryRow {
    tenant: String,
    time: i64,
    rule: String,
    body: String,
}

#[derive(Row, Serialize)]
#[serde(rename_all = "PascalCase")]
struct NotificationRow {
    tenant: String,
    time: i64,
    body: String,
}

#[derive(Row, Serialize)]
#[serde(rename_all = "PascalCase")]
struct SilenceRow {
    tenant: String,
    id: String,
    ends_at: i64,
    version: u64,
    body: String,
}

#[derive(Row, Serialize)]
#[serde(rename_all = "PascalCase")]
struct RuleRow {
    tenant: String,
    name: String,
    deleted: u8,
    version: u64,
    body: String,
}

#[derive(Row, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BodyRow {
    body: String,
}

#[derive(Row, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TenantBodyRow {
    tenant: String,
    body: String,
}

#[derive(Row, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OwnerRow {
    owner: String,
}

fn encode<T: Serialize>(value: &T) -> Result<String, ClickHouseError> {
    Ok(serde_json::to_string(value)?)
}

fn decode<T: DeserializeOwned>(rows: Vec<BodyRow>) -> Result<Vec<T>, StoreError> {
    rows.iter()
        .map(|r| serde_json::from_str(&r.body).map_err(|e| ClickHouseError::Decode(e).into()))
        .collect()
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

fn version(ns: i64) -> u64 {
    u64::try_from(ns).unwrap_or(0)
}

impl ClickHouseAlertBook {
    /// Inserts `rows` into `table` in one INSERT, with `token` as its deduplication token when
    /// given (deduplication off otherwise, so equal rows of later inserts are kept).
    async fn insert<R: RowOwned + RowWrite + Send + Sync + 'static>(
        &self,
        table: &str,
        rows: &[R],
        token: Option<String>,
    ) -> Result<(), ClickHouseError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut insert = self.client.insert::<R>(table).await?;
        insert = match token {
            Some(token) => insert
                .with_setting("insert_deduplicate", "1")
                .with_setting("insert_deduplication_token", token),
            None => insert.with_setting("insert_deduplicate", "0"),
        };
        for (name, value) in &self.settings {
            insert = insert.with_setting(*name, *value);
        }
        for row in rows {
            insert.write(row).await?;
        }
        Ok(insert.end().await?)
    }
}

#[async_trait]
impl AlertBook for ClickHouseAlertBook {
    async fn claim(
        &self,
        tenant: &str,
        rule: &str,
        slot_ns: i64,
        owner: &str,
    ) -> Result<bool, StoreError> {
        let mut token = Sha256::new();
        for part in [tenant, rule, &slot_ns.to_string()] {
            token.update(part.as_bytes());
            token.update([0]);
        }
        let token = format!("alert-claim-{}", hex::encode(token.finalize()));
        let row = ClaimRow {
            tenant: tenant.to_owned(),
            rule: rule.to_owned(),
            slot: slot_ns,
            owner: owner.to_owned(),
        };
        self.insert("tracewire_alert_claims", &[row], Some(token))
            .await?;
        let first: Option<OwnerRow> = self
            .client
            .query(
                "SELECT Owner FROM tracewire_alert_claims WHERE Tenant = {tenant:String} \
                 AND Rule = {rule:String} AND Slot = {slot:Int64} ORDER BY ClaimedAt, Owner LIMIT 1",
            )
            .param("tenant", tenant)
            .param("rule", rule)
            .param("slot", slot_ns)
            .fetch_optional()
            .await
            .map_err(ClickHouseError::from)?;
        Ok(first.is_some_and(|r| r.owner == owner))
    }

    async fn claimed(&self, tenant: &str, rule: &str, slot_ns: i64) -> Result<bool, StoreError> {
        let count: u64 = self
            .client
            .query(
                "SELECT count() FROM tracewire_alert_claims WHERE Tenant = {tenant:String} \
                 AND Rule = {rule:String} AND Slot = {slot:Int64}",
            )
            .param("tenant", tenant)
            .param("rule", rule)
            .param("slot", slot_ns)
            .fetch_one()
            .await
            .map_err(ClickHouseError::from)?;
        Ok(count > 0)
    }

    async fn states(
        &self,
        tenant: &str,
        rule: Option<&str>,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        let rows = self
            .client
            .query(
                "SELECT Body FROM tracewire_alert_states FINAL WHERE Tenant = {tenant:String} \
                 AND ({rule:String} = '' OR Rule = {rule:String}) ORDER BY Rule, Key",
            )
            .param("tenant", tenant)
            .param("rule", rule.unwrap_or(""))
            .fetch_all::<BodyRow>()
            .await
            .map_err(ClickHouseError::from)?;
        decode(rows)
    }

    async fn record(
        &self,
        tenant: &str,
        states: &[AlertRecord],
        transitions: &[TransitionRecord],
    ) -> Result<(), StoreError> {
        let states = states
            .iter()
            .map(|s| {
                Ok(StateRow {
                    tenant: tenant.to_owned(),
                    rule: s.rule.clone(),
                    key: s.key.clone(),
                    version: version(s.slot_ns),
                    body: encode(s)?,
                })
            })
            .collect::<Result<Vec<_>, ClickHouseError>>()?;
        let history = transitions
            .iter()
            .map(|t| {
                Ok(HistoryRow {
                    tenant: tenant.to_owned(),
                    time: t.time_ns,
                    rule: t.rule.clone(),
                    body: encode(t)?,
                })
            })
            .collect::<Result<Vec<_>, ClickHouseError>>()?;
        self.insert("tracewire_alert_history", &history, None)
            .await?;
        self.insert("tracewire_alert_states", &states, None).await?;
        Ok(())
    }

    async fn history(
        &self,
        tenant: &str,
        rule: Option<&str>,
        limit: usize,
    ) -> Result<Vec<TransitionRecord>, StoreError> {
        let rows = self
            .client
            .query(
                "SELECT Body FROM tracewire_alert_history WHERE Tenant = {tenant:String} \
                 AND ({rule:String} = '' OR Rule = {rule:String}) \
                 ORDER BY Time DESC LIMIT {limit:UInt64}",
            )
            .param("tenant", tenant)
            .param("rule", rule.unwrap_or(""))
            .param("limit", limit as u64)
            .fetch_all::<BodyRow>()
            .await
            .map_err(ClickHouseError::from)?;
        decode(rows)
    }

    async fn log_notification(
        &self,
        tenant: &str,
        entry: &NotificationRecord,
    ) -> Result<(), StoreError> {
        let row = NotificationRow {
            tenant: tenant.to_owned(),
            time: entry.time_ns,
            body: encode(entry)?,
        };
        Ok(self
            .insert("tracewire_alert_notifications", &[row], None)
            .await?)
    }

    async fn notifications(
        &self,
        tenant: &str,
        limit: usize,
    ) -> Result<Vec<NotificationRecord>, StoreError> {
        let rows = self
            .client
            .query(
                "SELECT Body FROM tracewire_alert_notifications WHERE Tenant = {tenant:String} \
                 ORDER BY Time DESC LIMIT {limit:UInt64}",
            )
            .param("tenant", tenant)
            .param("limit", limit as u64)
            .fetch_all::<BodyRow>()
            .await
            .map_err(ClickHouseError::from)?;
        decode(rows)
    }

    async fn silences(
        &self,
        tenant: &str,
        after_ns: i64,
    ) -> Result<Vec<SilenceRecord>, StoreError> {
        let rows = self
            .client
            .query(
                "SELECT Body FROM tracewire_alert_silences FINAL WHERE Tenant = {tenant:String} \
                 AND EndsAt > {after:Int64} ORDER BY EndsAt",
            )
            .param("tenant", tenant)
            .param("after", after_ns)
            .fetch_all::<BodyRow>()
            .await
            .map_err(ClickHouseError::from)?;
        decode(rows)
    }

    async fn put_silence(&self, tenant: &str, silence: &SilenceRecord) -> Result<(), StoreError> {
        let row = SilenceRow {
            tenant: tenant.to_owned(),
            id: silence.id.clone(),
            ends_at: silence.ends_ns,
            version: version(silence.updated_ns),
            body: encode(silence)?,
        };
        Ok(self
            .insert("tracewire_alert_silences", &[row], None)
            .await?)
    }

    async fn all_rules(&self) -> Result<Vec<(String, RuleRecord)>, StoreError> {
        let rows = self
            .client
            .query(
                "SELECT Tenant, Body FROM tracewire_alert_rules FINAL WHERE Deleted = 0 \
                 ORDER BY Tenant, Name",
            )
            .fetch_all::<TenantBodyRow>()
            .await
            .map_err(ClickHouseError::from)?;
        rows.into_iter()
            .map(|r| {
                let rule = serde_json::from_str(&r.body).map_err(ClickHouseError::Decode)?;
                Ok((r.tenant, rule))
            })
            .collect()
    }

    async fn put_rule(&self, tenant: &str, rule: &RuleRecord) -> Result<(), StoreError> {
        let row = RuleRow {
            tenant: tenant.to_owned(),
            name: rule.name.clone(),
            deleted: 0,
            version: version(rule.updated_ns),
            body: encode(rule)?,
        };
        Ok(self.insert("tracewire_alert_rules", &[row], None).await?)
    }

    async fn delete_rule(&self, tenant: &str, name: &str) -> Result<bool, StoreError> {
        let existed = self
            .all_rules()
            .await?
            .iter()
            .any(|(t, r)| t == tenant && r.name == name);
        if existed {
            let row = RuleRow {
                tenant: tenant.to_owned(),
                name: name.to_owned(),
                deleted: 1,
                version: version(now_ns()),
                body: "{}".to_owned(),
            };
            self.insert("tracewire_alert_rules", &[row], None).await?;
        }
        Ok(existed)
    }
}
