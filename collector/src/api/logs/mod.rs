//! The log endpoints: search (`GET /api/logs`, pages newest first with a cursor), counts per
//! step and severity for the chart (`GET /api/logs/histogram`) and the live tail of new
//! records (`GET /api/logs/live`, a WebSocket). All three take the same record filters
//! ([`params`]) and read only the request's [`ReadScope`].

mod params;
mod view;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;

use super::scope::ReadScope;
use super::window::Window;
use super::{Api, ApiError};
use crate::logsearch::{Level, LogCountQuery, LogFilter, LogQuery};
use crate::model::LogRecord;
use crate::store::Scope;
use params::{Endpoint, parse};
use view::LogView;

/// `GET /api/logs`: `{"logs": [...], "next_cursor": "..." | null}`.
pub(super) async fn search(
    State(api): State<Api>,
    ReadScope(scope): ReadScope,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let p = parse(raw.as_deref(), Endpoint::List)?;
    let query = LogQuery {
        filter: p.filter,
        start_ns: p.start_ns,
        end_ns: p.end_ns,
        limit: p.limit,
        after: p.after,
    };
    let page = api.store.reader(scope).logs(&query).await?;
    let logs: Vec<LogView<'_>> = page.records.iter().map(LogView::from).collect();
    let next_cursor = page.next.as_ref().map(|c| c.encode());
    Ok(Json(serde_json::json!({ "logs": logs, "next_cursor": next_cursor })).into_response())
}

/// One severity level's counts, one per step.
#[derive(Serialize)]
struct LevelSeries {
    severity: &'static str,
    count: Vec<u64>,
}

/// `GET /api/logs/histogram`: matching records per step and severity level.
pub(super) async fn histogram(
    State(api): State<Api>,
    ReadScope(scope): ReadScope,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let p = parse(raw.as_deref(), Endpoint::Histogram)?;
    // The hour before `end` when `start` is not given.
    let window = Window::from_ns(p.start_ns, p.end_ns)?;
    let (step_ns, buckets) = window.steps(p.step.as_deref())?;
    let Window { start_ns, end_ns } = window;
    let query = LogCountQuery {
        filter: p.filter,
        start_ns,
        end_ns,
        step_ns,
    };
    let counts = api.store.reader(scope).log_counts(&query).await?;
    let mut levels: BTreeMap<Level, Vec<u64>> = BTreeMap::new();
    let mut total = 0;
    for c in counts {
        let Some(step) = usize::try_from(c.step).ok().filter(|s| *s < buckets) else {
            continue;
        };
        levels
            .entry(Level::of(c.severity_number))
            .or_insert_with(|| vec![0; buckets])[step] += c.count;
        total += c.count;
    }
    let severities: Vec<LevelSeries> = levels
        .into_iter()
        .map(|(level, count)| LevelSeries {
            severity: level.as_str(),
            count,
        })
        .collect();
    Ok(Json(serde_json::json!({
        "step_ns": step_ns,
        "start_time_unix_nano": start_ns.to_string(),
        "end_time_unix_nano": end_ns.to_string(),
        "total": total,
        "severities": severities,
    }))
    .into_response())
}

/// `GET /api/logs/live`: upgrades to a WebSocket of new matching records; subscribes before
/// the upgrade so that no record falls in between.
pub(super) async fn live(
    State(api): State<Api>,
    ReadScope(scope): ReadScope,
    RawQuery(raw): RawQuery,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let p = parse(raw.as_deref(), Endpoint::Live)?;
    let feed = api.store.queue().live().subscribe_logs();
    Ok(upgrade.on_upgrade(move |socket| watch(socket, feed, scope, p.filter)))
}

async fn watch(
    mut socket: WebSocket,
    mut feed: Receiver<Arc<LogRecord>>,
    scope: Scope,
    filter: LogFilter,
) {
    loop {
        tokio::select! {
            received = feed.recv() => match received {
                Ok(record) => {
                    if record.tenant != scope.tenant() || !filter.matches(&record) {
                        continue;
                    }
                    let Ok(text) = serde_json::to_string(&LogView::from(record.as_ref())) else {
                        continue;
                    };
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                // Fell behind: skips what it missed rather than slowing ingest.
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            },
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

#[cfg(test)]
mod tests;
