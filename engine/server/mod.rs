//! The engine's HTTP side: the webhook trigger (`webhook.rs`) and health endpoints, on the
//! bind the profile names. With `sandbox/`, the only module that serves HTTP. Every error is
//! one JSON body `{"error": {"code", "message"}}` with the right status.

pub mod admin;
pub mod webhook;

use crate::store::StateStore;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// What the handlers share.
#[derive(Clone)]
pub struct ServerState {
    pub store: Arc<dyn StateStore>,
    pub routes: Arc<RwLock<webhook::WebhookRoutes>>,
    /// Wakes the worker when an event was accepted.
    pub wake: Arc<Notify>,
    /// Seconds of tolerance for webhook signature timestamps.
    pub tolerance_s: i64,
    /// Where `respond: completed` webhooks wait for their run (the worker's).
    pub completions: Arc<crate::runtime::completions::Completions>,
    /// The worker, when this process runs flows: a webhook's run starts at once in it.
    pub runner: Option<Arc<crate::runtime::worker::Worker>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {error}")]
    Bind { addr: String, error: std::io::Error },
}

/// The JSON error body every endpoint uses.
pub fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(serde_json::json!({"error": {"code": code, "message": message.into()}})),
    )
        .into_response()
}

/// The routes: `/healthz`, `/readyz`, and every webhook path (looked up per request, so a
/// reload that changes flows changes them at once).
pub fn router(state: ServerState) -> axum::Router {
    axum::Router::new()
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route("/readyz", get(ready))
        .fallback(webhook::receive)
        .with_state(state)
}

async fn ready(axum::extract::State(state): axum::extract::State<ServerState>) -> Response {
    let store = Arc::clone(&state.store);
    match tokio::task::spawn_blocking(move || store.counts()).await {
        Ok(Ok(counts)) => {
            Json(serde_json::json!({"status": "ready", "runs": counts})).into_response()
        }
        _ => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "StoreUnavailable",
            "the state store does not answer",
        ),
    }
}

/// Longest a client may take to send a request's headers. Without it a client that opens
/// connections and sends a byte now and then (slowloris) holds each one forever; a few
/// thousand such connections starve the webhook of file descriptors.
pub const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Serve `router` on `addr` until the task is aborted. HTTP/1.1 with keep-alive, each
/// connection in its own task, headers read within `HEADER_READ_TIMEOUT` (bodies have their
/// own limit where they are read, `webhook::BODY_READ_TIMEOUT`).
pub async fn serve(
    addr: &str,
    router: axum::Router,
) -> Result<(SocketAddr, JoinHandle<()>), ServerError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|error| ServerError::Bind {
            addr: addr.to_string(),
            error,
        })?;
    let local = listener.local_addr().map_err(|error| ServerError::Bind {
        addr: addr.to_string(),
        error,
    })?;
    let task = tokio::spawn(async move {
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let service = hyper_util::service::TowerToHyperService::new(router.clone());
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(HEADER_READ_TIMEOUT)
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((local, task))
}
