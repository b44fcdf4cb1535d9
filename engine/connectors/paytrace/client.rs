//! The PayTrace client: one pooled reqwest client and one cached OAuth token per connector
//! instance, shared by every run. The token is fetched on first use, refreshed a minute before
//! it expires and once more when PayTrace says `invalid_token`. Every catalog operation is a
//! JSON POST (ping a GET) with `integrator_id` added from the settings. When no answer comes
//! after a charge may have been sent, `recover.rs` looks the charge up before anything retries.

use super::config::Config;
use super::{errors, recover};
use crate::connectors::setup::{self, ConfigError};
use crate::connectors::token::{self, TokenCache};
use crate::connectors::transport::{self, Answer, NoAnswer};
use crate::connectors::{BoxFuture, CallContext, Connector, ConnectorError, Operation};
use crate::load::secrets::SecretScope;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

pub struct PayTrace {
    pub(super) cfg: Config,
    base: transport::BaseUrl,
    http: reqwest::Client,
    token: TokenCache,
}

impl PayTrace {
    pub fn new(cfg: Config) -> Result<PayTrace, ConfigError> {
        let http = setup::http_client("paytrace", cfg.timeout)?;
        Ok(PayTrace {
            base: transport::BaseUrl::new(&cfg.base_url),
            cfg,
            http,
            token: TokenCache::default(),
        })
    }

    /// The registry's builder: settings from the profile.
    pub fn build(
        value: &Value,
        scope: &SecretScope,
        _built: &crate::connectors::Clients,
    ) -> Result<Arc<dyn Connector>, ConfigError> {
        Ok(Arc::new(PayTrace::new(Config::from_settings(
            value, scope,
        )?)?))
    }

    /// A valid access token: the cached one, or a new one when it is missing, about to
    /// expire, or `fresh` is asked for (after `invalid_token`).
    async fn token(&self, fresh: bool) -> Result<String, ConnectorError> {
        if let Some(t) = self.token.current().filter(|_| !fresh) {
            return Ok(t);
        }
        let form = format!(
            "grant_type=password&username={}&password={}",
            token::form_encode(&self.cfg.username),
            token::form_encode(&self.cfg.password)
        );
        let url = format!("{}/oauth/token", self.cfg.base_url);
        let answer = token::request(&self.http, &url, form, "paytrace POST /oauth/token").await?;
        let margin = self.cfg.refresh_margin;
        self.token
            .keep(&answer.body, Duration::from_secs(7200), |_| margin)
            .ok_or_else(|| {
                errors::classify(&answer)
                    .err()
                    .unwrap_or(ConnectorError::Permanent {
                        message: "PayTrace gave no access_token".into(),
                    })
            })
    }

    /// Send one operation with the current token; `None` body for GET.
    pub(super) async fn exchange(
        &self,
        operation: &Operation,
        body: Option<&Value>,
        token: &str,
    ) -> Result<Answer, NoAnswer> {
        let what = format!("paytrace {} {}", operation.method, operation.path);
        let request = match body {
            Some(b) => self
                .base
                .request(&self.http, reqwest::Method::POST, &operation.path)
                .bearer_auth(token)
                .json(b),
            None => self
                .base
                .request(&self.http, reqwest::Method::GET, &operation.path),
        };
        transport::send(request, &what, body).await
    }

    /// Call an operation with re-authentication on `invalid_token`; `NoAnswer` is returned to
    /// the caller, which decides whether a lookup is needed.
    pub(super) async fn call_raw(
        &self,
        operation: &Operation,
        input: &Value,
    ) -> Result<Result<Answer, NoAnswer>, ConnectorError> {
        if operation.method == "GET" {
            return Ok(self.exchange(operation, None, "").await);
        }
        let body = self.with_integrator(input);
        let mut token = self.token(false).await?;
        for retry_auth in [true, false] {
            let answer = match self.exchange(operation, Some(&body), &token).await {
                Ok(a) => a,
                Err(e) => return Ok(Err(e)),
            };
            if retry_auth && errors::is_invalid_token(&answer) {
                token = self.token(true).await?;
                continue;
            }
            return Ok(Ok(answer));
        }
        Err(ConnectorError::Misconfigured {
            message: "PayTrace refused a fresh access token (invalid_token)".into(),
        })
    }

    fn with_integrator(&self, input: &Value) -> Value {
        let mut body = input.clone();
        if let (Some(id), Value::Object(map)) = (&self.cfg.integrator_id, &mut body) {
            map.entry("integrator_id")
                .or_insert_with(|| Value::String(id.clone()));
        }
        body
    }
}

impl Connector for PayTrace {
    fn call<'a>(
        &'a self,
        operation: &'a Operation,
        input: &'a Value,
        _context: &'a CallContext,
    ) -> BoxFuture<'a, Result<Value, ConnectorError>> {
        Box::pin(async move {
            let sent_at = chrono::Utc::now();
            match self.call_raw(operation, input).await? {
                Ok(answer) => errors::classify(&answer),
                Err(NoAnswer::Unsent(message)) => Err(ConnectorError::NotSent {
                    message,
                    retry_after: None,
                }),
                Err(NoAnswer::Unknown(message)) if operation.idempotent || !operation.writes => {
                    Err(ConnectorError::Retryable {
                        message,
                        retry_after: None,
                    })
                }
                Err(NoAnswer::Unknown(message)) => {
                    recover::after_lost_response(self, operation, input, sent_at, &message).await
                }
            }
        })
    }

    fn reconcile<'a>(
        &'a self,
        operation: &'a Operation,
        input: &'a Value,
        _context: &'a CallContext,
        started_ms: i64,
    ) -> BoxFuture<'a, Result<Option<Value>, ConnectorError>> {
        Box::pin(async move {
            if operation.idempotent || !operation.writes {
                return Ok(None);
            }
            let sent_at = chrono::DateTime::from_timestamp_millis(started_ms)
                .unwrap_or_else(chrono::Utc::now);
            let why = format!(
                "`paytrace.{}` was in flight when the engine stopped",
                operation.name
            );
            match recover::after_lost_response(self, operation, input, sent_at, &why).await {
                Ok(found) => Ok(Some(found)),
                Err(ConnectorError::NotSent { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        })
    }

    fn check(&self) -> BoxFuture<'_, Result<String, ConnectorError>> {
        Box::pin(async move {
            self.token(true).await?;
            Ok(format!(
                "{}: reachable, API user authenticated",
                self.cfg.base_url
            ))
        })
    }
}
