//! Request rates from the browser SDK's request-rate records
//! (`docs/semantic-conventions.md`): requests per route, and per session and route, over a
//! window. The hot-endpoints report (`GET /api/endpoints/hot`) and the alert engine's
//! `hot_endpoint` condition both add records up here.

use std::collections::{BTreeMap, BTreeSet};

use tracewire_semconv::{attribute, event};

use crate::model::{EventQuery, LogRecord};
use crate::store::{Reader, StoreError};

/// Records read for one window at most.
pub const MAX_RATE_RECORDS: usize = 100_000;

/// One route's requests.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteRate {
    /// The route (`http.route`).
    pub route: String,
    /// Requests in the window.
    pub requests: u64,
    /// Requests per second of the window.
    pub rate_per_s: f64,
    /// Sessions that sent them.
    pub sessions: usize,
}

/// One session's requests to one route.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRate {
    /// The session (`session.id`).
    pub session_id: String,
    /// The route.
    pub route: String,
    /// Requests in the window.
    pub requests: u64,
    /// Requests per second of the window.
    pub rate_per_s: f64,
}

/// Request rates of a window, busiest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rates {
    /// Per route.
    pub routes: Vec<RouteRate>,
    /// Per session and route.
    pub sessions: Vec<SessionRate>,
}

impl Rates {
    /// Adds up request-rate `records` of a window of `window_ns`.
    pub fn of_records(records: &[LogRecord], window_ns: i64) -> Self {
        let seconds = window_ns.max(1) as f64 / 1e9;
        let mut routes: BTreeMap<&str, (u64, BTreeSet<&str>)> = BTreeMap::new();
        let mut sessions: BTreeMap<(&str, &str), u64> = BTreeMap::new();
        for record in records {
            let attrs = &record.log_attributes;
            let route = attrs.get(attribute::HTTP_ROUTE).map_or("", String::as_str);
            let count = attrs
                .get(attribute::HTTP_CLIENT_REQUEST_COUNT)
                .and_then(|c| c.parse::<u64>().ok())
                .unwrap_or(1);
            let session = attrs.get(attribute::SESSION_ID).map_or("", String::as_str);
            let entry = routes.entry(route).or_default();
            entry.0 += count;
            entry.1.insert(session);
            *sessions.entry((session, route)).or_default() += count;
        }
        let mut routes: Vec<RouteRate> = routes
            .into_iter()
            .map(|(route, (requests, sessions))| RouteRate {
                route: route.to_owned(),
                requests,
                rate_per_s: requests as f64 / seconds,
                sessions: sessions.len(),
            })
            .collect();
        routes.sort_by(|a, b| {
            b.requests
                .cmp(&a.requests)
                .then_with(|| a.route.cmp(&b.route))
        });
        let mut sessions: Vec<SessionRate> = sessions
            .into_iter()
            .map(|((session, route), requests)| SessionRate {
                session_id: session.to_owned(),
                route: route.to_owned(),
                requests,
                rate_per_s: requests as f64 / seconds,
            })
            .collect();
        sessions.sort_by(|a, b| {
            b.requests
                .cmp(&a.requests)
                .then_with(|| a.session_id.cmp(&b.session_id))
        });
        Self { routes, sessions }
    }

    /// The request rates of the window `[end_ns - window_ns, end_ns)` in `reader`'s scope.
    pub async fn read(
        reader: &Reader<'_>,
        end_ns: i64,
        window_ns: i64,
    ) -> Result<Self, StoreError> {
        let records = reader
            .events(&EventQuery {
                event_name: event::HTTP_CLIENT_REQUEST_RATE.to_owned(),
                start_ns: end_ns - window_ns,
                end_ns,
                limit: MAX_RATE_RECORDS,
            })
            .await?;
        Ok(Self::of_records(&records, window_ns))
    }
}
