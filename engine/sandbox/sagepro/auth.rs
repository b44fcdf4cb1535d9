//! Authentication: `POST /api/auth/token` trades the sandbox client credentials (JSON or form
//! body) for a Bearer token that lives `token_ttl` seconds of emulator time (default 300).
//! Every `/api/*` route but health and token needs it: an unknown or revoked token is 401
//! `InvalidToken`, an expired one 401 `TokenExpired`.

use super::State;
use super::error::ApiError;
use super::post::Reply;
use axum::body::Bytes;
use axum::extract::{Request, State as AxState};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// The documented sandbox credentials.
pub const CLIENT_ID: &str = "ledgerlink-sandbox";
pub const CLIENT_SECRET: &str = "sandbox-secret";
pub const DEFAULT_TTL_S: u64 = 300;

fn form_field(body: &str, name: &str) -> Option<String> {
    body.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| v.replace('+', " ").replace("%2D", "-").replace("%2d", "-"))
    })
}

fn credentials(headers: &HeaderMap, bytes: &Bytes) -> Result<(String, String), ApiError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        let text = String::from_utf8_lossy(bytes);
        return Ok((
            form_field(&text, "client_id").unwrap_or_default(),
            form_field(&text, "client_secret").unwrap_or_default(),
        ));
    }
    let body = super::post::parse_body(bytes)?;
    let field = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let grant = field("grant_type");
    if !grant.is_empty() && grant != "client_credentials" {
        return Err(ApiError::bad_request(
            "UnsupportedGrantType",
            "Only grant_type client_credentials is supported.",
        ));
    }
    Ok((field("client_id"), field("client_secret")))
}

/// `POST /api/auth/token`.
pub async fn token(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let (id, secret) = match credentials(&headers, &bytes) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    if id != CLIENT_ID || secret != CLIENT_SECRET {
        return ApiError::unauthorized(
            "InvalidClient",
            "Unknown client_id or wrong client_secret.",
        )
        .into_response();
    }
    let ttl = state.token_ttl.load(Ordering::Relaxed);
    let n = state.token_seq.fetch_add(1, Ordering::Relaxed);
    let mix =
        (state.seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let access = format!("spt_{n:06}_{mix:016x}");
    let expires = state.clock.now() + chrono::Duration::seconds(ttl as i64);
    if let Ok(mut t) = state.tokens.lock() {
        t.insert(access.clone(), expires);
    }
    Reply::ok(json!({"access_token": access, "token_type": "Bearer", "expires_in": ttl}))
        .into_response()
}

/// Middleware guarding the `/api/*` resources.
pub async fn require(AxState(state): AxState<Arc<State>>, req: Request, next: Next) -> Response {
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|s| s.trim().to_string());
    let Some(token) = bearer else {
        return ApiError::unauthorized("InvalidToken", "A Bearer token is required.")
            .into_response();
    };
    let expiry = state
        .tokens
        .lock()
        .ok()
        .and_then(|t| t.get(&token).copied());
    match expiry {
        None => ApiError::unauthorized("InvalidToken", "The token is not valid.").into_response(),
        Some(exp) if state.clock.now() >= exp => {
            ApiError::unauthorized("TokenExpired", "The token has expired; request a new one.")
                .into_response()
        }
        Some(_) => next.run(req).await,
    }
}

/// Revoke every issued token (control route); returns how many were revoked.
pub fn revoke_all(state: &State) -> usize {
    state
        .tokens
        .lock()
        .map(|mut t| {
            let n = t.len();
            t.clear();
            n
        })
        .unwrap_or(0)
}

/// Change the lifetime of tokens issued from now on.
pub fn set_ttl(state: &State, seconds: u64) {
    state.token_ttl.store(seconds, Ordering::Relaxed);
}
