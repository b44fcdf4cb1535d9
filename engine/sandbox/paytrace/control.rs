//! Control routes for tests and demos, outside the PayTrace-shaped API and without auth:
//! `GET|POST /_sandbox/paytrace/config` (token lifetime, decline HTTP status, test mode,
//! unsettled refunds, daily close time), `POST /_sandbox/paytrace/tokens/revoke`,
//! `POST /_sandbox/paytrace/settle` (close the batch now) and
//! `POST /_sandbox/paytrace/protect/mint` (one-time Protect.js token for a test card).

use super::State;
use super::batches;
use super::cards::route;
use super::extras::mint;
use super::input::Body;
use super::model::{Config, Inner, parse_hhmm};
use super::reply::Reply;
use axum::Router;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::sync::Arc;

pub fn routes() -> Router<Arc<State>> {
    Router::new()
        .route(
            "/_sandbox/paytrace/config",
            route(set_config).get(show_config),
        )
        .route("/_sandbox/paytrace/tokens/revoke", route(revoke))
        .route("/_sandbox/paytrace/settle", route(settle))
        .route("/_sandbox/paytrace/protect/mint", route(mint))
}

fn bad(message: String) -> Reply {
    Reply::Raw(StatusCode::BAD_REQUEST, json!({ "error": message }))
}

fn config_value(cfg: &Config) -> Value {
    serde_json::to_value(cfg).unwrap_or(Value::Null)
}

async fn show_config(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
) -> axum::Json<Value> {
    axum::Json(config_value(&state.config()))
}

/// Merge the given settings over the current ones.
fn set_config(inner: &mut Inner, b: &Body, now: DateTime<Utc>) -> Reply {
    let mut merged = match config_value(&inner.cfg) {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    merged.extend(b.clone());
    let cfg: Config = match serde_json::from_value(Value::Object(merged)) {
        Ok(c) => c,
        Err(e) => return bad(format!("invalid settings: {e}")),
    };
    if !(200..=599).contains(&cfg.decline_status) {
        return bad("decline_status must be an HTTP status (200 or 400, usually)".into());
    }
    if cfg.token_ttl_s < 1 {
        return bad("token_ttl_s must be at least 1".into());
    }
    if let Some(t) = &cfg.daily_close {
        if parse_hhmm(t).is_none() {
            return bad("daily_close must be HH:MM (Pacific time)".into());
        }
        if inner.cfg.daily_close.as_ref() != Some(t) {
            inner.last_close = Some(now);
        }
    }
    inner.cfg = cfg;
    Reply::Ok(config_value(&inner.cfg))
}

fn revoke(inner: &mut Inner, _b: &Body, _now: DateTime<Utc>) -> Reply {
    let n = inner.tokens.len();
    inner.tokens.clear();
    Reply::Ok(json!({ "revoked": n }))
}

fn settle(inner: &mut Inner, b: &Body, now: DateTime<Utc>) -> Reply {
    let allow_empty = matches!(b.get("allow_empty"), Some(Value::Bool(true)));
    let number = batches::close(inner, now, allow_empty);
    let count = number
        .and_then(|n| inner.batches.iter().find(|x| x.number == n))
        .map_or(0, |x| x.txns.len());
    Reply::Ok(json!({ "batch_number": number, "transactions": count }))
}
