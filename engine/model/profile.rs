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
    /// Secrets flows name as `${secret:NAME}`, bound here to a reference (`${env:NAME}` or
    /// `${file:PATH}`), so a flow runs unchanged under every profile.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, String>,
    /// How `ledgerlink sandbox --profile NAME` (and the dev profile's embedded sandbox) runs
    /// the emulators: ports, seed, faults active from the start, the demo notifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<SandboxSettings>,
    /// Where alerts go: `alert` steps, dead letters and failed reloads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<AlertSettings>,
    /// The engine's own settings: where the store lives and how many runs execute at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<RuntimeSettings>,
    /// Where `ledgerlink run` listens for webhooks and health checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerSettings>,
}

/// Alert targets and routing.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertSettings {
    /// Named targets: a JSON webhook (Slack-compatible body), or only the log.
    #[serde(default)]
    pub targets: BTreeMap<String, AlertTarget>,
    /// Targets for alerts that name no channel, dead letters and failed reloads.
    #[serde(default)]
    pub default: Vec<String>,
    /// Identical alerts within this window are sent once with a count, such as `60s` (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_window: Option<String>,
}

/// One alert target.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertTarget {
    /// Webhook URL receiving `{"text": ..., "severity": ..., ...}` (Slack incoming-webhook
    /// compatible); may be a secret reference. Absent: the alert is only logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
}

/// Store location and worker count (command-line flags win).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuntimeSettings {
    /// The state store: an SQLite file, relative to the working directory (default
    /// `.ledgerlink/<profile>/state.db`), or a PostgreSQL URL
    /// (`postgres://user@host:5432/database`, or a secret reference such as
    /// `${env:LEDGERLINK_STORE_URL}` when it holds a password) for several engines sharing
    /// one state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    /// PostgreSQL store only: how long an engine sharing the database may be silent (it
    /// writes a heartbeat every sixth of this) before the others take over the runs it left
    /// running, such as `30s` (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_timeout: Option<String>,
    /// Runs executing at once (default 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<usize>,
    /// How long ended runs (with their event and journal), idempotency results and audit
    /// entries are kept, such as `90d` (default), or `forever`. Queued, waiting and
    /// dead-lettered runs are always kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<String>,
}

/// The engine's HTTP server.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Address and port for webhooks and `/healthz`, `/readyz` (default `127.0.0.1:8080`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind: Option<String>,
    /// How far a webhook signature's timestamp may be from now, such as `5m` (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_tolerance: Option<String>,
    /// Address and port of the admin API (default `127.0.0.1:8090`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_bind: Option<String>,
    /// Bearer token for `/metrics` and `/api/*`, a secret reference; without one they answer 401.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_token: Option<String>,
}

/// Sandbox settings of a profile (see `docs/sandbox.md`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxSettings {
    /// PayTrace emulator port (0 picks a free one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paytrace_port: Option<u16>,
    /// Sage Pro emulator port (0 picks a free one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sagepro_port: Option<u16>,
    /// Seed for generated ids and simulated activity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// SQLite file for the Sage Pro ledger; absent keeps it in memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sagepro_db: Option<String>,
    /// Fault rules active from the start, as in `PUT /_sandbox/faults`: `{target, method,
    /// path, kind: {type, ...}, after, count}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<Value>,
    /// The demo notifier: POST each new PayTrace transaction, signed, to `url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<NotifySettings>,
    /// `ledgerlink run` starts these emulators in-process (dev): no separate sandbox needed.
    #[serde(default)]
    pub embedded: bool,
    /// With `embedded`: generate PayTrace activity once the engine is up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulate: Option<SimulateSettings>,
}

/// The activity simulator's pace.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulateSettings {
    /// Events per second (0: as fast as possible).
    pub rate: f64,
    /// How many events.
    pub count: usize,
}

/// Where the sandbox notifier sends signed transaction events.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotifySettings {
    /// Receiver URL, such as `http://127.0.0.1:8080/hooks/paytrace/transactions`.
    pub url: String,
    /// Signing secret, always a reference: `${env:NAME}` or `${file:PATH}`.
    pub secret: String,
    /// Signature header (default `X-PayTrace-Signature`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
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
