//! An OTLP/HTTP tee: a loopback server that forwards each request it takes (path, body, content
//! type and encoding as they came) to several collectors and answers with the first one's
//! status, so one real exporter fills several stores with byte-identical input.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::post;

/// A running tee; stops with the runtime that started it.
pub struct Tee {
    /// Base URL to export to, e.g. `http://127.0.0.1:41234`.
    pub url: String,
}

#[derive(Clone)]
struct Targets {
    http: reqwest::Client,
    bases: Vec<String>,
}

impl Tee {
    /// Starts a tee forwarding to the collectors whose OTLP base URLs are `targets`, on the
    /// current tokio runtime.
    pub async fn start(targets: Vec<String>) -> Self {
        let state = Targets {
            http: reqwest::Client::new(),
            bases: targets,
        };
        let app = Router::new()
            .route("/v1/{signal}", post(forward))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("tee binds");
        let addr = listener.local_addr().expect("tee address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("http://{addr}"),
        }
    }
}

async fn forward(
    State(targets): State<Targets>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Bytes) {
    let mut answer = None;
    for base in &targets.bases {
        let mut request = targets.http.post(format!("{base}{}", uri.path()));
        for name in ["content-type", "content-encoding"] {
            if let Some(value) = headers.get(name) {
                request = request.header(name, value);
            }
        }
        let (status, bytes) = match request.body(body.clone()).send().await {
            Ok(response) => (
                StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY),
                response.bytes().await.unwrap_or_default(),
            ),
            Err(_) => (StatusCode::BAD_GATEWAY, Bytes::new()),
        };
        answer.get_or_insert((status, bytes));
    }
    answer.unwrap_or((StatusCode::BAD_GATEWAY, Bytes::new()))
}
