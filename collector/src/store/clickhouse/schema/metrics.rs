//! Schema version 3: the OpenTelemetry Collector ClickHouse exporter's five metrics tables
//! (`otel_metrics_gauge`, `_sum`, `_histogram`, `_exponential_histogram`, `_summary`) as its
//! current DDL has them: `DateTime` times (whole seconds), `LowCardinality` metric names, a
//! minmax index on `TimeUnix` and the sort key `(ServiceName, MetricName,
//! toStartOfHour(TimeUnix), cityHash64(Attributes), TimeUnix)`; plus `Tenant` at the end, so
//! the exporter's own inserts still work. In cluster mode a metric's series stay on one shard.

use super::Layout;

/// Every metrics table with the columns it has besides the ones all five share.
const TABLES: [(&str, &str); 5] = [
    (
        "otel_metrics_gauge",
        "    Value Float64 CODEC(ZSTD(1)),\n    Flags UInt32 CODEC(ZSTD(1)),\n",
    ),
    (
        "otel_metrics_sum",
        "    Value Float64 CODEC(ZSTD(1)),\n    Flags UInt32 CODEC(ZSTD(1)),\n",
    ),
    (
        "otel_metrics_histogram",
        "    Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    BucketCounts Array(UInt64) CODEC(ZSTD(1)),
    ExplicitBounds Array(Float64) CODEC(ZSTD(1)),
",
    ),
    (
        "otel_metrics_exponential_histogram",
        "    Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    Scale Int32 CODEC(ZSTD(1)),
    ZeroCount UInt64 CODEC(ZSTD(1)),
    PositiveOffset Int32 CODEC(ZSTD(1)),
    PositiveBucketCounts Array(UInt64) CODEC(ZSTD(1)),
    NegativeOffset Int32 CODEC(ZSTD(1)),
    NegativeBucketCounts Array(UInt64) CODEC(ZSTD(1)),
",
    ),
    (
        "otel_metrics_summary",
        "    Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    ValueAtQuantiles Nested (
        Quantile Float64,
        Value Float64
    ) CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),
",
    ),
];

/// The metrics tables, for the TTL that follows `--retention`.
pub(super) const METRICS_TABLES: [&str; 5] = [
    TABLES[0].0,
    TABLES[1].0,
    TABLES[2].0,
    TABLES[3].0,
    TABLES[4].0,
];

/// The columns after each table's own ones, in the exporter's order.
fn trailing(table: &str) -> String {
    const EXEMPLARS: &str = "    Exemplars Nested (
        FilteredAttributes Map(LowCardinality(String), String),
        TimeUnix DateTime,
        Value Float64,
        SpanId String,
        TraceId String
    ) CODEC(ZSTD(1)),
";
    let after = match table {
        "otel_metrics_sum" => {
            "    AggregationTemporality Int32 CODEC(ZSTD(1)),
    IsMonotonic Boolean CODEC(Delta, ZSTD(1)),
"
        }
        "otel_metrics_histogram" | "otel_metrics_exponential_histogram" => {
            "    Flags UInt32 CODEC(ZSTD(1)),
    Min Float64 CODEC(ZSTD(1)),
    Max Float64 CODEC(ZSTD(1)),
    AggregationTemporality Int32 CODEC(ZSTD(1)),
"
        }
        _ => "",
    };
    match table {
        "otel_metrics_summary" => after.to_owned(),
        _ => format!("{EXEMPLARS}{after}"),
    }
}

impl Layout {
    /// Version 3: the exporter's metrics tables.
    pub(super) fn migration_3(&self) -> Vec<String> {
        let on = self.on_cluster();
        let map = "Map(LowCardinality(String), String)";
        let mut statements = Vec::new();
        for (table, own) in TABLES {
            statements.push(format!(
                "CREATE TABLE IF NOT EXISTS {stored}{on} (
    ResourceAttributes {map} CODEC(ZSTD(1)),
    ResourceSchemaUrl String CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    ScopeAttributes {map} CODEC(ZSTD(1)),
    ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)),
    ScopeSchemaUrl String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    MetricName LowCardinality(String) CODEC(ZSTD(1)),
    MetricDescription String CODEC(ZSTD(1)),
    MetricUnit String CODEC(ZSTD(1)),
    Attributes {map} CODEC(ZSTD(1)),
    StartTimeUnix DateTime CODEC(Delta, ZSTD(1)),
    TimeUnix DateTime CODEC(Delta, ZSTD(1)),
{own}{trailing}    Tenant LowCardinality(String) DEFAULT '' CODEC(ZSTD(1)),
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_key mapKeys(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_value mapValues(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_time_minmax TimeUnix TYPE minmax GRANULARITY 1
) ENGINE = {engine}
PARTITION BY toDate(TimeUnix)
ORDER BY (ServiceName, MetricName, toStartOfHour(TimeUnix), cityHash64(Attributes), TimeUnix)
TTL {ttl}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1{dedup}",
                stored = self.stored(table),
                trailing = trailing(table),
                engine = self.engine(table),
                ttl = self.ttl("TimeUnix"),
                dedup = self.dedup_setting(),
            ));
            statements.extend(self.distributed(table, "cityHash64(MetricName, Attributes)"));
        }
        statements
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::layout;

    #[test]
    fn metrics_tables_have_the_exporter_columns_and_tenant() {
        let script = layout(None).script();
        for table in super::METRICS_TABLES {
            assert!(
                script.contains(&format!("CREATE TABLE IF NOT EXISTS `tw`.`{table}` (")),
                "{table}"
            );
        }
        for needle in [
            "    TimeUnix DateTime CODEC(Delta, ZSTD(1)),\n    Value Float64",
            "    IsMonotonic Boolean CODEC(Delta, ZSTD(1)),\n    Tenant",
            "    ValueAtQuantiles Nested (",
            "    NegativeBucketCounts Array(UInt64) CODEC(ZSTD(1)),\n    Exemplars Nested (",
            "ORDER BY (ServiceName, MetricName, toStartOfHour(TimeUnix), cityHash64(Attributes), TimeUnix)",
            "TTL TimeUnix + toIntervalSecond(129600)",
            "INSERT INTO `tw`.`tracewire_schema_migrations` (version) VALUES (3)",
        ] {
            assert!(script.contains(needle), "missing {needle}");
        }
        let cluster = layout(Some("prod")).script();
        assert!(cluster.contains(
            "ENGINE = Distributed('prod', 'tw', 'otel_metrics_sum_local', cityHash64(MetricName, Attributes))"
        ));
    }
}
