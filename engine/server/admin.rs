//! The admin API, on its own bind: `/healthz` and `/readyz` (open, for probes), and behind a
//! bearer token (the profile's `server.admin_token`, a secret reference): `/metrics`
//! (Prometheus text), `/api/flows`, `/api/runs`, `/api/runs/{id}`, `/api/dlq`, `/api/engines` and
//! `POST /api/dlq/{id}/replay`. Without a configured token the protected routes answer 401.

use super::error;
use crate::runtime::worker::{Plans, Stats};
use crate::store::{DlqFilter, RunFilter, RunState, StateStore, now_ms};
use axum::Json;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// What hot reload reports to the admin API (updated by `reload/`).
#[derive(Default)]
pub struct ReloadStatus {
    pub loaded: AtomicU64,
    pub failed: AtomicU64,
    /// file -> last error, for files still failing.
    pub errors: Mutex<BTreeMap<String, String>>,
}

#[derive(Clone)]
pub struct AdminState {
    pub store: Arc<dyn StateStore>,
    pub plans: Arc<RwLock<Plans>>,
    pub stats: Arc<Stats>,
    pub reload: Arc<ReloadStatus>,
    /// `None`: no token configured, protected routes refuse everyone.
    pub token: Option<String>,
    /// Connector health as last checked.
    pub health: crate::alerts::health::HealthMap,
}

pub fn router(state: AdminState) -> axum::Router {
    let protected = axum::Router::new()
        .route("/metrics", get(metrics))
        .route("/api/flows", get(flows))
        .route("/api/runs", get(runs))
        .route("/api/runs/{id}", get(run))
        .route("/api/dlq", get(dlq))
        .route("/api/dlq/{id}/replay", post(replay))
        .route("/api/engines", get(engines))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ));
    axum::Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(ready))
        .merge(protected)
        .fallback(|| async { error(StatusCode::NOT_FOUND, "NotFound", "no such admin route") })
        .with_state(state)
}

async fn require_token(State(state): State<AdminState>, request: Request, next: Next) -> Response {
    let Some(expected) = &state.token else {
        return error(
            StatusCode::UNAUTHORIZED,
            "NoAdminToken",
            "the admin API is closed: set server.admin_token in the profile",
        );
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        // The scheme name is case-insensitive (RFC 9110 §11.1): `bearer x` is `Bearer x`.
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .unwrap_or("");
    if !same(given.as_bytes(), expected.as_bytes()) {
        return error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "a valid `Authorization: Bearer <token>` is required",
        );
    }
    next.run(request).await
}

/// Constant-time comparison (no early exit on the first differing byte).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        _ => Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "StoreUnavailable",
            "the state store does not answer",
        )),
    }
}

/// Ready when the store answers and no connector failed its last health check.
async fn ready(State(state): State<AdminState>) -> Response {
    let store = Arc::clone(&state.store);
    let counts = match blocking(move || store.counts()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let health = state.health.lock().map(|h| h.clone()).unwrap_or_default();
    let down: Vec<&String> = health
        .iter()
        .filter(|(_, up)| !**up)
        .map(|(n, _)| n)
        .collect();
    let body = json!({"status": if down.is_empty() { "ready" } else { "degraded" },
        "runs": counts, "connectors": health});
    let status = if down.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

async fn flows(State(state): State<AdminState>) -> Response {
    let errors = state
        .reload
        .errors
        .lock()
        .map(|e| e.clone())
        .unwrap_or_default();
    let Ok(plans) = state.plans.read() else {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal",
            "plans unavailable",
        );
    };
    let list: Vec<_> = plans
        .flows()
        .iter()
        .filter_map(|f| plans.current(f))
        .map(|p| {
            let file = p.source.name.to_string();
            let trigger = p.flow.trigger.kinds().first().copied().unwrap_or("none");
            json!({"flow": p.flow.flow, "revision": p.hash, "file": file, "trigger": trigger,
                "status": if errors.contains_key(&file) { "stale: last save did not load" } else { "loaded" },
                "last_reload_error": errors.get(&file)})
        })
        .collect();
    Json(json!({"flows": list, "reload_errors": errors})).into_response()
}

#[derive(Deserialize)]
struct RunQuery {
    flow: Option<String>,
    state: Option<String>,
    limit: Option<usize>,
}

async fn runs(State(state): State<AdminState>, Query(q): Query<RunQuery>) -> Response {
    let run_state = match q.state.as_deref().map(RunState::parse) {
        Some(None) => return error(StatusCode::BAD_REQUEST, "BadState", "unknown run state"),
        Some(s) => s,
        None => None,
    };
    let filter = RunFilter {
        flow: q.flow,
        state: run_state,
        limit: q.limit.unwrap_or(100).min(1000),
    };
    let store = Arc::clone(&state.store);
    match blocking(move || store.runs(&filter)).await {
        Ok(rows) => Json(json!({"runs": rows})).into_response(),
        Err(r) => r,
    }
}

/// The engines sharing the store (PostgreSQL; an SQLite store lists none), with `alive`:
/// false once one has been silent past its timeout (its runs are being taken over).
async fn engines(State(state): State<AdminState>) -> Response {
    let store = Arc::clone(&state.store);
    match blocking(move || store.engines()).await {
        Ok(rows) => {
            let rows: Vec<_> = rows
                .into_iter()
                .map(|e| {
                    let alive = e.silent_ms <= e.timeout_ms;
                    json!({"engine": e, "alive": alive})
                })
                .collect();
            Json(json!({"engines": rows})).into_response()
        }
        Err(r) => r,
    }
}

async fn run(State(state): State<AdminState>, Path(id): Path<i64>) -> Response {
    let store = Arc::clone(&state.store);
    match blocking(move || store.run(id)).await {
        Ok(Some(d)) => Json(d).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "NotFound", format!("no run {id}")),
        Err(r) => r,
    }
}

async fn dlq(State(state): State<AdminState>, Query(q): Query<RunQuery>) -> Response {
    let filter = DlqFilter {
        flow: q.flow,
        step: None,
        open_only: true,
        limit: q.limit.unwrap_or(100).min(1000),
    };
    let store = Arc::clone(&state.store);
    match blocking(move || store.dead_letters(&filter)).await {
        Ok(rows) => Json(json!({"dead_letters": rows})).into_response(),
        Err(r) => r,
    }
}

async fn replay(State(state): State<AdminState>, Path(id): Path<i64>) -> Response {
    let store = Arc::clone(&state.store);
    let detail = match blocking(move || store.run(id)).await {
        Ok(Some(d)) => d,
        Ok(None) => return error(StatusCode::NOT_FOUND, "NotFound", format!("no run {id}")),
        Err(r) => return r,
    };
    let revision = state
        .plans
        .read()
        .ok()
        .and_then(|p| p.current(&detail.run.flow))
        .map_or(detail.run.revision.clone(), |p| p.hash.clone());
    let store = Arc::clone(&state.store);
    let rev = revision.clone();
    match blocking(move || {
        let done = store.requeue(id, &rev, now_ms())?;
        if done {
            store.audit(
                "dlq.replay",
                &format!("run {id} on {rev} (admin API)"),
                now_ms(),
            )?;
        }
        Ok(done)
    })
    .await
    {
        Ok(true) => Json(json!({"replayed": id, "revision": revision})).into_response(),
        Ok(false) => error(
            StatusCode::CONFLICT,
            "NotADeadLetter",
            format!("run {id} is not an open dead letter"),
        ),
        Err(r) => r,
    }
}

/// Prometheus text format.
async fn metrics(State(state): State<AdminState>) -> Response {
    let store = Arc::clone(&state.store);
    let (counts, cursors) = match blocking(move || {
        let counts = store.counts()?;
        Ok((counts, store.cursors_like("poll:")?))
    })
    .await
    {
        Ok(v) => v,
        Err(r) => return r,
    };
    let s = &state.stats;
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, lines: Vec<(String, String)>| {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for (labels, value) in lines {
            out.push_str(&format!("{name}{labels} {value}\n"));
        }
    };
    let total: i64 = counts.values().sum();
    metric(
        "ledgerlink_events_accepted_total",
        "counter",
        "Events accepted into the inbox (all time, from the store).",
        vec![(String::new(), total.to_string())],
    );
    metric(
        "ledgerlink_runs",
        "gauge",
        "Runs in the store by state.",
        RunState::ALL
            .iter()
            .map(|st| {
                (
                    format!("{{state=\"{}\"}}", st.as_str()),
                    counts.get(st.as_str()).copied().unwrap_or(0).to_string(),
                )
            })
            .collect(),
    );
    let ended = |a: &AtomicU64| a.load(Ordering::Relaxed).to_string();
    metric(
        "ledgerlink_run_attempts_total",
        "counter",
        "Run attempts ended by this process, by outcome.",
        vec![
            ("{outcome=\"completed\"}".into(), ended(&s.completed)),
            ("{outcome=\"skipped\"}".into(), ended(&s.skipped)),
            ("{outcome=\"failed\"}".into(), ended(&s.failed)),
            (
                "{outcome=\"dead_lettered\"}".into(),
                ended(&s.dead_lettered),
            ),
            ("{outcome=\"retry\"}".into(), ended(&s.waiting)),
        ],
    );
    metric(
        "ledgerlink_retries_total",
        "counter",
        "Retries scheduled (a call failed and will be tried again).",
        vec![(String::new(), ended(&s.waiting))],
    );
    metric(
        "ledgerlink_dlq_size",
        "gauge",
        "Dead-lettered runs waiting for replay or discard.",
        vec![(
            String::new(),
            counts
                .get("dead_lettered")
                .copied()
                .unwrap_or(0)
                .to_string(),
        )],
    );
    metric(
        "ledgerlink_store_errors_total",
        "counter",
        "Store operations that failed.",
        vec![(String::new(), ended(&s.store_errors))],
    );
    metric(
        "ledgerlink_reloads_total",
        "counter",
        "Flow reloads by outcome.",
        vec![
            ("{outcome=\"loaded\"}".into(), ended(&state.reload.loaded)),
            ("{outcome=\"failed\"}".into(), ended(&state.reload.failed)),
        ],
    );
    let now = now_ms();
    metric(
        "ledgerlink_poll_lag_seconds",
        "gauge",
        "Seconds since each poll flow last polled successfully.",
        cursors
            .iter()
            .filter_map(|(name, value)| {
                let last = serde_json::from_str::<serde_json::Value>(value)
                    .ok()?
                    .get("last_poll_ms")?
                    .as_i64()?;
                Some((
                    format!("{{flow=\"{}\"}}", name.trim_start_matches("poll:")),
                    format!("{:.3}", (now - last) as f64 / 1000.0),
                ))
            })
            .collect(),
    );
    out.push_str(
        &s.step_seconds
            .render("ledgerlink_step_seconds", "Step latency by step kind."),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
