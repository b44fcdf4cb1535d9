//! The worker: a bounded pool that claims due runs from the store and executes them durably.
//! A run's revision is the plan it was accepted with; if that revision is no longer loaded
//! (the flow changed across a restart) the flow's current plan runs it and says so. Retries are
//! `Waiting` rows with a due time, so they survive restarts. Shutdown stops claiming, lets
//! in-flight runs reach their next checkpoint for a grace period, then leaves the rest to be
//! recovered from the journal on the next start.

use super::journal::{Admission, RunJournal};
use super::{Executor, RunStatus};
use crate::plan::Plan;
use crate::store::{Claimed, RunEnd, StateStore, now_ms};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

/// The plans a worker can run: the current one per flow, and every revision seen this process.
#[derive(Default, Clone)]
pub struct Plans {
    current: HashMap<String, Arc<Plan>>,
    revisions: HashMap<String, Arc<Plan>>,
}

impl Plans {
    pub fn insert(&mut self, plan: Plan) {
        self.insert_shared(Arc::new(plan));
    }

    pub fn insert_shared(&mut self, plan: Arc<Plan>) {
        self.revisions.insert(plan.hash.clone(), Arc::clone(&plan));
        self.current.insert(plan.flow.flow.clone(), plan);
    }

    /// Stop new runs of `flow` (its file was deleted); runs already accepted keep their
    /// revision.
    pub fn remove(&mut self, flow: &str) -> Option<Arc<Plan>> {
        self.current.remove(flow)
    }

    pub fn current(&self, flow: &str) -> Option<Arc<Plan>> {
        self.current.get(flow).cloned()
    }

    /// The plan for a run: its own revision when loaded, else the flow's current one.
    pub fn for_run(&self, flow: &str, revision: &str) -> Option<Arc<Plan>> {
        self.revisions
            .get(revision)
            .filter(|p| p.flow.flow == flow)
            .cloned()
            .or_else(|| self.current(flow))
    }

    pub fn flows(&self) -> Vec<String> {
        let mut names: Vec<String> = self.current.keys().cloned().collect();
        names.sort();
        names
    }
    /// Every flow this process can run a run of: the current ones and those of every
    /// revision loaded (a flow removed by a reload still finishes the runs it accepted).
    pub fn runnable_flows(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .current
            .keys()
            .chain(self.revisions.values().map(|p| &p.flow.flow))
            .cloned()
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Runs executing at once.
    pub concurrency: usize,
    /// How long a claim holds before another worker may take the run.
    pub lease: Duration,
    /// How often to look for due runs when idle.
    pub poll: Duration,
    /// How long shutdown waits for in-flight runs.
    pub grace: Duration,
    pub id: String,
    /// Where `alert` steps and dead letters are reported.
    pub alerter: crate::alerts::Alerter,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            concurrency: 8,
            lease: Duration::from_secs(300),
            poll: Duration::from_millis(50),
            grace: Duration::from_secs(10),
            id: format!("worker-{}", std::process::id()),
            alerter: crate::alerts::Alerter::log_only(),
        }
    }
}

/// Counts since start, by how run attempts ended.
#[derive(Debug, Default)]
pub struct Stats {
    pub completed: AtomicU64,
    pub skipped: AtomicU64,
    pub failed: AtomicU64,
    pub dead_lettered: AtomicU64,
    pub waiting: AtomicU64,
    pub store_errors: AtomicU64,
    /// Step latency by step kind.
    pub step_seconds: super::metrics::Histograms,
}

pub struct Worker {
    pub store: Arc<dyn StateStore>,
    pub plans: Arc<RwLock<Plans>>,
    /// Replaced whole when the profile's connectors change; each run takes a snapshot.
    executor: RwLock<Executor>,
    pub config: WorkerConfig,
    /// Wakes the worker when events were accepted in this process.
    pub wake: Arc<Notify>,
    pub stats: Arc<Stats>,
    /// Told of every finished run (webhooks that answer after their run wait here).
    pub completions: Arc<super::completions::Completions>,
    /// Slots for runs started by their trigger (`run_admitting`), as many as `concurrency`.
    direct: Arc<tokio::sync::Semaphore>,
    /// Runs that completed and told their webhook so, whose end is not committed yet
    /// (`record_end`); such a run gives its `direct` slot back for one of these.
    settling: Arc<tokio::sync::Semaphore>,
}

/// Completed runs whose end may wait for its commit without a slot, per slot.
const SETTLING_PER_SLOT: usize = 4;

impl Worker {
    pub fn new(
        store: Arc<dyn StateStore>,
        plans: Arc<RwLock<Plans>>,
        executor: Executor,
        config: WorkerConfig,
    ) -> Arc<Worker> {
        Arc::new(Worker {
            store,
            plans,
            executor: RwLock::new(executor),
            wake: Arc::new(Notify::new()),
            stats: Arc::new(Stats::default()),
            completions: Arc::default(),
            direct: Arc::new(tokio::sync::Semaphore::new(config.concurrency.max(1))),
            settling: Arc::new(tokio::sync::Semaphore::new(
                config.concurrency.max(1) * SETTLING_PER_SLOT,
            )),
            config,
        })
    }

    /// Use these connector clients for runs started from now on (a profile reload).
    pub fn set_clients(&self, clients: crate::connectors::Clients) {
        if let Ok(mut e) = self.executor.write() {
            e.clients = clients;
        }
    }

    /// Work until `shutdown` turns true.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut running: JoinSet<()> = JoinSet::new();
        loop {
            if *shutdown.borrow() {
                break;
            }
            let free = self.config.concurrency.saturating_sub(running.len());
            let mut claimed = Vec::new();
            if free > 0 {
                let (store, id, lease) = (
                    Arc::clone(&self.store),
                    self.config.id.clone(),
                    self.config.lease.as_millis() as i64,
                );
                // A store shared with other engines hands this one only runs of flows it
                // has loaded.
                let flows = self
                    .plans
                    .read()
                    .map(|p| p.runnable_flows())
                    .unwrap_or_default();
                let claim = tokio::task::spawn_blocking(move || {
                    store.claim_for(&id, now_ms(), lease, free, &flows)
                })
                .await;
                match claim {
                    Ok(Ok(c)) => claimed = c,
                    Ok(Err(e)) => {
                        self.stats.store_errors.fetch_add(1, Ordering::Relaxed);
                        tracing::error!(error = %e, "cannot claim runs");
                    }
                    Err(e) => tracing::error!(error = %e, "claim task failed"),
                }
            }
            let got = claimed.len();
            for c in claimed {
                let me = Arc::clone(&self);
                // Every log line of the run carries its id, flow and event id.
                let span = tracing::info_span!("run", run = c.run.id, flow = %c.run.flow, event = %c.event_key);
                running.spawn(tracing::Instrument::instrument(
                    async move { me.execute(c).await },
                    span,
                ));
            }
            if got == 0 || running.len() >= self.config.concurrency {
                tokio::select! {
                    _ = running.join_next(), if !running.is_empty() => {}
                    _ = tokio::time::sleep(self.config.poll) => {}
                    _ = self.wake.notified() => {}
                    _ = shutdown.changed() => {}
                }
            }
            while running.try_join_next().is_some() {}
        }
        // Graceful stop: let in-flight runs (claimed here or started by their webhook) reach
        // their end or next checkpoint: a run whose call is in flight finishes that call and
        // starts no other (`Executor::stop_before_call`). Webhooks arriving now are only
        // accepted.
        if let Ok(e) = self.executor.read() {
            e.stopping.store(true, Ordering::SeqCst);
        }
        let all = u32::try_from(self.config.concurrency.max(1)).unwrap_or(u32::MAX);
        let drained = tokio::time::timeout(self.config.grace, async {
            while running.join_next().await.is_some() {}
            if let Ok(slots) = self.direct.acquire_many(all).await {
                slots.forget();
            }
            self.direct.close();
            let settling = all.saturating_mul(SETTLING_PER_SLOT as u32);
            if let Ok(permits) = self.settling.acquire_many(settling).await {
                permits.forget();
            }
            self.settling.close();
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                left = running.len(),
                "shutdown grace period over: unfinished runs resume from their journal on the next start (on a shared PostgreSQL store, in another engine)"
            );
            running.abort_all();
        }
    }

    /// Take a slot to run a webhook's event in a task of its own (`run_admitting`); `None` when
    /// as many runs as the worker's concurrency are already running that way.
    pub fn slot(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        Arc::clone(&self.direct).try_acquire_owned().ok()
    }

    /// Run a webhook's event before it is stored (see `Admission`): its first write stores
    /// it. It goes on to its end even if the caller stops waiting.
    pub fn run_admitting(
        self: &Arc<Self>,
        plan: Arc<Plan>,
        admission: Admission,
        slot: tokio::sync::OwnedSemaphorePermit,
    ) -> tokio::task::JoinHandle<()> {
        let me = Arc::clone(self);
        let span =
            tracing::info_span!("run", flow = %admission.event.flow, event = %admission.event.key);
        let mut admission = admission;
        // The run sees the event as the store will keep it: masked, its text made; the run
        // takes the body itself (no copy).
        admission.event.mask();
        let body = std::mem::take(&mut admission.event.body);
        let journal = Arc::new(RunJournal::admitting(Arc::clone(&self.store), admission));
        tokio::spawn(tracing::Instrument::instrument(
            async move {
                me.execute_journaled(&plan, &body, journal, Some(slot))
                    .await;
            },
            span,
        ))
    }

    async fn execute(&self, c: Claimed) {
        let run = c.run.id;
        let store = Arc::clone(&self.store);
        let flow = c.run.flow.clone();
        let plan = self
            .plans
            .read()
            .ok()
            .and_then(|p| p.for_run(&c.run.flow, &c.run.revision));
        let Some(plan) = plan else {
            let end = RunEnd::Failed {
                step: "flow".into(),
                reason: format!("flow `{}` is not loaded", c.run.flow),
            };
            let journal = Arc::new(RunJournal::fresh(store, run, &flow));
            self.record_end(&journal, end, &[], None).await;
            return;
        };
        if plan.hash != c.run.revision {
            tracing::info!(run, flow = %c.run.flow, from = %c.run.revision, to = %plan.hash,
                "run accepted on another revision runs on the current one");
        }
        // A run claimed for the first time (attempt 1: it was queued and never ran) has no
        // journal to read; any run that ran before (a crash, an expired lease, a retry, a
        // replay) is claimed again with a higher attempt and reads its journal.
        let journal = if c.run.attempts <= 1 {
            RunJournal::fresh(store, run, &flow)
        } else {
            let loaded =
                tokio::task::spawn_blocking(move || RunJournal::load(store, run, &flow)).await;
            match loaded {
                Ok(Ok(j)) => j,
                other => {
                    self.stats.store_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(run, error = ?other.err(), "cannot read the run's journal");
                    return;
                }
            }
        };
        self.execute_journaled(&plan, &c.body, Arc::new(journal), None)
            .await
    }

    /// Execute `plan` on `body` with its calls journaled, then record the run's end; `slot`
    /// is the run's `direct` slot when its webhook started it.
    async fn execute_journaled(
        &self,
        plan: &Plan,
        body: &serde_json::Value,
        journal: Arc<RunJournal>,
        slot: Option<tokio::sync::OwnedSemaphorePermit>,
    ) {
        let executor = self
            .executor
            .read()
            .map(|e| e.clone())
            .unwrap_or_else(|e| e.into_inner().clone());
        let record = executor.run_durable(plan, body, Arc::clone(&journal)).await;
        if !journal.admitted() && !journal.awaiting_admission() {
            // Its event was a duplicate or queued behind another run: nothing was written
            // and this execution is void.
            return;
        }
        for step in &record.steps {
            self.stats
                .step_seconds
                .observe(step.kind, step.micros as f64 / 1e6);
        }
        let end = match record.status {
            RunStatus::Completed => RunEnd::Completed,
            RunStatus::Skipped { reason } => RunEnd::Skipped { reason },
            RunStatus::Failed { step, reason } => RunEnd::Failed { step, reason },
            RunStatus::DeadLettered { step, reason } => RunEnd::DeadLettered { step, reason },
            RunStatus::Waiting {
                step,
                reason,
                retry_in_ms,
            } => RunEnd::Waiting {
                step,
                reason,
                next_ms: now_ms() + retry_in_ms as i64,
            },
        };
        self.record_end(&journal, end, &record.alerts, slot).await;
    }

    /// Commit the run's end, then tell its waiting webhook and send its alerts. Alerts go
    /// out only once the end is committed, so a run whose event turns out to be a duplicate
    /// at that commit, or that runs again after a crash before it, does not alert twice.
    ///
    /// One exception for the waiting webhook: a run that completed after its event and its
    /// calls' starts were committed tells it before its end is committed (`told_early`), and
    /// gives its slot back. What the webhook is told cannot change: if the engine stops
    /// before the end is committed, the run starts again from its journal, finds each call it
    /// had made through the connector's lookup or idempotency key (never sending it twice)
    /// and completes. The sender is spared one commit's wait, and with its slot free its next
    /// event starts at once instead of being queued. A failed, dead-lettered or waiting run
    /// is told only once its end is committed.
    async fn record_end(
        &self,
        journal: &RunJournal,
        end: RunEnd,
        alerts: &[super::record::AlertRecord],
        mut slot: Option<tokio::sync::OwnedSemaphorePermit>,
    ) {
        let outcome = outcome_of(&end);
        let early = matches!(end, RunEnd::Completed) && journal.admitted() && slot.is_some();
        let settling = early
            .then(|| Arc::clone(&self.settling).try_acquire_owned().ok())
            .flatten();
        let told_early = settling.is_some();
        if told_early {
            slot = None;
            self.completions.finished(journal.run(), outcome.clone());
        }
        let dead_letter = match &end {
            RunEnd::DeadLettered { step, reason } => {
                Some(format!("dead-lettered at `{step}`: {reason}"))
            }
            _ => None,
        };
        let counter = match &end {
            RunEnd::Completed => &self.stats.completed,
            RunEnd::Skipped { .. } => &self.stats.skipped,
            RunEnd::Failed { .. } => &self.stats.failed,
            RunEnd::DeadLettered { .. } => &self.stats.dead_lettered,
            RunEnd::Waiting { .. } => &self.stats.waiting,
        };
        if let Err(e) = journal.finish(end).await {
            if let crate::store::StoreError::NotHeld { run } = e {
                // A shared store: another engine took the run over; it is theirs now.
                tracing::warn!(run, "run taken over by another engine; this one stops it");
                return;
            }
            if journal.admitted() {
                self.stats.store_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    run = journal.run(),
                    error = %e,
                    "cannot record the end of a run; it will run again from its journal"
                );
            }
            return;
        }
        counter.fetch_add(1, Ordering::Relaxed);
        let run = journal.run();
        drop((settling, slot));
        // Only once the end is committed: a waiting sender may act on it.
        if !told_early {
            self.completions.finished(run, outcome);
        }
        let flow = &journal.flow;
        if let Some(message) = dead_letter {
            self.config.alerter.send(crate::alerts::Alert {
                source: "dead_letter".into(),
                severity: "error".into(),
                channel: None,
                flow: Some(flow.clone()),
                run: Some(run),
                message,
            });
        }
        // Alerts go to their targets (never blocking the run) and the audit trail.
        for a in alerts {
            self.config.alerter.send(crate::alerts::Alert {
                source: "alert".into(),
                severity: a.severity.clone(),
                channel: a.channel.clone(),
                flow: Some(flow.clone()),
                run: Some(run),
                message: a.message.clone(),
            });
            let (store, detail) = (
                Arc::clone(&self.store),
                serde_json::json!({"run": run, "flow": flow, "step": a.step,
                    "severity": a.severity, "channel": a.channel, "message": a.message})
                .to_string(),
            );
            let _ =
                tokio::task::spawn_blocking(move || store.audit("alert", &detail, now_ms())).await;
        }
    }
}

fn outcome_of(end: &RunEnd) -> super::completions::Outcome {
    let (state, step, reason) = end.parts();
    super::completions::Outcome {
        status: state.as_str(),
        step: step.map(str::to_string),
        reason: reason.map(str::to_string),
    }
}
