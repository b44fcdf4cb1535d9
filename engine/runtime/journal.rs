//! A run's step journal as the executor sees it: the calls a run already made (loaded when the
//! run is claimed) and the write-through of each new call's state: "started" before the
//! request leaves, then its outcome, each committed before the run goes on. On a resumed run,
//! a call with a committed outcome is not made again; one that was in flight is reconciled by
//! its connector (same idempotency key, or a lookup) before anything is resent.

use crate::store::{JournalEntry, StateStore, StoreError};
use serde_json::Value;
use std::sync::Arc;

pub struct RunJournal {
    store: Arc<dyn StateStore>,
    pub run: i64,
    pub flow: String,
    entries: Vec<JournalEntry>,
}

impl RunJournal {
    /// The journal of `run` as the store has it.
    pub fn load(store: Arc<dyn StateStore>, run: i64, flow: &str) -> Result<Self, StoreError> {
        let entries = store.journal(run)?;
        Ok(RunJournal {
            store,
            run,
            flow: flow.to_string(),
            entries,
        })
    }

    /// The entry for the run's `seq`-th call, if one was written.
    pub fn recorded(&self, seq: i64) -> Option<&JournalEntry> {
        self.entries.iter().find(|e| e.seq == seq)
    }

    pub fn write(&self, entry: &JournalEntry) -> Result<(), StoreError> {
        self.store.record_step(entry)
    }

    pub fn idempotent_result(&self, key: &str) -> Result<Option<Value>, StoreError> {
        self.store.idempotent_result(&self.flow, key)
    }

    pub fn remember(&self, key: &str, result: &Value) -> Result<(), StoreError> {
        self.store
            .remember_result(&self.flow, key, result, crate::store::now_ms())
    }
}
