//! The activity simulator: a realistic, seeded day of PayTrace activity driven through the
//! PayTrace emulator's real HTTP API. It reads the open invoices from the Sage Pro emulator
//! (`/api/invoices`), then runs `count` events at `rate` per second (or as fast as possible):
//! keyed card sales paying those invoices (in installments spread over the day, so longer runs
//! pay in smaller parts), declines by the documented triggers, ACH check sales, voids of
//! unsettled sales, one settlement batch close (control call) about three fifths of the way
//! through, refunds of settled sales, and a chargeback notice at the end. PayTrace has no chargeback API, so the notice is a simulator event only,
//! labelled as such. The same seed against freshly seeded emulators gives the same operations
//! and amounts. Documented in `docs/sandbox.md`.

use super::sim_event::Rng;
pub use super::sim_event::{EventKind, SimEvent};
use super::sim_http::Peer;
use super::sim_ops::{Invoice, Sim};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::time::Duration;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub seed: u64,
    /// Number of events.
    pub count: usize,
    /// Events per second; `None` (or not positive) runs as fast as possible.
    pub rate: Option<f64>,
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("simulator cannot start: {0}")]
    Setup(String),
}

/// Run the simulator against the emulators at `paytrace_url` and `sagepro_url`, calling
/// `on_event` after each event; returns every event. Failed calls (faults, refusals) are
/// recorded in the events' outcomes, not returned as errors.
pub async fn simulate(
    paytrace_url: &str,
    sagepro_url: &str,
    config: &SimConfig,
    mut on_event: impl FnMut(&SimEvent),
) -> Result<Vec<SimEvent>, SimError> {
    let invoices = open_invoices(&Peer::new(sagepro_url)).await?;
    let pt = Peer::new(paytrace_url);
    let token = paytrace_login(&pt).await?;
    let n = config.count;
    let per_invoice = (n as u64 * 4 / 5).div_ceil(invoices.len().max(1) as u64);
    let mut sim = Sim {
        pt,
        token,
        rng: Rng::new(config.seed),
        invoices,
        sales: Vec::new(),
    };
    for inv in &mut sim.invoices {
        inv.installments = per_invoice.max(1);
    }
    let settle_at = if n >= 2 { (n * 3 / 5).max(1) + 1 } else { 0 };
    let start = tokio::time::Instant::now();
    let mut events = Vec::with_capacity(n);
    for seq in 1..=n {
        if let Some(rate) = config.rate.filter(|r| *r > 0.0) {
            let due = start + Duration::from_secs_f64((seq - 1) as f64 / rate);
            tokio::time::sleep_until(due).await;
        }
        let kind = if seq == settle_at {
            EventKind::Settlement
        } else if seq == n && n >= 3 {
            EventKind::ChargebackNotice
        } else if seq == 1 {
            EventKind::Sale
        } else {
            sim.choose(seq < settle_at)
        };
        let ev = sim.run(seq, kind).await;
        on_event(&ev);
        events.push(ev);
    }
    Ok(events)
}

/// Open invoices (balance above zero, not void), in key order.
async fn open_invoices(sp: &Peer) -> Result<Vec<Invoice>, SimError> {
    let auth = json!({"grant_type": "client_credentials",
        "client_id": super::sagepro::CLIENT_ID, "client_secret": super::sagepro::CLIENT_SECRET});
    let a = sp
        .post_json("/api/auth/token", None, &auth)
        .await
        .map_err(SimError::Setup)?;
    let token = a.body["access_token"]
        .as_str()
        .ok_or_else(|| SimError::Setup(format!("Sage Pro login failed: HTTP {}", a.status)))?
        .to_string();
    let mut out = Vec::new();
    let mut next = Some("/api/invoices?pageSize=200".to_string());
    while let Some(path) = next.take() {
        let page = sp.get(&path, Some(&token)).await.map_err(SimError::Setup)?;
        let items = page.body["items"]
            .as_array()
            .ok_or_else(|| SimError::Setup(format!("Sage Pro invoices: HTTP {}", page.status)))?;
        for inv in items {
            let balance = money_field(&inv["Balance"]).unwrap_or_default();
            if inv["Status"].as_str() != Some("Void") && balance > Decimal::ZERO {
                out.push(Invoice {
                    id: inv["InvoiceID"].as_str().unwrap_or_default().to_string(),
                    customer: inv["CustomerID"].as_str().unwrap_or_default().to_string(),
                    remaining: balance,
                    installments: 1,
                });
            }
        }
        next = page.body["next"].as_str().map(str::to_string);
    }
    Ok(out)
}

fn money_field(v: &Value) -> Option<Decimal> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.to_string().parse().ok(),
        _ => None,
    }
}

pub(super) async fn paytrace_login(pt: &Peer) -> Result<String, SimError> {
    let form = format!(
        "grant_type=password&username={}&password={}",
        super::paytrace::USERNAME,
        super::paytrace::PASSWORD
    );
    let a = pt
        .post_form("/oauth/token", &form)
        .await
        .map_err(SimError::Setup)?;
    a.body["access_token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| SimError::Setup(format!("PayTrace login failed: HTTP {}", a.status)))
}

impl Sim {
    /// The next kind of activity: mostly sales, some declines and ACH, voids before the
    /// batch closes, refunds after it.
    fn choose(&mut self, before_settlement: bool) -> EventKind {
        match self.rng.next(100) {
            0..60 => EventKind::Sale,
            60..71 => EventKind::Decline,
            71..83 => EventKind::AchSale,
            83..91 => EventKind::Void,
            _ if before_settlement => EventKind::Sale,
            _ => EventKind::Refund,
        }
    }

    async fn run(&mut self, seq: usize, kind: EventKind) -> SimEvent {
        match kind {
            EventKind::Sale | EventKind::Decline | EventKind::AchSale => self.sale(seq, kind).await,
            EventKind::Void => {
                let open: Vec<usize> = (0..self.sales.len())
                    .filter(|&i| {
                        let s = &self.sales[i];
                        s.card && !s.settled && !s.voided
                    })
                    .collect();
                match self.pick(&open) {
                    Some(i) => self.void(seq, i).await,
                    None => self.sale(seq, EventKind::Sale).await,
                }
            }
            EventKind::Refund => {
                let open: Vec<usize> = (0..self.sales.len())
                    .filter(|&i| {
                        let s = &self.sales[i];
                        s.card && s.settled && s.refunded < s.amount
                    })
                    .collect();
                match self.pick(&open) {
                    Some(i) => self.refund(seq, i).await,
                    None => self.sale(seq, EventKind::Sale).await,
                }
            }
            EventKind::Settlement => self.settle(seq).await,
            EventKind::ChargebackNotice => self.chargeback(seq),
        }
    }
}
