//! Building connector clients from a profile's `connectors:` section. Each connector's
//! `config.rs` parses its own settings (serde, `deny_unknown_fields`); the helpers here resolve
//! secret references, durations and base URLs the same way for all, so every error names the
//! connector and the setting, and never a secret's value.

use super::{Clients, Connector, REGISTRY};
use crate::load::secrets::{self, SecretError, SecretScope};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Builds one connector's client from its settings; secret references resolve in `scope`.
/// `built` holds the clients of connectors registered before it (a connector that works
/// through others, like `reconcile`, takes them from there).
pub type Builder = fn(&Value, &SecretScope, &Clients) -> Result<Arc<dyn Connector>, ConfigError>;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("connectors.{connector}: {message}")]
    Invalid {
        connector: String,
        /// The setting at fault, when one is (`base_url`, `timeout`).
        field: Option<String>,
        message: String,
    },
    #[error(transparent)]
    Secret(#[from] SecretError),
}

impl ConfigError {
    /// The dotted profile setting the error is about (`connectors.sagepro.base_url`), or the
    /// connector's block when no one setting is: where error messages point in the file.
    pub fn setting(&self) -> String {
        match self {
            ConfigError::Invalid {
                connector,
                field: Some(field),
                ..
            } => format!("connectors.{connector}.{field}"),
            ConfigError::Invalid { connector, .. } => format!("connectors.{connector}"),
            ConfigError::Secret(e) => e.what().to_string(),
        }
    }
}

fn invalid(connector: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        connector: connector.into(),
        field: None,
        message: message.into(),
    }
}

fn invalid_field(connector: &str, field: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        connector: connector.into(),
        field: Some(field.into()),
        message: message.into(),
    }
}

/// Deserialize a connector's settings, naming the connector in the error.
pub fn parse<T: DeserializeOwned>(connector: &str, value: &Value) -> Result<T, ConfigError> {
    serde_json::from_value(value.clone()).map_err(|e| invalid(connector, e.to_string()))
}

/// A secret setting: must be `${secret:NAME}`, `${env:NAME}` or `${file:PATH}`.
pub fn secret(
    connector: &str,
    field: &str,
    reference: &str,
    scope: &SecretScope,
) -> Result<String, ConfigError> {
    Ok(scope.resolve(&format!("connectors.{connector}.{field}"), reference)?)
}

/// A setting that may be written plainly or as a reference (a user name, an id).
pub fn plain_or_secret(
    connector: &str,
    field: &str,
    text: &str,
    scope: &SecretScope,
) -> Result<String, ConfigError> {
    if secrets::is_reference(text) {
        secret(connector, field, text, scope)
    } else {
        Ok(text.to_string())
    }
}

/// A duration such as `30s` or `2m`; `default` when absent.
pub fn duration(
    connector: &str,
    field: &str,
    text: Option<&str>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match text {
        None => Ok(default),
        Some(t) => humantime::parse_duration(t.trim()).map_err(|e| {
            invalid_field(
                connector,
                field,
                format!("`{field}`: `{t}` is not a duration ({e})"),
            )
        }),
    }
}

/// A base URL: `http://` or `https://`, no trailing slash.
pub fn base_url(connector: &str, text: &str) -> Result<String, ConfigError> {
    let t = text.trim().trim_end_matches('/');
    if !(t.starts_with("http://") || t.starts_with("https://")) || t.len() < 10 {
        return Err(invalid_field(
            connector,
            "base_url",
            format!("`base_url` must start with http:// or https://, got `{text}`"),
        ));
    }
    Ok(t.to_string())
}

/// A reqwest client with the connector's timeout and pooling.
pub fn http_client(connector: &str, timeout: Duration) -> Result<reqwest::Client, ConfigError> {
    super::transport::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .pool_idle_timeout(Duration::from_secs(60))
        .user_agent(concat!("ledgerlink/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| invalid(connector, format!("cannot build the HTTP client: {e}")))
}

/// The clients a profile configures: one per entry of its `connectors:` section.
pub fn build_clients(
    profile: &crate::model::Profile,
    profiles_dir: &Path,
) -> Result<Clients, ConfigError> {
    let scope = &SecretScope::of(profile, profiles_dir);
    let mut clients = Clients::default();
    for name in profile.connectors.keys() {
        if !REGISTRY.iter().any(|r| r.name == name) {
            let known: Vec<&str> = REGISTRY.iter().map(|r| r.name).collect();
            return Err(invalid(
                name,
                format!("unknown connector; known: {}", known.join(", ")),
            ));
        }
    }
    // In registry order, so a connector built on others finds them built.
    for registered in REGISTRY {
        let Some(settings) = profile.connectors.get(registered.name) else {
            continue;
        };
        let name = registered.name;
        let build = registered
            .build
            .ok_or_else(|| invalid(name, "this connector has no network client to configure"))?;
        let client = build(settings, scope, &clients)?;
        clients = clients.with(name, client);
    }
    Ok(clients)
}
