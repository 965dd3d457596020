//! Traces: a whole trace by id with browser spans moved onto the backend's clock
//! (`GET /api/traces/{trace_id}`) and trace search (`GET /api/traces`); services are
//! [`super::spanmetrics`]'.

use std::collections::{BTreeSet, HashMap};

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tracewire_semconv::attribute;

use super::error::ApiError;
use super::params;
use super::scope::ReadScope;
use super::shared::caught_up;
use super::state::Api;
use super::views::{SpanView, TraceSummaryView, TraceView};
use crate::correlate::{Source, trace_offsets};

pub(super) async fn trace(
    State(api): State<Api>,
    ReadScope(scope): ReadScope,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = params::trace_id(&id)?;
    let reader = api.store.reader(scope);
    let spans = reader.trace(&id).await?;
    if spans.is_empty() {
        return Err(ApiError::NotFound {
            code: "trace_not_found",
            message: format!("no spans stored for trace {id}"),
        });
    }
    // Browser spans move onto the backend's clock by their session's estimated offset.
    let mut offsets = HashMap::new();
    let sessions: BTreeSet<&str> = spans
        .iter()
        .filter(|s| Source::of(s) == Source::Browser)
        .filter_map(|s| {
            s.span_attributes
                .get(attribute::SESSION_ID)
                .map(String::as_str)
        })
        .collect();
    if !sessions.is_empty() {
        caught_up(&api.store).await;
    }
    for session in sessions {
        if let Some(stored) = reader.session_offset(session).await? {
            offsets.insert(session.to_owned(), stored.offset_ns);
        }
    }
    let shifts = trace_offsets(&spans, |session| offsets.get(session).copied());
    Ok(Json(TraceView {
        trace_id: &id,
        spans: spans
            .iter()
            .zip(shifts)
            .map(|(span, offset)| SpanView::new(span, Source::of(span), offset))
            .collect(),
    })
    .into_response())
}

pub(super) async fn search(
    State(api): State<Api>,
    ReadScope(scope): ReadScope,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let query = params::search_query(raw.as_deref())?;
    let traces = api.store.reader(scope).search(&query).await?;
    let views: Vec<_> = traces.iter().map(TraceSummaryView::from).collect();
    Ok(Json(json!({ "traces": views })).into_response())
}
