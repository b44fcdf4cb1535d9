//! A connector whose replies a test scripts: per `connector.operation`, a queue of replies
//! (success or any failure kind); every call is recorded with its input and idempotency key.
//! It stands in for any connector (PayTrace, Sage Pro, ...), so flows run without a network.

use crate::connectors::Operation;
use crate::connectors::client::{BoxFuture, CallContext, Connector, ConnectorError};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One scripted reply, as written in a scenario's `replies.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    /// `connector.operation` this reply is for.
    pub call: String,
    /// Success: the output.
    #[serde(default)]
    pub ok: Option<Value>,
    /// Failure: `declined`, `not_found`, `duplicate`, `validation`, `conflict`, `retryable`,
    /// `not_sent` (retryable and known not to have acted),
    /// `permanent`, `misconfigured`.
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    /// Extra data for the failure (`details`, or the existing record for `duplicate`).
    #[serde(default)]
    pub details: Option<Value>,
    /// For `retryable`: the Retry-After the remote sent, in milliseconds.
    #[serde(default)]
    pub retry_after_ms: Option<u64>,
    /// Repeat this reply for this many calls (default 1).
    #[serde(default)]
    pub times: Option<u32>,
}

/// The failure kinds a reply may script.
pub const ERROR_KINDS: &[&str] = &[
    "declined",
    "not_found",
    "duplicate",
    "validation",
    "conflict",
    "retryable",
    "not_sent",
    "permanent",
    "misconfigured",
];

/// Refuse replies naming an operation no connector has, or an unknown failure kind, so a typo
/// in a test is reported as such rather than as a puzzling run.
pub fn check(replies: &[Reply]) -> Result<(), String> {
    for (i, r) in replies.iter().enumerate() {
        if crate::connectors::operation(&r.call).is_none() {
            return Err(format!("reply {}: unknown operation `{}`", i + 1, r.call));
        }
        if let Some(kind) = &r.error
            && !ERROR_KINDS.contains(&kind.as_str())
        {
            return Err(format!(
                "reply {}: unknown error `{kind}` (one of: {})",
                i + 1,
                ERROR_KINDS.join(", ")
            ));
        }
    }
    Ok(())
}

/// One recorded call.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedCall {
    pub call: String,
    pub input: Value,
    pub idempotency_key: Option<String>,
    pub attempt: u32,
}

#[derive(Default)]
struct State {
    queues: BTreeMap<String, VecDeque<Reply>>,
    calls: Vec<RecordedCall>,
}

/// Scripted replies for every connector; cheap to clone (shared state).
#[derive(Clone, Default)]
pub struct Scripted {
    state: Arc<Mutex<State>>,
    /// When no reply is scripted for a call: echo the input back (true) or fail (false).
    echo_unscripted: bool,
    /// Keep every call for `calls()` (tests); the engine's echoing mock keeps none, or a
    /// long-running engine would hold every call it ever made.
    forget_calls: bool,
}

impl Scripted {
    pub fn new(replies: Vec<Reply>) -> Self {
        let s = Scripted::default();
        for r in replies {
            s.push(r);
        }
        s
    }

    /// Answer unscripted calls with their own input, keeping no record of them (the `mock`
    /// connector of a running engine).
    pub fn echoing(mut self) -> Self {
        self.echo_unscripted = true;
        self.forget_calls = true;
        self
    }

    pub fn push(&self, reply: Reply) {
        if let Ok(mut st) = self.state.lock() {
            for _ in 0..reply.times.unwrap_or(1).max(1) {
                st.queues
                    .entry(reply.call.clone())
                    .or_default()
                    .push_back(reply.clone());
            }
        }
    }

    pub fn calls(&self) -> Vec<RecordedCall> {
        self.state
            .lock()
            .map(|s| s.calls.clone())
            .unwrap_or_default()
    }

    /// Scripted replies no call consumed, as `connector.operation`.
    pub fn unused(&self) -> Vec<String> {
        self.state
            .lock()
            .map(|s| {
                s.queues
                    .iter()
                    .flat_map(|(call, q)| std::iter::repeat_n(call.clone(), q.len()))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn answer(&self, call: &str, input: &Value) -> Result<Value, ConnectorError> {
        let reply = self
            .state
            .lock()
            .ok()
            .and_then(|mut s| s.queues.get_mut(call)?.pop_front());
        let Some(r) = reply else {
            return if self.echo_unscripted {
                Ok(input.clone())
            } else {
                Err(ConnectorError::Misconfigured {
                    message: format!("no scripted reply for `{call}`"),
                })
            };
        };
        let message = r
            .message
            .clone()
            .unwrap_or_else(|| format!("scripted {}", r.error.as_deref().unwrap_or("reply")));
        let details = r.details.clone().unwrap_or(Value::Null);
        match r.error.as_deref() {
            None => Ok(r.ok.unwrap_or(Value::Null)),
            Some("declined") => Err(ConnectorError::Declined { message, details }),
            Some("not_found") => Err(ConnectorError::NotFound { message }),
            Some("duplicate") => Err(ConnectorError::Duplicate {
                message,
                existing: r.details,
            }),
            Some("validation") => Err(ConnectorError::Validation {
                message: crate::connectors::client::with_fields(message, &details),
                details,
            }),
            Some("conflict") => Err(ConnectorError::Conflict { message }),
            Some("retryable") => Err(ConnectorError::Retryable {
                message,
                retry_after: r.retry_after_ms.map(Duration::from_millis),
            }),
            Some("not_sent") => Err(ConnectorError::NotSent {
                message,
                retry_after: r.retry_after_ms.map(Duration::from_millis),
            }),
            Some("misconfigured") => Err(ConnectorError::Misconfigured { message }),
            Some(_) => Err(ConnectorError::Permanent { message }),
        }
    }
}

/// A `Connector` view of the script for one connector name.
pub struct ScriptedConnector {
    pub connector: String,
    pub script: Scripted,
}

impl Connector for ScriptedConnector {
    fn call<'a>(
        &'a self,
        operation: &'a Operation,
        input: &'a Value,
        context: &'a CallContext,
    ) -> BoxFuture<'a, Result<Value, ConnectorError>> {
        let call = format!("{}.{}", self.connector, operation.name);
        let recording = !self.script.forget_calls;
        if let Some(mut st) = self.script.state.lock().ok().filter(|_| recording) {
            st.calls.push(RecordedCall {
                call: call.clone(),
                input: input.clone(),
                idempotency_key: context.idempotency_key.clone(),
                attempt: context.attempt,
            });
        }
        let result = self.script.answer(&call, input);
        Box::pin(async move { result })
    }
}

impl Scripted {
    /// Clients for every registered connector, all answered by this script.
    pub fn clients(&self) -> crate::connectors::Clients {
        let mut clients = crate::connectors::Clients::default();
        for name in crate::connectors::REGISTRY.iter().map(|r| r.name) {
            let c = ScriptedConnector {
                connector: name.to_string(),
                script: self.clone(),
            };
            clients = clients.with(name, Arc::new(c));
        }
        clients
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scripted connector answers at once: one poll finishes its future.
    fn now<T>(f: BoxFuture<'_, T>) -> T {
        let mut f = f;
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("the scripted connector never waits"),
        }
    }

    #[test]
    fn the_engines_echoing_mock_keeps_no_calls() {
        let (_, op) = crate::connectors::operation("mock.echo").unwrap();
        let ctx = CallContext {
            flow: "f".into(),
            step: "s".into(),
            idempotency_key: None,
            attempt: 1,
        };
        let echo = ScriptedConnector {
            connector: "mock".into(),
            script: Scripted::default().echoing(),
        };
        let recording = ScriptedConnector {
            connector: "mock".into(),
            script: Scripted::new(vec![]),
        };
        let input = serde_json::json!({"a": 1});
        assert_eq!(now(echo.call(op, &input, &ctx)).unwrap(), input);
        assert!(
            echo.script.calls().is_empty(),
            "a long-running engine keeps nothing"
        );
        let _ = now(recording.call(op, &input, &ctx));
        assert_eq!(recording.script.calls().len(), 1, "tests see every call");
    }
}
