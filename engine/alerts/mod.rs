//! Alert delivery. Runs (the `alert` step), dead letters and failed reloads hand alerts to an
//! `Alerter`, which never blocks or fails them: alerts go into a bounded queue, a background
//! task groups identical ones within a window (sent once with a count), logs every alert, and
//! POSTs it to each target's webhook as Slack-compatible JSON (`text`, plus `severity`,
//! `source`, `flow`, `run`, `count`), retrying a few times with backoff.

pub mod health;

use crate::connectors::transport;
use crate::load::secrets::SecretScope;
use crate::model::AlertSettings;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Alerts waiting for delivery before new ones are dropped (and logged).
const QUEUE: usize = 1024;
/// Delivery attempts per target.
const ATTEMPTS: u32 = 3;

/// One alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// `alert`, `dead_letter`, `reload`.
    pub source: String,
    pub severity: String,
    /// A target name (`channel:` of the alert step); `None`: the default targets.
    pub channel: Option<String>,
    pub flow: Option<String>,
    pub run: Option<i64>,
    pub message: String,
}

/// Hands alerts to the delivery task. Cheap to clone.
#[derive(Clone)]
pub struct Alerter {
    queue: Option<mpsc::Sender<Alert>>,
}

impl Default for Alerter {
    fn default() -> Self {
        Alerter::log_only()
    }
}

impl std::fmt::Debug for Alerter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.queue.is_some() {
            "Alerter(delivering)"
        } else {
            "Alerter(log only)"
        })
    }
}

/// Resolved targets: name -> webhook URL (`None`: log only).
struct Targets {
    by_name: BTreeMap<String, Option<String>>,
    default: Vec<String>,
    window: Duration,
}

impl Alerter {
    /// An alerter that only logs (no profile settings, or tests).
    pub fn log_only() -> Alerter {
        Alerter { queue: None }
    }

    /// Start delivering per the profile's `alerts:`; secret references resolve in `scope`.
    pub fn start(settings: Option<&AlertSettings>, scope: &SecretScope) -> Result<Alerter, String> {
        let Some(settings) = settings else {
            return Ok(Alerter::log_only());
        };
        let mut by_name = BTreeMap::new();
        for (name, target) in &settings.targets {
            let url = match &target.webhook {
                Some(w) if crate::load::secrets::is_reference(w) => Some(
                    scope
                        .resolve(&format!("alerts.targets.{name}.webhook"), w)
                        .map_err(|e| e.to_string())?,
                ),
                Some(w) => Some(w.clone()),
                None => None,
            };
            by_name.insert(name.clone(), url);
        }
        for name in &settings.default {
            if !by_name.contains_key(name) {
                return Err(format!(
                    "alerts.default names `{name}`, which is not under alerts.targets"
                ));
            }
        }
        let window = settings
            .group_window
            .as_deref()
            .map(|w| {
                humantime::parse_duration(w).map_err(|e| format!("alerts.group_window `{w}`: {e}"))
            })
            .transpose()?
            .unwrap_or(Duration::from_secs(60));
        let targets = Targets {
            by_name,
            default: settings.default.clone(),
            window,
        };
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(deliver(rx, Arc::new(targets)));
        Ok(Alerter { queue: Some(tx) })
    }

    /// Hand an alert over; never waits. Without targets it is only logged.
    pub fn send(&self, alert: Alert) {
        match &self.queue {
            Some(q) => {
                if let Err(e) = q.try_send(alert) {
                    tracing::error!(
                        "alert queue full, alert dropped: {}",
                        describe(&e.into_inner())
                    );
                }
            }
            None => tracing::warn!("alert: {}", describe(&alert)),
        }
    }
}

fn describe(a: &Alert) -> String {
    let mut s = format!("[{}] {}", a.severity, a.message);
    if let Some(f) = &a.flow {
        s.push_str(&format!(" (flow `{f}`"));
        if let Some(r) = a.run {
            s.push_str(&format!(", run {r}"));
        }
        s.push(')');
    }
    s
}

/// Identical alerts: same source, flow and message.
type GroupKey = (String, Option<String>, String);

/// The delivery task: group, log, post. `recent` maps a group to when it was first sent, the
/// alert, and the repeats held back since.
async fn deliver(mut rx: mpsc::Receiver<Alert>, targets: Arc<Targets>) {
    let http = transport::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default();
    let mut recent: BTreeMap<GroupKey, (Instant, Alert, u64)> = BTreeMap::new();
    let mut flush = tokio::time::interval(targets.window.max(Duration::from_millis(100)));
    loop {
        tokio::select! {
            got = rx.recv() => {
                let Some(alert) = got else { return };
                let key = (alert.source.clone(), alert.flow.clone(), alert.message.clone());
                match recent.get_mut(&key) {
                    Some((since, _, count)) if since.elapsed() < targets.window => {
                        *count += 1;
                        continue;
                    }
                    _ => {
                        recent.insert(key, (Instant::now(), alert.clone(), 0));
                    }
                }
                post_all(&http, &targets, &alert, 1, false).await;
            }
            _ = flush.tick() => {
                // Report how many identical alerts were held back in the window that ended.
                let due: Vec<(Alert, u64)> = recent
                    .values()
                    .filter(|(since, _, count)| since.elapsed() >= targets.window && *count > 0)
                    .map(|(_, alert, count)| (alert.clone(), *count))
                    .collect();
                for (alert, count) in due {
                    post_all(&http, &targets, &alert, count, true).await;
                }
                recent.retain(|_, (since, _, _)| since.elapsed() < targets.window);
            }
        }
    }
}

/// Post one alert; `repeats` is true for the summary of alerts held back in a window.
async fn post_all(
    http: &reqwest::Client,
    targets: &Targets,
    alert: &Alert,
    count: u64,
    repeats: bool,
) {
    let names: Vec<String> = match &alert.channel {
        Some(c) if targets.by_name.contains_key(c) => vec![c.clone()],
        Some(c) => {
            tracing::warn!(channel = %c, "alert names an unknown channel; sent to the default targets");
            targets.default.clone()
        }
        None => targets.default.clone(),
    };
    let text = if repeats {
        format!(
            "{} (repeated {count} more time(s) in the last {}s)",
            describe(alert),
            targets.window.as_secs()
        )
    } else {
        describe(alert)
    };
    tracing::warn!(source = %alert.source, "alert: {text}");
    let body = json!({
        "text": text,
        "severity": alert.severity,
        "source": alert.source,
        "flow": alert.flow,
        "run": alert.run,
        "count": count,
    });
    for name in names {
        let Some(Some(url)) = targets.by_name.get(&name) else {
            continue;
        };
        let mut backoff = Duration::from_millis(200);
        for attempt in 1..=ATTEMPTS {
            let sent = http.post(url).json(&body).send().await;
            match sent {
                Ok(r) if r.status().is_success() => break,
                other => {
                    let why = other
                        .map(|r| r.status().to_string())
                        .unwrap_or_else(|e| e.to_string());
                    if attempt == ATTEMPTS {
                        tracing::error!(target_name = %name, "alert not delivered after {ATTEMPTS} attempts: {why}");
                    } else {
                        tokio::time::sleep(backoff).await;
                        backoff *= 2;
                    }
                }
            }
        }
    }
}
