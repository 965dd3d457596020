//! `agent-backend`: the demo's real-time backend. A WebSocket protocol for an agent dashboard on
//! `/ws` and `GET /api/agents` over HTTP; every message continues the browser's trace through
//! `tracewire-ws`, does nested work (a database query, an HTTP call to the tools service), and
//! exports spans to the collector over OTLP/HTTP.

mod network;
mod propagation;
mod protocol;
mod telemetry;
mod tools;
mod work;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use axum::Router;
use axum::routing::get;
use clap::Parser;
use tokio::net::TcpListener;
use tower_http::cors::CorsLayer;

use protocol::App;
use telemetry::Telemetry;

/// Command line.
#[derive(Debug, Parser)]
#[command(
    name = "agent-backend",
    about = "Tracewire demo: an agent-dashboard WebSocket backend"
)]
struct Args {
    /// Address of the WebSocket (`/ws`) and HTTP (`/api/agents`) server.
    #[arg(long, env = "AGENT_BACKEND_LISTEN", default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// The collector's OTLP/HTTP base URL.
    #[arg(
        long,
        env = "OTEL_EXPORTER_OTLP_ENDPOINT",
        default_value = "http://127.0.0.1:4318"
    )]
    otlp_endpoint: String,
    /// Shift every exported span by this many milliseconds, as if this host's clock were off.
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    clock_offset_ms: i64,
    /// Delay each WebSocket message by a random 0 to this many milliseconds before its span
    /// starts, and its reply as much after the span ends, as an uneven network would.
    #[arg(long, default_value_t = 0)]
    network_delay_ms: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("agent-backend: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let telemetry = Telemetry::start(
        &args.otlp_endpoint,
        &["agent-backend", "agent-tools"],
        args.clock_offset_ms,
    )?;
    let tools_url = tools::start(telemetry.tracer(1))
        .await
        .map_err(|e| format!("tools service: {e}"))?;
    let app = App {
        tracer: Arc::new(telemetry.tracer(0)),
        http: reqwest::Client::new(),
        tools_url,
        runs: Arc::new(AtomicU64::new(0)),
        network: network::Delays::new(
            args.network_delay_ms,
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64),
        ),
    };
    let router = Router::new()
        .route("/ws", get(protocol::ws))
        .route("/api/agents", get(protocol::agents_http))
        // The demo page is served from another origin and sends `traceparent` on fetch.
        .layer(CorsLayer::permissive())
        .with_state(app);
    let listener = TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("agent-backend listening on http://{addr} (WebSocket ws://{addr}/ws)");
    let served = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await;
    telemetry.shutdown();
    served.map_err(|e| e.to_string())
}

/// SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match term.as_mut() {
                Some(term) => { term.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}
