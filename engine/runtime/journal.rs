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

use crate::store::{
    AcceptedNow, CallEnd, JournalEntry, NewEvent, RunEnd, StateStore, StoreError, Write, Written,
};
use serde_json::Value;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

pub struct RunJournal {
    store: Arc<dyn StateStore>,
    /// 0 until an admitted run's event is stored (store ids start at 1).
    run: AtomicI64,
    pub flow: String,
    entries: Vec<JournalEntry>,
    /// The last call's outcome, not yet written.
    deferred: Mutex<Option<CallEnd>>,
    /// A run executing before its event is stored: its first write stores it (see `Admission`).
    admission: Mutex<Option<Admission>>,
}

/// A webhook's event whose run starts before the event is stored: the run's first write (a
/// call's start, a retry row or its end) stores the event and claims the run in the same
/// commit, so no request leaves and nobody hears of the event before it is durable, and one
/// commit per event is saved. What runs before that write is pure (maps, scripts, lookups).
/// If the event is a duplicate, or an earlier run with its ordering key is unfinished (it is
/// then queued for the worker), the write is not made and this execution stops void.
pub struct Admission {
    pub event: NewEvent,
    pub worker: String,
    pub lease_ms: i64,
    /// Told what became of the event, in the run's task before it goes on.
    pub told: Told,
}

/// Where an `Admission` hears what became of its event.
pub type Told = Box<dyn FnOnce(Result<&AcceptedNow, &StoreError>) + Send>;

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
            run: AtomicI64::new(run),
            flow: flow.to_string(),
            entries,
            deferred: Mutex::new(None),
            admission: Mutex::new(None),
        }
    }

    /// The journal of a run whose event is not stored yet (see `Admission`).
    pub fn admitting(store: Arc<dyn StateStore>, admission: Admission) -> Self {
        let flow = admission.event.flow.clone();
        let journal = Self::with_entries(store, 0, &flow, Vec::new());
        *journal.admission.lock().unwrap_or_else(|e| e.into_inner()) = Some(admission);
        journal
    }

    /// The run's id (0 while an admitted run's event is not stored).
    pub fn run(&self) -> i64 {
        self.run.load(Ordering::SeqCst)
    }

    /// Whether this execution owns its run: false when its event turned out to be a
    /// duplicate, was queued behind another run, or could not be stored.
    pub fn admitted(&self) -> bool {
        self.run() != 0
    }

    /// Whether the run's event is still to be stored with its first write.
    pub fn awaiting_admission(&self) -> bool {
        self.admission.lock().map(|a| a.is_some()).unwrap_or(false)
    }

    /// Commit `write`, storing the event first when the run is still being admitted.
    async fn commit(&self, mut write: Write) -> Result<Written, StoreError> {
        let admission = self
            .admission
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let Some(a) = admission else {
            if !self.admitted() {
                return Err(not_admitted());
            }
            write.set_run(self.run());
            return submit(&self.store, write).await;
        };
        let write = Write::AcceptNow {
            event: a.event,
            worker: a.worker,
            now_ms: crate::store::now_ms(),
            lease_ms: a.lease_ms,
            then: Some(Box::new(write)),
        };
        match submit(&self.store, write).await {
            Ok(Written::AcceptedThen(accepted, first)) => {
                if let AcceptedNow::Running(c) = &accepted {
                    self.run.store(c.run.id, Ordering::SeqCst);
                }
                (a.told)(Ok(&accepted));
                Ok(*first)
            }
            Ok(Written::Accepted(accepted)) => {
                (a.told)(Ok(&accepted));
                Err(not_admitted())
            }
            Ok(other) => {
                let e = StoreError::Sql(format!("accept_now answered {other:?}"));
                (a.told)(Err(&e));
                Err(e)
            }
            Err(e) => {
                (a.told)(Err(&e));
                Err(e)
            }
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
        self.commit(write).await.map(|_| ())
    }

    /// The run's end, with the last call's outcome; for a run still being admitted, its
    /// event too. `Err` when this execution does not own the run (nothing was written).
    pub async fn finish(&self, end: RunEnd) -> Result<(), StoreError> {
        let write = Write::Finish {
            prior: self.take_deferred(),
            run: self.run(),
            end,
            now_ms: crate::store::now_ms(),
        };
        self.commit(write).await.map(|_| ())
    }

    /// Write the entry as started, unless `ledger_key` already has a result (returned). The
    /// write takes the entry's input (left `Null`: the call's end does not write it again, and
    /// a retry row must put it back) rather than copying it.
    pub async fn begin(
        &self,
        entry: &mut JournalEntry,
        ledger_key: Option<&str>,
    ) -> Result<Option<Value>, StoreError> {
        let input = std::mem::take(&mut entry.input);
        let write = Write::BeginCall {
            prior: self.take_deferred(),
            entry: JournalEntry {
                input,
                ..entry.clone()
            },
            flow: self.flow.clone(),
            ledger_key: ledger_key.map(str::to_string),
        };
        match self.commit(write).await? {
            Written::Begun(found) => Ok(found),
            other => Err(StoreError::Sql(format!("begin_call answered {other:?}"))),
        }
    }

    /// The entry's outcome and, for a success with a key, that key, under which the ledger
    /// remembers the entry's output: written with the run's next write (see the module note).
    pub fn end(&self, mut entry: JournalEntry, remember: Option<&str>) {
        // The input stays as the call's start wrote it: not written again.
        entry.run = self.run();
        entry.input = Value::Null;
        let end = CallEnd {
            entry,
            flow: self.flow.clone(),
            remember: remember.map(str::to_string),
        };
        let mut deferred = self.deferred.lock().unwrap_or_else(|e| e.into_inner());
        // Two outcomes never wait at once: every other write takes the waiting one first.
        *deferred = Some(end);
    }
}

fn not_admitted() -> StoreError {
    StoreError::Sql("the event was not taken for this run (a duplicate, or queued)".into())
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
