//! The activity simulator's operations against the PayTrace emulator: keyed card sales paying
//! Sage Pro invoices in installments (avoiding the trigger cents unless a decline is wanted),
//! declines by test card or by the documented cents triggers, ACH check sales, voids, refunds,
//! the settlement control call and the chargeback notice (a simulator event only: PayTrace has
//! no chargeback API). Also the day's bookkeeping: what each invoice has left, which sales are
//! settled, voided or refunded. Cards are named by brand and last four only.

use super::sim_event::{EventKind, Rng, SimEvent, clear_of_triggers, money, with_cents};
use super::sim_http::{Answer, Peer};
use super::simulator::paytrace_login;
use rust_decimal::Decimal;
use serde_json::{Value, json};

/// Approving test cards: (number, label). Only the label is ever logged.
const CARDS: &[(&str, &str)] = &[
    ("4111111111111111", "Visa ...1111"),
    ("4012000098765439", "Visa ...5439"),
    ("5454545454545454", "Mastercard ...5454"),
];
/// Declining test cards (docs/sandbox-paytrace.md, decline triggers).
const DECLINE_CARDS: &[(&str, &str)] = &[
    ("4000000000000002", "Visa ...0002"),
    ("4000000000009995", "Visa ...9995"),
    ("4000000000000069", "Visa ...0069"),
];
/// Card-network dispute reasons for the chargeback notice.
const REASONS: &[&str] = &[
    "Visa 10.4 Other Fraud - Card-Absent Environment",
    "Visa 13.1 Merchandise/Services Not Received",
    "Mastercard 4853 Cardholder Dispute",
    "Visa 12.6.1 Duplicate Processing",
];

/// An open Sage Pro invoice and what the day still plans to pay on it.
pub(super) struct Invoice {
    pub(super) id: String,
    pub(super) customer: String,
    pub(super) remaining: Decimal,
    /// Payments still planned for it: the balances are spread over the day.
    pub(super) installments: u64,
}

/// An approved card or ACH sale the day can act on later.
pub(super) struct Sale {
    pub(super) seq: usize,
    pub(super) txn: u64,
    pub(super) amount: Decimal,
    pub(super) refunded: Decimal,
    pub(super) invoice: Option<usize>,
    pub(super) card: bool,
    pub(super) settled: bool,
    pub(super) voided: bool,
}

/// The running day: the PayTrace peer and token, the generator and the bookkeeping.
pub(super) struct Sim {
    pub(super) pt: Peer,
    pub(super) token: String,
    pub(super) rng: Rng,
    pub(super) invoices: Vec<Invoice>,
    pub(super) sales: Vec<Sale>,
}

impl Sim {
    pub(super) fn pick(&mut self, among: &[usize]) -> Option<usize> {
        let i = self.rng.pick(among.len().max(1));
        among.get(i).copied()
    }

    /// POST to PayTrace with the bearer token, logging in again once on a 401.
    pub(super) async fn call(&mut self, path: &str, body: &Value) -> Result<Answer, String> {
        let a = self.pt.post_json(path, Some(&self.token), body).await?;
        if a.status != 401 {
            return Ok(a);
        }
        self.token = paytrace_login(&self.pt).await.map_err(|e| e.to_string())?;
        self.pt.post_json(path, Some(&self.token), body).await
    }

    pub(super) async fn sale(&mut self, seq: usize, kind: EventKind) -> SimEvent {
        let mut ev = SimEvent::new(seq, kind);
        let payable: Vec<usize> = (0..self.invoices.len())
            .filter(|&i| self.invoices[i].remaining >= Decimal::ONE)
            .collect();
        let invoice = self.pick(&payable);
        let jitter = Decimal::new(80 + self.rng.next(40) as i64, 2);
        let counter = money(1000 + self.rng.next(40_000));
        let mut amount = match invoice.map(|i| &self.invoices[i]) {
            Some(inv) if inv.installments <= 1 => inv.remaining,
            Some(inv) => (inv.remaining / Decimal::from(inv.installments) * jitter)
                .round_dp(2)
                .min(inv.remaining),
            None => counter,
        };
        amount = clear_of_triggers(amount.max(Decimal::ONE));
        let (number, label) = CARDS[self.rng.pick(CARDS.len())];
        let (bad_number, bad_label) = DECLINE_CARDS[self.rng.pick(DECLINE_CARDS.len())];
        let by_cents = self.rng.next(3) == 0;
        let trigger = [1, 2, 5][self.rng.pick(3)];
        let exp_month = 1 + self.rng.next(12);
        let account = format!("{}", 10_000_000 + self.rng.next(89_999_999));
        if let Some(inv) = invoice.map(|i| &self.invoices[i]) {
            ev.invoice_id = Some(inv.id.clone());
            ev.customer_id = Some(inv.customer.clone());
        }
        let (path, mut body) = match kind {
            EventKind::AchSale => {
                ev.instrument = Some(format!("ACH ...{}", &account[account.len() - 4..]));
                let check = json!({"account_number": account, "routing_number": "325070760"});
                ("/v1/checks/sale/by_account", json!({ "check": check }))
            }
            _ => {
                let (n, l) = match kind {
                    EventKind::Decline if by_cents => {
                        amount = with_cents(amount, trigger);
                        (number, label)
                    }
                    EventKind::Decline => (bad_number, bad_label),
                    _ => (number, label),
                };
                ev.instrument = Some(l.to_string());
                let card =
                    json!({"number": n, "expiration_month": exp_month, "expiration_year": 2030});
                let body = json!({"credit_card": card, "csc": "999"});
                ("/v1/transactions/sale/keyed", body)
            }
        };
        ev.amount = Some(amount);
        if let Value::Object(m) = &mut body {
            m.insert("amount".into(), json!(amount.to_string()));
            let name = ev
                .customer_id
                .clone()
                .unwrap_or_else(|| "Counter sale".into());
            m.insert(
                "billing_address".into(),
                json!({"name": name, "zip": "97401"}),
            );
            if let Some(id) = &ev.invoice_id {
                m.insert("invoice_id".into(), json!(id));
                m.insert("customer_reference_id".into(), json!(ev.customer_id));
                m.insert("description".into(), json!(format!("Payment for {id}")));
            }
        }
        let answer = self.call(path, &body).await;
        let approved = self.record(&mut ev, answer, &[101, 104, 120]);
        if approved && let Some(txn) = ev.transaction_id {
            if let Some(i) = invoice {
                self.invoices[i].remaining -= amount;
                self.invoices[i].installments = self.invoices[i].installments.saturating_sub(1);
            }
            self.sales.push(Sale {
                seq,
                txn,
                amount,
                refunded: Decimal::ZERO,
                invoice,
                card: kind != EventKind::AchSale,
                settled: false,
                voided: false,
            });
        }
        ev
    }

    pub(super) async fn void(&mut self, seq: usize, i: usize) -> SimEvent {
        let mut ev = self.follow_up(seq, EventKind::Void, i);
        let answer = self
            .call(
                "/v1/transactions/void",
                &json!({"transaction_id": self.sales[i].txn}),
            )
            .await;
        if self.record(&mut ev, answer, &[109]) {
            let s = &mut self.sales[i];
            s.voided = true;
            if let Some(inv) = s.invoice {
                self.invoices[inv].remaining += s.amount;
                self.invoices[inv].installments += 1;
            }
        }
        ev
    }

    pub(super) async fn refund(&mut self, seq: usize, i: usize) -> SimEvent {
        let mut ev = self.follow_up(seq, EventKind::Refund, i);
        let left = self.sales[i].amount - self.sales[i].refunded;
        let partial = self.rng.next(2) == 0 && left >= Decimal::TWO;
        let amount = if partial {
            clear_of_triggers((left / Decimal::TWO).round_dp(2))
        } else {
            left
        };
        ev.amount = Some(amount);
        let body = json!({"transaction_id": self.sales[i].txn, "amount": amount.to_string()});
        let answer = self
            .call("/v1/transactions/refund/for_transaction", &body)
            .await;
        if self.record(&mut ev, answer, &[106, 108]) {
            self.sales[i].refunded += amount;
        }
        ev
    }

    pub(super) async fn settle(&mut self, seq: usize) -> SimEvent {
        let mut ev = SimEvent::new(seq, EventKind::Settlement);
        let path = "/_sandbox/paytrace/settle";
        match self
            .pt
            .post_json(path, None, &json!({"allow_empty": true}))
            .await
        {
            Ok(a) if a.status == 200 => {
                ev.transaction_id = a.body["batch_number"].as_u64();
                let count = a.body["transactions"].as_u64().unwrap_or(0);
                let noun = if count == 1 {
                    "transaction"
                } else {
                    "transactions"
                };
                ev.outcome = format!("batch closed with {count} {noun}");
                for s in self.sales.iter_mut().filter(|s| !s.voided) {
                    s.settled = true;
                }
            }
            Ok(a) => ev.outcome = format!("settlement failed: HTTP {}", a.status),
            Err(e) => ev.outcome = format!("settlement failed: {e}"),
        }
        ev
    }

    pub(super) fn chargeback(&mut self, seq: usize) -> SimEvent {
        let disputable: Vec<usize> = (0..self.sales.len())
            .filter(|&i| self.sales[i].card && self.sales[i].settled)
            .collect();
        let reason = REASONS[self.rng.pick(REASONS.len())];
        let Some(i) = self.pick(&disputable) else {
            let mut ev = SimEvent::new(seq, EventKind::ChargebackNotice);
            ev.outcome = "no settled card sale to dispute; notice skipped".into();
            return ev;
        };
        let mut ev = self.follow_up(seq, EventKind::ChargebackNotice, i);
        ev.amount = Some(self.sales[i].amount);
        ev.outcome = format!(
            "{reason}; simulator event only, PayTrace has no chargeback API, nothing was sent"
        );
        ev
    }

    /// An event about earlier sale `i`: its invoice, amount and transaction.
    pub(super) fn follow_up(&self, seq: usize, kind: EventKind, i: usize) -> SimEvent {
        let s = &self.sales[i];
        let mut ev = SimEvent::new(seq, kind);
        ev.target = Some(s.seq);
        ev.transaction_id = Some(s.txn);
        ev.amount = Some(s.amount);
        if let Some(inv) = s.invoice.map(|i| &self.invoices[i]) {
            ev.invoice_id = Some(inv.id.clone());
            ev.customer_id = Some(inv.customer.clone());
        }
        ev
    }

    /// Fill in the answer; true when its response code is one of `ok`.
    pub(super) fn record(
        &self,
        ev: &mut SimEvent,
        answer: Result<Answer, String>,
        ok: &[i64],
    ) -> bool {
        let a = match answer {
            Ok(a) => a,
            Err(e) => {
                ev.outcome = format!("error: {e}");
                return false;
            }
        };
        let b = &a.body;
        ev.response_code = b["response_code"].as_i64();
        if let Some(id) = b["transaction_id"]
            .as_u64()
            .or(b["check_transaction_id"].as_u64())
        {
            ev.transaction_id = Some(id);
        }
        let text = |k: &str| b[k].as_str().unwrap_or_default().trim().to_string();
        ev.outcome = match b["errors"].as_object() {
            Some(errs) => {
                let keys: Vec<&str> = errs.keys().map(String::as_str).collect();
                format!("HTTP {}: errors {}", a.status, keys.join(", "))
            }
            None if b.is_null() => format!("HTTP {}", a.status),
            None if !text("approval_message").is_empty() && b["success"] != json!(true) => {
                text("approval_message")
            }
            None => text("status_message"),
        };
        b["success"] == json!(true) && ev.response_code.is_some_and(|c| ok.contains(&c))
    }
}
