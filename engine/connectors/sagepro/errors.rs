//! How a Sage Pro facade answer becomes an outcome. The facade has one error body,
//! `{"error": {"code", "message", "requestId", "details": [{field, code, message}]}}`: 404 is
//! `not_found`; 409 a duplicate (or, for a reused Idempotency-Key or a record lock, a
//! conflict / retry); 412 a conflict (stale RowVersion); 400 and 422 `validation` with the
//! field details; 401 means re-authenticate (the client does it once); 403 misconfiguration;
//! 429 and 5xx retryable with the server's Retry-After.

use crate::connectors::ConnectorError;
use crate::connectors::transport::Answer;
use serde_json::{Value, json};

/// Whether the answer asks for a new token (expired or unknown).
pub fn needs_new_token(answer: &Answer) -> bool {
    answer.status == 401
}

/// The error code of an error body (`DuplicatePaymentReference`), if any.
pub fn code(answer: &Answer) -> &str {
    answer
        .body
        .pointer("/error/code")
        .and_then(Value::as_str)
        .unwrap_or("")
}

pub fn classify(answer: &Answer) -> Result<Value, ConnectorError> {
    if (200..300).contains(&answer.status) {
        return Ok(answer.body.clone());
    }
    let code = code(answer);
    let message = answer
        .body
        .pointer("/error/message")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("Sage Pro answered {} without an error body", answer.status));
    let message = if code.is_empty() {
        message
    } else {
        format!("{code}: {message}")
    };
    let details = answer
        .body
        .pointer("/error/details")
        .cloned()
        .unwrap_or_else(|| json!([]));
    Err(match answer.status {
        404 => ConnectorError::NotFound { message },
        409 if code == "IdempotencyKeyReused" => ConnectorError::Conflict { message },
        409 if code.contains("Lock") => ConnectorError::Retryable {
            message,
            retry_after: answer.retry_after,
        },
        409 => ConnectorError::Duplicate {
            message,
            existing: None,
        },
        412 => ConnectorError::Conflict { message },
        400 | 422 => ConnectorError::Validation {
            message: crate::connectors::client::with_fields(message, &details),
            details,
        },
        401 => ConnectorError::Misconfigured {
            message: format!("Sage Pro refused the credentials ({message})"),
        },
        403 => ConnectorError::Misconfigured { message },
        405 => ConnectorError::Misconfigured {
            message: format!("{message}: check the connector's base_url"),
        },
        408 | 429 | 500..=599 => ConnectorError::Retryable {
            message,
            retry_after: answer.retry_after,
        },
        _ => ConnectorError::Permanent { message },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn answer(status: u16, code: &str, retry_after: Option<u64>) -> Answer {
        let body = if code.is_empty() {
            Value::Null
        } else {
            json!({"error": {"code": code, "message": "m", "requestId": "r",
                "details": [{"field": "Amount", "code": "ExceedsInvoiceBalance", "message": "too much"}]}})
        };
        Answer {
            status,
            retry_after: retry_after.map(Duration::from_secs),
            headers: Default::default(),
            body,
        }
    }

    /// Every status and code the facade sends, and the outcome it becomes.
    #[test]
    fn classification_table() {
        let cases = [
            (200, "", "ok", false),
            (201, "", "ok", false),
            (404, "InvoiceNotFound", "not_found", false),
            (409, "DuplicatePaymentReference", "duplicate", false),
            (409, "DuplicateCustomer", "duplicate", false),
            (409, "IdempotencyKeyReused", "conflict", false),
            (409, "RecordLocked", "error", true),
            (412, "RowVersionMismatch", "conflict", false),
            (422, "ValidationFailed", "validation", false),
            (400, "MalformedJson", "validation", false),
            (401, "InvalidClient", "error", false),
            (403, "Forbidden", "error", false),
            (429, "RateLimited", "error", true),
            (503, "", "error", true),
            (500, "InternalError", "error", true),
            (418, "", "error", false),
        ];
        for (status, code, outcome, retry) in cases {
            let got = classify(&answer(status, code, Some(3)));
            let name = match &got {
                Ok(_) => "ok",
                Err(e) => e.outcome(),
            };
            assert_eq!(name, outcome, "{status} {code}: {got:?}");
            assert_eq!(
                got.as_ref().err().is_some_and(|e| e.is_retryable()),
                retry,
                "{status} {code}"
            );
        }
    }

    #[test]
    fn validation_keeps_field_details_and_retries_keep_retry_after() {
        let e = classify(&answer(422, "ValidationFailed", None)).unwrap_err();
        assert_eq!(e.output()["details"][0]["field"], "Amount");
        let e = classify(&answer(429, "RateLimited", Some(9))).unwrap_err();
        assert!(
            matches!(e, ConnectorError::Retryable { retry_after: Some(d), .. } if d == Duration::from_secs(9))
        );
    }
}
