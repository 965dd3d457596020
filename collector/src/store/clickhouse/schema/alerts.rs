//! Schema version 4: the alert engine's records ([`super::super::alerts`]). Each row carries its
//! record as JSON (`Body`) beside the columns it is looked up by.
//!
//! - `tracewire_alert_claims`: one row per tenant, rule and evaluation slot. Every claimer
//!   inserts with the deduplication token of the slot, so ClickHouse keeps the first insert
//!   only, and every claimer reads back whose it is.
//! - `tracewire_alert_states`, `tracewire_alert_silences`, `tracewire_alert_rules`:
//!   `ReplacingMergeTree` on `Version` (the slot, the time of the change), read with `FINAL`;
//!   a deleted rule is a row with `Deleted = 1`.
//! - `tracewire_alert_history`, `tracewire_alert_notifications`: appended, ordered by time.
//!
//! Claims, history and the notification log expire with the TTL of `--retention`.

use super::Layout;

/// The alert tables that get a TTL, with their time expressions.
pub(super) const ALERT_TTL_TABLES: [(&str, &str); 3] = [
    ("tracewire_alert_claims", "toDateTime(ClaimedAt)"),
    ("tracewire_alert_history", "toDateTime(Time)"),
    ("tracewire_alert_notifications", "toDateTime(Time)"),
];

impl Layout {
    /// Version 4: the alert engine's tables.
    pub(super) fn migration_4(&self) -> Vec<String> {
        let on = self.on_cluster();
        let claims = "tracewire_alert_claims";
        let mut statements = vec![format!(
            "CREATE TABLE IF NOT EXISTS {stored}{on} (
    Tenant LowCardinality(String) CODEC(ZSTD(1)),
    Rule String CODEC(ZSTD(1)),
    Slot Int64 CODEC(Delta, ZSTD(1)),
    Owner String CODEC(ZSTD(1)),
    ClaimedAt DateTime64(3) DEFAULT now64(3) CODEC(Delta, ZSTD(1))
) ENGINE = {engine}
ORDER BY (Tenant, Rule, Slot)
TTL {ttl}
SETTINGS index_granularity = 8192{dedup}",
            stored = self.stored(claims),
            engine = self.engine(claims),
            ttl = self.ttl("toDateTime(ClaimedAt)"),
            dedup = self.dedup_setting(),
        )];
        statements.extend(self.distributed(claims, "cityHash64(Tenant, Rule)"));
        for (table, key) in [
            ("tracewire_alert_states", "Rule, Key"),
            ("tracewire_alert_silences", "Id"),
            ("tracewire_alert_rules", "Name"),
        ] {
            let columns = match table {
                "tracewire_alert_states" => {
                    "    Rule String CODEC(ZSTD(1)),\n    Key String CODEC(ZSTD(1)),\n"
                }
                "tracewire_alert_silences" => {
                    "    Id String CODEC(ZSTD(1)),\n    EndsAt Int64 CODEC(ZSTD(1)),\n"
                }
                _ => "    Name String CODEC(ZSTD(1)),\n    Deleted UInt8 CODEC(ZSTD(1)),\n",
            };
            statements.push(format!(
                "CREATE TABLE IF NOT EXISTS {stored}{on} (
    Tenant LowCardinality(String) CODEC(ZSTD(1)),
{columns}    Version UInt64 CODEC(ZSTD(1)),
    Body String CODEC(ZSTD(1))
) ENGINE = {engine}
ORDER BY (Tenant, {key})
SETTINGS index_granularity = 8192",
                stored = self.stored(table),
                engine = self.replacing_engine(table, "Version"),
            ));
            statements.extend(self.distributed(table, "cityHash64(Tenant)"));
        }
        for (table, extra) in [
            (
                "tracewire_alert_history",
                "    Rule String CODEC(ZSTD(1)),\n",
            ),
            ("tracewire_alert_notifications", ""),
        ] {
            statements.push(format!(
                "CREATE TABLE IF NOT EXISTS {stored}{on} (
    Tenant LowCardinality(String) CODEC(ZSTD(1)),
    Time DateTime64(9) CODEC(Delta, ZSTD(1)),
{extra}    Body String CODEC(ZSTD(1))
) ENGINE = {engine}
ORDER BY (Tenant, Time)
TTL {ttl}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1",
                stored = self.stored(table),
                engine = self.engine(table),
                ttl = self.ttl("toDateTime(Time)"),
            ));
            statements.extend(self.distributed(table, "cityHash64(Tenant)"));
        }
        statements
    }
}
