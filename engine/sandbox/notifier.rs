//! The sandbox notifier: a demo aid, not part of the PayTrace-shaped API (PayTrace v1 sends no
//! webhooks). It watches the PayTrace emulator for new transactions and POSTs each one, in
//! PayTrace's export record shape, to a configured URL, signed the way Ledgerlink's webhook
//! trigger verifies (`triggers::signature`: `t=<unix>,v1=<hmac-sha256 hex>` over
//! `"{t}.{body}"`). Delivery is at least once: a failed POST is retried with backoff, and the
//! receiver deduplicates by `transaction_id`. It never blocks or slows the emulator.

use super::paytrace;
use super::sim_http::Peer;
use crate::triggers::signature;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Where and how to notify.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifierConfig {
    /// Full URL of the receiver, e.g. `http://127.0.0.1:8080/hooks/paytrace/transactions`.
    pub url: String,
    /// Shared secret for the signature.
    pub secret: String,
    /// Header carrying the signature.
    #[serde(default = "default_header")]
    pub header: String,
    /// How often to look for new transactions, in milliseconds.
    #[serde(default = "default_interval_ms")]
    pub interval_ms: u64,
    /// Attempts per event before it is given up (and logged).
    #[serde(default = "default_attempts")]
    pub attempts: u32,
}

fn default_header() -> String {
    "X-PayTrace-Signature".into()
}
fn default_interval_ms() -> u64 {
    250
}
fn default_attempts() -> u32 {
    5
}

impl NotifierConfig {
    pub fn new(url: &str, secret: &str) -> Self {
        NotifierConfig {
            url: url.to_string(),
            secret: secret.to_string(),
            header: default_header(),
            interval_ms: default_interval_ms(),
            attempts: default_attempts(),
        }
    }

    /// Split the URL into the peer and the path.
    fn target(&self) -> Result<(Peer, String), String> {
        let rest = self
            .url
            .strip_prefix("http://")
            .ok_or_else(|| format!("notifier URL `{}` must start with http://", self.url))?;
        let (host, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        Ok((Peer::new(host), path.to_string()))
    }
}

/// What happened to one notification; passed to the caller's report function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub transaction_id: u64,
    /// HTTP status of the last attempt, if any answer came.
    pub status: Option<u16>,
    pub attempts: u32,
    pub delivered: bool,
}

/// Start notifying about transactions created from now on. `report` sees each delivery.
pub fn spawn(
    state: Arc<paytrace::State>,
    config: NotifierConfig,
    report: impl Fn(Delivery) + Send + Sync + 'static,
) -> Result<JoinHandle<()>, String> {
    let (peer, path) = config.target()?;
    let mut last = state
        .transactions_after(0)
        .last()
        .map(|(id, _)| *id)
        .unwrap_or(0);
    Ok(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(config.interval_ms.max(10)));
        loop {
            tick.tick().await;
            for (id, record) in state.transactions_after(last) {
                last = id;
                let body = record.to_string();
                report(deliver(&peer, &path, &config, id, body).await);
            }
        }
    }))
}

async fn deliver(
    peer: &Peer,
    path: &str,
    config: &NotifierConfig,
    id: u64,
    body: String,
) -> Delivery {
    let mut delivery = Delivery {
        transaction_id: id,
        status: None,
        attempts: 0,
        delivered: false,
    };
    let mut backoff = Duration::from_millis(200);
    while delivery.attempts < config.attempts.max(1) {
        delivery.attempts += 1;
        // Signed per attempt, so a retry carries a fresh timestamp inside the tolerance window.
        let now = chrono::Utc::now().timestamp();
        let header = signature::sign(config.secret.as_bytes(), now, body.as_bytes());
        let headers = [
            (config.header.as_str(), header),
            ("X-Ledgerlink-Notifier", "sandbox".to_string()),
        ];
        match peer.post_signed(path, body.clone(), &headers).await {
            Ok(answer) => {
                delivery.status = Some(answer.status);
                if (200..300).contains(&answer.status) {
                    delivery.delivered = true;
                    return delivery;
                }
                // A 4xx other than 408/429 will not change on retry.
                if (400..500).contains(&answer.status) && ![408, 429].contains(&answer.status) {
                    return delivery;
                }
            }
            Err(_) => delivery.status = None,
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
    delivery
}
