//! Connector health: every interval, each connector's `check` (reachable and authenticated,
//! writing nothing) runs; a change (up to down, down to up, or down at the first check) is an
//! alert, and the current state is kept for `/metrics` (`ledgerlink_connector_up`).

use super::{Alert, Alerter};
use crate::connectors::Clients;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Connector name -> up, as last checked.
pub type HealthMap = Arc<Mutex<BTreeMap<String, bool>>>;

/// How long one check may take before it counts as down.
const CHECK_TIMEOUT: Duration = Duration::from_secs(20);

/// Check once and report changes against `health`.
pub async fn check_once(clients: &Clients, alerter: &Alerter, health: &HealthMap) {
    for (name, client) in clients.iter() {
        let result = tokio::time::timeout(CHECK_TIMEOUT, client.check()).await;
        let (up, why) = match result {
            Ok(Ok(_)) => (true, String::new()),
            Ok(Err(e)) => (false, e.to_string()),
            Err(_) => (
                false,
                format!("no answer within {}s", CHECK_TIMEOUT.as_secs()),
            ),
        };
        let before = health.lock().ok().and_then(|h| h.get(name).copied());
        let change = match (before, up) {
            (Some(true), false) | (None, false) => {
                Some(("error", format!("connector `{name}` is down: {why}")))
            }
            (Some(false), true) => Some(("info", format!("connector `{name}` is up again"))),
            _ => None,
        };
        if let Some((severity, message)) = change {
            alerter.send(Alert {
                source: "health".into(),
                severity: severity.into(),
                channel: None,
                flow: None,
                run: None,
                message,
            });
        }
        if let Ok(mut h) = health.lock() {
            h.insert(name.to_string(), up);
        }
    }
}

/// Check every `every` until `stop` turns true.
pub async fn watch(
    clients: Clients,
    alerter: Alerter,
    health: HealthMap,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        check_once(&clients, &alerter, &health).await;
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}
