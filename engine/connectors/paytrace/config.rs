//! Settings of the `paytrace` connector (profile `connectors.paytrace`), validated without any
//! network: base URL, API user and password (password always a secret reference), optional
//! integrator id, per-call timeout, and the window a lost sale is looked up in.

use crate::connectors::setup::{self, ConfigError};
use serde::Deserialize;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

const NAME: &str = "paytrace";

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
    pub fn from_settings(value: &Value, base: &Path) -> Result<Config, ConfigError> {
        let w: Written = setup::parse(NAME, value)?;
        Ok(Config {
            base_url: setup::base_url(NAME, &w.base_url)?,
            username: setup::plain_or_secret(NAME, "username", &w.username, base)?,
            password: setup::secret(NAME, "password", &w.password, base)?,
            integrator_id: w.integrator_id,
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
        let c = Config::from_settings(&ok, &dir).unwrap();
        assert_eq!(c.base_url, "http://127.0.0.1:8081");
        assert_eq!(c.timeout, Duration::from_secs(5));
        assert!(!format!("{c:?}").contains(&c.password));
        let inline = json!({"base_url": "http://x.test", "username": "u", "password": "hunter2"});
        let e = Config::from_settings(&inline, &dir)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("connectors.paytrace.password") && !e.contains("hunter2"),
            "{e}"
        );
        let typo = json!({"base_url": "http://x.test", "username": "u", "password": "${env:PATH}", "timout": "1s"});
        assert!(
            Config::from_settings(&typo, &dir)
                .unwrap_err()
                .to_string()
                .contains("timout")
        );
        let url =
            json!({"base_url": "api.paytrace.com", "username": "u", "password": "${env:PATH}"});
        assert!(
            Config::from_settings(&url, &dir)
                .unwrap_err()
                .to_string()
                .contains("base_url")
        );
    }
}
