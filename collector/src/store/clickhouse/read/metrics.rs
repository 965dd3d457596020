//! Reads of metric points on ClickHouse, answering exactly what the SQLite store answers: the
//! catalogue and the points of one metric in a window. Times are compared in whole seconds as
//! the tables keep them (`[ceil(start), ceil(end))`, like SQLite); values are server-side
//! parameters, and attribute filters are numbered parameters.

use clickhouse::{Client, Row};
use serde::Deserialize;

use super::super::encode::{PointRow, point_columns};
use super::super::error::ClickHouseError;
use crate::model::{
    MetricCatalogQuery, MetricKind, MetricPointQuery, MetricSighting, MetricSummary, SeriesPoint,
};
use crate::series::catalog;

/// The exporter table of a metric type.
pub(super) fn table(kind: MetricKind) -> &'static str {
    match kind {
        MetricKind::Gauge => "otel_metrics_gauge",
        MetricKind::Sum => "otel_metrics_sum",
        MetricKind::Histogram => "otel_metrics_histogram",
        MetricKind::ExponentialHistogram => "otel_metrics_exponential_histogram",
        MetricKind::Summary => "otel_metrics_summary",
    }
}

/// The first whole second not before `ns`.
fn ceil_seconds(ns: i64) -> i64 {
    ns.div_euclid(1_000_000_000) + i64::from(ns.rem_euclid(1_000_000_000) != 0)
}

const WINDOW: &str = "Tenant = {tenant:String} AND TimeUnix >= toDateTime({start:Int64}) \
     AND TimeUnix < toDateTime({end:Int64})";

/// The catalogue filters that are set, in SQL.
fn catalog_filter(q: &MetricCatalogQuery) -> String {
    let mut sql = WINDOW.to_owned();
    if q.name.is_some() {
        sql.push_str(" AND MetricName = {name:String}");
    }
    if q.service.is_some() {
        sql.push_str(" AND ServiceName = {service:String}");
    }
    if q.search.is_some() {
        sql.push_str(" AND positionCaseInsensitive(MetricName, {search:String}) > 0");
    }
    sql
}

/// What a metrics table reports for the catalogue.
pub(super) fn sightings_sql(kind: MetricKind, filter: &str) -> String {
    format!(
        "SELECT DISTINCT toString(MetricName) AS name, toString(ServiceName) AS service, \
         MetricUnit AS unit, MetricDescription AS description FROM {} WHERE {filter}",
        table(kind)
    )
}

/// The attribute keys a metrics table saw, per metric.
pub(super) fn keys_sql(kind: MetricKind, filter: &str) -> String {
    format!(
        "SELECT DISTINCT toString(MetricName) AS name, arrayJoin(mapKeys(Attributes)) AS key \
         FROM {} WHERE {filter}",
        table(kind)
    )
}

/// The points of one metric (with `filters` numbered attribute filters).
pub(super) fn points_sql(kind: MetricKind, service: bool, filters: usize) -> String {
    let mut sql = format!(
        "SELECT {} FROM {} WHERE {WINDOW} AND MetricName = {{name:String}}",
        point_columns(kind),
        table(kind)
    );
    if service {
        sql.push_str(" AND ServiceName = {service:String}");
    }
    for i in 0..filters {
        sql.push_str(&format!(
            " AND mapContains(Attributes, {{k{i}:String}}) AND Attributes[{{k{i}:String}}] = {{v{i}:String}}"
        ));
    }
    sql.push_str(" LIMIT {limit:UInt64}");
    sql
}

#[derive(Row, Deserialize)]
struct SightingRow {
    name: String,
    service: String,
    unit: String,
    description: String,
}

#[derive(Row, Deserialize)]
struct KeyRow {
    name: String,
    key: String,
}

pub(in super::super) async fn metric_catalog(
    client: &Client,
    tenant: &str,
    q: &MetricCatalogQuery,
) -> Result<Vec<MetricSummary>, ClickHouseError> {
    let filter = catalog_filter(q);
    let bind = |sql: String| {
        let mut query = client
            .query(&sql)
            .param("tenant", tenant)
            .param("start", ceil_seconds(q.start_ns))
            .param("end", ceil_seconds(q.end_ns));
        if let Some(name) = &q.name {
            query = query.param("name", name.as_str());
        }
        if let Some(service) = &q.service {
            query = query.param("service", service.as_str());
        }
        if let Some(search) = &q.search {
            query = query.param("search", search.as_str());
        }
        query
    };
    let mut sightings = Vec::new();
    let mut keys = Vec::new();
    for kind in MetricKind::ALL {
        for r in bind(sightings_sql(kind, &filter))
            .fetch_all::<SightingRow>()
            .await?
        {
            sightings.push(MetricSighting {
                name: r.name,
                kind,
                service: r.service,
                unit: r.unit,
                description: r.description,
            });
        }
        for r in bind(keys_sql(kind, &filter)).fetch_all::<KeyRow>().await? {
            keys.push((r.name, kind, r.key));
        }
    }
    Ok(catalog::assemble(sightings, keys))
}

pub(in super::super) async fn metric_points(
    client: &Client,
    tenant: &str,
    q: &MetricPointQuery,
) -> Result<Vec<SeriesPoint>, ClickHouseError> {
    let sql = points_sql(q.kind, q.service.is_some(), q.attributes.len());
    let mut query = client
        .query(&sql)
        .param("tenant", tenant)
        .param("start", ceil_seconds(q.start_ns))
        .param("end", ceil_seconds(q.end_ns))
        .param("name", q.name.as_str())
        .param("limit", q.limit.saturating_add(1) as u64);
    if let Some(service) = &q.service {
        query = query.param("service", service.as_str());
    }
    for (i, (key, value)) in q.attributes.iter().enumerate() {
        query = query
            .param(&format!("k{i}"), key.as_str())
            .param(&format!("v{i}"), value.as_str());
    }
    let rows = query.fetch_all::<PointRow>().await?;
    Ok(rows.into_iter().map(|r| r.into_point(q.kind)).collect())
}

/// Every metrics read, with all filters on, for the engine tests.
#[cfg(feature = "testing")]
pub(super) fn statements() -> Vec<String> {
    let all = catalog_filter(&MetricCatalogQuery {
        name: Some(String::new()),
        service: Some(String::new()),
        search: Some(String::new()),
        start_ns: 0,
        end_ns: 0,
    });
    MetricKind::ALL
        .into_iter()
        .flat_map(|kind| {
            [
                sightings_sql(kind, &all),
                keys_sql(kind, &all),
                points_sql(kind, true, 2),
            ]
        })
        .collect()
}
