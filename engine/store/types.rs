//! The values the store keeps and returns.

use serde::Serialize;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store `{path}`: {message}")]
    Open { path: String, message: String },
    #[error("store: {0}")]
    Sql(String),
    #[error("store: bad data in `{table}`: {message}")]
    Corrupt { table: String, message: String },
    /// A write for a run this engine no longer holds (a store shared by several engines:
    /// another one took it over after this one was silent past its timeout).
    #[error(
        "store: run {run} is no longer held by this engine (another engine took it over after this one was silent past its engine_timeout, or it ended); this engine stops working on it"
    )]
    NotHeld { run: i64 },
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sql(e.to_string())
    }
}

/// A value's compact JSON text, written straight into a buffer (`Value`'s `Display` goes
/// through the formatting machinery: a few percent of the hot path's CPU).
pub(crate) fn json_text(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| v.to_string())
}

/// An event to put in the inbox.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub flow: String,
    /// Deduplication key within the flow (the trigger's event id, or a body digest).
    pub key: String,
    /// Redacted before it is written.
    pub body: Value,
    pub revision: String,
    pub ordering_key: Option<String>,
    pub received_ms: i64,
    /// The body's JSON text as the store keeps it, card data masked: set by `mask`, on the
    /// caller's thread (not the store's single writer). Once it is set the store reads only
    /// this, so a run may take `body` for itself.
    pub text: Option<String>,
}

impl NewEvent {
    /// Mask card data in the body and fix the text the store will keep, once.
    pub fn mask(&mut self) {
        if self.text.is_none() {
            crate::pci::redact(&mut self.body);
            self.text = Some(json_text(&self.body));
        }
    }

    /// The text to store: the masked text, or (for a caller that did not mask) the body's.
    pub fn stored_text(&self) -> std::borrow::Cow<'_, str> {
        match &self.text {
            Some(t) => std::borrow::Cow::Borrowed(t),
            None => std::borrow::Cow::Owned(self.body.to_string()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "accepted", rename_all = "snake_case")]
pub enum Accepted {
    New { event: i64, run: i64 },
    Duplicate { event: i64 },
}

/// What `accept_now` did with one event.
#[derive(Debug, Clone)]
pub enum AcceptedNow {
    Duplicate {
        event: i64,
    },
    /// In the inbox, left for a worker (an earlier run with its ordering key is unfinished).
    Queued {
        event: i64,
        run: i64,
    },
    /// In the inbox and already claimed by the caller, who runs it now.
    Running(Box<Claimed>),
}

/// A call's outcome whose write waits for the run's next write, so that a call ending a run
/// commits together with the run's end (one commit instead of two). Until it is written the
/// journal shows the call in flight, which a restart settles by asking the connector. Its
/// entry's input is not written again (the call's start wrote it).
#[derive(Debug, Clone)]
pub struct CallEnd {
    pub entry: JournalEntry,
    pub flow: String,
    /// For a success with an idempotency key: the key its output is remembered under.
    pub remember: Option<String>,
}

/// The writes on a run's hot path, each one commit (`StateStore::submit`). The ones with a
/// `prior` first write that deferred call outcome, in the same commit.
#[derive(Debug, Clone)]
pub enum Write {
    /// `StateStore::accept_now`; with `then`, the run's first write too, in the same commit
    /// and only if the run was claimed (its run id, 0 in `then`, is the new run's). A
    /// webhook's run executes up to its first write before its event is stored: what comes
    /// before is pure (maps, scripts, lookups), so nothing leaves before the commit, and one
    /// commit is saved per event.
    AcceptNow {
        event: NewEvent,
        worker: String,
        now_ms: i64,
        lease_ms: i64,
        then: Option<Box<Write>>,
    },
    /// `StateStore::begin_call`.
    BeginCall {
        prior: Option<CallEnd>,
        entry: JournalEntry,
        flow: String,
        ledger_key: Option<String>,
    },
    /// `StateStore::record_step`.
    RecordStep {
        prior: Option<CallEnd>,
        entry: JournalEntry,
    },
    /// `StateStore::finish`.
    Finish {
        prior: Option<CallEnd>,
        run: i64,
        end: RunEnd,
        now_ms: i64,
    },
}

impl Write {
    /// Refuse an `AcceptNow` as another acceptance's first write (`then`).
    pub fn check_first_write(&self) -> Result<(), StoreError> {
        match self {
            Write::AcceptNow { .. } => Err(StoreError::Sql(
                "an acceptance's first write cannot accept another event".into(),
            )),
            _ => Ok(()),
        }
    }

    /// Make this the write of run `run` (a first write made with its run's acceptance is
    /// built before the run has an id).
    pub fn set_run(&mut self, run: i64) {
        let prior = match self {
            Write::AcceptNow { .. } => None,
            Write::BeginCall { prior, entry, .. } | Write::RecordStep { prior, entry } => {
                entry.run = run;
                prior.as_mut()
            }
            Write::Finish { prior, run: of, .. } => {
                *of = run;
                prior.as_mut()
            }
        };
        if let Some(p) = prior {
            p.entry.run = run;
        }
    }

    /// Mask card data in everything this write stores (see `JournalEntry::redact`).
    pub fn redact(&mut self) {
        match self {
            Write::AcceptNow { event, then, .. } => {
                event.mask();
                if let Some(then) = then {
                    then.redact();
                }
            }
            Write::BeginCall { prior, entry, .. } | Write::RecordStep { prior, entry } => {
                entry.redact();
                if let Some(p) = prior {
                    p.redact();
                }
            }
            Write::Finish { prior, .. } => {
                if let Some(p) = prior {
                    p.redact();
                }
            }
        }
    }
}

impl CallEnd {
    /// Mask card data in what a call's end writes: its output (also its remembered result)
    /// and history. Its input was masked and written with the call's start; the rare end that
    /// finds no start writes `JournalEntry::whole`, which masks the input then.
    pub fn redact(&mut self) {
        crate::pci::redact(&mut self.entry.output);
        crate::pci::redact(&mut self.entry.history);
    }
}

/// What a `Write` gave.
#[derive(Debug, Clone)]
pub enum Written {
    Accepted(AcceptedNow),
    /// `AcceptNow` with `then`: the run was claimed and its first write made.
    AcceptedThen(AcceptedNow, Box<Written>),
    /// A result the idempotency ledger already had (the call is not made), or `None`.
    Begun(Option<Value>),
    Done,
}

/// Where `StateStore::submit` sends a write's outcome.
pub type Reply = Box<dyn FnOnce(Result<Written, StoreError>) + Send>;

/// What one `StateStore::prune` pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Pruned {
    /// Ended runs, with their event, journal and closed dead letter.
    pub runs: usize,
    /// Idempotency-ledger results.
    pub ledger: usize,
    /// Audit entries.
    pub audit: usize,
}

impl Pruned {
    pub fn total(&self) -> usize {
        self.runs + self.ledger + self.audit
    }
}

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Queued,
    Running,
    /// Waiting for a retry at `next_at`.
    Waiting,
    Completed,
    Skipped,
    Failed,
    DeadLettered,
    /// A dead letter closed without replay.
    Discarded,
}

impl RunState {
    pub const ALL: [RunState; 8] = [
        RunState::Queued,
        RunState::Running,
        RunState::Waiting,
        RunState::Completed,
        RunState::Skipped,
        RunState::Failed,
        RunState::DeadLettered,
        RunState::Discarded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Running => "running",
            RunState::Waiting => "waiting",
            RunState::Completed => "completed",
            RunState::Skipped => "skipped",
            RunState::Failed => "failed",
            RunState::DeadLettered => "dead_lettered",
            RunState::Discarded => "discarded",
        }
    }

    pub fn parse(text: &str) -> Option<RunState> {
        RunState::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// No more work will happen on its own.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RunState::Completed
                | RunState::Skipped
                | RunState::Failed
                | RunState::DeadLettered
                | RunState::Discarded
        )
    }
}

/// How a run attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEnd {
    Completed,
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
    /// Try again at `next_ms` (a retry that survives restarts).
    Waiting {
        step: String,
        reason: String,
        next_ms: i64,
    },
}

impl RunEnd {
    /// The state the run is left in, and the step and reason where there are.
    pub fn parts(&self) -> (RunState, Option<&str>, Option<&str>) {
        match self {
            RunEnd::Completed => (RunState::Completed, None, None),
            RunEnd::Skipped { reason } => (RunState::Skipped, None, Some(reason)),
            RunEnd::Failed { step, reason } => (RunState::Failed, Some(step), Some(reason)),
            RunEnd::DeadLettered { step, reason } => {
                (RunState::DeadLettered, Some(step), Some(reason))
            }
            RunEnd::Waiting { step, reason, .. } => (RunState::Waiting, Some(step), Some(reason)),
        }
    }
}

/// A run as listed.
#[derive(Debug, Clone, Serialize)]
pub struct RunRow {
    pub id: i64,
    pub event: i64,
    pub flow: String,
    pub revision: String,
    pub state: RunState,
    /// Attempts of the run as a whole (claims).
    pub attempts: i64,
    pub next_ms: i64,
    pub ordering_key: Option<String>,
    pub step: Option<String>,
    pub reason: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// The worker (on a shared store, the engine: `host/pid/start`) holding the run, or,
    /// once it has ended, the one that ran it last. None for a run never claimed.
    pub worker: Option<String>,
}

/// A claimed run with what it needs to execute.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub run: RunRow,
    pub event_key: String,
    pub body: Value,
}

impl Claimed {
    /// The run of event `e`, just inserted (`event`, `run`) and claimed by `worker` in the
    /// same commit: its first attempt. The body only `with_body` (a run already executing
    /// has it).
    pub fn admitted(e: &NewEvent, event: i64, run: i64, worker: &str, with_body: bool) -> Claimed {
        Claimed {
            run: RunRow {
                id: run,
                event,
                flow: e.flow.clone(),
                revision: e.revision.clone(),
                state: RunState::Running,
                attempts: 1,
                next_ms: e.received_ms,
                ordering_key: e.ordering_key.clone(),
                step: None,
                reason: None,
                created_ms: e.received_ms,
                updated_ms: e.received_ms,
                worker: Some(worker.to_string()),
            },
            event_key: e.key.clone(),
            body: if with_body {
                e.body.clone()
            } else {
                Value::Null
            },
        }
    }
}

/// One call step of a run. `outcome: None` means the call was started and its result is not
/// known (the process died while it was in flight).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JournalEntry {
    pub run: i64,
    /// Position among the run's calls, from 0.
    pub seq: i64,
    pub step: String,
    pub call: String,
    /// Attempts made so far.
    pub attempt: i64,
    pub outcome: Option<String>,
    pub input: Value,
    pub output: Value,
    pub idempotency_key: Option<String>,
    pub started_ms: i64,
    pub updated_ms: i64,
    /// Every failed attempt before the current one: `[{attempt, at_ms, outcome, message}]`.
    pub history: Value,
}

impl JournalEntry {
    /// Mask card data in the values the journal keeps.
    pub fn redact(&mut self) {
        for v in [&mut self.input, &mut self.output, &mut self.history] {
            crate::pci::redact(v);
        }
    }

    /// A call's end (masked by `CallEnd::redact`) to be written whole because no start was
    /// written for it (a backfilled entry): its input masked too.
    pub fn whole(&self) -> JournalEntry {
        let mut whole = self.clone();
        crate::pci::redact(&mut whole.input);
        whole
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    pub run: i64,
    pub flow: String,
    pub step: String,
    pub reason: String,
    pub revision: String,
    pub event_key: String,
    pub state: String,
    pub at_ms: i64,
}

/// A run with everything about it.
#[derive(Debug, Clone, Serialize)]
pub struct RunDetail {
    pub run: RunRow,
    pub event_key: String,
    pub event: Value,
    pub journal: Vec<JournalEntry>,
    pub dead_letter: Option<DeadLetter>,
}

#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub flow: Option<String>,
    pub state: Option<RunState>,
    pub limit: usize,
}

#[derive(Debug, Clone, Default)]
pub struct DlqFilter {
    pub flow: Option<String>,
    pub step: Option<String>,
    /// Only open dead letters (not replayed or discarded).
    pub open_only: bool,
    pub limit: usize,
}

/// An engine sharing the store (PostgreSQL), as `ledgerlink runs engines` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EngineRow {
    /// `host/pid/start`: the `worker` of the runs it holds.
    pub id: String,
    pub started_ms: i64,
    /// Time since its last heartbeat, by the database's clock.
    pub silent_ms: i64,
    /// How long it may be silent before its runs are taken over.
    pub timeout_ms: i64,
    /// Runs it holds (running in its name).
    pub running: i64,
}
