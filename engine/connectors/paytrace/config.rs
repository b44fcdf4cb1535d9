//! Settings of the `paytrace` connector (profile `connectors.paytrace`), validated without any
//! network: base URL, API user and password (password always a secret reference), optional
//! integrator id, per-call timeout, and the window a lost sale is looked up in.

use crate::connectors::setup::{self, ConfigError};
use crate::load::secrets::SecretScope;
use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;

const NAME: &str = "paytrace";

/// The profile section, for `docs/connectors/paytrace.md`.
pub const SETTINGS_DOC: &str = r#"In the profile under `connectors.paytrace`:

```yaml
connectors:
  paytrace:
    base_url: https://api.paytrace.com        # sandbox: https://api.sandbox.paytrace.com
    username: ${env:PAYTRACE_USERNAME}        # the API user (plain text or a reference)
    password: ${env:PAYTRACE_PASSWORD}        # always a reference: ${env:NAME} or ${file:PATH}
    integrator_id: ${env:PAYTRACE_INTEGRATOR_ID}   # added to every request body
    timeout: 30s                              # per call
    lookup_window: 30m                        # clock-skew allowance when finding a lost charge
```

The connector fetches an OAuth token (password grant) on first use, shares it between runs,
renews it a minute before it expires and once more when PayTrace answers `invalid_token`. Answers
are read from the body whatever the HTTP status: `success`, then `response_code`.

**Lost responses.** PayTrace v1 has no idempotency key. When a sale, authorization or keyed
refund was sent and no answer came (timeout, dropped connection), the connector searches
`transactions/export/by_date_range` for the `invoice_id` and amount, created no earlier than the
request (less `lookup_window`): found, the original result is returned with `recovered: true`;
not found, the call is retryable. Give every charge a unique `invoice_id` to make this reliable;
a charge without one whose answer is lost ends as a permanent error for a person to check.
Voids and captures are confirmed by the transaction's status. ACH and refunds of a transaction
cannot be searched for and end as permanent errors, never resent. `ledgerlink check` fetches a
token without charging anything."#;

/// As written in the profile.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Written {
    base_url: String,
    username: String,
    password: String,
    #[serde(default)]
    integrator_id: Option<String>,
    #[serde(default)]
    timeout: Option<String>,
    #[serde(default)]
    lookup_window: Option<String>,
}

/// Resolved settings.
#[derive(Clone)]
pub struct Config {
    pub base_url: String,
    pub username: String,
    pub password: String,
    pub integrator_id: Option<String>,
    /// Per-call timeout (default 30 s; PayTrace answers in 3-6 s on a normal day).
    pub timeout: Duration,
    /// How far back a sale whose response was lost is looked for (default 30 min).
    pub lookup_window: Duration,
    /// Fetch a new token this long before the old one expires.
    pub refresh_margin: Duration,
}

// Credentials stay out of debug output.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("base_url", &self.base_url)
            .field("integrator_id", &self.integrator_id)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Config {
    pub fn from_settings(value: &Value, scope: &SecretScope) -> Result<Config, ConfigError> {
        let w: Written = setup::parse(NAME, value)?;
        Ok(Config {
            base_url: setup::base_url(NAME, &w.base_url)?,
            username: setup::plain_or_secret(NAME, "username", &w.username, scope)?,
            password: setup::secret(NAME, "password", &w.password, scope)?,
            integrator_id: w
                .integrator_id
                .map(|t| setup::plain_or_secret(NAME, "integrator_id", &t, scope))
                .transpose()?,
            timeout: setup::duration(
                NAME,
                "timeout",
                w.timeout.as_deref(),
                Duration::from_secs(30),
            )?,
            lookup_window: setup::duration(
                NAME,
                "lookup_window",
                w.lookup_window.as_deref(),
                Duration::from_secs(1800),
            )?,
            refresh_margin: Duration::from_secs(60),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn settings_are_checked_and_secrets_must_be_references() {
        let dir = std::env::temp_dir();
        let ok = json!({"base_url": "http://127.0.0.1:8081/", "username": "ledgerlink",
            "password": "${env:PATH}", "timeout": "5s"});
        let c = Config::from_settings(&ok, &SecretScope::at(&dir)).unwrap();
        assert_eq!(c.base_url, "http://127.0.0.1:8081");
        assert_eq!(c.timeout, Duration::from_secs(5));
        assert!(!format!("{c:?}").contains(&c.password));
        let inline = json!({"base_url": "http://x.test", "username": "u", "password": "hunter2"});
        let e = Config::from_settings(&inline, &SecretScope::at(&dir))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("connectors.paytrace.password") && !e.contains("hunter2"),
            "{e}"
        );
        let typo = json!({"base_url": "http://x.test", "username": "u", "password": "${env:PATH}", "timout": "1s"});
        assert!(
            Config::from_settings(&typo, &SecretScope::at(&dir))
                .unwrap_err()
                .to_string()
                .contains("timout")
        );
        let url =
            json!({"base_url": "api.paytrace.com", "username": "u", "password": "${env:PATH}"});
        assert!(
            Config::from_settings(&url, &SecretScope::at(&dir))
                .unwrap_err()
                .to_string()
                .contains("base_url")
        );
    }
}
