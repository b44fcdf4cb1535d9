//! The runtime side of connectors: the `Connector` trait every client implements, the error
//! classification the runtime routes and retries on, and `Clients` (name -> client). Connectors
//! never sleep, loop or retry; they classify and return.

use super::Operation;
use serde_json::Value;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the runtime tells a connector about a call.
#[derive(Debug, Clone, Default)]
pub struct CallContext {
    pub flow: String,
    pub step: String,
    /// Sent as the `Idempotency-Key` header (or the connector's equivalent).
    pub idempotency_key: Option<String>,
    /// 1 for the first try.
    pub attempt: u32,
}

/// `message (Field: why; Field: why)` (just `Field` when the message already says why): per-field details (`[{field, message}]`, as Sage Pro answers a 422), so the dead letter and
/// the log name the fields at fault, not only "the payment is not valid".
pub fn with_fields(message: String, details: &Value) -> String {
    let fields: Vec<String> = details
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| {
            let field = d.get("field").and_then(Value::as_str)?;
            let why = d
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("invalid");
            // Sage Pro often repeats the one rule's text as the message: say it once.
            if message.contains(why) {
                return Some(field.to_string());
            }
            Some(format!("{field}: {why}"))
        })
        .collect();
    if fields.is_empty() {
        message
    } else {
        format!("{message} ({})", fields.join("; "))
    }
}

/// How a call failed, as the runtime needs to know it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConnectorError {
    #[error("declined: {message}")]
    Declined { message: String, details: Value },
    #[error("not found: {message}")]
    NotFound { message: String },
    /// The remote already has this record; `existing` is its copy when the remote returns it.
    #[error("duplicate: {message}")]
    Duplicate {
        message: String,
        existing: Option<Value>,
    },
    /// Connectors put the fields at fault in `message` too, so a dead letter names them.
    #[error("validation failed: {message}")]
    Validation { message: String, details: Value },
    #[error("conflict: {message}")]
    Conflict { message: String },
    /// Worth retrying (timeout, 5xx, 429); `retry_after` when the remote says how long to wait.
    /// The remote may have acted: the runtime resends only idempotent operations.
    #[error("temporary failure: {message}")]
    Retryable {
        message: String,
        retry_after: Option<Duration>,
    },
    /// Worth retrying, and the connector knows the remote did not act (refused before doing
    /// anything, or a lookup found nothing), so even a non-idempotent operation may be resent.
    #[error("temporary failure: {message}")]
    NotSent {
        message: String,
        retry_after: Option<Duration>,
    },
    #[error("failed: {message}")]
    Permanent { message: String },
    /// Configuration problem (bad credentials, unknown endpoint); retrying will not help.
    #[error("misconfigured: {message}")]
    Misconfigured { message: String },
}

impl ConnectorError {
    /// The outcome name flows route on with `on:`.
    pub fn outcome(&self) -> &'static str {
        match self {
            ConnectorError::Declined { .. } => "declined",
            ConnectorError::NotFound { .. } => "not_found",
            ConnectorError::Duplicate { .. } => "duplicate",
            ConnectorError::Validation { .. } => "validation",
            ConnectorError::Conflict { .. } => "conflict",
            ConnectorError::Retryable { .. }
            | ConnectorError::NotSent { .. }
            | ConnectorError::Permanent { .. }
            | ConnectorError::Misconfigured { .. } => "error",
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ConnectorError::Retryable { .. } | ConnectorError::NotSent { .. }
        )
    }

    /// Whether resending cannot make the remote act twice, whatever the operation.
    pub fn is_safe_to_resend(&self) -> bool {
        matches!(self, ConnectorError::NotSent { .. })
    }

    /// The delay the remote asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ConnectorError::Retryable { retry_after, .. }
            | ConnectorError::NotSent { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Rebuild a failure from what the journal kept (`outcome`, and `output()` as written), so
    /// a resumed run routes a recorded failure exactly as the first time.
    pub fn from_recorded(outcome: &str, output: &Value) -> ConnectorError {
        let full = output.get("message").and_then(Value::as_str).unwrap_or("");
        let message = full
            .split_once(": ")
            .map_or(full, |(_, rest)| rest)
            .to_string();
        let details = output.get("details").cloned().unwrap_or(Value::Null);
        match outcome {
            "declined" => ConnectorError::Declined { message, details },
            "not_found" => ConnectorError::NotFound { message },
            "duplicate" => ConnectorError::Duplicate {
                message,
                existing: output.get("existing").cloned(),
            },
            "validation" => ConnectorError::Validation { message, details },
            "conflict" => ConnectorError::Conflict { message },
            _ => ConnectorError::Permanent { message },
        }
    }

    /// What a route sees as the step's output for this outcome.
    pub fn output(&self) -> Value {
        let mut out = serde_json::json!({ "outcome": self.outcome(), "message": self.to_string() });
        match self {
            ConnectorError::Declined { details, .. }
            | ConnectorError::Validation { details, .. } => {
                out["details"] = details.clone();
            }
            ConnectorError::Duplicate {
                existing: Some(e), ..
            } => out["existing"] = e.clone(),
            _ => {}
        }
        out
    }
}

/// A client for one connector.
pub trait Connector: Send + Sync {
    fn call<'a>(
        &'a self,
        operation: &'a Operation,
        input: &'a Value,
        context: &'a CallContext,
    ) -> BoxFuture<'a, Result<Value, ConnectorError>>;

    /// After a crash, a call of this operation may have been in flight since `started_ms`.
    /// `Ok(Some(result))`: it happened, here is its result; `Ok(None)`: sending it again is
    /// safe (the default: the runtime resends with the same idempotency key).
    fn reconcile<'a>(
        &'a self,
        _operation: &'a Operation,
        _input: &'a Value,
        _context: &'a CallContext,
        _started_ms: i64,
    ) -> BoxFuture<'a, Result<Option<Value>, ConnectorError>> {
        Box::pin(async { Ok(None) })
    }

    /// Health check for `ledgerlink check`: reachable and authenticated, writing nothing.
    /// Returns a short description of what was checked.
    fn check(&self) -> BoxFuture<'_, Result<String, ConnectorError>> {
        Box::pin(async { Ok("no check for this connector".to_string()) })
    }
}

/// The clients a run may use, by connector name.
#[derive(Clone, Default)]
pub struct Clients {
    clients: BTreeMap<String, Arc<dyn Connector>>,
}

impl Clients {
    pub fn with(mut self, connector: &str, client: Arc<dyn Connector>) -> Self {
        self.clients.insert(connector.to_string(), client);
        self
    }

    pub fn get(&self, connector: &str) -> Option<&Arc<dyn Connector>> {
        self.clients.get(connector)
    }

    /// Every client with its connector name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Arc<dyn Connector>)> {
        self.clients.iter().map(|(k, v)| (k.as_str(), v))
    }
}
