//! Triggers: what turns the outside world into events for a flow.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What starts a run: exactly one of `webhook`, `schedule`, `poll` or `manual` (lint rule
/// LL019 says which is missing or extra).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    /// An HTTP POST to the engine's webhook server at `path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookTrigger>,
    /// A clock: cron with seconds in an IANA timezone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleTrigger>,
    /// Ask a connector operation for new records every `every`, resuming from a cursor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll: Option<PollTrigger>,
    /// Started by hand (`ledgerlink run`) or from the admin API, with an event given there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual: Option<ManualTrigger>,
}

/// The trigger kinds, in the order LL019 names them.
pub const TRIGGER_KINDS: &[&str] = &["webhook", "schedule", "poll", "manual"];

impl Trigger {
    /// The kind keys this trigger sets (exactly one when valid).
    pub fn kinds(&self) -> Vec<&'static str> {
        let present = [
            self.webhook.is_some(),
            self.schedule.is_some(),
            self.poll.is_some(),
            self.manual.is_some(),
        ];
        TRIGGER_KINDS
            .iter()
            .zip(present)
            .filter(|(_, p)| *p)
            .map(|(k, _)| *k)
            .collect()
    }
}

/// Webhook trigger. The body must be JSON; it is stored durably before the sender gets 2xx.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookTrigger {
    /// URL path under the webhook server, starting with `/`. Unique across flows.
    #[schemars(regex(pattern = r"^/[A-Za-z0-9._~/-]*$"))]
    pub path: String,
    /// How the sender signs the body. Unsigned webhooks are refused unless `scheme: none`.
    pub signature: Signature,
    /// Rhai expression giving the sender's event id; a repeated id is acknowledged and not run
    /// twice. Example: `event.transaction_id`.
    pub event_id: String,
    /// Largest body accepted, such as `256KiB` or `1MiB` (default 1MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_body: Option<String>,
    /// When the sender gets its answer: `accepted` (default; 202 as soon as the event is stored)
    /// or `completed` (200 with the run's outcome once it has ended; still 202 when the run
    /// waits for a retry or takes longer than 30 seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub respond: Option<Respond>,
}

/// When a webhook answers its sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Respond {
    /// As soon as the event is durably stored (202).
    Accepted,
    /// After the run has ended (200 with its outcome).
    Completed,
}

/// Webhook signature verification.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// `hmac_sha256` (hex digest of the raw body) or `none` (dev profiles only).
    pub scheme: SignatureScheme,
    /// Request header carrying the signature, for example `X-Signature`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// The shared secret, always a reference: `${env:NAME}` or `${file:/path}`; never inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// Signature schemes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignatureScheme {
    /// HMAC-SHA256 over the raw body, hex encoded, compared in constant time.
    HmacSha256,
    /// No signature: accepted only under profiles that allow unsigned webhooks.
    None,
}

/// Schedule trigger.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleTrigger {
    /// Cron expression with seconds: `sec min hour day-of-month month day-of-week`, for example
    /// `0 30 2 * * *` for 02:30:00 daily. Five-field crontab lines are accepted too.
    pub cron: String,
    /// IANA timezone the cron is read in, for example `America/Los_Angeles`. DST is handled:
    /// a skipped time runs once at the next valid instant, a repeated hour runs once.
    pub timezone: String,
    /// Fires missed while the engine was down: `once` (default: run the latest missed fire
    /// once at start) or `skip` (run none; wait for the next).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missed: Option<MissedFires>,
}

/// What a schedule does with fires missed while the engine was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MissedFires {
    /// Run the latest missed fire once.
    Once,
    /// Run none of them.
    Skip,
}

/// Poll trigger.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PollTrigger {
    /// Connector operation that lists records, as `connector.operation`.
    pub operation: String,
    /// Poll interval, such as `60s` or `5m`.
    pub every: String,
    /// Field of each record that orders them and is remembered between polls, for example
    /// `transaction_id` or `UpdatedAt`.
    pub cursor: String,
    /// How far back each poll re-reads before the cursor, so late writes are not missed;
    /// records already seen are dropped by their event id. Example: `1d`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap: Option<String>,
    /// Input for the operation; values are Rhai expressions that may use `cursor` (the last
    /// cursor value), `window_start` and `window_end` (the poll window: last poll minus
    /// `overlap`, and now, as timestamps) and `now`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with: Option<serde_json::Map<String, serde_json::Value>>,
    /// Path of the record array in the operation's output, for example `transactions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<String>,
    /// Rhai expression giving each record's event id, for de-duplication across overlapping
    /// polls. Default: the cursor field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
}

/// Manual trigger.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManualTrigger {
    /// What the operator should supply as the event, shown by the console and `run --help`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}
