//! `GET /api/sessions/{session_id}`: a browser session's time line
//! ([`crate::correlate::session_timeline`]) with its clock offset.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

use super::error::ApiError;
use super::scope::ReadScope;
use super::shared::caught_up;
use super::state::Api;
use crate::correlate::{SessionEvent, session_timeline, session_user};
use crate::model::Attributes;

/// Spans and logs in a session time line at most.
const SESSION_EVENTS: usize = 5_000;

/// One event of the time line as the API shows it.
#[derive(Serialize)]
struct EventView<'a> {
    time_unix_nano: String,
    kind: &'static str,
    name: &'a str,
    trace_id: &'a str,
    span_id: &'a str,
    duration_ns: i64,
    status_code: &'static str,
    attributes: &'a Attributes,
}

impl<'a> From<SessionEvent<'a>> for EventView<'a> {
    fn from(e: SessionEvent<'a>) -> Self {
        Self {
            time_unix_nano: e.time_ns.to_string(),
            kind: e.kind.as_str(),
            name: e.name,
            trace_id: e.trace_id,
            span_id: e.span_id,
            duration_ns: e.duration_ns,
            status_code: e.status_code.as_str(),
            attributes: e.attributes,
        }
    }
}

/// `GET /api/sessions/{session_id}`: the session's messages, requests, errors and connections
/// in time order, with its clock offset.
pub(super) async fn session(
    State(api): State<Api>,
    ReadScope(scope): ReadScope,
    Path(session_id): Path<String>,
) -> Result<Response, ApiError> {
    let reader = api.store.reader(scope);
    let spans = reader.session_spans(&session_id, SESSION_EVENTS).await?;
    let logs = reader.session_logs(&session_id, SESSION_EVENTS).await?;
    if spans.is_empty() && logs.is_empty() {
        return Err(ApiError::NotFound {
            code: "session_not_found",
            message: format!("nothing stored for session {session_id}"),
        });
    }
    caught_up(&api.store).await;
    let offset = reader.session_offset(&session_id).await?;
    let events: Vec<EventView<'_>> = session_timeline(&spans, &logs)
        .into_iter()
        .map(EventView::from)
        .collect();
    let user_id = session_user(&spans, &logs);
    let start = spans
        .iter()
        .map(|s| s.start_ns)
        .chain(logs.iter().map(|l| l.timestamp_ns))
        .min();
    let end = spans
        .iter()
        .map(|s| s.start_ns + s.duration_ns)
        .chain(logs.iter().map(|l| l.timestamp_ns))
        .max();
    Ok(Json(json!({
        "session_id": session_id,
        "user_id": user_id,
        "clock_offset_ns": offset.map(|e| e.offset_ns),
        "clock_offset_samples": offset.map_or(0, |o| o.samples),
        "start_time_unix_nano": start.unwrap_or(0).to_string(),
        "end_time_unix_nano": end.unwrap_or(0).to_string(),
        "events": events,
    }))
    .into_response())
}
