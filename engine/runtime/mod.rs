//! The runtime: runs one event through one plan, step by step, with retries and backoff,
//! outcome routing, idempotency keys on every call, the card-data guard and a run record.
//! Durable journaling, dead-letter storage and replay build on this in later issues.

mod executor;
mod record;
pub mod retry;

pub use executor::{Executor, MAX_STEPS_PER_RUN};
pub use record::{AlertRecord, PlannedWrite, RunRecord, RunStatus, StepRecord};
