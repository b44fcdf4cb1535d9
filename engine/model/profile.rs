//! A profile (`profiles/<name>.yaml`): the settings one environment (`dev`, `qa`, `prod`) runs
//! flows with. Non-secret values are visible to expressions as `profile.<key>`; tables feed
//! `lookup`; rates feed `convert`. Secrets are only ever references (`${env:...}`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// One environment's settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Profile name, such as `dev`, `qa` or `prod`.
    pub profile: String,
    /// What this environment is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Non-secret values expressions read as `profile.<key>` (company code, default GL account).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub values: Map<String, Value>,
    /// Lookup tables: table -> key -> value, read with `lookup(table, key)`. The table
    /// `status_map` overrides or extends the PayTrace -> Sage Pro status mapping.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tables: BTreeMap<String, BTreeMap<String, Value>>,
    /// Currency rates for `convert`: the base currency and, per currency, the value of one
    /// unit in the base currency, as decimal text (`CAD: "0.7312"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<Currency>,
    /// Accept webhooks with `signature: { scheme: none }` (dev only).
    #[serde(default)]
    pub allow_unsigned_webhooks: bool,
    /// Connector settings (endpoints, credentials as `${env:...}` references), read by each
    /// connector's configuration.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub connectors: Map<String, Value>,
}

/// Currency settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Currency {
    /// The base (ledger) currency, for example `USD`.
    pub base: String,
    /// Value of one unit of each currency in the base currency (decimal text or number).
    pub rates: BTreeMap<String, Value>,
}
