//! The one error body every Sage Pro emulator failure uses:
//! `{"error":{"code","message","requestId","details":[{"field","code","message"}]}}`, with the
//! HTTP status chosen by the caller. Database failures become 500 `InternalError`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};

static REQUEST_SEQ: AtomicU64 = AtomicU64::new(1);

/// A fresh request id (`req-000001`); also sent as `X-Request-Id`.
pub fn request_id() -> String {
    format!("req-{:06}", REQUEST_SEQ.fetch_add(1, Ordering::Relaxed))
}

/// One field-level problem.
#[derive(Debug, Clone)]
pub struct Detail {
    pub field: String,
    pub code: String,
    pub message: String,
}

impl Detail {
    pub fn new(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        Detail {
            field: field.into(),
            code: code.to_string(),
            message: message.into(),
        }
    }
}

/// An API failure with its status.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub details: Vec<Detail>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// 422 `ValidationFailed` with per-field details.
    pub fn validation(message: impl Into<String>, details: Vec<Detail>) -> Self {
        ApiError {
            details,
            ..ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "ValidationFailed",
                message,
            )
        }
    }

    /// 422 for a single business rule, with one detail naming the field.
    pub fn rule(field: &str, code: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        ApiError::validation(message.clone(), vec![Detail::new(field, code, message)])
    }

    pub fn not_found(code: &str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn conflict(code: &str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(code: &str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn body(&self, request_id: &str) -> Value {
        let details: Vec<Value> = self
            .details
            .iter()
            .map(|d| json!({"field": d.field, "code": d.code, "message": d.message}))
            .collect();
        json!({"error": {
            "code": self.code,
            "message": self.message,
            "requestId": request_id,
            "details": details,
        }})
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            format!("ledger store: {e}"),
        )
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            format!("stored record: {e}"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let id = request_id();
        let mut r = (self.status, axum::Json(self.body(&id))).into_response();
        if let Ok(v) = HeaderValue::from_str(&id) {
            r.headers_mut().insert("x-request-id", v);
        }
        if self.status == StatusCode::UNAUTHORIZED {
            let v = format!(
                "Bearer error=\"invalid_token\", error_description=\"{}\"",
                self.code
            );
            if let Ok(v) = HeaderValue::from_str(&v) {
                r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
        }
        r
    }
}
