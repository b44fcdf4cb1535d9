//! Durable state: the event inbox, runs, the step journal, the idempotency ledger, trigger
//! cursors, dead letters, flow revisions and the audit log, behind the `StateStore` trait.
//! `sqlite.rs` is the embedded default (one file, WAL, synchronous commits, migrations in
//! `schema.rs`); `postgres/` serves several engines sharing one database. Both pass the same
//! contract suite (`tests/it/store_contract.rs`). Nothing here ever holds card data: bodies
//! and journal values are redacted (`pci::redact`) before they are written.

mod apply;
pub mod postgres;
pub mod schema;
mod sql;
pub mod sqlite;
mod types;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
pub use types::*;

/// Open the store a `--store` / `runtime.store` value names: a `postgres://` URL, or an
/// SQLite file (created if needed).
pub fn open(
    location: &str,
    durability: sqlite::Durability,
) -> Result<std::sync::Arc<dyn StateStore>, StoreError> {
    Ok(if postgres::is_url(location) {
        std::sync::Arc::new(PostgresStore::open(location)?)
    } else {
        std::sync::Arc::new(SqliteStore::open(
            std::path::Path::new(location),
            durability,
        )?)
    })
}

/// What every store backend provides. Methods are synchronous and short: each is one
/// transaction, committed before it returns.
pub trait StateStore: Send + Sync {
    /// Put events in the inbox and create one queued run per new event, in one transaction
    /// (a batch costs one commit). An event whose `(flow, key)` is already there is a
    /// `Duplicate` and creates nothing.
    fn accept(&self, events: &[NewEvent]) -> Result<Vec<Accepted>, StoreError>;

    /// Accept one event and, unless an earlier unfinished run has its ordering key, claim its
    /// run for `worker` in the same commit, so the caller can run it at once (a webhook).
    /// Stores without this fall back to accepting it for the worker pool.
    fn accept_now(
        &self,
        event: &NewEvent,
        _worker: &str,
        _now_ms: i64,
        _lease_ms: i64,
    ) -> Result<AcceptedNow, StoreError> {
        match self.accept(std::slice::from_ref(event))?.first() {
            Some(Accepted::New { event, run }) => Ok(AcceptedNow::Queued {
                event: *event,
                run: *run,
            }),
            Some(Accepted::Duplicate { event }) => Ok(AcceptedNow::Duplicate { event: *event }),
            None => Err(StoreError::Sql("accept returned nothing".into())),
        }
    }

    /// Make one hot-path write (see `Write`) and answer `reply` once it is committed. The
    /// default does it here and now (so an async caller should hand it to a blocking thread,
    /// see `queues_writes`); the SQLite store queues it for its writer thread and answers from
    /// there, so the caller waits without holding a thread.
    fn submit(&self, write: Write, reply: Reply) {
        reply(self.apply(write))
    }

    /// Whether `submit` returns at once and answers later (no blocking thread needed).
    fn queues_writes(&self) -> bool {
        false
    }

    /// A hot-path write, done now: the deferred call outcome it carries, and the write, in one
    /// commit (backends share the order of the statements: `store/apply.rs`).
    fn apply(&self, write: Write) -> Result<Written, StoreError>;

    /// Take up to `limit` runs that are due (queued, or waiting with `next_at` passed), whose
    /// lease is free, and that have no earlier unfinished run with the same flow and ordering
    /// key; mark them running under `worker` until `now + lease_ms`.
    fn claim(
        &self,
        worker: &str,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<Claimed>, StoreError>;

    /// `claim`, for an engine that runs only `flows`. A store one engine uses alone claims
    /// every flow's runs (one whose flow is no longer loaded then fails, saying so); a store
    /// shared by several engines leaves runs of other flows to the engines that have them.
    fn claim_for(
        &self,
        worker: &str,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
        flows: &[String],
    ) -> Result<Vec<Claimed>, StoreError> {
        let _ = flows;
        self.claim(worker, now_ms, lease_ms, limit)
    }

    /// Runs left `running` by a process that died: queued again. Called once at start by the
    /// only process using this store (SQLite) or per expired lease (shared stores).
    fn recover_running(&self) -> Result<usize, StoreError>;

    /// The journal of a run, by sequence.
    fn journal(&self, run: i64) -> Result<Vec<JournalEntry>, StoreError>;

    /// Insert or replace one journal entry (`run`, `seq`): committed before the next step.
    fn record_step(&self, entry: &JournalEntry) -> Result<(), StoreError>;

    /// End a run attempt: terminal, or waiting for a retry at a time.
    fn finish(&self, run: i64, end: &RunEnd, now_ms: i64) -> Result<(), StoreError>;

    /// Start a call in one commit: with `ledger_key`, a result already remembered under that
    /// key in this flow is returned instead (nothing written); otherwise the entry (outcome
    /// `None`: in flight) is written.
    fn begin_call(
        &self,
        entry: &JournalEntry,
        flow: &str,
        ledger_key: Option<&str>,
    ) -> Result<Option<serde_json::Value>, StoreError>;

    /// End a call in one commit: its journal entry's outcome (attempt, outcome, output,
    /// history; the input written at its start stays) and, when it succeeded with a key
    /// (`remember`), its output as the key's result in the idempotency ledger.
    fn end_call(
        &self,
        entry: &JournalEntry,
        flow: &str,
        remember: Option<&str>,
    ) -> Result<(), StoreError>;

    /// The result a call with this idempotency key already produced in this flow, if any.
    fn idempotent_result(
        &self,
        flow: &str,
        key: &str,
    ) -> Result<Option<serde_json::Value>, StoreError>;

    /// Remember a call's successful result under its idempotency key.
    fn remember_result(
        &self,
        flow: &str,
        key: &str,
        result: &serde_json::Value,
        now_ms: i64,
    ) -> Result<(), StoreError>;

    /// One run with its event, journal and dead letter.
    fn run(&self, id: i64) -> Result<Option<RunDetail>, StoreError>;

    /// Runs, newest first.
    fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRow>, StoreError>;

    /// Dead letters, newest first.
    fn dead_letters(&self, filter: &DlqFilter) -> Result<Vec<DeadLetter>, StoreError>;

    /// Queue a dead-lettered run again on `revision`. Journal entries of calls that succeeded
    /// stay, so they are not made again; failed ones are removed, so they are tried anew.
    /// Returns false when the run is not an open dead letter.
    fn requeue(&self, run: i64, revision: &str, now_ms: i64) -> Result<bool, StoreError>;

    /// Close a dead letter without replaying it.
    fn discard(&self, run: i64, now_ms: i64) -> Result<bool, StoreError>;

    /// Retention: remove up to `limit` runs that ended (completed, skipped, failed or
    /// discarded) before `before_ms` with their event, journal and closed dead letter, and as
    /// many idempotency results and audit entries older than that. Queued, running, waiting
    /// and open dead-lettered runs are never removed. Call again while it removes `limit`.
    fn prune(&self, before_ms: i64, limit: usize) -> Result<Pruned, StoreError>;

    /// Run counts by state.
    fn counts(&self) -> Result<std::collections::BTreeMap<String, i64>, StoreError>;

    /// Whether any run is queued, running or waiting (cheaper than `counts` on a large store).
    fn has_unfinished(&self) -> Result<bool, StoreError> {
        let counts = self.counts()?;
        Ok(["queued", "running", "waiting"]
            .iter()
            .any(|s| counts.get(*s).is_some_and(|n| *n > 0)))
    }

    /// The engines sharing this store, oldest first. A store one engine uses alone (SQLite)
    /// lists none.
    fn engines(&self) -> Result<Vec<EngineRow>, StoreError> {
        Ok(Vec::new())
    }

    /// Take or renew the lease `name` for `ttl_ms`: true when this engine holds it now. Work
    /// one engine should do for all (a poll trigger's requests) goes to the holder; the lease
    /// passes to another engine once it runs out or its holder is silent past its timeout. A
    /// store one engine uses alone (SQLite) always grants it.
    fn take_lease(&self, _name: &str, _ttl_ms: i64) -> Result<bool, StoreError> {
        Ok(true)
    }

    /// Give the lease `name` up if this engine holds it (the work stopped here), so another
    /// engine need not wait for it to run out.
    fn release_lease(&self, _name: &str) -> Result<(), StoreError> {
        Ok(())
    }

    fn cursor(&self, name: &str) -> Result<Option<String>, StoreError>;
    fn set_cursor(&self, name: &str, value: &str, now_ms: i64) -> Result<(), StoreError>;
    /// Every cursor whose name starts with `prefix`.
    fn cursors_like(&self, prefix: &str) -> Result<Vec<(String, String)>, StoreError>;

    /// Keep a flow revision's source (the plan hash names it).
    fn save_revision(
        &self,
        flow: &str,
        revision: &str,
        source: &str,
        now_ms: i64,
    ) -> Result<(), StoreError>;

    fn audit(&self, action: &str, detail: &str, now_ms: i64) -> Result<(), StoreError>;
    fn audit_log(&self, limit: usize) -> Result<Vec<(i64, String, String)>, StoreError>;
}

/// Milliseconds since the Unix epoch, the store's clock unit.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
