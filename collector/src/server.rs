//! Wiring: opens the store, binds the ingest and API listeners, serves both, and on SIGINT or
//! SIGTERM stops accepting, lets in-flight requests finish, drains the write queue and exits.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::api::{self, Api};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::receive::{self, Ingest};
use crate::store::{Store, StoreError};

/// Why the collector could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The store could not be opened or shut down cleanly.
    #[error("store {store}: {source}")]
    Store {
        /// The store, as configured (password hidden).
        store: String,
        /// What went wrong.
        source: StoreError,
    },
    /// A listener could not be bound.
    #[error("--{option}: cannot listen on {addr}: {source}")]
    Bind {
        /// The option that names the address.
        option: &'static str,
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A server failed while running.
    #[error("server error: {0}")]
    Serve(#[from] std::io::Error),
}

/// Runs the collector until SIGINT or SIGTERM.
pub async fn run(config: Config) -> Result<(), RunError> {
    let metrics = Arc::new(Metrics::default());
    let store_error = |source| RunError::Store {
        store: config.store.url.to_string(),
        source,
    };
    let store = Arc::new(
        Store::from_config(&config.store, Arc::clone(&metrics))
            .await
            .map_err(store_error)?,
    );
    let ingest_listener = bind("otlp-listen", config.otlp_listen).await?;
    let api_listener = bind("api-listen", config.api_listen).await?;
    let ready = Arc::new(AtomicBool::new(true));

    let ingest = receive::router(
        Ingest {
            queue: store.queue().clone(),
            metrics: Arc::clone(&metrics),
            max_body: usize::try_from(config.max_body.0).unwrap_or(usize::MAX),
        },
        &config.cors_origin,
    );
    let api = api::router(Api {
        store: Arc::clone(&store),
        metrics: Arc::clone(&metrics),
        ready: Arc::clone(&ready),
        reads: Default::default(),
    });

    info!(
        "OTLP ingest listening on http://{}",
        ingest_listener.local_addr()?
    );
    info!(
        "query API listening on http://{}",
        api_listener.local_addr()?
    );
    info!("Storing in {}", config.store.url);
    if config.cors_origin.is_empty() {
        info!("Browser ingest from other origins is off; allow an origin with --cors-origin");
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let signals = tokio::spawn({
        let ready = Arc::clone(&ready);
        async move {
            shutdown_signal().await;
            info!("Shutting down: finishing requests and draining the write queue");
            ready.store(false, Ordering::Release);
            let _ = stop_tx.send(true);
        }
    });
    let (ingest_result, api_result) = tokio::join!(
        serve(ingest_listener, ingest, &metrics, stop_rx.clone()),
        serve(api_listener, api, &metrics, stop_rx),
    );
    signals.abort();
    let stored = store.shutdown().await.map_err(store_error);
    ingest_result?;
    api_result?;
    stored?;
    info!("Stopped");
    Ok(())
}

async fn bind(option: &'static str, addr: SocketAddr) -> Result<TcpListener, RunError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| RunError::Bind {
            option,
            addr,
            source,
        })
}

async fn serve(
    listener: TcpListener,
    router: Router,
    metrics: &Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), std::io::Error> {
    let router = router.layer(middleware::from_fn_with_state(Arc::clone(metrics), track));
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|stop| *stop).await;
        })
        .await
}

/// Records each request's latency by matched route and status.
async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.request(&route, response.status().as_u16(), started.elapsed());
    response
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                warn!(error = %e, "Cannot listen for SIGTERM; only SIGINT stops the collector");
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
