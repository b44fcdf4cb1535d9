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

/// Serve `router` on `addr` until the task is aborted.
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
        let _ = axum::serve(listener, router).await;
    });
    Ok((local, task))
}
