//! Fault injection, the same for both emulators: latency bands, 503 bursts, 429 with
//! Retry-After, hangs (client timeouts) and commit-then-drop (the write happens, the response
//! never arrives: the case that causes double postings). Faults match a method and path prefix
//! and can skip the first N matches and affect only the next M. Control routes:
//! `GET|PUT|POST|DELETE /_sandbox/faults`, `POST /_sandbox/clock`.

use super::clock::Clock;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One fault rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// `paytrace`, `sagepro` or `*` (used when faults are given for both at start).
    #[serde(default = "any")]
    pub target: String,
    /// HTTP method to match (`POST`), or `*`.
    #[serde(default = "any")]
    pub method: String,
    /// Path prefix to match (`/api/payments`), or `*`.
    #[serde(default = "any")]
    pub path: String,
    pub kind: FaultKind,
    /// Let this many matching requests through first.
    #[serde(default)]
    pub after: u32,
    /// Affect this many requests, then stop (absent: until removed).
    #[serde(default)]
    pub count: Option<u32>,
    /// Affect each matching request with this probability (0 to 1; absent: every one). The
    /// draw is seeded by the request's position, so a run is repeatable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
}

fn any() -> String {
    "*".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultKind {
    /// Delay each response by a time in [min_ms, max_ms].
    Latency { min_ms: u64, max_ms: u64 },
    /// 503 with a plain HTML body (what a load balancer in maintenance sends).
    Unavailable,
    /// 429 with `Retry-After: seconds`.
    RateLimited { retry_after_s: u64 },
    /// Never answer: the client's timeout fires.
    Hang,
    /// Do the work (the write commits), then never answer.
    CommitThenDrop,
    /// Answer 500 with a JSON error body.
    ServerError,
}

impl Fault {
    /// Refuse rules that could never fire or make no sense, naming the field.
    pub fn validate(&self) -> Result<(), String> {
        if !["*", "paytrace", "sagepro"].contains(&self.target.as_str()) {
            return Err(format!(
                "`target` must be paytrace, sagepro or *, got `{}`",
                self.target
            ));
        }
        if self.path != "*" && !self.path.starts_with('/') {
            return Err(format!(
                "`path` must start with `/` (or be `*`), got `{}`",
                self.path
            ));
        }
        if let FaultKind::Latency { min_ms, max_ms } = self.kind
            && min_ms > max_ms
        {
            return Err(format!(
                "latency `min_ms` {min_ms} is above `max_ms` {max_ms}"
            ));
        }
        if let Some(p) = self.probability
            && (!(0.0..=1.0).contains(&p) || p.is_nan())
        {
            return Err(format!("`probability` must be between 0 and 1, got {p}"));
        }
        Ok(())
    }

    pub fn applies_to(&self, emulator: &str) -> bool {
        self.target == "*" || self.target == emulator
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        (self.method == "*" || self.method.eq_ignore_ascii_case(method))
            && (self.path == "*" || path.starts_with(&self.path))
    }
}

#[derive(Debug)]
struct Rule {
    fault: Fault,
    seen: u32,
    fired: u32,
}

/// The live fault table of one emulator.
#[derive(Clone, Default)]
pub struct Faults {
    rules: Arc<Mutex<Vec<Rule>>>,
}

impl Faults {
    pub fn new(faults: Vec<Fault>) -> Self {
        let f = Faults::default();
        f.replace(faults);
        f
    }

    pub fn replace(&self, faults: Vec<Fault>) {
        if let Ok(mut r) = self.rules.lock() {
            *r = faults
                .into_iter()
                .map(|fault| Rule {
                    fault,
                    seen: 0,
                    fired: 0,
                })
                .collect();
        }
    }

    pub fn add(&self, fault: Fault) {
        if let Ok(mut r) = self.rules.lock() {
            r.push(Rule {
                fault,
                seen: 0,
                fired: 0,
            });
        }
    }

    pub fn list(&self) -> Vec<Fault> {
        self.rules
            .lock()
            .map(|r| r.iter().map(|x| x.fault.clone()).collect())
            .unwrap_or_default()
    }

    /// The faults that fire for this request (and count it).
    fn fire(&self, method: &str, path: &str) -> Vec<FaultKind> {
        let Ok(mut rules) = self.rules.lock() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (position, r) in rules
            .iter_mut()
            .enumerate()
            .filter(|(_, r)| r.fault.matches(method, path))
        {
            r.seen += 1;
            if r.seen <= r.fault.after {
                continue;
            }
            if r.fault.count.is_some_and(|c| r.fired >= c) {
                continue;
            }
            if let Some(p) = r.fault.probability
                && draw(r.seen, position) >= p
            {
                continue;
            }
            r.fired += 1;
            out.push(r.fault.kind.clone());
        }
        out
    }
}

/// A repeatable number in [0, 1) for the `n`-th request matching the rule at `position`
/// (splitmix64; the position keeps two rules on the same route independent).
fn draw(n: u32, position: usize) -> f64 {
    let mut z = (u64::from(n) | ((position as u64) << 32)).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[derive(Clone)]
struct Ctl {
    faults: Faults,
    clock: Clock,
    seed: Arc<Mutex<u64>>,
}

/// Put the fault layer around an emulator's routes and add the control routes.
pub fn wrap(app: Router, faults: Faults, clock: Clock) -> Router {
    let ctl = Ctl {
        faults,
        clock,
        seed: Arc::new(Mutex::new(0x9e37_79b9_7f4a_7c15)),
    };
    let control = Router::new()
        .route(
            "/_sandbox/faults",
            get(list).put(replace).post(add).delete(clear),
        )
        .route("/_sandbox/clock", post(advance))
        .with_state(ctl.clone());
    app.layer(axum::middleware::from_fn_with_state(ctl, layer))
        .merge(control)
}

async fn layer(State(ctl): State<Ctl>, req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let fired = ctl.faults.fire(&method, &path);
    let mut drop_after = false;
    for kind in &fired {
        match kind {
            FaultKind::Latency { min_ms, max_ms } => {
                let span = max_ms.saturating_sub(*min_ms);
                let pick = if span == 0 {
                    0
                } else {
                    next_random(&ctl.seed) % (span + 1)
                };
                tokio::time::sleep(Duration::from_millis(min_ms + pick)).await;
            }
            FaultKind::Unavailable => {
                let body = "<html><body><h1>503 Service Unavailable</h1>Maintenance in progress.</body></html>";
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(header::CONTENT_TYPE, "text/html")],
                    body,
                )
                    .into_response();
            }
            FaultKind::RateLimited { retry_after_s } => {
                let mut r = (
                    StatusCode::TOO_MANY_REQUESTS,
                    Json(serde_json::json!({"error": {"code": "RateLimited", "message": "Too many requests; retry later."}})),
                )
                    .into_response();
                if let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string()) {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
                return r;
            }
            FaultKind::ServerError => {
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(serde_json::json!({"error": {"code": "InternalError", "message": "Injected server error."}})),
                )
                    .into_response();
            }
            FaultKind::Hang => hang().await,
            FaultKind::CommitThenDrop => drop_after = true,
        }
    }
    let response = next.run(req).await;
    if drop_after {
        hang().await;
    }
    response
}

/// Never complete (the client gives up); an hour is "never" for any test.
async fn hang() {
    tokio::time::sleep(Duration::from_secs(3600)).await;
}

fn next_random(seed: &Mutex<u64>) -> u64 {
    let Ok(mut s) = seed.lock() else { return 0 };
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

async fn list(State(ctl): State<Ctl>) -> Json<Vec<Fault>> {
    Json(ctl.faults.list())
}

/// 400 with `{"error": {"code", "message"}}` naming the bad rule.
fn refuse(index: Option<usize>, message: String) -> Response {
    let at = index
        .map(|i| format!("fault {}: ", i + 1))
        .unwrap_or_default();
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({"error": {"code": "InvalidFault", "message": format!("{at}{message}")}})),
    )
        .into_response()
}

async fn replace(State(ctl): State<Ctl>, Json(faults): Json<Vec<Fault>>) -> Response {
    for (i, f) in faults.iter().enumerate() {
        if let Err(e) = f.validate() {
            return refuse(Some(i), e);
        }
    }
    ctl.faults.replace(faults);
    StatusCode::NO_CONTENT.into_response()
}

async fn add(State(ctl): State<Ctl>, Json(fault): Json<Fault>) -> Response {
    if let Err(e) = fault.validate() {
        return refuse(None, e);
    }
    ctl.faults.add(fault);
    StatusCode::NO_CONTENT.into_response()
}

async fn clear(State(ctl): State<Ctl>) -> StatusCode {
    ctl.faults.replace(Vec::new());
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct Advance {
    seconds: i64,
}

async fn advance(State(ctl): State<Ctl>, Json(a): Json<Advance>) -> Json<serde_json::Value> {
    ctl.clock.advance(chrono::Duration::seconds(a.seconds));
    Json(serde_json::json!({ "now": ctl.clock.now().to_rfc3339() }))
}
