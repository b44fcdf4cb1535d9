//! OAuth 2.0 password grant (`POST /oauth/token`, form body) and the bearer-token check in
//! front of every `/v1` method but ping. Tokens look like PayTrace's (`hex:hex:hex`), live
//! `token_ttl_s` seconds on the emulator clock and can all be revoked by a control call.
//! Failures use the OAuth error body: `invalid_grant` for bad credentials, 401 `invalid_token`
//! for a missing, unknown, expired or revoked token.

use super::State;
use super::reply::oauth_error;
use super::{PASSWORD, USERNAME};
use axum::extract::rejection::FormRejection;
use axum::extract::{Request, State as Extract};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

const BAD_GRANT: &str = "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.";

/// `GET /v1/ping`: no authentication.
pub async fn ping() -> Json<serde_json::Value> {
    Json(json!({ "status": "success" }))
}

/// `POST /oauth/token`.
pub async fn token(
    Extract(state): Extract<Arc<State>>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The request is missing a required parameter or is otherwise malformed.",
        );
    };
    match form.get("grant_type").map(String::as_str) {
        Some("password") => {}
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "The authorization grant type is not supported by the authorization server.",
            );
        }
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "The request is missing a required parameter: grant_type.",
            );
        }
    }
    let user = form.get("username").map(String::as_str);
    let pass = form.get("password").map(String::as_str);
    if user != Some(USERNAME) || pass != Some(PASSWORD) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", BAD_GRANT);
    }
    let now = state.clock.now();
    let mut inner = state.lock();
    inner.tokens.retain(|_, exp| *exp > now);
    let ttl = inner.cfg.token_ttl_s;
    let token = format!("{}:{}:{}", inner.hex(32), inner.hex(32), inner.hex(40));
    inner
        .tokens
        .insert(token.clone(), now + chrono::Duration::seconds(ttl));
    drop(inner);
    Json(json!({
        "access_token": token,
        "token_type": "bearer",
        "expires_in": ttl,
        "created_at": now.timestamp(),
    }))
    .into_response()
}

/// Middleware: the request must carry a live bearer token.
pub async fn require_token(
    Extract(state): Extract<Arc<State>>,
    req: Request,
    next: Next,
) -> Response {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| rest.trim().to_string())
        });
    let Some(given) = given else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "The access token is invalid",
        );
    };
    let expiry = state.lock().tokens.get(&given).copied();
    match expiry {
        Some(exp) if exp > state.clock.now() => next.run(req).await,
        Some(_) => oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "The access token expired",
        ),
        None => oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "The access token is invalid",
        ),
    }
}
