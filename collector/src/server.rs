//! Wiring: opens the store, binds the OTLP/HTTP, OTLP/gRPC and API listeners, serves them, and on SIGINT or
//! SIGTERM stops accepting, lets in-flight requests finish, drains the write queue and exits.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::serve::Listener as _;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::access::{Access, AccessError};
use crate::alerts::{Alerts, AlertsError};
use crate::api::{self, Api, Guard};
use crate::config::Config;
use crate::hangup;
use crate::metrics::Metrics;
use crate::receive::{self, Ingest};
use crate::store::{Store, StoreError};
use crate::tls::{Incoming, Listener, Peer, ServerTls, TlsError, TlsOptions};

/// On stopping, how long alert notifications queued or being sent (retries included) may take.
const NOTIFICATION_DRAIN: Duration = Duration::from_secs(10);

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
    /// A listener's certificate or key cannot be used.
    #[error("--{option}: {source}")]
    Tls {
        /// The option that names the file (or the shared `--tls-cert`).
        option: &'static str,
        /// What is wrong.
        source: TlsError,
    },
    /// The access file cannot be used.
    #[error("{0}")]
    Access(#[from] AccessError),
    /// The alert engine cannot start.
    #[error("{0}")]
    Alerts(#[from] AlertsError),
    /// A server failed while running.
    #[error("server error: {0}")]
    Serve(#[from] std::io::Error),
}

/// Runs the collector until SIGINT or SIGTERM.
pub async fn run(config: Config) -> Result<(), RunError> {
    let metrics = Arc::new(Metrics::default());
    let access = Arc::new(Access::from_options(&config.access)?);
    let store_error = |source| RunError::Store {
        store: config.store.url.to_string(),
        source,
    };
    let store = Arc::new(
        Store::from_config(&config.store, Arc::clone(&metrics))
            .await
            .map_err(store_error)?,
    );
    let Certificates {
        ingest: ingest_tls,
        api: api_tls,
    } = listener_tls(&config.tls)?;
    let ingest_listener = Incoming::new(
        bind("otlp-listen", config.otlp_listen).await?,
        ingest_tls.clone(),
    );
    // The ingest certificate, for HTTP/2 (gRPC) and reloaded with it.
    let grpc_listener = Incoming::new(
        bind("otlp-grpc-listen", config.otlp_grpc_listen).await?,
        ingest_tls.as_ref().map(|tls| Arc::new(tls.http2())),
    );
    let api_listener = Incoming::new(
        bind("api-listen", config.api_listen).await?,
        api_tls.clone(),
    );
    let ready = Arc::new(AtomicBool::new(true));
    let alerts = Alerts::new(
        Arc::clone(&store),
        Arc::clone(&metrics),
        &config.alerts,
        api_listener.local_addr()?,
        api_tls.is_some(),
    )?;

    let ingest = Ingest {
        queue: store.queue().clone(),
        metrics: Arc::clone(&metrics),
        max_body: usize::try_from(config.max_body.0).unwrap_or(usize::MAX),
        access: Arc::clone(&access),
    };
    let receive::Routers { http: ingest, grpc } =
        receive::limited_routers(ingest, &config.cors_origin, &config.otlp_limits);
    let api = api::router(Api {
        store: Arc::clone(&store),
        metrics: Arc::clone(&metrics),
        ready: Arc::clone(&ready),
        reads: Default::default(),
        alerts: Arc::clone(&alerts),
        guard: Arc::new(Guard::new(
            Arc::clone(&access),
            api_listener.local_addr()?,
            &config.access,
        )),
    });

    info!(
        "OTLP ingest listening on {}://{}",
        ingest_listener.scheme(),
        ingest_listener.local_addr()?
    );
    info!(
        "OTLP/gRPC ingest listening on {}://{}",
        grpc_listener.scheme(),
        grpc_listener.local_addr()?
    );
    info!(
        "query API listening on {}://{}",
        api_listener.scheme(),
        api_listener.local_addr()?
    );
    info!("Storing in {}", config.store.url);
    if let Some(path) = alerts.path() {
        info!(
            rules = alerts.file_rules().len(),
            interval = ?config.alerts.interval(),
            "Alert rules file {} in force",
            path.display()
        );
    }
    announce_access(&access, ingest_listener.local_addr()?);
    if config.cors_origin.is_empty() && !access.enforced() {
        info!("Browser ingest from other origins is off; allow an origin with --cors-origin");
    }
    receive::raise_open_files_limit(config.otlp_limits.max_connections);
    let mut certificates: Vec<Arc<ServerTls>> = ingest_tls.into_iter().collect();
    if let Some(api_tls) = api_tls
        && !certificates.iter().any(|c| Arc::ptr_eq(c, &api_tls))
    {
        certificates.push(api_tls);
    }
    let hangups = hangup::spawn(Arc::clone(&access), Arc::clone(&alerts), certificates);
    let evaluation = alerts.spawn();

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
    let (ingest_result, grpc_result, api_result) = tokio::join!(
        receive::serve(
            ingest_listener,
            tracked(ingest, &metrics),
            &config.otlp_limits,
            &metrics,
            stop_rx.clone(),
        ),
        serve(grpc_listener, tracked(grpc, &metrics), stop_rx.clone()),
        serve(api_listener, tracked(api, &metrics), stop_rx),
    );
    signals.abort();
    hangups.abort();
    evaluation.abort();
    let unsent = alerts.drain_notifications(NOTIFICATION_DRAIN).await;
    if unsent > 0 {
        warn!(
            unsent,
            "Stopping with alert notifications not sent after {NOTIFICATION_DRAIN:?}"
        );
    }
    let stored = store.shutdown().await.map_err(store_error);
    ingest_result?;
    grpc_result?;
    api_result?;
    stored?;
    info!("Stopped");
    Ok(())
}

/// The certificates of the two listeners, when they serve HTTPS.
struct Certificates {
    ingest: Option<Arc<ServerTls>>,
    api: Option<Arc<ServerTls>>,
}

/// The certificates of the ingest and API listeners; one shared value when both serve the same.
fn listener_tls(options: &TlsOptions) -> Result<Certificates, RunError> {
    let load = |listener| {
        let option = options.cert_option(listener);
        options
            .pair(listener)
            .map(|(cert, key)| {
                ServerTls::load(cert, key)
                    .map(Arc::new)
                    .map_err(|source| RunError::Tls { option, source })
            })
            .transpose()
    };
    let ingest = load(Listener::Otlp)?;
    if options.pair(Listener::Otlp) == options.pair(Listener::Api) {
        return Ok(Certificates {
            api: ingest.clone(),
            ingest,
        });
    }
    Ok(Certificates {
        ingest,
        api: load(Listener::Api)?,
    })
}

/// Says which access rules are in force, and warns when anyone can write.
fn announce_access(access: &Access, ingest: SocketAddr) {
    match (access.path(), access.loaded()) {
        (Some(path), Some(loaded)) => info!(
            tenants = loaded.tenants,
            keys = loaded.keys,
            tokens = loaded.tokens,
            "Access file {} in force: ingest needs a key and the query API a read token",
            path.display()
        ),
        _ if !ingest.ip().is_loopback() => warn!(
            "OTLP ingest on {ingest} accepts data from anyone who reaches it, and the query API \
             answers anyone who reaches it: give an access file with --access (see the README's \
             Security section)"
        ),
        _ => {}
    }
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

/// `router` with each request's latency recorded.
fn tracked(router: Router, metrics: &Arc<Metrics>) -> Router {
    router.layer(middleware::from_fn_with_state(Arc::clone(metrics), track))
}

async fn serve(
    listener: Incoming,
    router: Router,
    mut stop: watch::Receiver<bool>,
) -> Result<(), std::io::Error> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<Peer>(),
    )
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
