//! Serving the ingest listener's connections within [`OtlpLimits`]: at most `max_connections`
//! open at once (idle keep-alive ones included), headers within `header_timeout` (which also
//! closes idle connections), at most `max_headers` header fields (431 beyond). A connection
//! over the limit is answered 503 with `Retry-After` and closed; when even the refusals pile
//! up (a flood), new connections are closed at once. On stop, the listener closes, requests in
//! flight finish and idle connections close.

use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::http::header::CONNECTION;
use axum::http::{HeaderValue, Response};
use axum::serve::Listener;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tracing::{debug, warn};

use super::limits::OtlpLimits;
use super::{IngestError, body, reading, response};
use crate::decode::Encoding;
use crate::metrics::Metrics;

/// Connections being refused at once, beyond which new ones are closed without an answer.
const MAX_REFUSING: usize = 1024;
/// How long a refused connection may take to send its headers.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(2);
/// Most body bytes read (and dropped) from a refused request.
const REFUSAL_DRAIN: usize = 1 << 20;

/// Serves `router` on `listener` within `limits` until `stop` turns true, then lets open
/// connections finish their requests.
pub async fn serve(
    mut listener: crate::tls::Incoming,
    router: Router,
    limits: &OtlpLimits,
    metrics: &Metrics,
    mut stop: watch::Receiver<bool>,
) -> io::Result<()> {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_headers(limits.max_headers);
    let mut refusal = http.clone();
    refusal
        .keep_alive(false)
        .header_read_timeout(REFUSAL_TIMEOUT);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stop| *stop) => break,
        };
        match Arc::clone(&open).try_acquire_owned() {
            Ok(permit) => {
                let connection = http.serve_connection(
                    TokioIo::new(stream),
                    TowerToHyperService::new(router.clone()),
                );
                tokio::spawn(hold(permit, graceful.watch(connection)));
            }
            Err(_) => {
                metrics.refused_connection();
                match Arc::clone(&refusing).try_acquire_owned() {
                    Ok(permit) => {
                        let connection = refusal.serve_connection(
                            TokioIo::new(stream),
                            hyper::service::service_fn(refuse),
                        );
                        tokio::spawn(hold(permit, graceful.watch(connection)));
                    }
                    Err(_) => drop(stream),
                }
            }
        }
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Runs one connection, holding its place under the limit until it ends.
async fn hold<E: std::fmt::Display>(
    permit: OwnedSemaphorePermit,
    connection: impl Future<Output = Result<(), E>>,
) {
    if let Err(e) = connection.await {
        debug!(error = %e, "Ingest connection ended with an error");
    }
    drop(permit);
}

/// The answer on a connection over the limit: 503, `Retry-After`, and the connection closes.
/// A body of up to [`REFUSAL_DRAIN`] bytes is read first, so that the client sees the answer
/// rather than a reset connection.
async fn refuse(request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let encoding = body::encoding(request.headers()).unwrap_or(Encoding::Json);
    let drain = reading::drain(request.into_body(), 0, REFUSAL_DRAIN);
    let _ = tokio::time::timeout(REFUSAL_TIMEOUT, drain).await;
    let mut response = response::error(encoding, &IngestError::TooManyConnections);
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    Ok(response)
}

/// Raises the soft limit on open files to the hard one, so that `max_connections` (plus the
/// store's files) fits; warns when it still does not.
pub fn raise_open_files_limit(max_connections: usize) {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let limit = getrlimit(Resource::Nofile);
        if limit.current != limit.maximum {
            let raised = Rlimit {
                current: limit.maximum,
                maximum: limit.maximum,
            };
            if let Err(e) = setrlimit(Resource::Nofile, raised) {
                debug!(error = %e, "Cannot raise the open files limit");
            }
        }
        let current = getrlimit(Resource::Nofile).current;
        // Files beyond the connections: the store, the API listener and its clients.
        let needed = max_connections as u64 + 64;
        if let Some(current) = current
            && current < needed
        {
            warn!(
                open_files_limit = current,
                max_connections,
                "The open files limit is below --otlp-max-connections plus 64; raise `ulimit -n` or lower the limit"
            );
        }
    }
}
