//! Matching PayTrace settled transactions to Sage Pro payments.
//!
//! Rules, per batch transaction `t` (approved card sales and refunds):
//! - Sage Pro has `PT-<t>` with the same status kind (Paid for a sale, Refunded for a refund)
//!   and amount: **matched**; a different amount: **amount mismatch**; nothing (or only a
//!   Failed placeholder): **missing in Sage Pro**.
//! - A second settled sale for the same invoice and amount: **duplicate** (a possible double
//!   charge); so is a transaction listed in two batches.
//!
//! Sage Pro payments dated on the day that claim a PayTrace card transaction found in no batch
//! are **missing in PayTrace** unless the caller marked them as explained (pending settlement,
//! settled on another day). Fees: per settled card sale, `percent` of the amount plus `fixed`,
//! rounded half up to the cent per transaction; refunds carry no fee.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// One settled PayTrace transaction from a batch's transaction list.
#[derive(Debug, Clone, PartialEq)]
pub struct Settled {
    pub transaction_id: u64,
    /// `SALE` or `REFUND`.
    pub kind: String,
    /// Positive for sales; refunds as PayTrace reports them (negative or positive), compared
    /// by absolute value.
    pub amount: Decimal,
    pub invoice_id: String,
}

/// One settlement batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub number: u64,
    pub settled_at: String,
    pub transactions: Vec<Settled>,
}

/// One Sage Pro payment that names a PayTrace transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct SagePayment {
    pub reference: String,
    pub status: String,
    pub amount: Decimal,
    pub date: String,
    pub method: String,
    pub invoice_id: String,
    /// Set by the caller for a payment found in no batch of the day: why that is fine
    /// (`pending settlement`, `settled 2026-11-26 in batch 12`), or `None` when PayTrace does not
    /// know it as settled at all.
    pub explained: Option<String>,
}

/// The card fee schedule (profile `connectors.reconcile.fees`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FeeSchedule {
    /// Percent of each sale, e.g. 2.90.
    pub percent: Decimal,
    /// Fixed amount per sale, e.g. 0.30.
    pub fixed: Decimal,
}

impl FeeSchedule {
    pub fn fee(&self, amount: Decimal) -> Decimal {
        (amount.abs() * self.percent / Decimal::ONE_HUNDRED + self.fixed)
            .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Matched,
    MissingInSagePro,
    MissingInPayTrace,
    AmountMismatch,
    Duplicate,
}

impl Category {
    pub fn label(self) -> &'static str {
        match self {
            Category::Matched => "matched",
            Category::MissingInSagePro => "missing in Sage Pro",
            Category::MissingInPayTrace => "missing in PayTrace",
            Category::AmountMismatch => "amount mismatch",
            Category::Duplicate => "duplicate",
        }
    }
    pub fn is_problem(self) -> bool {
        self != Category::Matched
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The batch, `None` for Sage Pro payments found in no batch.
    pub batch: Option<u64>,
    pub category: Category,
    pub transaction_id: Option<u64>,
    pub kind: String,
    pub invoice_id: String,
    pub paytrace_amount: Option<Decimal>,
    pub sagepro_reference: Option<String>,
    pub sagepro_amount: Option<Decimal>,
    pub note: String,
}

/// Totals of one batch.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct BatchTotals {
    pub number: u64,
    pub settled_at: String,
    pub transactions: usize,
    pub sales_amount: Decimal,
    pub refund_amount: Decimal,
    pub net_amount: Decimal,
    pub fees: Decimal,
    pub sagepro_amount: Decimal,
    pub counts: BTreeMap<Category, usize>,
}

/// The whole day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reconciliation {
    pub date: String,
    pub batches: Vec<BatchTotals>,
    pub rows: Vec<Row>,
    /// Sage Pro payments of the day found in no batch but explained (pending, other day).
    pub explained: Vec<Row>,
    pub fees_total: Decimal,
    pub problems: usize,
}

fn is_refund(kind: &str) -> bool {
    kind.eq_ignore_ascii_case("REFUND")
}

/// The PayTrace transaction id a Sage Pro reference names: `PT-<digits>` only (not the
/// `-declined`, `-void`, `-cb` records, which no batch lists).
pub fn transaction_of(reference: &str) -> Option<u64> {
    reference.strip_prefix("PT-")?.parse().ok()
}

pub fn reconcile(
    date: &str,
    batches: &[Batch],
    payments: &[SagePayment],
    fees: FeeSchedule,
) -> Reconciliation {
    let by_ref: HashMap<&str, &SagePayment> = payments
        .iter()
        .filter(|p| p.status != "Failed")
        .map(|p| (p.reference.as_str(), p))
        .collect();
    let mut rows = Vec::new();
    let mut totals = Vec::new();
    let mut seen_txn: HashMap<u64, u64> = HashMap::new();
    let mut seen_sale: HashMap<(String, Decimal), u64> = HashMap::new();
    for b in batches {
        let mut t_out = BatchTotals {
            number: b.number,
            settled_at: b.settled_at.clone(),
            transactions: b.transactions.len(),
            ..BatchTotals::default()
        };
        for t in &b.transactions {
            let refund = is_refund(&t.kind);
            let amount = t.amount.abs();
            if refund {
                t_out.refund_amount += amount;
            } else {
                t_out.sales_amount += amount;
                t_out.fees += fees.fee(amount);
            }
            let reference = format!("PT-{}", t.transaction_id);
            let found = by_ref.get(reference.as_str()).copied();
            let mut row = Row {
                batch: Some(b.number),
                category: Category::Matched,
                transaction_id: Some(t.transaction_id),
                kind: t.kind.clone(),
                invoice_id: t.invoice_id.clone(),
                paytrace_amount: Some(amount),
                sagepro_reference: found.map(|p| p.reference.clone()),
                sagepro_amount: found.map(|p| p.amount),
                note: String::new(),
            };
            let wanted = if refund { "Refunded" } else { "Paid" };
            match found {
                None => {
                    row.category = Category::MissingInSagePro;
                    row.note = format!("no {wanted} payment {reference} in Sage Pro");
                }
                Some(p) if p.status != wanted => {
                    row.category = Category::MissingInSagePro;
                    row.note = format!("{reference} is {} in Sage Pro, not {wanted}", p.status);
                }
                Some(p) if p.amount != amount => {
                    row.category = Category::AmountMismatch;
                    row.note = format!("difference {}", amount - p.amount);
                    t_out.sagepro_amount += p.amount;
                }
                Some(p) => t_out.sagepro_amount += p.amount,
            }
            if let Some(other) = seen_txn.insert(t.transaction_id, b.number) {
                row.category = Category::Duplicate;
                row.note = format!("also listed in batch {other}");
            } else if !refund && !t.invoice_id.is_empty() {
                let key = (t.invoice_id.clone(), amount);
                if let Some(first) = seen_sale.insert(key, t.transaction_id) {
                    row.category = Category::Duplicate;
                    row.note = format!(
                        "second sale of {amount} for invoice {} (first: {first}): possible double charge",
                        t.invoice_id
                    );
                }
            }
            *t_out.counts.entry(row.category).or_default() += 1;
            rows.push(row);
        }
        t_out.net_amount = t_out.sales_amount - t_out.refund_amount;
        totals.push(t_out);
    }
    let mut explained = Vec::new();
    for p in payments {
        let Some(txn) = transaction_of(&p.reference) else {
            continue;
        };
        let in_batch = seen_txn.contains_key(&txn);
        let card = p.method != "ACH";
        if in_batch || !card || p.date != date || p.status == "Failed" {
            continue;
        }
        let row = Row {
            batch: None,
            category: Category::MissingInPayTrace,
            transaction_id: Some(txn),
            kind: if p.status == "Refunded" {
                "REFUND"
            } else {
                "SALE"
            }
            .into(),
            invoice_id: p.invoice_id.clone(),
            paytrace_amount: None,
            sagepro_reference: Some(p.reference.clone()),
            sagepro_amount: Some(p.amount),
            note: p
                .explained
                .clone()
                .unwrap_or_else(|| "PayTrace has no settled transaction for it".into()),
        };
        if p.explained.is_some() {
            explained.push(row);
        } else {
            rows.push(row);
        }
    }
    let problems = rows.iter().filter(|r| r.category.is_problem()).count();
    let fees_total = totals.iter().map(|t| t.fees).sum();
    Reconciliation {
        date: date.to_string(),
        batches: totals,
        rows,
        explained,
        fees_total,
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }
    fn sale(id: u64, amount: &str, inv: &str) -> Settled {
        Settled {
            transaction_id: id,
            kind: "SALE".into(),
            amount: d(amount),
            invoice_id: inv.into(),
        }
    }
    fn paid(reference: &str, amount: &str) -> SagePayment {
        SagePayment {
            reference: reference.into(),
            status: "Paid".into(),
            amount: d(amount),
            date: "2026-11-25".into(),
            method: "CC".into(),
            invoice_id: "INV-1".into(),
            explained: None,
        }
    }

    #[test]
    fn every_category_and_the_fees() {
        let refund = Settled {
            transaction_id: 5,
            kind: "REFUND".into(),
            amount: d("-10.00"),
            invoice_id: "INV-1".into(),
        };
        let batch = Batch {
            number: 7,
            settled_at: "2026-11-25T23:55:00-08:00".into(),
            transactions: vec![
                sale(1, "100.00", "INV-1"),
                sale(2, "50.00", "INV-2"),
                sale(3, "20.00", "INV-3"),
                sale(4, "20.00", "INV-3"),
                refund,
            ],
        };
        let mut refunded = paid("PT-5", "10.00");
        refunded.status = "Refunded".into();
        let payments = vec![
            paid("PT-1", "100.00"),
            paid("PT-2", "55.00"),
            paid("PT-3", "20.00"),
            paid("PT-4", "20.00"),
            refunded,
            paid("PT-9", "12.00"),
            paid("PT-1-declined", "100.00"),
        ];
        let fees = FeeSchedule {
            percent: d("2.9"),
            fixed: d("0.30"),
        };
        let r = reconcile("2026-11-25", &[batch], &payments, fees);
        let cats: Vec<(Option<u64>, Category)> = r
            .rows
            .iter()
            .map(|r| (r.transaction_id, r.category))
            .collect();
        assert_eq!(
            cats,
            vec![
                (Some(1), Category::Matched),
                (Some(2), Category::AmountMismatch),
                (Some(3), Category::Matched),
                (Some(4), Category::Duplicate),
                (Some(5), Category::Matched),
                (Some(9), Category::MissingInPayTrace),
            ]
        );
        // 3.20 + 1.75 + 0.88 + 0.88; refunds carry no fee.
        assert_eq!(r.fees_total, d("6.71"));
        let b = &r.batches[0];
        assert_eq!(
            (b.sales_amount, b.refund_amount, b.net_amount),
            (d("190.00"), d("10.00"), d("180.00"))
        );
        assert_eq!(r.problems, 3);
    }

    #[test]
    fn a_sale_missing_in_sagepro_and_an_explained_payment() {
        let batch = Batch {
            number: 1,
            settled_at: String::new(),
            transactions: vec![sale(1, "10.00", "")],
        };
        let mut pending = paid("PT-2", "5.00");
        pending.explained = Some("pending settlement".into());
        let mut failed = paid("PT-1", "10.00");
        failed.status = "Failed".into();
        let r = reconcile(
            "2026-11-25",
            &[batch],
            &[failed, pending],
            FeeSchedule::default(),
        );
        assert_eq!(r.rows[0].category, Category::MissingInSagePro);
        assert_eq!(r.rows.len(), 1);
        assert_eq!(r.explained[0].note, "pending settlement");
    }

    #[test]
    fn fees_round_half_up_per_transaction() {
        let f = FeeSchedule {
            percent: d("2.5"),
            fixed: d("0"),
        };
        assert_eq!(f.fee(d("0.50")), d("0.01")); // 0.0125 -> 0.01
        assert_eq!(f.fee(d("1.00")), d("0.03")); // 0.025 -> 0.03
    }
}
