//! The shape of a flow test file (`flows/<name>.test.yaml`): which flow, the profile it runs
//! under (with overrides), and the cases: an event, scripted connector replies and what must
//! happen.

use crate::connectors::mock::scripted::Reply;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// One test file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    /// The flow under test, relative to this file; default: `<name>.yaml` beside
    /// `<name>.test.yaml`.
    #[serde(default)]
    pub flow: Option<String>,
    /// Profile the flow runs under (its tables, values and rates; never its connectors):
    /// `profiles/<NAME>.yaml`. Default `dev`.
    #[serde(default)]
    pub profile: Option<String>,
    /// Overrides of the profile's `values` for every case.
    #[serde(default)]
    pub values: Map<String, Value>,
    /// Overrides of (or additions to) the profile's tables for every case, per row.
    #[serde(default)]
    pub tables: BTreeMap<String, BTreeMap<String, Value>>,
    /// The clock the flow sees (`now()`, `today()`), RFC 3339. Default 2026-01-15T17:00:00Z.
    #[serde(default)]
    pub now: Option<String>,
    /// The cases, run in order, each on its own.
    pub tests: Vec<Value>,
}

/// One case (parsed one by one so an error points at the case).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    pub name: String,
    /// The event, inline.
    #[serde(default)]
    pub event: Option<Value>,
    /// Or the event from a JSON file, relative to the test file.
    #[serde(default)]
    pub event_file: Option<String>,
    /// Changes on top of `event` / `event_file`: dotted paths to new values
    /// (`status_code: 102`, `credit_card.masked_number: "..."`).
    #[serde(default)]
    pub patch: Map<String, Value>,
    /// Overrides of the profile's `values` for this case.
    #[serde(default)]
    pub values: Map<String, Value>,
    /// Table rows added or replaced for this case.
    #[serde(default)]
    pub tables: BTreeMap<String, BTreeMap<String, Value>>,
    /// Scripted replies, per `connector.operation`, consumed in order.
    #[serde(default)]
    pub replies: Vec<Reply>,
    pub expect: Expect,
}

/// How the run must have ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectedStatus {
    Completed,
    Skipped,
    Failed,
    DeadLettered,
    Waiting,
}

impl ExpectedStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ExpectedStatus::Completed => "completed",
            ExpectedStatus::Skipped => "skipped",
            ExpectedStatus::Failed => "failed",
            ExpectedStatus::DeadLettered => "dead_lettered",
            ExpectedStatus::Waiting => "waiting",
        }
    }
}

/// What must have happened.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// `completed`, `skipped`, `failed`, `dead_lettered` or `waiting`: anything else is a
    /// mistake in the test file, reported when it is read (not a test that can never pass).
    pub status: ExpectedStatus,
    /// For `failed` / `dead_lettered`: the step that stopped the run.
    #[serde(default)]
    pub step: Option<String>,
    /// The reason (`skipped`, `failed`, `dead_lettered`): text it contains, or a matcher.
    #[serde(default)]
    pub reason: Option<Value>,
    /// Every connector call, in order (retries included). Inputs are matched as subsets
    /// unless `exact: true`. Absent: calls are not checked.
    #[serde(default)]
    pub calls: Option<Vec<ExpectedCall>>,
    /// Every alert raised, in order. Absent: alerts are not checked.
    #[serde(default)]
    pub alerts: Option<Vec<ExpectedAlert>>,
    /// Outputs of steps by id (subset match), e.g. a `map` step's record.
    #[serde(default)]
    pub steps: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedCall {
    /// `connector.operation`.
    pub call: String,
    #[serde(default)]
    pub input: Option<Value>,
    /// The input must equal `input` exactly (no extra fields).
    #[serde(default)]
    pub exact: bool,
    #[serde(default)]
    pub idempotency_key: Option<Value>,
    /// 1 for the first try, 2 for the first retry, ...
    #[serde(default)]
    pub attempt: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedAlert {
    #[serde(default)]
    pub severity: Option<String>,
    /// Text the message contains, or a matcher.
    #[serde(default)]
    pub message: Option<Value>,
    #[serde(default)]
    pub channel: Option<String>,
}
