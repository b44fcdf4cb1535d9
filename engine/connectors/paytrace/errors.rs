//! How a PayTrace answer becomes an outcome. PayTrace is read from the body whatever the HTTP
//! status: `success`, then `response_code`. Declines (102, 105, 107, 110, 113, 125) are a
//! business outcome carrying the processor's text; the error envelope (`response_code: 1`,
//! `errors{code: [messages]}`) becomes `validation` listing every code, or `not_found` /
//! `duplicate` when every code says so; `invalid_grant` is misconfiguration; 429, 5xx and
//! body-less answers are retryable with the server's Retry-After.

use crate::connectors::ConnectorError;
use crate::connectors::transport::Answer;
use serde_json::{Value, json};

/// Response codes of a transaction that was processed and refused.
const DECLINE_CODES: &[i64] = &[102, 105, 107, 110, 113, 125];
/// Error codes that mean "no such record": customer id (30), transaction id (58), check id (80).
const NOT_FOUND_CODES: &[&str] = &["30", "58", "80"];
/// Error code for a customer id already in the vault.
const DUPLICATE_CODES: &[&str] = &["171"];

/// Whether the answer says the bearer token is no longer valid (re-authenticate once).
pub fn is_invalid_token(answer: &Answer) -> bool {
    answer.body.get("error").and_then(Value::as_str) == Some("invalid_token")
}

/// Classify an answer to an API call.
pub fn classify(answer: &Answer) -> Result<Value, ConnectorError> {
    let body = &answer.body;
    match body.get("success").and_then(Value::as_bool) {
        Some(true) => return Ok(body.clone()),
        // A server error in PayTrace's envelope is still a server error: PayTrace may or may
        // not have acted, so it is retryable (never a validation outcome for a flow to route).
        Some(false) if answer.status >= 500 => return Err(retryable(answer, "server error")),
        Some(false) => return Err(refusal(body)),
        None => {}
    }
    if let Some(error) = body.get("error").and_then(Value::as_str) {
        let description = body
            .get("error_description")
            .and_then(Value::as_str)
            .unwrap_or("");
        return Err(match error {
            "invalid_grant" | "invalid_client" | "unauthorized_client" => {
                ConnectorError::Misconfigured {
                    message: format!("PayTrace refused the API credentials ({error})"),
                }
            }
            "invalid_token" => ConnectorError::Misconfigured {
                message: "PayTrace refused a fresh access token (invalid_token)".into(),
            },
            _ if answer.status >= 500 || answer.status == 429 => retryable(answer, error),
            _ => ConnectorError::Permanent {
                message: format!("PayTrace error `{error}`: {description}"),
            },
        });
    }
    if (200..300).contains(&answer.status) && body.is_object() {
        // Bodies without `success` (ping) are plain answers.
        return Ok(body.clone());
    }
    Err(by_status(answer))
}

/// An answer without PayTrace's body: decide by HTTP status alone.
fn by_status(answer: &Answer) -> ConnectorError {
    match answer.status {
        429 | 500..=599 => retryable(answer, "no PayTrace body"),
        401 | 403 => ConnectorError::Misconfigured {
            message: format!(
                "PayTrace answered {} without a PayTrace body",
                answer.status
            ),
        },
        404 | 405 => ConnectorError::Misconfigured {
            message: format!(
                "PayTrace answered {}: check the connector's base_url",
                answer.status
            ),
        },
        s => ConnectorError::Permanent {
            message: format!("PayTrace answered {s} with a body that is not PayTrace JSON"),
        },
    }
}

/// 429 and 503 are refusals before any work (rate limit, maintenance): safe to resend even a
/// charge. Other 5xx may come after PayTrace acted.
fn retryable(answer: &Answer, what: &str) -> ConnectorError {
    let message = format!("PayTrace answered {} ({what})", answer.status);
    let retry_after = answer.retry_after;
    if matches!(answer.status, 429 | 503) {
        ConnectorError::NotSent {
            message,
            retry_after,
        }
    } else {
        ConnectorError::Retryable {
            message,
            retry_after,
        }
    }
}

/// A `success: false` body: a decline or the error envelope.
fn refusal(body: &Value) -> ConnectorError {
    let code = body
        .get("response_code")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let status_message = text(body, "status_message");
    if DECLINE_CODES.contains(&code) {
        let approval = text(body, "approval_message").trim().to_string();
        let message = if approval.is_empty() {
            status_message
        } else {
            format!("{status_message} {approval}")
        };
        return ConnectorError::Declined {
            message,
            details: json!({
                "response_code": code,
                "transaction_id": body.get("transaction_id").cloned().unwrap_or(Value::Null),
                "approval_message": approval,
                "avs_response": text(body, "avs_response"),
                "csc_response": text(body, "csc_response"),
            }),
        };
    }
    let errors = body.get("errors").and_then(Value::as_object);
    let listed: Vec<String> = errors
        .map(|e| {
            e.iter()
                .map(|(code, messages)| {
                    let joined: Vec<&str> = messages
                        .as_array()
                        .map(|m| m.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    format!("{code}: {}", joined.join(" "))
                })
                .collect()
        })
        .unwrap_or_default();
    let codes: Vec<&str> = errors
        .map(|e| e.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let message = if listed.is_empty() {
        format!("{status_message} (response code {code})")
    } else {
        listed.join("; ")
    };
    let all_in = |set: &[&str]| !codes.is_empty() && codes.iter().all(|c| set.contains(c));
    if all_in(NOT_FOUND_CODES) {
        ConnectorError::NotFound { message }
    } else if all_in(DUPLICATE_CODES) {
        ConnectorError::Duplicate {
            message,
            existing: None,
        }
    } else {
        ConnectorError::Validation {
            message,
            details: json!({
                "response_code": code,
                "errors": body.get("errors").cloned().unwrap_or(Value::Null),
            }),
        }
    }
}

fn text(body: &Value, key: &str) -> String {
    body.get(key)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn answer(status: u16, body: Value, retry_after: Option<u64>) -> Answer {
        Answer {
            status,
            retry_after: retry_after.map(Duration::from_secs),
            headers: Default::default(),
            body,
        }
    }

    /// Every kind of PayTrace answer and the outcome it becomes.
    #[test]
    fn classification_table() {
        let approved = json!({"success": true, "response_code": 101, "transaction_id": 7});
        let declined = json!({"success": false, "response_code": 102, "transaction_id": 8,
            "status_message": "Your transaction was not approved.", "approval_message": "   DECLINE - Do not honor"});
        let envelope = json!({"success": false, "response_code": 1, "status_message": "One or more errors has occurred.",
            "errors": {"35": ["Please provide a valid Credit Card Number."], "43": ["Please provide a valid Expiration Month."]}});
        let missing = json!({"success": false, "response_code": 1, "errors": {"58": ["Please provide a valid Transaction ID."]}});
        let taken = json!({"success": false, "response_code": 1, "errors": {"171": ["Please provide a unique customer ID."]}});
        let cases: Vec<(Answer, &str, bool)> = vec![
            (answer(200, approved.clone(), None), "ok", false),
            (answer(400, declined.clone(), None), "declined", false),
            (answer(200, declined, None), "declined", false),
            (answer(400, envelope, None), "validation", false),
            (answer(400, missing, None), "not_found", false),
            (answer(400, taken, None), "duplicate", false),
            (
                answer(
                    401,
                    json!({"error": "invalid_grant", "error_description": "x"}),
                    None,
                ),
                "error",
                false,
            ),
            (
                answer(429, json!({"error": "rate_limited"}), Some(5)),
                "error",
                true,
            ),
            (answer(503, Value::Null, Some(2)), "error", true),
            (answer(500, Value::Null, None), "error", true),
            (
                answer(
                    500,
                    json!({"success": false, "response_code": 1, "errors": {"909": ["Internal server error"]}}),
                    None,
                ),
                "error",
                true,
            ),
            (answer(404, Value::Null, None), "error", false),
            (answer(200, json!({"status": "success"}), None), "ok", false),
            (answer(200, Value::Null, None), "error", false),
        ];
        for (i, (a, outcome, retry)) in cases.into_iter().enumerate() {
            let got = classify(&a);
            let name = match &got {
                Ok(_) => "ok",
                Err(e) => e.outcome(),
            };
            assert_eq!(name, outcome, "case {i}: {got:?}");
            assert_eq!(
                got.as_ref().err().is_some_and(|e| e.is_retryable()),
                retry,
                "case {i}"
            );
        }
    }

    #[test]
    fn declines_carry_the_processor_text_and_envelopes_every_code() {
        let e = classify(&answer(400, json!({"success": false, "response_code": 102, "transaction_id": 8,
            "status_message": "Your transaction was not approved.", "approval_message": "   DECLINE - Do not honor"}), None))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "declined: Your transaction was not approved. DECLINE - Do not honor"
        );
        assert_eq!(e.output()["details"]["transaction_id"], 8);
        let e = classify(&answer(
            400,
            json!({"success": false, "response_code": 1,
            "errors": {"35": ["Bad number."], "43": ["Bad month."]}}),
            None,
        ))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "validation failed: 35: Bad number.; 43: Bad month."
        );
        let e = classify(&answer(429, Value::Null, Some(7))).unwrap_err();
        assert_eq!(
            e,
            ConnectorError::NotSent {
                message: "PayTrace answered 429 (no PayTrace body)".into(),
                retry_after: Some(Duration::from_secs(7))
            }
        );
        assert!(
            !classify(&answer(500, Value::Null, None))
                .unwrap_err()
                .is_safe_to_resend()
        );
        assert!(is_invalid_token(&answer(
            401,
            json!({"error": "invalid_token"}),
            None
        )));
    }
}
