//! Step-by-step execution of a plan for one event. In-memory (`run`: retries sleep in place)
//! or durable (`run_durable`: every call journaled, retries become a `Waiting` status the
//! worker stores as a row, a resumed run reuses each recorded outcome).

use super::journal::RunJournal;
use super::record::{AlertRecord, PlannedWrite, RunRecord, RunStatus, StepRecord};
use super::retry::{Jitter, Sleeper, TokioSleeper};
use crate::connectors::{BoxFuture, CallContext, Clients, ConnectorError};
use crate::pci;
use crate::plan::{Compiled, ErrorPolicy, Kind, Next, Plan, PlanStep, RetryPolicy, Target};
use crate::script::value::{event_to_dynamic, to_dynamic, to_json};
use crate::store::JournalEntry;
use rhai::{Dynamic, EvalAltResult, INT, Map, Scope};
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

/// Steps one run may execute (loops through `goto` included) before it is stopped.
pub const MAX_STEPS_PER_RUN: usize = 10_000;

/// Runs events through plans. Cheap to clone; shareable across tasks (a run is a `Send`
/// future, checked by a test below).
#[derive(Clone)]
pub struct Executor {
    pub clients: Clients,
    pub sleeper: Arc<dyn Sleeper>,
    pub jitter: Arc<Jitter>,
    /// Perform reads, but record writes instead of sending them.
    pub dry_run: bool,
    /// Set when the engine begins its graceful stop: a durable run starts no further call
    /// (`stop_before_call`). Shared by every clone.
    pub stopping: Arc<std::sync::atomic::AtomicBool>,
}

struct State {
    /// The run's `event` and `steps` as its scope holds them (shared), for native evaluation.
    event: Dynamic,
    steps: Dynamic,
    /// One scope per run holding the read-only inputs (`event`, `steps`, `profile`, `flow`);
    /// loop variables and a script's own `let`s are pushed on top and rewound after each eval.
    scope: std::sync::Mutex<Scope<'static>>,
    locals: Vec<(String, Dynamic)>,
    last_output: Dynamic,
    iteration: Option<usize>,
    executed: usize,
    record: RunRecord,
    /// Durable runs: where calls are journaled.
    journal: Option<Arc<RunJournal>>,
    /// How many calls this run has made so far (the journal's `seq`).
    calls: i64,
}

/// What a step decided.
enum Flow {
    Fallthrough,
    Jump(Target),
    Stop(RunStatus),
}

/// A step failure with a message fit for the operator (located, card data masked).
struct Failure {
    message: String,
}

impl Executor {
    pub fn new(clients: Clients) -> Self {
        Executor {
            clients,
            sleeper: Arc::new(TokioSleeper),
            jitter: Arc::new(Jitter::from_time()),
            dry_run: false,
            stopping: Arc::default(),
        }
    }

    /// Run `event` through `plan`. Never panics and never returns an error: every failure is a
    /// status in the record.
    pub async fn run(&self, plan: &Plan, event: &Value) -> RunRecord {
        self.run_with(plan, event, None).await
    }

    /// Run durably: each call is journaled before it is sent and when it ends; a retryable
    /// failure ends the run as `Waiting` instead of sleeping; calls already in the journal are
    /// not made again.
    pub async fn run_durable(
        &self,
        plan: &Plan,
        event: &Value,
        journal: Arc<RunJournal>,
    ) -> RunRecord {
        self.run_with(plan, event, Some(journal)).await
    }

    async fn run_with(
        &self,
        plan: &Plan,
        event: &Value,
        journal: Option<Arc<RunJournal>>,
    ) -> RunRecord {
        let started = Instant::now();
        let flow = &plan.flow;
        let mut flow_var = Map::new();
        flow_var.insert("id".into(), Dynamic::from(flow.flow.clone()));
        flow_var.insert(
            "version".into(),
            flow.version
                .map_or(Dynamic::UNIT, |v| Dynamic::from_int(INT::from(v))),
        );
        let record = RunRecord {
            flow: flow.flow.clone(),
            version: flow.version,
            plan: plan.hash.clone(),
            status: RunStatus::Completed,
            steps: Vec::new(),
            alerts: Vec::new(),
            planned_writes: Vec::new(),
            micros: 0,
        };
        let event_dyn = match event_to_dynamic(event, plan.event_fields.as_deref()) {
            Ok(d) => d.into_shared(),
            Err(e) => {
                // An event no step can read (a number beyond the decimal range) fails the
                // same way on every attempt: a permanent error, so it goes where the flow
                // sends those, the dead-letter queue unless it says `fail`.
                let mut record = record;
                let (step, reason) = (
                    "event".to_string(),
                    format!("the event cannot be read: {e}"),
                );
                record.status = if matches!(plan.on_error.then, Target::Fail) {
                    RunStatus::Failed { step, reason }
                } else {
                    RunStatus::DeadLettered { step, reason }
                };
                return record;
            }
        };
        let steps = Dynamic::from_map(Map::new()).into_shared();
        let mut scope = Scope::new();
        scope.push_constant_dynamic("event", event_dyn.clone());
        scope.push_constant_dynamic("steps", steps.clone());
        scope.push_constant_dynamic("profile", plan.profile_values.clone());
        let flow_dyn = Dynamic::from_map(flow_var).into_shared();
        scope.push_constant_dynamic("flow", flow_dyn);
        let mut st = State {
            event: event_dyn,
            scope: std::sync::Mutex::new(scope),
            steps,
            locals: Vec::new(),
            last_output: Dynamic::UNIT,
            iteration: None,
            executed: 0,
            record,
            journal,
            calls: 0,
        };
        let status = match self.passes_filter(plan, &st) {
            Ok(true) => {
                let entry = if plan.steps.is_empty() {
                    Next::End
                } else {
                    Next::Step(0)
                };
                match self.run_chain(plan, &mut st, entry, None).await {
                    Ok(_) => RunStatus::Completed,
                    Err(s) => s,
                }
            }
            Ok(false) => RunStatus::Skipped {
                reason: "filter is false".into(),
            },
            Err(f) => RunStatus::Failed {
                step: "filter".into(),
                reason: f.message,
            },
        };
        st.record.status = status;
        st.record.micros = started.elapsed().as_micros() as u64;
        st.record
    }

    fn passes_filter(&self, plan: &Plan, st: &State) -> Result<bool, Failure> {
        let Some(f) = &plan.filter else {
            return Ok(true);
        };
        let v = eval(plan, f, st)?;
        v.as_bool().map_err(|t| Failure {
            message: format!("`filter` must be true or false, got a `{t}`"),
        })
    }

    /// During the engine's graceful stop a durable run makes no new call: it ends `Waiting`,
    /// due at once, with its earlier calls' outcomes committed, and resumes from its journal
    /// at the next start (or in another engine sharing the store). The call in flight when
    /// the stop began still ends normally; only the next one waits.
    fn stop_before_call(&self, st: &State, step: &PlanStep) -> Option<Flow> {
        let stopping = self.stopping.load(std::sync::atomic::Ordering::SeqCst);
        (stopping && st.journal.is_some()).then(|| {
            Flow::Stop(RunStatus::Waiting {
                step: step.id.clone(),
                reason: "the engine stopped before this call; it is made when the run resumes"
                    .into(),
                retry_in_ms: 0,
            })
        })
    }

    /// Run steps from `pc` until the chain ends. Inside a `foreach` body (`body_of` is the
    /// loop step), a jump to a step outside the body leaves the loop: `Ok(Some(target))`.
    fn run_chain<'a>(
        &'a self,
        plan: &'a Plan,
        st: &'a mut State,
        mut pc: Next,
        body_of: Option<usize>,
    ) -> BoxFuture<'a, Result<Option<usize>, RunStatus>> {
        Box::pin(async move {
            loop {
                let i = match pc {
                    Next::Step(i) => i,
                    Next::End | Next::EndOfBody => return Ok(None),
                };
                if let Some(owner) = body_of
                    && !inside(plan, i, owner)
                {
                    return Ok(Some(i));
                }
                let Some(step) = plan.steps.get(i) else {
                    return Ok(None);
                };
                st.executed += 1;
                if st.executed > MAX_STEPS_PER_RUN {
                    return Err(RunStatus::Failed {
                        step: step.id.clone(),
                        reason: format!(
                            "more than {MAX_STEPS_PER_RUN} steps in one run: a `goto` loop?"
                        ),
                    });
                }
                let flow = self.step(plan, step, st).await;
                pc = match flow {
                    Flow::Fallthrough => match step.goto {
                        Some(t) => resolve(step, t)?,
                        None => step.next,
                    },
                    Flow::Jump(t) => resolve(step, t)?,
                    Flow::Stop(status) => return Err(status),
                };
            }
        })
    }

    async fn step(&self, plan: &Plan, step: &PlanStep, st: &mut State) -> Flow {
        let started = Instant::now();
        let mut rec = StepRecord {
            id: step.id.clone(),
            kind: step.kind.name(),
            outcome: "ok".into(),
            input: None,
            output: None,
            idempotency_key: None,
            attempts: 1,
            error: None,
            micros: 0,
            iteration: st.iteration,
        };
        let flow = match self.execute(plan, step, st, &mut rec).await {
            Ok(flow) => flow,
            Err(f) if f.message.starts_with(STORE_FAILURE) => {
                // Not the flow's fault: try the run again shortly, from its journal.
                rec.outcome = "error".into();
                rec.error = Some(f.message.clone());
                Flow::Stop(RunStatus::Waiting {
                    step: step.id.clone(),
                    reason: f.message,
                    retry_in_ms: 1000,
                })
            }
            Err(f) => {
                rec.outcome = "error".into();
                rec.error = Some(f.message.clone());
                set_output(st, &step.id, Dynamic::UNIT);
                on_failure(plan, step, f.message)
            }
        };
        rec.micros = started.elapsed().as_micros() as u64;
        st.record.steps.push(rec);
        flow
    }

    async fn execute(
        &self,
        plan: &Plan,
        step: &PlanStep,
        st: &mut State,
        rec: &mut StepRecord,
    ) -> Result<Flow, Failure> {
        match &step.kind {
            Kind::Map(c) | Kind::Script(c) => {
                let out = eval(plan, c, st)?;
                let json = to_json(&out).map_err(|m| located(plan, step, m))?;
                if let Some(path) = pci::find(&json) {
                    return Err(Failure {
                        message: format!(
                            "card data at `{path}` in the output of step `{}`; keep only tokens, `mask()` or `last4()`",
                            step.id
                        ),
                    });
                }
                rec.output = Some(json);
                set_output(st, &step.id, out);
                Ok(Flow::Fallthrough)
            }
            Kind::Lookup {
                table,
                key,
                default,
            } => {
                let k = eval(plan, key, st)?;
                let key_text = if k.is_string() || k.is_int() {
                    k.to_string()
                } else {
                    return Err(Failure {
                        message: format!(
                            "lookup key must be text or a whole number, got a `{}`",
                            k.type_name()
                        ),
                    });
                };
                let found = plan
                    .profile
                    .tables
                    .get(table)
                    .and_then(|t| t.get(&key_text))
                    .cloned();
                let out = match (found, default) {
                    (Some(v), _) => to_dynamic(&v).map_err(|m| Failure { message: m })?,
                    (None, Some(d)) => eval(plan, d, st)?,
                    (None, None) => {
                        let mut msg = format!("no `{key_text}` in profile table `{table}`");
                        mask_text(&mut msg);
                        return Err(located(plan, step, msg));
                    }
                };
                rec.output = to_json(&out).ok();
                set_output(st, &step.id, out);
                Ok(Flow::Fallthrough)
            }
            Kind::Switch(cases) => {
                for (i, case) in cases.iter().enumerate() {
                    let hit = match &case.when {
                        None => true,
                        Some(w) => eval(plan, w, st)?.as_bool().map_err(|t| Failure {
                            message: format!(
                                "`when` of case {} must be true or false, got a `{t}`",
                                i + 1
                            ),
                        })?,
                    };
                    if hit {
                        rec.outcome = format!("case {}", i + 1);
                        let mut out = Map::new();
                        out.insert("matched".into(), Dynamic::from_int(i as INT + 1));
                        set_output(st, &step.id, Dynamic::from_map(out));
                        return Ok(match (case.goto, case.body) {
                            (Some(t), _) => Flow::Jump(t),
                            (None, Some(b)) => Flow::Jump(Target::Step(b)),
                            (None, None) => Flow::Fallthrough,
                        });
                    }
                }
                rec.outcome = "no case".into();
                Ok(Flow::Fallthrough)
            }
            Kind::Foreach { items, var, body } => {
                let list = eval(plan, items, st)?;
                let Some(arr) = list.clone().try_cast::<rhai::Array>() else {
                    return Err(Failure {
                        message: format!(
                            "`foreach` items must be a list, got a `{}`",
                            list.type_name()
                        ),
                    });
                };
                let outer_iteration = st.iteration;
                let mut outputs = rhai::Array::new();
                for (i, item) in arr.into_iter().enumerate() {
                    st.locals.push((var.clone(), item));
                    st.locals
                        .push(("index".into(), Dynamic::from_int(i as INT)));
                    st.iteration = Some(i);
                    st.last_output = Dynamic::UNIT;
                    let owner = plan.steps.iter().position(|s| std::ptr::eq(s, step));
                    let result = self.run_chain(plan, st, Next::Step(*body), owner).await;
                    st.locals.truncate(st.locals.len() - 2);
                    st.iteration = outer_iteration;
                    match result {
                        Err(status) => return Ok(Flow::Stop(status)),
                        Ok(Some(target)) => {
                            // A `goto` out of the body ends the loop there.
                            rec.outcome = format!("left at iteration {i}");
                            let out = Dynamic::from_array(outputs);
                            rec.output = to_json(&out).ok();
                            set_output(st, &step.id, out);
                            return Ok(Flow::Jump(Target::Step(target)));
                        }
                        Ok(None) => {}
                    }
                    outputs.push(std::mem::take(&mut st.last_output));
                }
                rec.outcome = format!("{} iterations", outputs.len());
                let out = Dynamic::from_array(outputs);
                rec.output = to_json(&out).ok();
                set_output(st, &step.id, out);
                Ok(Flow::Fallthrough)
            }
            Kind::Fail(reason) => {
                let r = text(plan, reason, st)?;
                rec.outcome = "fail".into();
                rec.output = Some(Value::String(r.clone()));
                Ok(Flow::Stop(RunStatus::Failed {
                    step: step.id.clone(),
                    reason: r,
                }))
            }
            Kind::DeadLetter(reason) => {
                let r = text(plan, reason, st)?;
                rec.outcome = "dead_letter".into();
                rec.output = Some(Value::String(r.clone()));
                Ok(Flow::Stop(RunStatus::DeadLettered {
                    step: step.id.clone(),
                    reason: r,
                }))
            }
            Kind::Alert {
                message,
                severity,
                channel,
            } => {
                let m = text(plan, message, st)?;
                let sev = format!("{severity:?}").to_lowercase();
                st.record.alerts.push(AlertRecord {
                    step: step.id.clone(),
                    severity: sev,
                    channel: channel.clone(),
                    message: m.clone(),
                });
                rec.output = Some(Value::String(m.clone()));
                set_output(st, &step.id, Dynamic::from(m));
                Ok(Flow::Fallthrough)
            }
            Kind::Call { .. } => self.call(plan, step, st, rec).await,
        }
    }

    async fn call(
        &self,
        plan: &Plan,
        step: &PlanStep,
        st: &mut State,
        rec: &mut StepRecord,
    ) -> Result<Flow, Failure> {
        let Kind::Call {
            connector,
            operation,
            with,
            idempotency_key,
            validator,
        } = &step.kind
        else {
            return Ok(Flow::Fallthrough);
        };
        let call_name = format!("{connector}.{}", operation.name);
        let mut input = match with {
            Some(c) => to_json(&eval(plan, c, st)?).map_err(|m| located(plan, step, m))?,
            None => Value::Object(serde_json::Map::new()),
        };
        drop_nulls(&mut input);
        // A durable run's step record keeps no values: its journal has them (`runs show`).
        let durable = st.journal.is_some();
        let mut shown = input.clone();
        let masked = pci::redact(&mut shown);
        if !durable {
            rec.input = Some(shown.clone());
        }
        // Card data may travel only in PayTrace's own card fields. Masking finds all that
        // `find` does: an input it left alone holds none.
        let card_data_at = if connector == "paytrace" {
            let mut outside_card_fields = input.clone();
            strip_card_fields(&mut outside_card_fields, &operation.input);
            pci::find(&outside_card_fields)
        } else if masked > 0 {
            pci::find(&input)
        } else {
            None
        };
        if let Some(path) = card_data_at {
            return Err(Failure {
                message: format!(
                    "card data at `{path}` would be sent to `{call_name}`; refused (only PayTrace card fields may carry card data)"
                ),
            });
        }
        if let Some(v) = validator {
            let problems: Vec<String> = v
                .iter_errors(&input)
                .take(5)
                .map(|e| {
                    let at = e.instance_path().to_string();
                    let mut m = format!(
                        "{}: {}",
                        if at.is_empty() {
                            "input".to_string()
                        } else {
                            at
                        },
                        e
                    );
                    mask_text(&mut m);
                    m
                })
                .collect();
            if !problems.is_empty() {
                return Err(Failure {
                    message: format!(
                        "input for `{call_name}` does not match its schema: {}",
                        problems.join("; ")
                    ),
                });
            }
        }
        let key = match idempotency_key {
            Some(k) => {
                let text = text(plan, k, st)?;
                if text.trim().is_empty() {
                    return Err(Failure {
                        message: "`idempotency_key` is empty".into(),
                    });
                }
                Some(text)
            }
            None => None,
        };
        rec.idempotency_key = key.clone();
        if self.dry_run && operation.writes {
            st.record.planned_writes.push(PlannedWrite {
                step: step.id.clone(),
                call: call_name.clone(),
                input: shown,
                idempotency_key: key,
            });
            rec.outcome = "dry_run".into();
            let mut out = input;
            if let Value::Object(m) = &mut out {
                m.insert("dry_run".into(), Value::Bool(true));
            }
            set_output(st, &step.id, to_dynamic(&out).unwrap_or(Dynamic::UNIT));
            rec.output = Some(out);
            return Ok(Flow::Fallthrough);
        }
        let Some(client) = self.clients.get(connector) else {
            return Err(Failure {
                message: format!("no client for connector `{connector}` in this run"),
            });
        };
        let policy = retry_policy(plan, step);
        let seq = st.calls;
        st.calls += 1;
        let journal = st.journal.clone();
        let mut entry = JournalEntry {
            run: journal.as_ref().map_or(0, |j| j.run()),
            seq,
            step: step.id.clone(),
            call: call_name.clone(),
            attempt: 0,
            outcome: None,
            input: shown,
            output: Value::Null,
            idempotency_key: key.clone(),
            started_ms: crate::store::now_ms(),
            updated_ms: 0,
            history: Value::Array(Vec::new()),
        };
        // What the journal already knows about this call (durable runs only).
        let mut recorded: Option<Result<Value, ConnectorError>> = None;
        let mut in_flight_since = None;
        if let Some(j) = &journal
            && let Some(e) = j.recorded(seq).filter(|e| e.step == step.id)
        {
            entry.attempt = e.attempt;
            entry.started_ms = e.started_ms;
            if e.history.is_array() {
                entry.history = e.history.clone();
            }
            match e.outcome.as_deref() {
                None => in_flight_since = Some(e.started_ms),
                Some("retry") => {}
                Some("ok") => recorded = Some(Ok(e.output.clone())),
                Some(other) => {
                    recorded = Some(Err(ConnectorError::from_recorded(other, &e.output)))
                }
            }
        }
        // Before the first send, the idempotency ledger is asked (in the same commit that marks
        // the call started): another run may already have made this call.
        let mut ask_ledger = recorded.is_none();
        let mut from_ledger = false;
        let fresh = recorded.is_none();
        let mut attempt = u32::try_from(entry.attempt).unwrap_or(0);
        let mut result = match recorded {
            Some(r) => r,
            None => loop {
                if let Some(stop) = self.stop_before_call(st, step) {
                    return Ok(stop);
                }
                attempt += 1;
                let ctx = CallContext {
                    flow: plan.flow.flow.clone(),
                    step: step.id.clone(),
                    idempotency_key: key.clone(),
                    attempt,
                };
                if let Some(since) = in_flight_since.take() {
                    // The process stopped while this call was in flight: ask the connector
                    // whether it happened before sending anything.
                    match client.reconcile(operation, &input, &ctx, since).await {
                        Ok(Some(v)) => break Ok(v),
                        Ok(None) => {}
                        Err(e) if e.is_retryable() && journal.is_some() => {
                            // The lookup itself failed: nothing is known yet. Keep the call
                            // marked in flight and ask again later.
                            let mut reason = format!("`{call_name}` reconciling: {e}");
                            mask_text(&mut reason);
                            rec.outcome = "retry".into();
                            rec.error = Some(reason.clone());
                            return Ok(Flow::Stop(RunStatus::Waiting {
                                step: step.id.clone(),
                                reason,
                                retry_in_ms: policy.delay(attempt).as_millis() as u64,
                            }));
                        }
                        Err(e) => break Err(e),
                    }
                }
                if let Some(j) = &journal {
                    entry.attempt = i64::from(attempt);
                    entry.outcome = None;
                    entry.updated_ms = crate::store::now_ms();
                    let ledger_key = key.as_deref().filter(|_| ask_ledger);
                    ask_ledger = false;
                    if let Some(v) = j
                        .begin(&mut entry, ledger_key)
                        .await
                        .map_err(store_failure)?
                    {
                        from_ledger = true;
                        break Ok(v);
                    }
                }
                match client.call(operation, &input, &ctx).await {
                    Err(e)
                        if e.is_retryable()
                            && (operation.idempotent || e.is_safe_to_resend())
                            && attempt < policy.attempts =>
                    {
                        let mut delay = policy.delay(attempt);
                        if policy.jitter {
                            delay = self.jitter.apply(delay);
                        }
                        if let Some(ra) = e.retry_after() {
                            delay = delay.max(ra).min(policy.max_delay.max(ra));
                        }
                        if let Some(j) = &journal {
                            // A durable retry is a row: record the attempt and stop here.
                            entry.outcome = Some("retry".into());
                            entry.output = e.output();
                            entry.updated_ms = crate::store::now_ms();
                            push_history(&mut entry, attempt, &e);
                            // The start took the shown input; a retry row rewrites it.
                            entry.input = input.clone();
                            pci::redact(&mut entry.input);
                            j.write(&entry).await.map_err(store_failure)?;
                            rec.attempts = attempt;
                            rec.outcome = "retry".into();
                            let mut reason = format!("`{call_name}` {e}");
                            mask_text(&mut reason);
                            rec.error = Some(reason.clone());
                            return Ok(Flow::Stop(RunStatus::Waiting {
                                step: step.id.clone(),
                                reason,
                                retry_in_ms: delay.as_millis() as u64,
                            }));
                        }
                        self.sleeper.sleep(delay).await;
                    }
                    other => break other,
                }
            },
        };
        // The output as the run's scripts see it, made before a durable run's journal entry
        // takes the output itself (no copy).
        let converted = result.as_ref().ok().map(to_dynamic);
        if fresh
            && !from_ledger
            && let Some(j) = &journal
        {
            entry.outcome = Some(match &result {
                Ok(_) => "ok".to_string(),
                Err(e) => e.outcome().to_string(),
            });
            entry.output = match &mut result {
                // A durable run's step record keeps no values (see `shown` above), so
                // nothing below reads `v` again.
                Ok(v) => std::mem::take(v),
                Err(e) => e.output(),
            };
            entry.updated_ms = crate::store::now_ms();
            if let Err(e) = &result {
                push_history(&mut entry, attempt, e);
            }
            let remember = key.as_deref().filter(|_| result.is_ok());
            j.end(entry, remember);
        }
        rec.attempts = attempt.max(1);
        match result {
            Ok(out) => {
                if !durable {
                    let mut shown = out;
                    pci::redact(&mut shown);
                    rec.output = Some(shown);
                }
                let converted = converted.unwrap_or_else(|| Ok(Dynamic::UNIT));
                set_output(st, &step.id, converted.map_err(|m| Failure { message: m })?);
                Ok(match route(step, "ok") {
                    Some(t) => Flow::Jump(t),
                    None => Flow::Fallthrough,
                })
            }
            Err(e) => {
                let outcome = e.outcome();
                rec.outcome = outcome.to_string();
                let mut out = e.output();
                pci::redact(&mut out);
                rec.output = Some(out.clone());
                set_output(st, &step.id, to_dynamic(&out).unwrap_or(Dynamic::UNIT));
                let mut message = format!("`{call_name}` {e}");
                if attempt > 1 {
                    message.push_str(&format!(" (after {attempt} attempts)"));
                }
                mask_text(&mut message);
                match route(step, outcome) {
                    Some(Target::DeadLetter) => {
                        return Ok(Flow::Stop(RunStatus::DeadLettered {
                            step: step.id.clone(),
                            reason: message,
                        }));
                    }
                    Some(Target::Fail) => {
                        return Ok(Flow::Stop(RunStatus::Failed {
                            step: step.id.clone(),
                            reason: message,
                        }));
                    }
                    Some(t) => return Ok(Flow::Jump(t)),
                    None => {}
                }
                if outcome == "duplicate" {
                    // Already there: for a posting that is success, not failure.
                    return Ok(Flow::Fallthrough);
                }
                if e.is_retryable() && !operation.idempotent && !e.is_safe_to_resend() {
                    message.push_str(&format!("; not retried: `{call_name}` is not idempotent, so the remote may have acted; check it before replaying"));
                } else if e.is_retryable()
                    && operation.writes
                    && let Some(k) = &key
                {
                    message.push_str(&format!(
                            "; the write may have been made before an answer was lost: a replay repeats idempotency key `{k}` and cannot post twice"
                        ));
                }
                rec.error = Some(message.clone());
                Ok(on_failure(plan, step, message))
            }
        }
    }
}

/// Add a failed attempt to a journal entry's history (kept bounded: the first and the last).
fn push_history(entry: &mut JournalEntry, attempt: u32, e: &ConnectorError) {
    const KEEP: usize = 20;
    let mut message = e.to_string();
    mask_text(&mut message);
    let item = serde_json::json!({"attempt": attempt, "at_ms": crate::store::now_ms(),
        "outcome": e.outcome(), "message": message});
    if let Value::Array(items) = &mut entry.history {
        items.push(item);
        if items.len() > KEEP {
            items.remove(1);
        }
    } else {
        entry.history = Value::Array(vec![item]);
    }
}

/// The store failed while a durable run was journaling: the run stops with this message; the
/// worker leaves it for a retry.
fn store_failure(e: crate::store::StoreError) -> Failure {
    Failure {
        message: format!("{STORE_FAILURE}{e}"),
    }
}

/// Prefix of failures caused by the store, not by the flow.
pub const STORE_FAILURE: &str = "the run's journal could not be written: ";

/// A field mapped to nothing (`()`, JSON `null`) is left out of a call's input, so optional
/// fields can be mapped from values that may be absent.
fn drop_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// Remove the fields the operation's input schema marks `x-card-data` (PayTrace card fields).
fn strip_card_fields(v: &mut Value, schema: &Value) {
    let (Value::Object(m), Some(props)) = (v, schema.get("properties")) else {
        return;
    };
    m.retain(|k, _| props.get(k).and_then(|p| p.get("x-card-data")) != Some(&Value::Bool(true)));
    for (k, x) in m.iter_mut() {
        if let Some(sub) = props.get(k) {
            strip_card_fields(x, sub);
        }
    }
}

/// Whether step `i` lies in the body of the `foreach` step `owner` (at any depth).
fn inside(plan: &Plan, i: usize, owner: usize) -> bool {
    let mut at = plan.steps.get(i).and_then(|s| s.within);
    while let Some(w) = at {
        if w == owner {
            return true;
        }
        at = plan.steps.get(w).and_then(|s| s.within);
    }
    false
}

fn route(step: &PlanStep, outcome: &str) -> Option<Target> {
    step.on.iter().find(|(o, _)| o == outcome).map(|(_, t)| *t)
}

fn retry_policy(plan: &Plan, step: &PlanStep) -> RetryPolicy {
    step.retry
        .or_else(|| step.on_error.as_ref().and_then(|p| p.retry))
        .or(plan.on_error.retry)
        .unwrap_or(RetryPolicy::DEFAULT)
}

/// Where a failed step sends the run: its `on_error.then`, else the flow's.
fn on_failure(plan: &Plan, step: &PlanStep, reason: String) -> Flow {
    let policy: &ErrorPolicy = step.on_error.as_ref().unwrap_or(&plan.on_error);
    match policy.then {
        Target::Continue => Flow::Fallthrough,
        Target::DeadLetter => Flow::Stop(RunStatus::DeadLettered {
            step: step.id.clone(),
            reason,
        }),
        Target::Fail => Flow::Stop(RunStatus::Failed {
            step: step.id.clone(),
            reason,
        }),
        Target::Complete => Flow::Stop(RunStatus::Completed),
        t @ Target::Step(_) => Flow::Jump(t),
    }
}

fn resolve(step: &PlanStep, t: Target) -> Result<Next, RunStatus> {
    match t {
        Target::Step(j) => Ok(Next::Step(j)),
        Target::Continue => Ok(step.next),
        Target::Complete => Err(RunStatus::Completed),
        Target::Fail => Err(RunStatus::Failed {
            step: step.id.clone(),
            reason: "routed to `fail`".into(),
        }),
        Target::DeadLetter => Err(RunStatus::DeadLettered {
            step: step.id.clone(),
            reason: "routed to `dead_letter`".into(),
        }),
    }
}

fn set_output(st: &mut State, id: &str, out: Dynamic) {
    // Values inside `steps` must not be shared (Rhai's size checks refuse nested shared
    // values), so copy only when a `foreach` needs the last output as well.
    let (stored, last) = if st.iteration.is_some() {
        (out.clone(), out)
    } else {
        (out, Dynamic::UNIT)
    };
    if let Some(mut m) = st.steps.write_lock::<Map>() {
        m.insert(id.into(), stored);
    }
    st.last_output = last;
}

/// An evaluation this long holds up every task waiting for the same async worker (webhooks,
/// other runs, health checks). A mapping takes microseconds.
const SLOW_EVAL: std::time::Duration = std::time::Duration::from_millis(10);
/// Slow evaluations in a row that move a source off the async workers: two, so that one
/// evaluation the operating system happened to pause (the time is wall time) does not.
pub const SLOW_AFTER: u8 = 2;

/// Evaluate `c` in the run's scope, where the run is; a source whose evaluations have taken
/// `SLOW_EVAL` or more `SLOW_AFTER` times in a row (a script looping over a big table, up to
/// its time budget) runs under `block_in_place` from then on, which first hands the worker's
/// other tasks to another thread. That costs a thread hand-off per evaluation, so it is kept
/// for the sources that need it, and logged once.
fn eval(plan: &Plan, c: &Compiled, st: &State) -> Result<Dynamic, Failure> {
    use std::sync::atomic::Ordering::Relaxed;
    // A simple expression is evaluated without Rhai when it can be; anything else (and any
    // failure, so that its message is Rhai's) goes on to Rhai below.
    if let Some(native) = &c.native {
        let inputs = crate::script::native::Inputs {
            event: &st.event,
            steps: &st.steps,
            locals: &st.locals,
            env: &plan.helpers,
        };
        if let Some(v) = native.eval(&inputs) {
            return Ok(v);
        }
    }
    // The runtime is asked only when it matters (a slow source), not on every evaluation.
    if c.slow.load(Relaxed) >= SLOW_AFTER && on_async_worker() {
        return tokio::task::block_in_place(|| eval_here(plan, c, st));
    }
    let started = std::time::Instant::now();
    let result = eval_here(plan, c, st);
    let took = started.elapsed();
    if took < SLOW_EVAL {
        // A fast evaluation ends a streak (one update: a concurrent slow one is not undone).
        let _ = c
            .slow
            .fetch_update(Relaxed, Relaxed, |n| (n > 0 && n < SLOW_AFTER).then_some(0));
    } else if on_async_worker() // not counted where no async worker is to be kept free
        && c.slow
            .fetch_update(Relaxed, Relaxed, |n| (n < SLOW_AFTER).then_some(n + 1))
            == Ok(SLOW_AFTER - 1)
    {
        tracing::warn!(
            flow = %plan.flow.flow,
            at = c.pointer(),
            took_ms = took.as_millis() as u64,
            "an expression took {} ms again: from now on it runs on a blocking thread so that it does not hold up webhooks and other runs",
            took.as_millis()
        );
    }
    result
}

/// Whether this thread is a worker of a multi-thread tokio runtime, where `block_in_place`
/// can hand its tasks on (a current-thread runtime, as in flow tests, cannot).
fn on_async_worker() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

fn eval_here(plan: &Plan, c: &Compiled, st: &State) -> Result<Dynamic, Failure> {
    let Ok(mut scope) = st.scope.lock() else {
        return Err(Failure {
            message: "internal error: the run's scope is poisoned".into(),
        });
    };
    let base = scope.len();
    for (name, v) in &st.locals {
        scope.push_dynamic(name.clone(), v.clone());
    }
    // A panic inside the script engine must not take the worker down with it.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        plan.engine
            .eval_ast_with_scope::<Dynamic>(&mut scope, &c.ast)
    }));
    scope.rewind(base);
    match result {
        Ok(r) => r.map_err(|e| script_failure(plan, c, &e)),
        Err(_) => Err(Failure {
            message: format!(
                "the script engine failed internally evaluating `{}`",
                plan.source.name
            ),
        }),
    }
}

fn text(plan: &Plan, c: &Compiled, st: &State) -> Result<String, Failure> {
    let v = eval(plan, c, st)?;
    let mut s = if v.is::<rust_decimal::Decimal>() {
        crate::script::helpers::format_money(v.cast::<rust_decimal::Decimal>())
    } else {
        v.to_string()
    };
    mask_text(&mut s);
    Ok(s)
}

fn mask_text(s: &mut String) {
    let mut v = Value::String(std::mem::take(s));
    pci::redact(&mut v);
    if let Value::String(t) = v {
        *s = t;
    }
}

fn located(plan: &Plan, step: &PlanStep, message: String) -> Failure {
    let at = plan
        .index
        .span(&step.pointer)
        .map(|s| format!("{}:{}:{}", plan.source.name, s.line, s.col))
        .unwrap_or_default();
    Failure {
        message: format!("{message} ({at})"),
    }
}

/// A Rhai error as the operator should read it: what, and where in the flow file.
fn script_failure(plan: &Plan, c: &Compiled, e: &EvalAltResult) -> Failure {
    let pos = e.position();
    let at = match (pos.line(), pos.position()) {
        (Some(l), col) => plan.locate(c, l, col.unwrap_or(1)),
        _ => plan.source.name.to_string(),
    };
    let mut message = match e {
        EvalAltResult::ErrorTooManyOperations(_) => {
            "script stopped after too many operations (a runaway loop?)".to_string()
        }
        EvalAltResult::ErrorDataTooLarge(what, _) => {
            format!("script stopped: {what} grew past its size limit")
        }
        EvalAltResult::ErrorStackOverflow(_) | EvalAltResult::ErrorTooManyModules(_) => {
            "script stopped: calls nested too deeply".to_string()
        }
        EvalAltResult::ErrorRuntime(value, _) => value.to_string(),
        EvalAltResult::ErrorTerminated(token, _)
            if crate::script::budget::explain(token).is_some() =>
        {
            crate::script::budget::explain(token).unwrap_or_default()
        }
        other => {
            let mut m = other.to_string();
            if let Some(i) = m.rfind(" (line ") {
                m.truncate(i);
            }
            m
        }
    };
    mask_text(&mut message);
    Failure {
        message: format!("{message} at {at}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn a_run_can_move_between_threads() {
        let source = crate::load::from_bytes(
            "t.yaml",
            b"flow: t\ntrigger:\n  manual: {}\nsteps:\n  - id: a\n    map: { A: '1' }\n".to_vec(),
        )
        .unwrap();
        let plan = crate::plan::build(
            source,
            crate::model::Profile::default(),
            crate::script::helpers::system_clock(),
        )
        .unwrap();
        let executor = Executor::new(Clients::default());
        let event = serde_json::json!({});
        let fut = executor.run(&plan, &event);
        assert_send(&fut);
    }

    /// A source that took long twice runs under `block_in_place` from then on: while it
    /// runs, another task gets the runtime's only worker.
    #[test]
    fn a_slow_expression_moves_off_the_async_worker() {
        // Each `to_upper` converts 400,000 non-ASCII characters: 20 of them take tens of
        // milliseconds or more on any machine, far under the time budget.
        let flow = "flow: t\ntrigger:\n  manual: {}\nsteps:\n  - id: a\n    script: |\n      let s = \"é\"; s.pad(400000, \"é\"); let n = 0;\n      for i in 0..20 { n += s.to_upper().len(); }\n      n\n";
        let source = crate::load::from_bytes("t.yaml", flow.as_bytes().to_vec()).unwrap();
        let plan = std::sync::Arc::new(
            crate::plan::build(
                source,
                crate::model::Profile::default(),
                crate::script::helpers::system_clock(),
            )
            .unwrap(),
        );
        let executor = std::sync::Arc::new(Executor::new(Clients::default()));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        runtime.block_on(async {
            let run = |plan: std::sync::Arc<Plan>, executor: std::sync::Arc<Executor>| async move {
                let record = executor.run(&plan, &serde_json::json!({})).await;
                (record, std::time::Instant::now())
            };
            // The first runs evaluate it where they are and find it slow.
            for _ in 0..SLOW_AFTER {
                let (first, _) = tokio::spawn(run(plan.clone(), executor.clone()))
                    .await
                    .unwrap();
                assert!(matches!(first.status, RunStatus::Completed), "{first:?}");
            }
            // The second: once it has started, a task spawned after it still runs before it
            // ends, on the worker the slow evaluation handed on.
            let (started_tx, started_rx) = tokio::sync::oneshot::channel();
            let (plan2, executor2) = (plan.clone(), executor.clone());
            let second = tokio::spawn(async move {
                let _ = started_tx.send(());
                run(plan2, executor2).await
            });
            started_rx.await.unwrap();
            let other = tokio::spawn(async { std::time::Instant::now() });
            let (record, ended) = second.await.unwrap();
            assert!(matches!(record.status, RunStatus::Completed), "{record:?}");
            let other_ran = other.await.unwrap();
            assert!(
                other_ran < ended,
                "the other task waited for the slow evaluation to end"
            );
        });
    }
}
