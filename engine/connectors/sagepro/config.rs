//! Settings of the `sagepro` connector (profile `connectors.sagepro`), validated without any
//! network: the facade's base URL, client id and secret (secret always a reference), and the
//! per-call timeout.

use crate::connectors::setup::{self, ConfigError};
use crate::load::secrets::SecretScope;
use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;

const NAME: &str = "sagepro";

/// The profile section, for `docs/connectors/sagepro.md`.
pub const SETTINGS_DOC: &str = r#"In the profile under `connectors.sagepro`:

```yaml
connectors:
  sagepro:
    base_url: https://sagepro.example.internal   # the REST facade
    client_id: ${env:SAGEPRO_CLIENT_ID}          # plain text or a reference
    client_secret: ${env:SAGEPRO_CLIENT_SECRET}  # always a reference
    timeout: 20s                                 # per call
```

The connector trades the client credentials for a bearer token (`/api/auth/token`), renews it a
fifth of its lifetime early and once more on 401. Every POST carries an `Idempotency-Key`: the
runtime's key for the step, or a digest of flow, step, operation and input, so a retry always
repeats the key and the facade answers with the original record instead of posting twice. A 409
on `PaymentReference` is settled by reading the stored payment: identical, it is the answer;
different, the outcome is `duplicate` with the stored copy in `existing`. `{Field}` in a path is
filled from the input; GET inputs become the query string. `ledgerlink check` reads one GL
account."#;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Written {
    base_url: String,
    client_id: String,
    client_secret: String,
    #[serde(default)]
    timeout: Option<String>,
}

/// Resolved settings.
#[derive(Clone)]
pub struct Config {
    pub base_url: String,
    pub client_id: String,
    pub client_secret: String,
    /// Per-call timeout (default 20 s).
    pub timeout: Duration,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("base_url", &self.base_url)
            .field("client_id", &self.client_id)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Config {
    pub fn from_settings(value: &Value, scope: &SecretScope) -> Result<Config, ConfigError> {
        let w: Written = setup::parse(NAME, value)?;
        Ok(Config {
            base_url: setup::base_url(NAME, &w.base_url)?,
            client_id: setup::plain_or_secret(NAME, "client_id", &w.client_id, scope)?,
            client_secret: setup::secret(NAME, "client_secret", &w.client_secret, scope)?,
            timeout: setup::duration(
                NAME,
                "timeout",
                w.timeout.as_deref(),
                Duration::from_secs(20),
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn settings_are_checked() {
        let dir = std::env::temp_dir();
        let ok = json!({"base_url": "http://127.0.0.1:8082", "client_id": "c", "client_secret": "${env:PATH}"});
        let c = Config::from_settings(&ok, &SecretScope::at(&dir)).unwrap();
        assert_eq!(c.timeout, Duration::from_secs(20));
        assert!(!format!("{c:?}").contains(&c.client_secret));
        let inline = json!({"base_url": "http://127.0.0.1:8082", "client_id": "c", "client_secret": "s3cret"});
        let e = Config::from_settings(&inline, &SecretScope::at(&dir))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("connectors.sagepro.client_secret") && !e.contains("s3cret"),
            "{e}"
        );
    }
}
