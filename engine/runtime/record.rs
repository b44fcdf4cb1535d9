//! The run record: what happened to one event in one flow, step by step. Later issues persist
//! it; every value in it has been through `pci::redact`.

use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RunStatus {
    Completed,
    /// The filter was false: recorded, not an error.
    Skipped {
        reason: String,
    },
    Failed {
        step: String,
        reason: String,
    },
    DeadLettered {
        step: String,
        reason: String,
    },
    /// A durable run stopped to retry `step` later (the wait is a row in the store).
    Waiting {
        step: String,
        reason: String,
        retry_in_ms: u64,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct StepRecord {
    pub id: String,
    pub kind: &'static str,
    /// `ok`, a connector outcome (`not_found`, `declined`, ...), `error`, or the switch case.
    pub outcome: String,
    /// A call's input and output, redacted; not kept for durable runs (their journal has
    /// them, and nothing reads a durable run's record for them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Microseconds; left out of snapshots.
    #[serde(skip)]
    pub micros: u64,
    /// Loop position for steps inside `foreach`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iteration: Option<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertRecord {
    pub step: String,
    pub severity: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    pub message: String,
}

/// A write a dry run would have sent.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedWrite {
    pub step: String,
    pub call: String,
    pub input: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub flow: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    pub plan: String,
    #[serde(flatten)]
    pub status: RunStatus,
    pub steps: Vec<StepRecord>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<AlertRecord>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub planned_writes: Vec<PlannedWrite>,
    #[serde(skip)]
    pub micros: u64,
}

impl RunRecord {
    /// A human timeline, one line per step, for `run-once` and scenario snapshots.
    pub fn timeline(&self, with_times: bool) -> String {
        let mut out = format!("flow {} (plan {})\n", self.flow, self.plan);
        for s in &self.steps {
            let iter = s.iteration.map(|i| format!("[{i}]")).unwrap_or_default();
            let attempts = if s.attempts > 1 {
                format!(" after {} attempts", s.attempts)
            } else {
                String::new()
            };
            let time = if with_times {
                format!(" {:>8} us", s.micros)
            } else {
                String::new()
            };
            out.push_str(&format!(
                "  {:<7} {}{iter} -> {}{attempts}{time}\n",
                s.kind, s.id, s.outcome
            ));
            if let Some(e) = &s.error {
                out.push_str(&format!("          error: {e}\n"));
            }
        }
        for a in &self.alerts {
            out.push_str(&format!("  alert   [{}] {}\n", a.severity, a.message));
        }
        let status = match &self.status {
            RunStatus::Completed => "completed".to_string(),
            RunStatus::Skipped { reason } => format!("skipped: {reason}"),
            RunStatus::Failed { step, reason } => format!("failed at `{step}`: {reason}"),
            RunStatus::DeadLettered { step, reason } => {
                format!("dead-lettered at `{step}`: {reason}")
            }
            RunStatus::Waiting {
                step,
                reason,
                retry_in_ms,
            } => format!("waiting to retry `{step}` in {retry_in_ms} ms: {reason}"),
        };
        let time = if with_times {
            format!(" in {} us", self.micros)
        } else {
            String::new()
        };
        out.push_str(&format!("  => {status}{time}\n"));
        out
    }
}
