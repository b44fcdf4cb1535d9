//! A run's step journal as the executor sees it: the calls a run already made (loaded when the
//! run is claimed) and the write-through of each new call's state: "started" before the
//! request leaves, then its outcome, each committed before the run goes on. On a resumed run,
//! a call with a committed outcome is not made again; one that was in flight is reconciled by
//! its connector (same idempotency key, or a lookup) before anything is resent.
//!
//! A call's outcome is committed with the run's next write rather than on its own: the next
//! call's start, a retry record, or the run's end (`take_deferred`, for the worker). Nothing
//! outside the store sees a result before then (scripts cannot reach out; the next request
//! leaves only after its start is committed; a waiting webhook hears only after the end), and
//! if the process dies first, the call is "in flight" on restart and its connector is asked,
//! as for a crash during the call. So a one-call run commits three times, not four.

use crate::store::{CallEnd, JournalEntry, StateStore, StoreError, Write, Written};
use serde_json::Value;
use std::sync::{Arc, Mutex};

pub struct RunJournal {
    store: Arc<dyn StateStore>,
    pub run: i64,
    pub flow: String,
    entries: Vec<JournalEntry>,
    /// The last call's outcome, not yet written.
    deferred: Mutex<Option<CallEnd>>,
}

impl RunJournal {
    /// The journal of `run` as the store has it.
    pub fn load(store: Arc<dyn StateStore>, run: i64, flow: &str) -> Result<Self, StoreError> {
        let entries = store.journal(run)?;
        Ok(Self::with_entries(store, run, flow, entries))
    }

    /// The journal of a run that has just been accepted: nothing recorded yet.
    pub fn fresh(store: Arc<dyn StateStore>, run: i64, flow: &str) -> Self {
        Self::with_entries(store, run, flow, Vec::new())
    }

    fn with_entries(
        store: Arc<dyn StateStore>,
        run: i64,
        flow: &str,
        entries: Vec<JournalEntry>,
    ) -> Self {
        RunJournal {
            store,
            run,
            flow: flow.to_string(),
            entries,
            deferred: Mutex::new(None),
        }
    }

    /// The call outcome still to be written, for the write that ends the run.
    pub fn take_deferred(&self) -> Option<CallEnd> {
        self.deferred.lock().ok().and_then(|mut d| d.take())
    }

    /// The entry for the run's `seq`-th call, if one was written.
    pub fn recorded(&self, seq: i64) -> Option<&JournalEntry> {
        self.entries.iter().find(|e| e.seq == seq)
    }

    // Store calls block until their group commit; they run on the blocking pool so that many
    // runs can wait at once and share one commit.

    pub async fn write(&self, entry: &JournalEntry) -> Result<(), StoreError> {
        let write = Write::RecordStep {
            prior: self.take_deferred(),
            entry: entry.clone(),
        };
        submit(&self.store, write).await.map(|_| ())
    }

    /// Write the entry as started, unless `ledger_key` already has a result (returned).
    pub async fn begin(
        &self,
        entry: &JournalEntry,
        ledger_key: Option<&str>,
    ) -> Result<Option<Value>, StoreError> {
        let write = Write::BeginCall {
            prior: self.take_deferred(),
            entry: entry.clone(),
            flow: self.flow.clone(),
            ledger_key: ledger_key.map(str::to_string),
        };
        match submit(&self.store, write).await? {
            Written::Begun(found) => Ok(found),
            other => Err(StoreError::Sql(format!("begin_call answered {other:?}"))),
        }
    }

    /// The entry's outcome and, for a success with a key, its result for the idempotency
    /// ledger: written with the run's next write (see the module note).
    pub fn end(&self, entry: &JournalEntry, remember: Option<(&str, &Value)>) {
        let end = CallEnd {
            entry: entry.clone(),
            flow: self.flow.clone(),
            remember: remember.map(|(k, v)| (k.to_string(), v.clone())),
        };
        let mut deferred = self.deferred.lock().unwrap_or_else(|e| e.into_inner());
        // Two outcomes never wait at once: every other write takes the waiting one first.
        *deferred = Some(end);
    }
}

/// Make a hot-path write and wait for its commit without holding a thread: a store that
/// queues its writes answers from its writer; any other store gets a blocking thread.
pub async fn submit(store: &Arc<dyn StateStore>, write: Write) -> Result<Written, StoreError> {
    if store.queues_writes() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        store.submit(
            write,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.await
            .map_err(|_| StoreError::Sql("the store's writer thread has stopped".into()))?
    } else {
        let store = Arc::clone(store);
        tokio::task::spawn_blocking(move || store.apply(write))
            .await
            .map_err(|e| StoreError::Sql(format!("store task failed: {e}")))?
    }
}
