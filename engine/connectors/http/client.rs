//! The generic `http` connector client: the method, URL, headers, query and JSON body come
//! from the input; settings add a timeout and default headers (values may be secret
//! references, e.g. an API key). 2xx is ok with `{status, headers, body}`; 404 `not_found`;
//! 400/422 `validation`; 409/412 `conflict`; 408, 429 and 5xx retryable with Retry-After;
//! no answer is retryable only for GET and PUT, since other methods may have done their work.

use crate::connectors::setup::{self, ConfigError};
use crate::connectors::transport::{self, NoAnswer};
use crate::connectors::{BoxFuture, CallContext, Connector, ConnectorError, Operation};
use crate::load::secrets::SecretScope;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The profile section, for `docs/connectors/http.md`.
pub const SETTINGS_DOC: &str = r#"In the profile under `connectors.http` (all optional):

```yaml
connectors:
  http:
    timeout: 15s
    headers:                      # sent on every call; values may be secret references
      Authorization: ${env:SHOP_API_TOKEN}
```

2xx answers are `ok` with `{status, headers, body}`; 404 `not_found`; 400 and 422 `validation`;
409 and 412 `conflict`; 408, 429 and 5xx are retried with the server's Retry-After. When no
answer comes, GET and PUT are retried; other methods may have done their work and end as
permanent errors for a person to check. The runtime's idempotency key is sent as
`Idempotency-Key`."#;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Written {
    #[serde(default)]
    timeout: Option<String>,
    /// Headers sent on every call; values may be `${env:...}` references.
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

pub struct Http {
    http: reqwest::Client,
    headers: Vec<(String, String)>,
}

impl Http {
    pub fn build(
        value: &Value,
        scope: &SecretScope,
        _built: &crate::connectors::Clients,
    ) -> Result<Arc<dyn Connector>, ConfigError> {
        let w: Written = if value.is_null() {
            Written::default()
        } else {
            setup::parse("http", value)?
        };
        let timeout = setup::duration(
            "http",
            "timeout",
            w.timeout.as_deref(),
            Duration::from_secs(15),
        )?;
        let mut headers = Vec::new();
        for (name, v) in w.headers {
            let value = setup::plain_or_secret("http", &format!("headers.{name}"), &v, scope)?;
            headers.push((name, value));
        }
        Ok(Arc::new(Http {
            http: setup::http_client("http", timeout)?,
            headers,
        }))
    }
}

impl Connector for Http {
    fn reconcile<'a>(
        &'a self,
        operation: &'a Operation,
        input: &'a Value,
        _context: &'a CallContext,
        _started_ms: i64,
    ) -> BoxFuture<'a, Result<Option<Value>, ConnectorError>> {
        Box::pin(async move {
            let method = match operation.name.as_str() {
                "request" => input.get("method").and_then(Value::as_str).unwrap_or("GET"),
                _ => operation.method.as_str(),
            }
            .to_ascii_uppercase();
            if matches!(method.as_str(), "GET" | "PUT" | "HEAD" | "DELETE") {
                return Ok(None);
            }
            Err(ConnectorError::Permanent {
                message: format!(
                    "a {method} was in flight when the engine stopped and may have been processed: check before replaying"
                ),
            })
        })
    }

    fn check(&self) -> BoxFuture<'_, Result<String, ConnectorError>> {
        Box::pin(async { Ok("generic: each call names its own URL, nothing to check".into()) })
    }

    fn call<'a>(
        &'a self,
        operation: &'a Operation,
        input: &'a Value,
        context: &'a CallContext,
    ) -> BoxFuture<'a, Result<Value, ConnectorError>> {
        Box::pin(async move {
            let method = match operation.name.as_str() {
                "request" => input.get("method").and_then(Value::as_str).unwrap_or("GET"),
                _ => operation.method.as_str(),
            }
            .to_ascii_uppercase();
            let url = input.get("url").and_then(Value::as_str).unwrap_or("");
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConnectorError::Validation {
                    message: format!("`url` must be an absolute http(s) URL, got `{url}`"),
                    details: Value::Null,
                });
            }
            let verb = reqwest::Method::from_bytes(method.as_bytes()).map_err(|_| {
                ConnectorError::Validation {
                    message: format!("unknown HTTP method `{method}`"),
                    details: Value::Null,
                }
            })?;
            let query = input
                .get("query")
                .and_then(Value::as_object)
                .map(transport::query)
                .unwrap_or_default();
            let sep = if url.contains('?') && query.starts_with('?') {
                "&"
            } else {
                ""
            };
            let full = if sep.is_empty() {
                format!("{url}{query}")
            } else {
                format!("{url}&{}", &query[1..])
            };
            let mut request = self.http.request(verb, &full);
            for (k, v) in &self.headers {
                request = request.header(k, v);
            }
            if let Some(h) = input.get("headers").and_then(Value::as_object) {
                for (k, v) in h {
                    request = request.header(k, v.as_str().unwrap_or_default());
                }
            }
            if let Some(key) = &context.idempotency_key {
                request = request.header("Idempotency-Key", key);
            }
            if let Some(body) = input.get("body") {
                request = request.json(body);
            }
            let host = url.split('/').nth(2).unwrap_or("");
            let answer =
                match transport::send(request, &format!("http {method} {host}"), input.get("body"))
                    .await
                {
                    Ok(a) => a,
                    Err(NoAnswer::Unknown(m))
                        if !matches!(method.as_str(), "GET" | "PUT" | "HEAD") =>
                    {
                        return Err(ConnectorError::Permanent {
                            message: format!(
                                "{m}; the {method} may have been processed: check before replaying"
                            ),
                        });
                    }
                    Err(e) => {
                        return Err(ConnectorError::Retryable {
                            message: e.message().to_string(),
                            retry_after: None,
                        });
                    }
                };
            let headers: Map<String, Value> = answer
                .headers
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_string(), json!(v.to_str().ok()?))))
                .collect();
            let out = json!({"status": answer.status, "headers": headers, "body": answer.body});
            super::errors::classify(
                &format!("{method} {host}"),
                answer.status,
                answer.retry_after,
                out,
            )
        })
    }
}
