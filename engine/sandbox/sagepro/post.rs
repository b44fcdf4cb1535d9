//! Write-request plumbing shared by every POST and PUT: the body is parsed by hand (400
//! `MalformedJson`, never a panic), refused when it carries card data (422 `CardDataRefused`),
//! and POSTs honour `Idempotency-Key` (same key and body: the original response again with
//! `Idempotent-Replay: true`; same key, other body: 409 `IdempotencyKeyReused`; 24 h window).

use super::State;
use super::error::{ApiError, Detail};
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rusqlite::{OptionalExtension, Transaction, params};
use serde_json::{Map, Value};

/// A successful answer.
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub location: Option<String>,
    pub replay: bool,
}

impl Reply {
    pub fn ok(body: Value) -> Self {
        Reply {
            status: StatusCode::OK,
            body,
            location: None,
            replay: false,
        }
    }

    pub fn created(body: Value, location: String) -> Self {
        Reply {
            status: StatusCode::CREATED,
            body,
            location: Some(location),
            replay: false,
        }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut r = (self.status, axum::Json(self.body)).into_response();
        let h = r.headers_mut();
        if let Some(loc) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            h.insert(header::LOCATION, loc);
        }
        if self.replay {
            h.insert("idempotent-replay", HeaderValue::from_static("true"));
        }
        r
    }
}

/// Parse a JSON object body and refuse card data.
pub fn parse_body(bytes: &Bytes) -> Result<Map<String, Value>, ApiError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        let mut err = ApiError::bad_request("MalformedJson", "The request body is not valid JSON.");
        err.details
            .push(Detail::new("(body)", "MalformedJson", e.to_string()));
        err
    })?;
    if let Some(field) = crate::pci::find(&value) {
        return Err(ApiError::rule(
            &field,
            "CardDataRefused",
            "Card data (a card number or security code) must never be sent to the ERP.",
        ));
    }
    match value {
        Value::Object(m) => Ok(m),
        _ => Err(ApiError::bad_request(
            "MalformedJson",
            "The request body must be a JSON object.",
        )),
    }
}

/// Sort object keys so the same body always compares equal.
pub fn canonical(v: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&m[k])))
                        .collect(),
                )
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(v).to_string()
}

/// Handle a POST: body, card check, Idempotency-Key, then `f` inside one transaction.
pub fn handle_post(
    state: &State,
    headers: &HeaderMap,
    path: &str,
    bytes: &Bytes,
    f: impl FnOnce(&Transaction<'_>, &Map<String, Value>, &str) -> Result<Reply, ApiError>,
) -> Response {
    let body = match parse_body(bytes) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let now = state.clock.now();
    let stamp = super::db::stamp(now);
    let window = super::db::stamp(now - chrono::Duration::hours(24));
    let canon = canonical(&Value::Object(body.clone()));
    let result = state.tx(|tx| {
        if let Some(k) = &key {
            let seen: Option<(String, String, u16, String, String)> = tx
                .prepare_cached(
                    "SELECT path, body, status, location, response FROM idem WHERE key = ?1 AND created >= ?2",
                )?
                .query_row(params![k, window], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .optional()?;
            if let Some((p, b, status, loc, resp)) = seen {
                if p != path || b != canon {
                    return Err(ApiError::conflict(
                        "IdempotencyKeyReused",
                        "This Idempotency-Key was already used with a different request.",
                    ));
                }
                return Ok(Reply {
                    status: StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
                    body: serde_json::from_str(&resp)?,
                    location: (!loc.is_empty()).then_some(loc),
                    replay: true,
                });
            }
        }
        let reply = f(tx, &body, &stamp)?;
        if let Some(k) = &key {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO idem (key, path, body, status, location, response, created)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                k,
                path,
                canon,
                reply.status.as_u16(),
                reply.location.clone().unwrap_or_default(),
                reply.body.to_string(),
                stamp
            ])?;
        }
        Ok(reply)
    });
    match result {
        Ok(r) => r.into_response(),
        Err(e) => e.into_response(),
    }
}

/// The RowVersion a PUT must match: `If-Match` header, else the body's `RowVersion`.
pub fn expected_version(headers: &HeaderMap, body: &Map<String, Value>) -> Option<String> {
    let header = headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(|s| {
            s.trim()
                .trim_start_matches("W/")
                .trim_matches('"')
                .to_string()
        });
    header.or_else(|| {
        body.get("RowVersion")
            .and_then(Value::as_str)
            .map(str::to_string)
    })
}

/// 412 when a PUT's RowVersion is stale.
pub fn check_version(expected: Option<&str>, current: i64) -> Result<(), ApiError> {
    match expected {
        Some(v) if v != current.to_string() => Err(ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "RowVersionMismatch",
            format!("The record changed since it was read (RowVersion {v}, now {current})."),
        )),
        _ => Ok(()),
    }
}

/// Handle a PUT: body, card check, then `f` in one transaction (no Idempotency-Key: PUT is
/// idempotent by nature).
pub fn handle_put(
    state: &State,
    bytes: &Bytes,
    f: impl FnOnce(&Transaction<'_>, &Map<String, Value>, &str) -> Result<Reply, ApiError>,
) -> Response {
    let body = match parse_body(bytes) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let stamp = state.now_stamp();
    match state.tx(|tx| f(tx, &body, &stamp)) {
        Ok(r) => r.into_response(),
        Err(e) => e.into_response(),
    }
}
