//! The operation catalog every connector declares: names, input/output JSON Schemas, whether an
//! operation is idempotent and which outcomes it produces. Lint and plan read it; no I/O here.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Outcomes a call can end in; flows route on them with `on:`.
pub const OUTCOMES: &[&str] = &[
    "ok",
    "declined",
    "not_found",
    "duplicate",
    "validation",
    "conflict",
    "error",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    pub connector: String,
    pub description: String,
    pub operations: Vec<Operation>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operation {
    pub name: String,
    pub summary: String,
    pub method: String,
    pub path: String,
    /// Safe to repeat with the same input (reads, or writes keyed by a natural unique field).
    pub idempotent: bool,
    /// Changes state at the remote end.
    pub writes: bool,
    pub outcomes: Vec<String>,
    pub input: Value,
    pub output: Value,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog of connector `{connector}` does not parse: {message}")]
    Invalid { connector: String, message: String },
}

impl Catalog {
    /// Parse a catalog from its YAML text (embedded in the binary with `include_str!`).
    pub fn from_yaml(connector: &str, text: &str) -> Result<Catalog, CatalogError> {
        let invalid = |message: String| CatalogError::Invalid {
            connector: connector.to_string(),
            message,
        };
        let parsed = crate::load::parse(text).map_err(|e| invalid(e.message))?;
        serde_json::from_value(parsed.value).map_err(|e| invalid(e.to_string()))
    }

    pub fn operation(&self, name: &str) -> Option<&Operation> {
        self.operations.iter().find(|o| o.name == name)
    }
}

impl Operation {
    /// Input property names and their schemas (empty when the input is free-form).
    pub fn input_properties(&self) -> Option<&serde_json::Map<String, Value>> {
        self.input.get("properties").and_then(Value::as_object)
    }

    /// Whether the input refuses fields it does not declare.
    pub fn input_is_closed(&self) -> bool {
        self.input.get("additionalProperties") == Some(&Value::Bool(false))
    }

    pub fn required_inputs(&self) -> Vec<&str> {
        self.input
            .get("required")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }
}
