//! The poll trigger. Every `every`, call the flow's list operation for the window from the last
//! poll (less `overlap`, since PayTrace exports are whole days and late writes happen) to now,
//! page through the answer, and put each record in the inbox as an event; records seen before
//! are dropped by their event id. The cursor (the highest `cursor` field seen, and the time of
//! the last poll) is stored only after the events are committed, so a crash between the two
//! re-reads a window rather than skipping one: no gap, and no duplicate.

use crate::connectors::{CallContext, Clients};
use crate::plan::{POLL_VARIABLES, Plan};
use crate::runtime::intake::new_event;
use crate::script::value::{to_dynamic, to_json};
use crate::store::{Accepted, StateStore, now_ms};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Most pages read in one poll (a safety stop for a list that never ends).
const MAX_PAGES: usize = 100;
/// How far back the first poll of a flow reads when it has no `overlap`.
const FIRST_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// What one poll did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollOutcome {
    pub records: usize,
    pub new: usize,
    pub duplicates: usize,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("poll of flow `{flow}`: {message}")]
pub struct PollError {
    pub flow: String,
    pub message: String,
}

/// The poller of one flow.
pub struct Poller {
    pub plan: Arc<Plan>,
    pub clients: Clients,
    pub store: Arc<dyn StateStore>,
}

impl Poller {
    /// The store key of this flow's cursor.
    pub fn cursor_name(&self) -> String {
        format!("poll:{}", self.plan.flow.flow)
    }

    fn fail(&self, message: impl Into<String>) -> PollError {
        PollError {
            flow: self.plan.flow.flow.clone(),
            message: message.into(),
        }
    }

    /// Whether this engine polls the flow this round: it holds (or now takes) the flow's
    /// lease in the store, for three intervals (at least 30 s) from now. A change of holder
    /// is logged. A store error skips the round (its events could not be stored either).
    fn holds_lease(&self, every: Duration, holding: &mut Option<bool>) -> bool {
        let ttl = lease_ttl(every);
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let name = self.cursor_name();
        let flow = &self.plan.flow.flow;
        let mine = match super::blocking(|| self.store.take_lease(&name, ttl_ms)) {
            Ok(mine) => mine,
            Err(e) => {
                tracing::warn!(flow = %flow, error = %e, "cannot read the poll's lease; skipping this round");
                return false;
            }
        };
        match (*holding, mine) {
            (Some(false), true) => {
                tracing::info!(flow = %flow, "this engine polls the flow now (the engine that did is gone or its lease ran out)")
            }
            (None | Some(true), false) => {
                tracing::info!(flow = %flow, "another engine sharing the store polls this flow")
            }
            _ => {}
        }
        *holding = Some(mine);
        mine
    }

    /// The interval between polls.
    pub fn every(&self) -> Duration {
        self.plan
            .flow
            .trigger
            .poll
            .as_ref()
            .and_then(|p| humantime::parse_duration(p.every.trim()).ok())
            .unwrap_or(Duration::from_secs(300))
    }

    /// Poll once, for the window from the last poll (less `overlap`) to `now`; then store the
    /// cursor.
    pub async fn poll_once(&self, now: DateTime<Utc>) -> Result<PollOutcome, PollError> {
        let Some(poll) = self.plan.flow.trigger.poll.clone() else {
            return Err(self.fail("the flow has no poll trigger"));
        };
        let overlap = poll
            .overlap
            .as_deref()
            .and_then(|o| humantime::parse_duration(o.trim()).ok());
        let state = self.load_state()?;
        let last_poll = state
            .get("last_poll_ms")
            .and_then(Value::as_i64)
            .and_then(DateTime::from_timestamp_millis);
        let window_start = match last_poll {
            Some(t) => {
                t - chrono::Duration::from_std(overlap.unwrap_or_default()).unwrap_or_default()
            }
            None => {
                now - chrono::Duration::from_std(overlap.unwrap_or(FIRST_WINDOW))
                    .unwrap_or_default()
            }
        };
        let cursor = state.get("cursor").cloned().unwrap_or(Value::Null);
        let (outcome, best) = self.read_window(&cursor, window_start, now).await?;
        let state = json!({"cursor": best, "last_poll_ms": now.timestamp_millis()});
        super::blocking(|| {
            self.store
                .set_cursor(&self.cursor_name(), &state.to_string(), now_ms())
        })
        .map_err(|e| self.fail(e.to_string()))?;
        Ok(outcome)
    }

    /// Read one explicit window (`ledgerlink poll backfill`): records go to the inbox as in a
    /// poll (duplicates dropped); the stored cursor is not touched.
    pub async fn backfill(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<PollOutcome, PollError> {
        Ok(self.read_window(&Value::Null, start, end).await?.0)
    }

    /// Call the operation for one window, page by page, and accept the records; the outcome
    /// and the highest cursor value seen.
    async fn read_window(
        &self,
        cursor: &Value,
        window_start: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(PollOutcome, Value), PollError> {
        let Some(poll) = self.plan.flow.trigger.poll.clone() else {
            return Err(self.fail("the flow has no poll trigger"));
        };
        let (_, operation) = crate::connectors::operation(&poll.operation)
            .ok_or_else(|| self.fail(format!("unknown operation `{}`", poll.operation)))?;
        let connector = poll.operation.split('.').next().unwrap_or("");
        let client = self
            .clients
            .get(connector)
            .ok_or_else(|| self.fail(format!("no client for connector `{connector}`")))?
            .clone();
        let mut input = self.input(cursor, window_start, now)?;
        let mut outcome = PollOutcome::default();
        let mut best = cursor.clone();
        for page in 1..=MAX_PAGES {
            let context = CallContext {
                flow: self.plan.flow.flow.clone(),
                step: "trigger.poll".into(),
                idempotency_key: None,
                attempt: 1,
            };
            let output = client
                .call(operation, &input, &context)
                .await
                .map_err(|e| self.fail(format!("`{}` {e}", poll.operation)))?;
            let records = match &poll.items {
                Some(path) => items_at(&output, path)
                    .map_err(|why| self.fail(format!("`{}`: {why}", poll.operation)))?,
                None => output.as_array().cloned().unwrap_or_default(),
            };
            self.accept(&records, &mut outcome)?;
            for r in &records {
                if let Some(c) = r.get(&poll.cursor).filter(|c| !c.is_null())
                    && greater(c, &best)
                {
                    best = c.clone();
                }
            }
            // Paged lists (Sage Pro) say where the next page is.
            let more = output.get("next").is_some_and(|n| !n.is_null() && n != "");
            if !more || records.is_empty() || !input.is_object() {
                break;
            }
            input["page"] = json!(page + 1);
        }
        outcome.cursor = match &best {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            v => Some(v.to_string()),
        };
        Ok((outcome, best))
    }

    fn load_state(&self) -> Result<Value, PollError> {
        let text = super::blocking(|| self.store.cursor(&self.cursor_name()))
            .map_err(|e| self.fail(e.to_string()))?;
        Ok(text
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null))
    }

    /// The operation's input: the `with:` mapping evaluated over the poll variables.
    fn input(
        &self,
        cursor: &Value,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Value, PollError> {
        let Some(compiled) = &self.plan.poll_input else {
            return Ok(json!({}));
        };
        let mut scope = crate::plan::base_scope();
        scope.set_value("profile", self.plan.profile_values.clone());
        let text = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let values = [
            to_dynamic(cursor).map_err(|e| self.fail(e))?,
            rhai::Dynamic::from(text(start)),
            rhai::Dynamic::from(text(end)),
            rhai::Dynamic::from(text(Utc::now())),
        ];
        for (name, value) in POLL_VARIABLES.iter().zip(values) {
            scope.push_dynamic(*name, value);
        }
        let out: rhai::Dynamic = self
            .plan
            .engine
            .eval_ast_with_scope(&mut scope, &compiled.ast)
            .map_err(|e| self.fail(format!("trigger.poll.with: {e}")))?;
        let mut json = to_json(&out).map_err(|e| self.fail(e))?;
        if let Value::Object(m) = &mut json {
            m.retain(|_, v| !v.is_null());
        }
        Ok(json)
    }

    /// Put records in the inbox in one commit.
    fn accept(&self, records: &[Value], outcome: &mut PollOutcome) -> Result<(), PollError> {
        let mut rows = Vec::with_capacity(records.len());
        for r in records {
            outcome.records += 1;
            match new_event(&self.plan, r.clone(), now_ms()) {
                Ok(row) => rows.push(row),
                Err(e) => {
                    tracing::warn!(flow = %self.plan.flow.flow, error = %e, "polled record skipped")
                }
            }
        }
        if rows.is_empty() {
            return Ok(());
        }
        for a in
            super::blocking(|| self.store.accept(&rows)).map_err(|e| self.fail(e.to_string()))?
        {
            match a {
                Accepted::New { .. } => outcome.new += 1,
                Accepted::Duplicate { .. } => outcome.duplicates += 1,
            }
        }
        Ok(())
    }
}

/// How long a poll's lease lasts from its last renewal: three intervals, at least 30 s.
fn lease_ttl(every: Duration) -> Duration {
    (every * 3).max(Duration::from_secs(30))
}

/// Drive a poll round to its end, renewing the flow's lease every `period` meanwhile: a round
/// longer than the lease (a slow API, many pages) would otherwise let another engine take
/// the lease and poll the same window. A renewal that finds the lease taken lets the round
/// finish (what both store is deduplicated by event id); `holds_lease` logs the change.
async fn renewing<F: std::future::Future>(
    round: F,
    period: Duration,
    mut renew: impl FnMut() -> bool,
) -> F::Output {
    tokio::pin!(round);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            out = &mut round => return out,
            _ = ticks.tick() => {
                renew();
            }
        }
    }
}

/// Run a poller until `stop` turns true: poll at once, then every interval. Failures are
/// logged and retried at the next tick; `wake` tells the worker when new events arrived. With
/// `plans`, each poll uses the flow's current revision (hot reload); a deleted flow stops.
pub async fn run(
    mut poller: Poller,
    plans: Option<Arc<std::sync::RwLock<crate::runtime::worker::Plans>>>,
    wake: Arc<tokio::sync::Notify>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    // Engines sharing a store poll each flow once between them: the one holding the flow's
    // lease polls, the others check at each tick and take over when it runs out or its
    // holder goes silent. (A store one engine uses alone always grants it.)
    let mut holding: Option<bool> = None;
    loop {
        if let Some(plans) = &plans {
            let flow = poller.plan.flow.flow.clone();
            match plans.read().ok().and_then(|p| p.current(&flow)) {
                Some(current) => poller.plan = current,
                None => {
                    tracing::warn!(flow = %flow, "poll flow removed; its poller stops");
                    if holding == Some(true) {
                        // Another engine that still has the flow polls it at its next tick.
                        let name = poller.cursor_name();
                        let _ = super::blocking(|| poller.store.release_lease(&name));
                    }
                    return;
                }
            }
        }
        let every = poller.every();
        if poller.holds_lease(every, &mut holding) {
            let round = poller.poll_once(Utc::now());
            let renewal = lease_ttl(every) / 3;
            match renewing(round, renewal, || poller.holds_lease(every, &mut holding)).await {
                Ok(o) if o.new > 0 => {
                    tracing::info!(flow = %poller.plan.flow.flow, new = o.new, duplicates = o.duplicates, "polled");
                    wake.notify_one();
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "poll failed; trying again at the next interval")
                }
            }
        }
        // Stopped while this round ran (the engine may be tearing its runtime down, whose
        // timers then refuse new sleeps): end now.
        if *stop.borrow() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}

/// The records at `items: path` in an answer. `null` there is an empty page; a path the answer
/// does not have, or a value that is not a list, is a mistake in the flow (a misspelt `items:`
/// would otherwise take no event ever, silently), named with the keys the answer does have.
fn items_at(output: &Value, path: &str) -> Result<Vec<Value>, String> {
    match output.pointer(&pointer(path)) {
        Some(Value::Array(items)) => Ok(items.clone()),
        Some(Value::Null) => Ok(Vec::new()),
        Some(other) => Err(format!(
            "`items: {path}` is not a list in the answer (it is {})",
            match other {
                Value::Object(_) => "an object",
                Value::String(_) => "text",
                Value::Number(_) => "a number",
                _ => "a boolean",
            }
        )),
        None => {
            let keys: Vec<&str> = output
                .as_object()
                .map(|m| m.keys().map(String::as_str).collect())
                .unwrap_or_default();
            Err(format!(
                "the answer has no `{path}` for `items:` (its keys: {})",
                if keys.is_empty() {
                    "none".to_string()
                } else {
                    keys.join(", ")
                }
            ))
        }
    }
}

/// `items: transactions` or `data.items` as a JSON pointer.
fn pointer(path: &str) -> String {
    format!("/{}", path.trim_start_matches('/').replace('.', "/"))
}

/// Whether cursor value `a` is past `b` (numbers numerically, text by its order: ISO times
/// and zero-padded ids sort right).
fn greater(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (_, Value::Null) => true,
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x > y,
            _ => x.to_string() > y.to_string(),
        },
        (Value::String(x), Value::String(y)) => x > y,
        (x, y) => {
            let (x, y) = (x.to_string(), y.to_string());
            x > y
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_items_path_is_an_error_naming_the_keys() {
        let answer = json!({"success": true, "transactions": [{"id": 1}], "next": null});
        assert_eq!(items_at(&answer, "transactions").unwrap().len(), 1);
        assert!(
            items_at(&json!({"items": null}), "items")
                .unwrap()
                .is_empty()
        );
        let err = items_at(&answer, "transaction").unwrap_err();
        assert!(err.contains("keys: success, transactions, next"), "{err}");
        let err = items_at(&answer, "success").unwrap_err();
        assert!(err.contains("not a list"), "{err}");
    }

    #[tokio::test]
    async fn a_long_round_renews_its_lease_until_it_ends() {
        let renewals = std::cell::Cell::new(0);
        let round = async {
            tokio::time::sleep(Duration::from_millis(250)).await;
            "done"
        };
        let out = renewing(round, Duration::from_millis(40), || {
            renewals.set(renewals.get() + 1);
            true
        })
        .await;
        assert_eq!(out, "done");
        // About six renewals in 250 ms; none before the first period, none after the end.
        let n = renewals.get();
        assert!((3..=6).contains(&n), "{n} renewals");
        let quick = renewing(async { 1 }, Duration::from_millis(40), || {
            renewals.set(renewals.get() + 1);
            true
        })
        .await;
        assert_eq!((quick, renewals.get()), (1, n));
    }

    #[test]
    fn a_lease_lasts_three_intervals_and_at_least_half_a_minute() {
        assert_eq!(lease_ttl(Duration::from_secs(60)), Duration::from_secs(180));
        assert_eq!(lease_ttl(Duration::from_secs(1)), Duration::from_secs(30));
    }
}
