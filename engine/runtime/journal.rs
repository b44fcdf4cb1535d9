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

    // Store calls block until their group commit; they run on the blocking pool so that many
    // runs can wait at once and share one commit.

    pub async fn write(&self, entry: &JournalEntry) -> Result<(), StoreError> {
        let (store, entry) = (Arc::clone(&self.store), entry.clone());
        blocking(move || store.record_step(&entry)).await
    }

    /// Write the entry as started, unless `ledger_key` already has a result (returned).
    pub async fn begin(
        &self,
        entry: &JournalEntry,
        ledger_key: Option<&str>,
    ) -> Result<Option<Value>, StoreError> {
        let (store, entry, flow, key) = (
            Arc::clone(&self.store),
            entry.clone(),
            self.flow.clone(),
            ledger_key.map(str::to_string),
        );
        blocking(move || store.begin_call(&entry, &flow, key.as_deref())).await
    }

    /// Write the entry's outcome and, for a success with a key, remember the result.
    pub async fn end(
        &self,
        entry: &JournalEntry,
        remember: Option<(&str, &Value)>,
    ) -> Result<(), StoreError> {
        let (store, entry, flow) = (Arc::clone(&self.store), entry.clone(), self.flow.clone());
        let remember = remember.map(|(k, v)| (k.to_string(), v.clone()));
        blocking(move || {
            store.end_call(
                &entry,
                &flow,
                remember.as_ref().map(|(k, v)| (k.as_str(), v)),
            )
        })
        .await
    }

    pub async fn idempotent_result(&self, key: &str) -> Result<Option<Value>, StoreError> {
        let (store, flow, key) = (Arc::clone(&self.store), self.flow.clone(), key.to_string());
        blocking(move || store.idempotent_result(&flow, &key)).await
    }

    pub async fn remember(&self, key: &str, result: &Value) -> Result<(), StoreError> {
        let (store, flow, key, result) = (
            Arc::clone(&self.store),
            self.flow.clone(),
            key.to_string(),
            result.clone(),
        );
        blocking(move || store.remember_result(&flow, &key, &result, crate::store::now_ms())).await
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Sql(format!("store task failed: {e}")))?
}
