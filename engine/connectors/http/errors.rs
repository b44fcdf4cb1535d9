//! How a generic HTTP answer becomes an outcome: 2xx ok; 404 `not_found`; 400 and 422
//! `validation` (the body as details); 409 and 412 `conflict`; 408, 429 and 5xx retryable
//! with the server's Retry-After; anything else permanent.

use crate::connectors::ConnectorError;
use serde_json::Value;
use std::time::Duration;

/// `out` is `{status, headers, body}`, returned as is when the call succeeded.
pub fn classify(
    call: &str,
    status: u16,
    retry_after: Option<Duration>,
    out: Value,
) -> Result<Value, ConnectorError> {
    let message = format!("{call} answered {status}");
    match status {
        200..=299 => Ok(out),
        404 => Err(ConnectorError::NotFound { message }),
        400 | 422 => Err(ConnectorError::Validation {
            message,
            details: out.get("body").cloned().unwrap_or(Value::Null),
        }),
        409 | 412 => Err(ConnectorError::Conflict { message }),
        408 | 429 | 500..=599 => Err(ConnectorError::Retryable {
            message,
            retry_after,
        }),
        _ => Err(ConnectorError::Permanent { message }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn classification_table() {
        let cases = [
            (200, "ok", false),
            (204, "ok", false),
            (301, "error", false),
            (400, "validation", false),
            (401, "error", false),
            (404, "not_found", false),
            (408, "error", true),
            (409, "conflict", false),
            (412, "conflict", false),
            (422, "validation", false),
            (429, "error", true),
            (500, "error", true),
            (503, "error", true),
        ];
        for (status, outcome, retry) in cases {
            let got = classify("GET x", status, None, json!({"status": status, "body": {}}));
            let name = got.as_ref().map_or_else(|e| e.outcome(), |_| "ok");
            assert_eq!(name, outcome, "{status}");
            assert_eq!(
                got.err().is_some_and(|e| e.is_retryable()),
                retry,
                "{status}"
            );
        }
    }
}
