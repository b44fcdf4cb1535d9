//! The flow file exactly as consultants write it. Serde types with `deny_unknown_fields`; every
//! doc comment becomes a description in `schemas/flow.schema.json`, which editors show on hover.
//! No I/O and no validation beyond shape: meaning is checked by `lint`, resolved by `plan`.

mod profile;
mod step;
mod trigger;

pub use profile::*;
pub use step::*;
pub use trigger::*;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A Ledgerlink flow: one trigger, an optional filter and the steps each accepted event runs
/// through. Expressions are Rhai and see `event`, `steps.<id>` (outputs of earlier steps),
/// `profile` (non-secret profile values) and `flow` (this flow's id and version).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Ledgerlink flow")]
pub struct Flow {
    /// Flow id: lower-case letters, digits and dashes, unique across the flows directory.
    /// Run records, journals and dead letters are keyed by it.
    #[schemars(regex(pattern = r"^[a-z][a-z0-9-]{0,62}$"))]
    pub flow: String,
    /// What this flow does, in one or two sentences, for the console and generated docs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Revision number the consultant bumps on meaningful changes; recorded with every run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub version: Option<u32>,
    /// Profiles this flow may run under (for example `dev`, `qa`, `prod`). Empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
    /// What starts a run: exactly one of `webhook`, `schedule`, `poll` or `manual`.
    pub trigger: Trigger,
    /// Rhai expression giving the key events are ordered by (for example the PayTrace customer
    /// id): events with the same key run one at a time, in arrival order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ordering_key: Option<String>,
    /// Rhai expression over `event`; events for which it is false are recorded as skipped, not
    /// as errors. Example: `event.status_code == 101`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// What happens when a step fails and has no `on_error` of its own. Default: retry as the
    /// connector allows, then dead-letter the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_error: Option<OnError>,
    /// The steps, run in order unless a `goto`, `switch` or outcome route says otherwise.
    #[schemars(length(min = 1))]
    pub steps: Vec<Step>,
}

/// Retry, then a final route, for a failing step or flow.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OnError {
    /// Retry policy for transient failures (timeouts, 5xx, rate limits). Permanent failures
    /// (validation, declined) are never retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
    /// Where the event goes once retries are exhausted: `dead_letter` (default), `continue`
    /// (go on with the next step), `fail`, `complete`, or the id of a step to go to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub then: Option<String>,
}

/// Exponential backoff with jitter: delay n = min(`backoff` * 2^(n-1), `max_delay`), then a
/// random part of it when `jitter` is on.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Total attempts including the first one (1 to 20).
    #[schemars(range(min = 1))]
    pub attempts: u32,
    /// First delay, as a duration such as `500ms`, `2s` or `1m` (at least 10ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<String>,
    /// Upper bound for any one delay (at most 1h).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_delay: Option<String>,
    /// Randomise each delay ("full jitter") so retries from many events do not align. Default
    /// true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<bool>,
}

/// Targets a route may name besides a step id.
pub const RESERVED_TARGETS: &[&str] = &["continue", "dead_letter", "fail", "complete"];
