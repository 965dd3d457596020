//! DDL and migrations. The tables are the OpenTelemetry Collector ClickHouse exporter's
//! (`otel_traces`, `otel_traces_trace_id_ts` with its materialized view, `otel_logs`): same
//! column names, types, codecs, skip indexes, partitioning and sort keys, so tools that read that
//! schema (Grafana's ClickHouse datasource in OTel mode, ...) read our data. Tracewire's own
//! columns (`Tenant`, `ObservedTimestamp`) are added at the end with defaults, so the exporter's
//! inserts still work on these tables.
//!
//! On a single server the tables are `MergeTree` with a deduplication window (so retried inserts
//! carrying the same `insert_deduplication_token` are stored once). In cluster mode each table is
//! a `ReplicatedMergeTree` named `<table>_local`, created `ON CLUSTER`, under a `Distributed`
//! table with the exporter's name, sharded by `cityHash64(TraceId)` so a trace stays on one shard.
//!
//! Tracewire's own tables hold what the correlation step derives from stored spans:
//! `tracewire_ws_round_trips` and `tracewire_ws_session_offsets`, both `ReplacingMergeTree` on a
//! version, so a derivation from more data replaces one from less whichever collector wrote
//! last; reads use `FINAL`. Round trips are sharded by trace like the spans, session offsets by
//! session.
//!
//! Version 3 adds the exporter's metrics tables ([`metrics`]), version 4 the alert engine's
//! ([`alerts`]).
//!
//! The applied version is a row in `tracewire_schema_migrations`; each migration is a list of
//! idempotent statements. The TTL follows `--retention` and is changed in place when it differs.

mod alerts;
mod metrics;

use clickhouse::{Client, Row};
use serde::Deserialize;
use tracing::info;

use super::config::ClickHouseConfig;
use super::error::ClickHouseError;

/// The schema version this build writes.
pub(super) const SCHEMA_VERSION: u32 = 4;

/// Rows of recent inserts whose tokens a single-server table remembers.
const DEDUP_WINDOW: u32 = 10_000;

/// The tables that get a TTL, with the time expression the TTL is computed from.
const TTL_TABLES: [(&str, &str); 10] = [
    ("otel_traces", "toDateTime(Timestamp)"),
    ("otel_traces_trace_id_ts", "Start"),
    ("otel_logs", "TimestampTime"),
    ("tracewire_ws_round_trips", "toDateTime(ClientSendTime)"),
    ("tracewire_ws_session_offsets", "EstimatedAt"),
    (metrics::METRICS_TABLES[0], "TimeUnix"),
    (metrics::METRICS_TABLES[1], "TimeUnix"),
    (metrics::METRICS_TABLES[2], "TimeUnix"),
    (metrics::METRICS_TABLES[3], "TimeUnix"),
    (metrics::METRICS_TABLES[4], "TimeUnix"),
];

/// Where and how the schema is laid out.
#[derive(Debug, Clone)]
pub struct Layout {
    database: String,
    cluster: Option<String>,
    ttl_seconds: u64,
}

impl Layout {
    /// The layout for a checked configuration.
    pub fn new(config: &ClickHouseConfig) -> Self {
        Self {
            database: config.server.database.clone(),
            cluster: config.options.cluster.clone(),
            ttl_seconds: config.retention.as_secs().max(1),
        }
    }

    fn on_cluster(&self) -> String {
        self.cluster
            .as_ref()
            .map(|c| format!(" ON CLUSTER `{c}`"))
            .unwrap_or_default()
    }

    /// `db`.`table`, with `_local` in cluster mode for the tables that hold data.
    fn stored(&self, table: &str) -> String {
        match self.cluster {
            Some(_) => format!("`{}`.`{table}_local`", self.database),
            None => format!("`{}`.`{table}`", self.database),
        }
    }

    fn named(&self, table: &str) -> String {
        format!("`{}`.`{table}`", self.database)
    }

    fn ttl(&self, time: &str) -> String {
        format!("{time} + toIntervalSecond({})", self.ttl_seconds)
    }

    fn engine(&self, table: &str) -> String {
        match self.cluster {
            Some(_) => format!(
                "ReplicatedMergeTree('/clickhouse/tables/{{shard}}/{}/{table}_local', '{{replica}}')",
                self.database
            ),
            None => "MergeTree".to_owned(),
        }
    }

    /// A `ReplacingMergeTree` that keeps the row with the highest `version` per sort key.
    fn replacing_engine(&self, table: &str, version: &str) -> String {
        match self.cluster {
            Some(_) => format!(
                "ReplicatedReplacingMergeTree('/clickhouse/tables/{{shard}}/{}/{table}_local', '{{replica}}', {version})",
                self.database
            ),
            None => format!("ReplacingMergeTree({version})"),
        }
    }

    fn dedup_setting(&self) -> String {
        match self.cluster {
            // Replicated tables deduplicate by default (`replicated_deduplication_window`).
            Some(_) => String::new(),
            None => format!(", non_replicated_deduplication_window = {DEDUP_WINDOW}"),
        }
    }

    /// The `Distributed` table over `<table>_local` (cluster mode only).
    /// `DELETE FROM` the rows of `table` (a lightweight delete), on every shard's local table
    /// in cluster mode; the caller appends the `WHERE` clause.
    pub(super) fn delete_from(&self, table: &str) -> String {
        format!("DELETE FROM {}{}", self.stored(table), self.on_cluster())
    }

    fn distributed(&self, table: &str, sharding: &str) -> Option<String> {
        let cluster = self.cluster.as_ref()?;
        Some(format!(
            "CREATE TABLE IF NOT EXISTS {named}{on} AS {local}\nENGINE = Distributed('{cluster}', '{db}', '{table}_local', {sharding})",
            named = self.named(table),
            on = self.on_cluster(),
            local = self.stored(table),
            db = self.database,
        ))
    }

    fn create_database(&self) -> String {
        format!(
            "CREATE DATABASE IF NOT EXISTS `{}`{}",
            self.database,
            self.on_cluster()
        )
    }

    fn create_migrations_table(&self) -> String {
        let engine = match &self.cluster {
            // One history for the whole cluster: the path has no shard.
            Some(_) => format!(
                "ReplicatedMergeTree('/clickhouse/tables/{}/tracewire_schema_migrations', '{{replica}}')",
                self.database
            ),
            None => "MergeTree".to_owned(),
        };
        format!(
            "CREATE TABLE IF NOT EXISTS {table}{on} (\n    version UInt32,\n    applied_at DateTime DEFAULT now()\n) ENGINE = {engine}\nORDER BY version",
            table = self.named("tracewire_schema_migrations"),
            on = self.on_cluster(),
        )
    }

    fn record_version(&self, version: u32) -> String {
        format!(
            "INSERT INTO {} (version) VALUES ({version})",
            self.named("tracewire_schema_migrations")
        )
    }

    /// Version 1: the exporter's tables plus Tracewire's columns.
    fn migration_1(&self) -> Vec<String> {
        let on = self.on_cluster();
        let map = "Map(LowCardinality(String), String)";
        let mut statements = vec![format!(
            "CREATE TABLE IF NOT EXISTS {table}{on} (
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes {map} CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes {map} CODEC(ZSTD(1)),
    Duration UInt64 CODEC(T64, ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes {map}
    ) CODEC(ZSTD(1)),
    Links Nested (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes {map}
    ) CODEC(ZSTD(1)),
    Tenant LowCardinality(String) DEFAULT '' CODEC(ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1
) ENGINE = {engine}
PARTITION BY toDate(Timestamp)
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp), Timestamp)
TTL {ttl}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1{dedup}",
            table = self.stored("otel_traces"),
            engine = self.engine("otel_traces"),
            ttl = self.ttl("toDateTime(Timestamp)"),
            dedup = self.dedup_setting(),
        )];
        statements.extend(self.distributed("otel_traces", "cityHash64(TraceId)"));
        statements.push(format!(
            "CREATE TABLE IF NOT EXISTS {table}{on} (
    TraceId String CODEC(ZSTD(1)),
    Start DateTime CODEC(Delta, ZSTD(1)),
    End DateTime CODEC(Delta, ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = {engine}
PARTITION BY toDate(Start)
ORDER BY (TraceId, Start)
TTL {ttl}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1",
            table = self.stored("otel_traces_trace_id_ts"),
            engine = self.engine("otel_traces_trace_id_ts"),
            ttl = self.ttl("Start"),
        ));
        statements.extend(self.distributed("otel_traces_trace_id_ts", "cityHash64(TraceId)"));
        // In cluster mode the view sits on each shard's local table, so it sees exactly the
        // rows that the Distributed table routed there.
        statements.push(format!(
            "CREATE MATERIALIZED VIEW IF NOT EXISTS {view}{on}
TO {target}
AS SELECT
    TraceId,
    min(Timestamp) AS Start,
    max(Timestamp) AS End
FROM {source}
WHERE TraceId != ''
GROUP BY TraceId",
            view = match self.cluster {
                Some(_) => self.named("otel_traces_trace_id_ts_mv_local"),
                None => self.named("otel_traces_trace_id_ts_mv"),
            },
            target = self.stored("otel_traces_trace_id_ts"),
            source = self.stored("otel_traces"),
        ));
        statements.push(format!(
            "CREATE TABLE IF NOT EXISTS {table}{on} (
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    TimestampTime DateTime DEFAULT toDateTime(Timestamp),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    TraceFlags UInt8,
    SeverityText LowCardinality(String) CODEC(ZSTD(1)),
    SeverityNumber UInt8,
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    Body String CODEC(ZSTD(1)),
    ResourceSchemaUrl LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes {map} CODEC(ZSTD(1)),
    ScopeSchemaUrl LowCardinality(String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion LowCardinality(String) CODEC(ZSTD(1)),
    ScopeAttributes {map} CODEC(ZSTD(1)),
    LogAttributes {map} CODEC(ZSTD(1)),
    EventName String CODEC(ZSTD(1)),
    ObservedTimestamp DateTime64(9) DEFAULT 0 CODEC(Delta, ZSTD(1)),
    Tenant LowCardinality(String) DEFAULT '' CODEC(ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_log_attr_key mapKeys(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_log_attr_value mapValues(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_body Body TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8
) ENGINE = {engine}
PARTITION BY toDate(TimestampTime)
PRIMARY KEY (ServiceName, TimestampTime)
ORDER BY (ServiceName, TimestampTime, Timestamp)
TTL {ttl}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1{dedup}",
            table = self.stored("otel_logs"),
            engine = self.engine("otel_logs"),
            ttl = self.ttl("TimestampTime"),
            dedup = self.dedup_setting(),
        ));
        // Logs without a trace would all land on one shard; spread those at random.
        statements
            .extend(self.distributed("otel_logs", "if(TraceId = '', rand(), cityHash64(TraceId))"));
        statements
    }

    /// Version 2: what the correlation step derives. A round trip's sort key and partition come
    /// from its send span alone, so every derivation of it lands on the same key and replaces
    /// the others; a session's offsets are not partitioned for the same reason.
    fn migration_2(&self) -> Vec<String> {
        let on = self.on_cluster();
        let mut statements = vec![format!(
            "CREATE TABLE IF NOT EXISTS {table}{on} (
    Tenant LowCardinality(String) CODEC(ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SendSpanId String CODEC(ZSTD(1)),
    ServerSpanId String CODEC(ZSTD(1)),
    ReceiveSpanId Nullable(String) CODEC(ZSTD(1)),
    SessionId Nullable(String) CODEC(ZSTD(1)),
    UserId Nullable(String) CODEC(ZSTD(1)),
    Url Nullable(String) CODEC(ZSTD(1)),
    MessageType LowCardinality(Nullable(String)) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ServerServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ClientSendTime DateTime64(9) CODEC(Delta, ZSTD(1)),
    ServerReceiveTime DateTime64(9) CODEC(Delta, ZSTD(1)),
    ServerDoneTime DateTime64(9) CODEC(Delta, ZSTD(1)),
    ClientReceiveTime Nullable(DateTime64(9)) CODEC(ZSTD(1)),
    ClientProcessingDuration Nullable(Int64) CODEC(ZSTD(1)),
    Error Bool CODEC(ZSTD(1)),
    Version UInt64 CODEC(ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_session_id SessionId TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = {engine}
PARTITION BY toDate(ClientSendTime)
ORDER BY (Tenant, toDateTime(ClientSendTime), TraceId, SendSpanId)
TTL {ttl}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1",
            table = self.stored("tracewire_ws_round_trips"),
            engine = self.replacing_engine("tracewire_ws_round_trips", "Version"),
            ttl = self.ttl("toDateTime(ClientSendTime)"),
        )];
        statements.extend(self.distributed("tracewire_ws_round_trips", "cityHash64(TraceId)"));
        statements.push(format!(
            "CREATE TABLE IF NOT EXISTS {table}{on} (
    Tenant LowCardinality(String) CODEC(ZSTD(1)),
    SessionId String CODEC(ZSTD(1)),
    ClockOffset Int64 CODEC(ZSTD(1)),
    Samples UInt64 CODEC(ZSTD(1)),
    Version UInt64 CODEC(ZSTD(1)),
    EstimatedAt DateTime DEFAULT now() CODEC(Delta, ZSTD(1))
) ENGINE = {engine}
ORDER BY (Tenant, SessionId)
TTL {ttl}
SETTINGS index_granularity = 8192",
            table = self.stored("tracewire_ws_session_offsets"),
            engine = self.replacing_engine("tracewire_ws_session_offsets", "Version"),
            ttl = self.ttl("EstimatedAt"),
        ));
        statements
            .extend(self.distributed("tracewire_ws_session_offsets", "cityHash64(SessionId)"));
        statements
    }

    /// The statements of each migration, in order; index + 1 is the version.
    fn migrations(&self) -> Vec<Vec<String>> {
        vec![
            self.migration_1(),
            self.migration_2(),
            self.migration_3(),
            self.migration_4(),
        ]
    }

    /// `ALTER TABLE ... MODIFY TTL` for one table, to follow a changed `--retention`.
    fn modify_ttl(&self, table: &str, time: &str) -> String {
        format!(
            "ALTER TABLE {}{} MODIFY TTL {}",
            self.stored(table),
            self.on_cluster(),
            self.ttl(time)
        )
    }

    /// Every statement that creates the current schema from nothing, in order, as printed by
    /// `tracewire-collector schema`: the database, the migrations table, each migration and
    /// the row recording its version.
    pub fn statements(&self) -> Vec<String> {
        let mut all = vec![self.create_database(), self.create_migrations_table()];
        for (index, migration) in self.migrations().into_iter().enumerate() {
            all.extend(migration);
            all.push(self.record_version(index as u32 + 1));
        }
        all
    }

    /// The DDL as a script: statements separated by `;` and blank lines.
    pub fn script(&self) -> String {
        let mut out = String::new();
        for statement in self.statements() {
            out.push_str(&statement);
            out.push_str(";\n\n");
        }
        out
    }
}

#[derive(Row, Deserialize)]
struct VersionRow {
    tables: u64,
    version: u32,
}

#[derive(Row, Deserialize)]
struct EngineRow {
    engine_full: String,
}

/// Creating or checking the schema, at start or, when ClickHouse was unreachable then, by the
/// shipper before its first INSERT.
pub(super) struct SchemaTask {
    pub server: Client,
    pub client: Client,
    pub layout: Layout,
    pub create: bool,
}

impl SchemaTask {
    /// Migrates (or checks) the schema; answers the version.
    pub(super) async fn run(&self) -> Result<u32, ClickHouseError> {
        migrate(&self.server, &self.client, &self.layout, self.create).await
    }
}

/// Brings the schema to [`SCHEMA_VERSION`] (when `create` is set) or checks that it is there,
/// and makes the TTL follow the retention. `server` has no database selected (the database may
/// not exist yet); `client` uses it.
pub(super) async fn migrate(
    server: &Client,
    client: &Client,
    layout: &Layout,
    create: bool,
) -> Result<u32, ClickHouseError> {
    if create {
        server.query(&layout.create_database()).execute().await?;
        client
            .query(&layout.create_migrations_table())
            .execute()
            .await?;
    }
    let found = current_version(client, layout).await?;
    if found > SCHEMA_VERSION {
        return Err(ClickHouseError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if !create {
        if found < SCHEMA_VERSION {
            return Err(ClickHouseError::SchemaMissing(format!(
                "the database has schema version {found}, this collector needs {SCHEMA_VERSION}; \
                 apply the DDL printed by `tracewire-collector schema` or start once with \
                 --clickhouse-create-schema=true"
            )));
        }
        return Ok(found);
    }
    for (index, migration) in layout
        .migrations()
        .into_iter()
        .enumerate()
        .skip(found as usize)
    {
        let version = index as u32 + 1;
        for statement in migration {
            client.query(&statement).execute().await?;
        }
        client
            .query(&layout.record_version(version))
            .execute()
            .await?;
        info!(version, "ClickHouse schema migrated");
    }
    follow_retention(client, layout).await?;
    Ok(SCHEMA_VERSION)
}

async fn current_version(client: &Client, layout: &Layout) -> Result<u32, ClickHouseError> {
    let exists: u8 = client
        .query(
            "SELECT toUInt8(count()) FROM system.tables \
             WHERE database = {db:String} AND name = 'tracewire_schema_migrations'",
        )
        .param("db", &layout.database)
        .fetch_one()
        .await?;
    if exists == 0 {
        return Ok(0);
    }
    let row: VersionRow = client
        .query(&format!(
            "SELECT count() AS tables, max(version) AS version FROM {}",
            layout.named("tracewire_schema_migrations")
        ))
        .fetch_one()
        .await?;
    Ok(if row.tables == 0 { 0 } else { row.version })
}

/// Changes each table's TTL when `--retention` changed since the tables were created.
async fn follow_retention(client: &Client, layout: &Layout) -> Result<(), ClickHouseError> {
    for (table, time) in TTL_TABLES.into_iter().chain(alerts::ALERT_TTL_TABLES) {
        let local = match layout.cluster {
            Some(_) => format!("{table}_local"),
            None => table.to_owned(),
        };
        let rows: Vec<EngineRow> = client
            .query(
                "SELECT engine_full FROM system.tables WHERE database = {db:String} AND name = {t:String}",
            )
            .param("db", &layout.database)
            .param("t", &local)
            .fetch_all()
            .await?;
        let wanted = format!("TTL {}", layout.ttl(time));
        if rows.iter().any(|r| !r.engine_full.contains(&wanted)) {
            client
                .query(&layout.modify_ttl(table, time))
                .execute()
                .await?;
            info!(
                table,
                seconds = layout.ttl_seconds,
                "ClickHouse TTL changed to follow --retention"
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn layout(cluster: Option<&str>) -> Layout {
        let mut config = ClickHouseConfig::from_url("http://h:8123/tw").expect("valid");
        config.options.cluster = cluster.map(str::to_owned);
        config.retention = std::time::Duration::from_secs(36 * 3600);
        Layout::new(&config)
    }

    #[test]
    fn single_server_schema_has_the_exporter_tables_and_a_dedup_window() {
        let script = layout(None).script();
        for needle in [
            "CREATE TABLE IF NOT EXISTS `tw`.`otel_traces` (",
            "CREATE TABLE IF NOT EXISTS `tw`.`otel_traces_trace_id_ts` (",
            "CREATE MATERIALIZED VIEW IF NOT EXISTS `tw`.`otel_traces_trace_id_ts_mv`",
            "CREATE TABLE IF NOT EXISTS `tw`.`otel_logs` (",
            "TTL toDateTime(Timestamp) + toIntervalSecond(129600)",
            "non_replicated_deduplication_window = 10000",
            "INSERT INTO `tw`.`tracewire_schema_migrations` (version) VALUES (1)",
            "CREATE TABLE IF NOT EXISTS `tw`.`tracewire_ws_round_trips` (",
            "ENGINE = ReplacingMergeTree(Version)",
            "TTL toDateTime(ClientSendTime) + toIntervalSecond(129600)",
            "CREATE TABLE IF NOT EXISTS `tw`.`tracewire_ws_session_offsets` (",
            "INSERT INTO `tw`.`tracewire_schema_migrations` (version) VALUES (2)",
        ] {
            assert!(script.contains(needle), "missing {needle} in\n{script}");
        }
        assert!(!script.contains("ON CLUSTER") && !script.contains("Distributed"));
    }

    #[test]
    fn cluster_schema_is_replicated_and_distributed_by_trace() {
        let script = layout(Some("prod")).script();
        for needle in [
            "CREATE TABLE IF NOT EXISTS `tw`.`otel_traces_local` ON CLUSTER `prod` (",
            "ReplicatedMergeTree('/clickhouse/tables/{shard}/tw/otel_traces_local', '{replica}')",
            "ENGINE = Distributed('prod', 'tw', 'otel_traces_local', cityHash64(TraceId))",
            "TO `tw`.`otel_traces_trace_id_ts_local`",
            "FROM `tw`.`otel_traces_local`",
            "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/tw/tracewire_ws_round_trips_local', '{replica}', Version)",
            "ENGINE = Distributed('prod', 'tw', 'tracewire_ws_round_trips_local', cityHash64(TraceId))",
            "ENGINE = Distributed('prod', 'tw', 'tracewire_ws_session_offsets_local', cityHash64(SessionId))",
        ] {
            assert!(script.contains(needle), "missing {needle} in\n{script}");
        }
        assert!(!script.contains("non_replicated_deduplication_window"));
    }
}
