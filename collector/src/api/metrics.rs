//! Metrics queries: `GET /api/metrics` (the catalogue: names with type, unit, description,
//! services and attribute keys) and `GET /api/metrics/series` (one series per group, one value
//! per step, computed by [`crate::series`] from the stored points).

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

use super::params::{duration_ns, timestamp};
use super::scope::ReadScope;
use super::{Api, ApiError};
use crate::model::{MetricCatalogQuery, MetricKind, MetricPointQuery, MetricSummary};
use crate::series::{self, Agg, Steps};

/// The catalogue's window when `start` is not given: the last day.
const DEFAULT_CATALOG_WINDOW_NS: i64 = 24 * 3_600 * 1_000_000_000;
/// A series' window when `start` is not given: the last hour.
const DEFAULT_SERIES_WINDOW_NS: i64 = 3_600 * 1_000_000_000;
/// Steps in a series when `step` is not given (each at least a second).
const DEFAULT_STEPS: i64 = 60;
/// Most steps in a series (Prometheus' limit).
const MAX_STEPS: i64 = 11_000;
/// Most points one series request reads.
const MAX_POINTS: usize = 1_000_000;
/// Most `group_by` keys.
const MAX_GROUP_BY: usize = 8;

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The query string as pairs, each named parameter at most once.
fn pairs(raw: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw.unwrap_or("")).map_err(|e| {
            ApiError::bad_request(
                "invalid_query",
                format!("cannot read the query string: {e}"),
            )
        })?;
    for (i, (key, _)) in pairs.iter().enumerate() {
        if !key.starts_with("attr.") && pairs[..i].iter().any(|(k, _)| k == key) {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("{key} is given more than once"),
            ));
        }
    }
    Ok(pairs)
}

fn unknown(key: &str, known: &str) -> ApiError {
    ApiError::bad_request(
        "invalid_query",
        format!("unknown parameter {key}; this endpoint takes {known}"),
    )
}

/// `start` and `end` (unix nanoseconds or RFC 3339), `end` defaulting to now and `start` to
/// `default_ns` before it.
fn window(start: Option<&str>, end: Option<&str>, default_ns: i64) -> Result<(i64, i64), ApiError> {
    let end_ns = end
        .map(|v| timestamp("end", v))
        .transpose()?
        .unwrap_or_else(now_ns);
    let start_ns = start
        .map(|v| timestamp("start", v))
        .transpose()?
        .unwrap_or(end_ns - default_ns);
    if start_ns >= end_ns {
        return Err(ApiError::bad_request(
            "invalid_window",
            "start must be before end",
        ));
    }
    Ok((start_ns, end_ns))
}

#[derive(Serialize)]
struct MetricView<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    unit: &'a str,
    description: &'a str,
    services: &'a [String],
    attribute_keys: &'a [String],
}

impl<'a> From<&'a MetricSummary> for MetricView<'a> {
    fn from(m: &'a MetricSummary) -> Self {
        Self {
            name: &m.name,
            kind: m.kind.as_str(),
            unit: &m.unit,
            description: &m.description,
            services: &m.services,
            attribute_keys: &m.attribute_keys,
        }
    }
}

/// `GET /api/metrics?service=&q=&start=&end=`: the metrics with points in the window (the
/// last day by default), sorted by name.
pub(super) async fn catalog(
    State(api): State<Api>,
    ReadScope(scope): ReadScope,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let mut query = MetricCatalogQuery::default();
    let (mut start, mut end) = (None, None);
    for (key, value) in pairs(raw.as_deref())? {
        let value = Some(value).filter(|v| !v.is_empty());
        match key.as_str() {
            "service" => query.service = value,
            "q" => query.search = value,
            "start" => start = value,
            "end" => end = value,
            _ => return Err(unknown(&key, "service, q, start and end")),
        }
    }
    (query.start_ns, query.end_ns) =
        window(start.as_deref(), end.as_deref(), DEFAULT_CATALOG_WINDOW_NS)?;
    let metrics = api.store.reader(scope).metric_catalog(&query).await?;
    let views: Vec<MetricView<'_>> = metrics.iter().map(MetricView::from).collect();
    Ok(Json(json!({ "metrics": views })).into_response())
}

/// What a series request asks for.
struct SeriesRequest {
    name: String,
    kind: Option<MetricKind>,
    service: Option<String>,
    attributes: Vec<(String, String)>,
    group_by: Vec<String>,
    agg: Option<Agg>,
    steps: Steps,
}

fn series_request(raw: Option<&str>) -> Result<SeriesRequest, ApiError> {
    let (mut name, mut kind, mut service, mut agg) = (None, None, None, None);
    let (mut start, mut end, mut step) = (None, None, None);
    let mut attributes = Vec::new();
    let mut group_by = Vec::new();
    for (key, value) in pairs(raw)? {
        if let Some(attr) = key.strip_prefix("attr.") {
            if attr.is_empty() || attr.contains('"') {
                return Err(ApiError::bad_request(
                    "invalid_attribute",
                    format!(
                        "'{key}' is not accepted; use attr.KEY=VALUE, e.g. attr.http.route=/api/agents"
                    ),
                ));
            }
            attributes.push((attr.to_owned(), value));
            continue;
        }
        let value = Some(value).filter(|v| !v.is_empty());
        match key.as_str() {
            "name" => name = value,
            "type" => {
                kind = value
                    .map(|v| {
                        MetricKind::from_name(&v).ok_or_else(|| {
                            ApiError::bad_request(
                                "invalid_type",
                                format!("type '{v}' is not accepted; use gauge, sum, histogram, exponential_histogram or summary"),
                            )
                        })
                    })
                    .transpose()?
            }
            "service" => service = value,
            "group_by" => {
                group_by = value
                    .map(|v| v.split(',').map(|k| k.trim().to_owned()).filter(|k| !k.is_empty()).collect())
                    .unwrap_or_default()
            }
            "start" => start = value,
            "end" => end = value,
            "step" => step = value,
            "agg" => {
                agg = value
                    .map(|v| {
                        Agg::from_name(&v).ok_or_else(|| {
                            ApiError::bad_request(
                                "invalid_agg",
                                format!("agg '{v}' is not accepted; use avg, min, max, sum, last (gauges), rate, increase (sums), p50, p90, p95, p99, count or rate (histograms)"),
                            )
                        })
                    })
                    .transpose()?
            }
            _ => {
                return Err(unknown(
                    &key,
                    "name, type, service, attr.KEY, group_by, start, end, step and agg",
                ));
            }
        }
    }
    let name = name.ok_or_else(|| {
        ApiError::bad_request("missing_name", "name is required: the metric to chart")
    })?;
    if group_by.len() > MAX_GROUP_BY {
        return Err(ApiError::bad_request(
            "invalid_group_by",
            format!("group_by takes at most {MAX_GROUP_BY} keys"),
        ));
    }
    let (start_ns, end_ns) = window(start.as_deref(), end.as_deref(), DEFAULT_SERIES_WINDOW_NS)?;
    let span = end_ns - start_ns;
    let step_ns = match step {
        Some(v) => duration_ns("step", &v)?,
        None => (span / DEFAULT_STEPS).max(1_000_000_000),
    };
    let count = (span + step_ns - 1) / step_ns;
    if count > MAX_STEPS {
        return Err(ApiError::bad_request(
            "invalid_step",
            format!("step is too small for the window: {count} steps, at most {MAX_STEPS}"),
        ));
    }
    Ok(SeriesRequest {
        name,
        kind,
        service,
        attributes,
        group_by,
        agg,
        steps: Steps {
            start_ns,
            end_ns,
            step_ns,
        },
    })
}

#[derive(Serialize)]
struct PointView {
    time_unix_nano: String,
    value: Option<f64>,
}

#[derive(Serialize)]
struct SeriesView {
    labels: std::collections::BTreeMap<String, String>,
    points: Vec<PointView>,
}

/// `GET /api/metrics/series?name=&service=&attr.K=V&group_by=K&start=&end=&step=&agg=`.
pub(super) async fn series(
    State(api): State<Api>,
    ReadScope(scope): ReadScope,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let request = series_request(raw.as_deref())?;
    let reader = api.store.reader(scope);
    let steps = request.steps;
    // The metric's type: the one it has in the window (or before it, for growth), or the one
    // asked for.
    let found = reader
        .metric_catalog(&MetricCatalogQuery {
            name: Some(request.name.clone()),
            service: None,
            search: None,
            start_ns: steps.start_ns - DEFAULT_CATALOG_WINDOW_NS,
            end_ns: steps.end_ns,
        })
        .await?;
    let kinds: Vec<MetricKind> = found.iter().map(|m| m.kind).collect();
    let kind = match (request.kind, kinds.as_slice()) {
        (Some(kind), kinds) if kinds.contains(&kind) => kind,
        (None, [kind]) => *kind,
        (_, []) => {
            return Err(ApiError::bad_request(
                "unknown_metric",
                format!(
                    "no metric named '{}' has points in or shortly before the window",
                    request.name
                ),
            ));
        }
        (None, several) => {
            let names: Vec<&str> = several.iter().map(|k| k.as_str()).collect();
            return Err(ApiError::bad_request(
                "ambiguous_metric",
                format!(
                    "'{}' is stored as several types ({}); add type=",
                    request.name,
                    names.join(", ")
                ),
            ));
        }
        (Some(kind), _) => {
            return Err(ApiError::bad_request(
                "type_mismatch",
                format!("'{}' has no {} points", request.name, kind.as_str()),
            ));
        }
    };
    let agg = match request.agg {
        Some(agg) => agg,
        None => series::accepted(kind)
            .first()
            .and_then(|name| Agg::from_name(name))
            .unwrap_or(Agg::Avg),
    };
    series::check(kind, agg).map_err(|e| mismatch(&request.name, &e))?;
    let from = series::read_from(kind, agg, &steps);
    let points = reader
        .metric_points(&MetricPointQuery {
            name: request.name.clone(),
            kind,
            service: request.service.clone(),
            attributes: request.attributes.clone(),
            start_ns: from,
            end_ns: steps.end_ns,
            limit: MAX_POINTS,
        })
        .await?;
    if points.len() > MAX_POINTS {
        return Err(ApiError::bad_request(
            "too_many_points",
            format!(
                "the window holds more than {MAX_POINTS} points of '{}'; narrow it or filter by service or attributes",
                request.name
            ),
        ));
    }
    let series = series::compute(points, kind, agg, &request.group_by, &steps, from)
        .map_err(|e| mismatch(&request.name, &e))?;
    let views: Vec<SeriesView> = series
        .into_iter()
        .map(|s| SeriesView {
            labels: s.labels,
            points: s
                .values
                .into_iter()
                .enumerate()
                .map(|(i, value)| PointView {
                    time_unix_nano: steps.time(i).to_string(),
                    value,
                })
                .collect(),
        })
        .collect();
    Ok(Json(json!({
        "name": request.name,
        "type": kind.as_str(),
        "agg": agg.name(),
        "step_ns": steps.step_ns,
        "series": views,
    }))
    .into_response())
}

fn mismatch(name: &str, e: &series::Mismatch) -> ApiError {
    ApiError::bad_request("type_mismatch", format!("'{name}': {e}"))
}
