//! The runtime: runs one event through one plan, step by step, with retries and backoff,
//! outcome routing, idempotency keys on every call, the card-data guard and a run record
//! (`executor.rs`). Durable runs journal every call in the store (`journal.rs`) and retry by
//! waiting as rows, not timers; `worker.rs` claims due runs from the store and executes them;
//! `intake.rs` turns events into inbox rows.

mod executor;
pub mod completions;
pub mod intake;
pub mod journal;
pub mod metrics;
mod record;
pub mod retention;
pub mod retry;
pub mod worker;

pub use executor::{Executor, MAX_STEPS_PER_RUN};
pub use journal::RunJournal;
pub use record::{AlertRecord, PlannedWrite, RunRecord, RunStatus, StepRecord};
