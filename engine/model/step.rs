//! Steps. A step is one flat record with an `id` and exactly one kind key (`map`, `script`,
//! `call`, `switch`, `foreach`, `lookup`, `fail`, `dead_letter`, `alert`); lint rule LL019 says
//! which key is missing or extra, which reads better than a schema `oneOf` failure.

use super::{OnError, Retry};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// One step of a flow.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Step id, unique in the flow (nested steps included). Later expressions read this step's
    /// output as `steps.<id>`; routes name it to jump here.
    #[schemars(regex(pattern = r"^[a-z_][a-z0-9_]{0,62}$"))]
    pub id: String,
    /// What the step is for, shown in run records and the console.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,

    /// Build a record: target field -> Rhai expression (strings), or a literal number, boolean
    /// or null, or a nested mapping for nested fields. All fields are compiled together and
    /// the record is this step's output. Write a string literal as `'"CC"'`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map: Option<Map<String, Value>>,
    /// A Rhai block; the value of its last expression is this step's output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
    /// Call a connector operation, as `connector.operation` (for example
    /// `sagepro.create_payment`). Its output is this step's output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<String>,
    /// Branch: the first case whose `when` is true runs (its nested `steps`, or a jump with
    /// `goto`); a case without `when` is the default and must come last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch: Option<Vec<Case>>,
    /// Run nested steps once per element of an array.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreach: Option<Foreach>,
    /// Look a key up in a profile table (for example GL accounts by transaction type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookup: Option<Lookup>,
    /// Stop the run as failed with a reason (recorded, not retried, not dead-lettered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail: Option<Reason>,
    /// Put the event into the dead-letter queue with a reason, for review and replay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter: Option<Reason>,
    /// Send an alert to the profile's alert channel and go on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<Alert>,

    /// Input for `call`: a mapping of input field -> expression (like `map`), or one Rhai
    /// expression giving the whole record, such as `steps.payment`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with: Option<Value>,
    /// Rhai expression for the idempotency key sent with `call`; required for operations that
    /// are not idempotent by themselves. Example: `"paytrace-sale-" + event.transaction_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// Retry policy for this `call`'s transient failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
    /// Route by the call's outcome: outcome (`ok`, `declined`, `not_found`, `duplicate`,
    /// `validation`, `conflict`, `error`) -> step id, or `continue`, `dead_letter`, `fail`,
    /// `complete`. Unrouted failures go to `on_error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<BTreeMap<String, String>>,
    /// After this step, jump to a step id, or `complete` to end the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goto: Option<String>,
    /// What to do when this step fails; overrides the flow's `on_error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_error: Option<OnError>,
}

/// One `switch` case.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Rhai condition; omit it on the last case for the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// Jump to a step id, or `continue`, `dead_letter`, `fail`, `complete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goto: Option<String>,
    /// Steps to run when this case matches; afterwards the run goes on after the `switch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<Step>>,
}

/// `foreach` loop.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Foreach {
    /// Rhai expression giving the array, for example `event.line_items`.
    pub items: String,
    /// Name of the loop variable nested expressions see (default `item`); `index` is the
    /// 0-based position.
    #[serde(default, rename = "as", skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-z_][a-z0-9_]*$"))]
    pub as_name: Option<String>,
    /// Steps run for each element. The `foreach` step's output is the array of the last nested
    /// step's outputs.
    pub steps: Vec<Step>,
}

/// `lookup` in a profile table.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Lookup {
    /// Table name under `tables:` in the profile, for example `gl_accounts`.
    pub table: String,
    /// Rhai expression giving the key.
    pub key: String,
    /// Rhai expression for the value when the key is absent (`"()"` for none); without it a
    /// missing key fails the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

/// Reason for `fail` or `dead_letter`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    /// Rhai expression giving the reason shown to the operator, e.g.
    /// `"invoice " + event.invoice_id + " not found in Sage Pro"`.
    pub reason: String,
}

/// `alert` to a human.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Alert {
    /// Rhai expression giving the alert text. Never include card data.
    pub message: String,
    /// `info`, `warning` (default) or `critical`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<AlertSeverity>,
    /// Alert channel name from the profile (default: the profile's default channel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

/// Alert severities.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertSeverity {
    Info,
    Warning,
    Critical,
}

/// The step kinds, in the order LL019 names them.
pub const STEP_KINDS: &[&str] = &[
    "map",
    "script",
    "call",
    "switch",
    "foreach",
    "lookup",
    "fail",
    "dead_letter",
    "alert",
];

impl Step {
    /// The kind keys this step sets (exactly one when valid).
    pub fn kinds(&self) -> Vec<&'static str> {
        let present = [
            self.map.is_some(),
            self.script.is_some(),
            self.call.is_some(),
            self.switch.is_some(),
            self.foreach.is_some(),
            self.lookup.is_some(),
            self.fail.is_some(),
            self.dead_letter.is_some(),
            self.alert.is_some(),
        ];
        STEP_KINDS
            .iter()
            .zip(present)
            .filter(|(_, p)| *p)
            .map(|(k, _)| *k)
            .collect()
    }

    /// Nested step lists with the JSON-pointer suffix of each, for walkers.
    pub fn children(&self) -> Vec<(String, &[Step])> {
        let mut out = Vec::new();
        if let Some(cases) = &self.switch {
            for (i, case) in cases.iter().enumerate() {
                if let Some(steps) = &case.steps {
                    out.push((format!("/switch/{i}/steps"), steps.as_slice()));
                }
            }
        }
        if let Some(fe) = &self.foreach {
            out.push(("/foreach/steps".to_string(), fe.steps.as_slice()));
        }
        out
    }
}
