//! Reads of metric points: the catalogue (names, types, services, attribute keys) and the
//! points of one metric in a window. Every value is bound as a parameter; table and column
//! names come from [`super::super::metrics`].

use rusqlite::{Connection, ToSql};

use super::super::error::SqliteError;
use super::super::metrics::{seconds, series_columns, series_point, table};
use crate::model::{
    MetricCatalogQuery, MetricKind, MetricPointQuery, MetricSighting, MetricSummary, SeriesPoint,
};
use crate::series::catalog;

/// The filters of a catalogue read, as SQL after `WHERE` and their values.
fn catalog_filter(tenant: &str, q: &MetricCatalogQuery) -> (String, Vec<Box<dyn ToSql>>) {
    let mut sql = "tenant = ? AND time_unix >= ? AND time_unix < ?".to_owned();
    let mut values: Vec<Box<dyn ToSql>> = vec![
        Box::new(tenant.to_owned()),
        Box::new(ceil_seconds(q.start_ns)),
        Box::new(ceil_seconds(q.end_ns)),
    ];
    if let Some(name) = &q.name {
        sql.push_str(" AND metric_name = ?");
        values.push(Box::new(name.clone()));
    }
    if let Some(service) = &q.service {
        sql.push_str(" AND service_name = ?");
        values.push(Box::new(service.clone()));
    }
    if let Some(search) = &q.search {
        sql.push_str(" AND instr(lower(metric_name), lower(?)) > 0");
        values.push(Box::new(search.clone()));
    }
    (sql, values)
}

/// The first whole second not before `ns`: a point stored at second `s` reads back at
/// `s * 10^9` ns, so it is in the window `[start_ns, end_ns)` when
/// `ceil_seconds(start_ns) <= s < ceil_seconds(end_ns)`.
pub(in super::super) fn ceil_seconds(ns: i64) -> i64 {
    seconds(ns) + i64::from(ns.rem_euclid(1_000_000_000) != 0)
}

pub(in super::super) fn metric_catalog(
    conn: &Connection,
    tenant: &str,
    q: &MetricCatalogQuery,
) -> Result<Vec<MetricSummary>, SqliteError> {
    let (filter, values) = catalog_filter(tenant, q);
    let params: Vec<&dyn ToSql> = values.iter().map(|v| v.as_ref()).collect();
    let mut sightings = Vec::new();
    let mut keys = Vec::new();
    for kind in MetricKind::ALL {
        let table = table(kind);
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT DISTINCT metric_name, service_name, metric_unit, metric_description \
             FROM {table} WHERE {filter}"
        ))?;
        let mut rows = stmt.query(params.as_slice())?;
        while let Some(row) = rows.next()? {
            sightings.push(MetricSighting {
                name: row.get(0)?,
                kind,
                service: row.get(1)?,
                unit: row.get(2)?,
                description: row.get(3)?,
            });
        }
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT DISTINCT metric_name, j.key FROM {table}, json_each({table}.attributes) AS j \
             WHERE {filter}"
        ))?;
        let mut rows = stmt.query(params.as_slice())?;
        while let Some(row) = rows.next()? {
            keys.push((row.get(0)?, kind, row.get(1)?));
        }
    }
    Ok(catalog::assemble(sightings, keys))
}

pub(in super::super) fn metric_points(
    conn: &Connection,
    tenant: &str,
    q: &MetricPointQuery,
) -> Result<Vec<SeriesPoint>, SqliteError> {
    let mut sql = format!(
        "SELECT {} FROM {} WHERE tenant = ? AND metric_name = ? AND time_unix >= ? AND time_unix < ?",
        series_columns(q.kind),
        table(q.kind)
    );
    let limit = i64::try_from(q.limit.saturating_add(1)).unwrap_or(i64::MAX);
    let (start, end) = (ceil_seconds(q.start_ns), ceil_seconds(q.end_ns));
    let mut values: Vec<&dyn ToSql> = vec![&tenant, &q.name, &start, &end];
    if let Some(service) = &q.service {
        sql.push_str(" AND service_name = ?");
        values.push(service);
    }
    for (key, value) in &q.attributes {
        sql.push_str(" AND json_extract(attributes, '$.\"' || replace(?, '\"', '') || '\"') = ?");
        values.push(key);
        values.push(value);
    }
    sql.push_str(" LIMIT ?");
    values.push(&limit);
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(values.as_slice())?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(series_point(row, q.kind)?);
    }
    Ok(out)
}
