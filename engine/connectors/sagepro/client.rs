//! The Sage Pro facade client: one pooled reqwest client and one cached bearer token per
//! connector instance (the facade's tokens live minutes: refreshed a fifth of their life early,
//! and once more on 401). Paths are filled from the input (`/api/invoices/{InvoiceID}`); GETs
//! send the rest as the query; every POST carries an `Idempotency-Key`, the runtime's key or,
//! without one, a digest of flow, step, operation and input, so a retry always sends the same
//! key. A 409 on `PaymentReference` is settled by reading the stored payment back.

use super::config::Config;
use super::errors;
use crate::connectors::setup::{self, ConfigError};
use crate::connectors::token::{self, TokenCache};
use crate::connectors::transport::{self, Answer, NoAnswer};
use crate::connectors::{BoxFuture, CallContext, Connector, ConnectorError, Operation};
use crate::load::secrets::SecretScope;
use rust_decimal::Decimal;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

pub struct SagePro {
    cfg: Config,
    base: transport::BaseUrl,
    http: reqwest::Client,
    token: TokenCache,
}

impl SagePro {
    pub fn new(cfg: Config) -> Result<SagePro, ConfigError> {
        let http = setup::http_client("sagepro", cfg.timeout)?;
        Ok(SagePro {
            base: transport::BaseUrl::new(&cfg.base_url),
            cfg,
            http,
            token: TokenCache::default(),
        })
    }

    pub fn build(
        value: &Value,
        scope: &SecretScope,
        _built: &crate::connectors::Clients,
    ) -> Result<Arc<dyn Connector>, ConfigError> {
        Ok(Arc::new(SagePro::new(Config::from_settings(
            value, scope,
        )?)?))
    }

    async fn token(&self, fresh: bool) -> Result<String, ConnectorError> {
        if let Some(t) = self.token.current().filter(|_| !fresh) {
            return Ok(t);
        }
        let form = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}",
            token::form_encode(&self.cfg.client_id),
            token::form_encode(&self.cfg.client_secret)
        );
        let url = format!("{}/api/auth/token", self.cfg.base_url);
        let answer = token::request(&self.http, &url, form, "sagepro POST /api/auth/token").await?;
        // The facade's tokens live minutes: renew a fifth of their life early.
        self.token
            .keep(&answer.body, Duration::from_secs(300), |life| life / 5)
            .ok_or_else(|| match errors::classify(&answer) {
                Err(e) if answer.status != 401 => e,
                _ => ConnectorError::Misconfigured {
                    message: format!(
                        "Sage Pro refused the client credentials ({})",
                        errors::code(&answer)
                    ),
                },
            })
    }

    /// Send one request with auth, re-authenticating once on 401.
    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<Result<Answer, NoAnswer>, ConnectorError> {
        let what = format!(
            "sagepro {method} {}",
            path.split('?').next().unwrap_or(path)
        );
        let mut token = self.token(false).await?;
        for retry_auth in [true, false] {
            let method = match method {
                "POST" => reqwest::Method::POST,
                "PUT" => reqwest::Method::PUT,
                _ => reqwest::Method::GET,
            };
            let mut request = self
                .base
                .request(&self.http, method, path)
                .bearer_auth(&token)
                .header("Accept", "application/json");
            if let Some(b) = body {
                request = request.json(b);
            }
            if let Some(k) = idempotency_key {
                request = request.header("Idempotency-Key", k);
            }
            let answer = match transport::send(request, &what, body).await {
                Ok(a) => a,
                Err(e) => return Ok(Err(e)),
            };
            if retry_auth && errors::needs_new_token(&answer) {
                token = self.token(true).await?;
                continue;
            }
            return Ok(Ok(answer));
        }
        Err(ConnectorError::Misconfigured {
            message: "Sage Pro refused a fresh token".into(),
        })
    }

    /// A 409 on PaymentReference: the stored payment, and whether it is the one we sent.
    async fn settle_duplicate_payment(
        &self,
        input: &Value,
        conflict: ConnectorError,
    ) -> Result<Value, ConnectorError> {
        let Some(reference) = input.get("PaymentReference").and_then(Value::as_str) else {
            return Err(conflict);
        };
        let (path, _) = transport::path_for(
            "/api/payments/{PaymentReference}",
            &serde_json::json!({ "PaymentReference": reference }),
        )
        .map_err(|message| ConnectorError::Permanent { message })?;
        let stored = match self.send("GET", &path, None, None).await? {
            Ok(a) if a.status == 200 => a.body,
            _ => return Err(conflict),
        };
        if same_payment(input, &stored) {
            Ok(stored)
        } else {
            Err(ConnectorError::Duplicate {
                message: format!(
                    "payment `{reference}` already exists in Sage Pro with different details"
                ),
                existing: Some(stored),
            })
        }
    }
}

impl Connector for SagePro {
    fn call<'a>(
        &'a self,
        operation: &'a Operation,
        input: &'a Value,
        context: &'a CallContext,
    ) -> BoxFuture<'a, Result<Value, ConnectorError>> {
        Box::pin(async move {
            let invalid = |message| ConnectorError::Validation {
                message,
                details: Value::Null,
            };
            let method = operation.method.as_str();
            // A POST sends the input whole (the path's fields too), so it is not copied.
            let rest;
            let (path, body, key) = match method {
                "POST" => {
                    let (path, _) = transport::path_for(&operation.path, input).map_err(invalid)?;
                    let key = context
                        .idempotency_key
                        .clone()
                        .unwrap_or_else(|| derived_key(context, operation, input));
                    (path, Some(input), Some(key))
                }
                _ => {
                    let (path, fields) =
                        transport::fill_path(&operation.path, input).map_err(invalid)?;
                    if method == "GET" {
                        (format!("{path}{}", transport::query(&fields)), None, None)
                    } else {
                        rest = Value::Object(fields);
                        (path, Some(&rest), None)
                    }
                }
            };
            let answer = match self.send(method, &path, body, key.as_deref()).await? {
                Ok(a) => a,
                // Safe to retry: POSTs repeat their Idempotency-Key, PUTs and GETs are idempotent.
                Err(e) => {
                    return Err(ConnectorError::Retryable {
                        message: e.message().to_string(),
                        retry_after: None,
                    });
                }
            };
            if (200..300).contains(&answer.status) {
                // What `classify` gives a success, without copying the body.
                return Ok(answer.body);
            }
            match errors::classify(&answer) {
                Err(e)
                    if answer.status == 409
                        && errors::code(&answer) == "DuplicatePaymentReference" =>
                {
                    self.settle_duplicate_payment(input, e).await
                }
                other => other,
            }
        })
    }

    fn check(&self) -> BoxFuture<'_, Result<String, ConnectorError>> {
        Box::pin(async move {
            self.token(true).await?;
            match self
                .send("GET", "/api/glaccounts?pageSize=1", None, None)
                .await?
            {
                Ok(a) => errors::classify(&a)?,
                Err(e) => {
                    return Err(ConnectorError::Retryable {
                        message: e.message().to_string(),
                        retry_after: None,
                    });
                }
            };
            Ok(format!(
                "{}: reachable, client authenticated, chart of accounts readable",
                self.cfg.base_url
            ))
        })
    }
}

/// Whether the stored payment is the one `input` describes: every field sent has the same
/// value, amounts compared as decimals and ids without case or padding.
fn same_payment(input: &Value, stored: &Value) -> bool {
    let (Some(sent), Some(stored)) = (input.as_object(), stored.as_object()) else {
        return false;
    };
    sent.iter()
        .all(|(k, v)| same_value(v, stored.get(k).unwrap_or(&Value::Null)))
}

fn same_value(a: &Value, b: &Value) -> bool {
    if let (Some(x), Some(y)) = (decimal(a), decimal(b)) {
        return x == y;
    }
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.trim().eq_ignore_ascii_case(y.trim()),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_value(p, q))
        }
        (Value::Object(x), Value::Object(y)) => x
            .iter()
            .all(|(k, v)| same_value(v, y.get(k).unwrap_or(&Value::Null))),
        _ => a == b,
    }
}

fn decimal(v: &Value) -> Option<Decimal> {
    match v {
        Value::Number(n) => Decimal::from_str(&n.to_string()).ok(),
        Value::String(s) if s.trim().parse::<f64>().is_ok() && !s.trim().is_empty() => {
            Decimal::from_str(s.trim()).ok()
        }
        _ => None,
    }
}

/// A key that is the same on every retry of the same call.
fn derived_key(context: &CallContext, operation: &Operation, input: &Value) -> String {
    let mut h = Sha256::new();
    for part in [&context.flow, &context.step, &operation.name] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.update(input.to_string().as_bytes());
    let digest = h.finalize();
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("ll-{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn identical_payments_compare_by_value() {
        let sent = json!({"PaymentReference": "PT-1", "Amount": "10.00", "CustomerID": "acme01"});
        let stored = json!({"PaymentReference": "PT-1", "Amount": 10, "CustomerID": "ACME01", "AmountApplied": 10});
        assert!(same_payment(&sent, &stored));
        let other = json!({"PaymentReference": "PT-1", "Amount": "10.01", "CustomerID": "ACME01"});
        assert!(!same_payment(&other, &stored));
    }

    #[test]
    fn derived_keys_are_stable_and_distinct() {
        let ctx = CallContext {
            flow: "f".into(),
            step: "s".into(),
            ..CallContext::default()
        };
        let (_, op) = crate::connectors::operation("sagepro.create_payment").unwrap();
        let a = derived_key(&ctx, op, &json!({"a": 1}));
        assert_eq!(a, derived_key(&ctx, op, &json!({"a": 1})));
        assert_ne!(a, derived_key(&ctx, op, &json!({"a": 2})));
    }
}
