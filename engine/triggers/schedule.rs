//! The schedule trigger: crontab expressions (five fields, or six with seconds; names such as
//! MON-FRI) read in an IANA time zone with `croner`, which follows crontab semantics and DST
//! (a time skipped by spring-forward runs at the next valid instant, a fall-back hour runs
//! once). Every fire becomes an event keyed by its scheduled instant, so a restart or a DST
//! change can never run a fire twice; the last instant handled is stored, and fires missed
//! while the engine was down follow the flow's `missed` policy (`once` or `skip`).

use crate::model::MissedFires;
use crate::plan::Plan;
use crate::runtime::intake::new_event;
use crate::store::{Accepted, StateStore, now_ms};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Fires older than this at a tick count as missed (the engine was down or asleep).
const ON_TIME: chrono::Duration = chrono::Duration::seconds(90);
/// Most fires looked at in one tick (a schedule every second over a long outage).
const MAX_FIRES: usize = 100_000;

pub struct Scheduler {
    pub plan: Arc<Plan>,
    pub store: Arc<dyn StateStore>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tick {
    /// Instants turned into events now.
    pub fired: Vec<DateTime<Utc>>,
    /// Instants missed and dropped by the policy.
    pub skipped: usize,
}

impl Scheduler {
    fn cursor_name(&self) -> String {
        format!("schedule:{}", self.plan.flow.flow)
    }

    fn parts(&self) -> Result<(croner::Cron, chrono_tz::Tz, MissedFires), String> {
        let s = self
            .plan
            .flow
            .trigger
            .schedule
            .as_ref()
            .ok_or("the flow has no schedule trigger")?;
        let cron = croner::parser::CronParser::new()
            .parse(&s.cron)
            .map_err(|e| format!("cron `{}`: {e}", s.cron))?;
        let tz: chrono_tz::Tz = s
            .timezone
            .parse()
            .map_err(|_| format!("unknown timezone `{}`", s.timezone))?;
        Ok((cron, tz, s.missed.unwrap_or(MissedFires::Once)))
    }

    /// Turn the fires due by `now` into events. The first tick of a flow only starts the clock.
    pub fn tick(&self, now: DateTime<Utc>) -> Result<Tick, String> {
        let (cron, tz, missed) = self.parts()?;
        let last = self
            .store
            .cursor(&self.cursor_name())
            .map_err(|e| e.to_string())?
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&Utc));
        let Some(last) = last else {
            self.save(now)?;
            return Ok(Tick::default());
        };
        let mut due = Vec::new();
        let mut at = last.with_timezone(&tz);
        while due.len() < MAX_FIRES {
            match cron.find_next_occurrence(&at, false) {
                Ok(next) if next.with_timezone(&Utc) <= now => {
                    due.push(next.with_timezone(&Utc));
                    at = next;
                }
                _ => break,
            }
        }
        let (on_time, late): (Vec<_>, Vec<_>) = due.into_iter().partition(|t| now - *t <= ON_TIME);
        let mut tick = Tick::default();
        let mut fire = on_time;
        match missed {
            MissedFires::Once => {
                if fire.is_empty() {
                    if let Some(latest) = late.last() {
                        fire.push(*latest);
                    }
                    tick.skipped = late.len().saturating_sub(1);
                } else {
                    tick.skipped = late.len();
                }
            }
            MissedFires::Skip => tick.skipped = late.len(),
        }
        if !fire.is_empty() {
            let rows = fire
                .iter()
                .map(|t| {
                    let event = json!({
                        "scheduled_at": t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        "local_time": t.with_timezone(&tz).to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
                        "flow": self.plan.flow.flow,
                    });
                    let mut row = new_event(&self.plan, event, now_ms()).map_err(|e| e.to_string())?;
                    row.key = format!("schedule:{}", t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
                    Ok(row)
                })
                .collect::<Result<Vec<_>, String>>()?;
            for (t, a) in fire
                .iter()
                .zip(self.store.accept(&rows).map_err(|e| e.to_string())?)
            {
                if matches!(a, Accepted::New { .. }) {
                    tick.fired.push(*t);
                }
            }
        }
        self.save(now)?;
        Ok(tick)
    }

    fn save(&self, now: DateTime<Utc>) -> Result<(), String> {
        self.store
            .set_cursor(&self.cursor_name(), &now.to_rfc3339(), now_ms())
            .map_err(|e| e.to_string())
    }
}

/// Tick every second until `stop` turns true. With `plans`, each tick uses the flow's current
/// revision (hot reload); a deleted flow stops.
pub async fn run(
    mut scheduler: Scheduler,
    plans: Option<Arc<std::sync::RwLock<crate::runtime::worker::Plans>>>,
    wake: Arc<tokio::sync::Notify>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if let Some(plans) = &plans {
            let flow = scheduler.plan.flow.flow.clone();
            match plans.read().ok().and_then(|p| p.current(&flow)) {
                Some(current) => scheduler.plan = current,
                None => {
                    tracing::warn!(flow = %flow, "scheduled flow removed; its schedule stops");
                    return;
                }
            }
        }
        match super::blocking(|| scheduler.tick(Utc::now())) {
            Ok(t) if !t.fired.is_empty() => {
                tracing::info!(flow = %scheduler.plan.flow.flow, fired = t.fired.len(), skipped = t.skipped, "schedule fired");
                wake.notify_one();
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(flow = %scheduler.plan.flow.flow, error = %e, "schedule tick failed")
            }
        }
        // Stopped while this round ran (the engine may be tearing its runtime down, whose
        // timers then refuse new sleeps): end now.
        if *stop.borrow() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}
