//! A month in the sandbox: the activity simulator makes 30 days of PayTrace activity (card and
//! ACH sales, declines, voids, partial and full refunds, a settlement batch a day, a chargeback
//! notice a day); every transaction is fed, as PayTrace exports it, to the shipped flow that
//! handles it; the settlement reconciliation runs each night. Then the Sage Pro ledger is
//! checked against ground truth kept here from the simulator's own record: every invoice
//! balance to the cent, the reports' batch totals and fees, the fee postings, and every GL
//! batch balanced. Heavy: `cargo test --test it month -- --ignored` (`.ci/run` runs it);
//! LEDGERLINK_MONTH_DAYS and LEDGERLINK_MONTH_EVENTS change its size.

use super::e2e_flows::{Harness, account, every_entry_balances, invoice};
use ledgerlink::reconcile::FeeSchedule;
use ledgerlink::runtime::RunStatus;
use ledgerlink::sandbox::simulator::{EventKind, SimConfig, simulate};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn dec(v: &Value) -> Decimal {
    ledgerlink::script::value::decimal_of(v).unwrap_or_else(|| panic!("not an amount: {v}"))
}

/// The transaction as the sandbox notifier posts it to the webhook (PayTrace's export record;
/// unlike the card export API it includes ACH checks).
fn notified(h: &Harness, txn: u64) -> Value {
    h.sb.paytrace_state
        .transactions_after(txn.saturating_sub(1))
        .into_iter()
        .find(|(id, _)| *id == txn)
        .map(|(_, record)| record)
        .unwrap_or(Value::Null)
}

/// What PayTrace did with one approved sale, as the simulator reported it.
struct Truth {
    invoice: Option<String>,
    amount: Decimal,
    card: bool,
    voided: bool,
    refunded: Decimal,
    settled: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "heavy: a month of activity (.ci/run runs it)"]
async fn a_month_in_the_sandbox_matches_the_ground_truth() {
    let days = env_or("LEDGERLINK_MONTH_DAYS", 30);
    let per_day = env_or("LEDGERLINK_MONTH_EVENTS", 30);
    let started = std::time::Instant::now();
    let mut h = Harness::start().await;
    let reports = std::env::temp_dir().join(format!("ll-month-{}", std::process::id()));
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let profile = ledgerlink::load::find_profile(&root.join("profiles"), "dev").unwrap();
    let scope = ledgerlink::load::secrets::SecretScope::of(&profile, &root.join("profiles"));
    let fees = json!({"percent": "2.90", "fixed": "0.30"});
    let reconcile = ledgerlink::connectors::reconcile::client::Reconcile::build(
        &json!({"report_dir": reports, "fees": fees}),
        &scope,
        &h.clients,
    )
    .unwrap();
    h.clients = h.clients.clone().with("reconcile", reconcile);
    let schedule = FeeSchedule {
        percent: Decimal::from_str("2.90").unwrap(),
        fixed: Decimal::from_str("0.30").unwrap(),
    };

    // Start the emulated month at 09:00 Pacific so a day's activity never crosses midnight.
    let clock = |seconds: i64| {
        let h = &h;
        async move {
            let v = h
                .paytrace("/_sandbox/clock", json!({"seconds": seconds}))
                .await;
            chrono::DateTime::parse_from_rfc3339(v["now"].as_str().unwrap()).unwrap()
        }
    };
    let now = clock(0)
        .await
        .with_timezone(&chrono_tz::America::Los_Angeles);
    let nine = now
        .date_naive()
        .succ_opt()
        .unwrap()
        .and_hms_opt(9, 0, 0)
        .unwrap();
    let to_nine = (nine - now.naive_local()).num_seconds();
    clock(to_nine).await;

    let mut balances: BTreeMap<String, Decimal> = BTreeMap::new();
    for inv in h.ledger().await["invoices"].as_array().unwrap() {
        balances.insert(
            inv["InvoiceID"].as_str().unwrap().into(),
            dec(&inv["Balance"]),
        );
    }
    let mut sales: HashMap<u64, Truth> = HashMap::new();
    let mut chargebacks: BTreeMap<String, Decimal> = BTreeMap::new();
    let mut failures: Vec<String> = Vec::new();
    let mut report_fees = Decimal::ZERO;
    let mut report_sales = Decimal::ZERO;
    let mut report_problems = 0u64;
    let mut counted = [0usize; 7];
    let customers = ["ACME01", "GLOBEX", "INITECH"];
    for day in 0..days {
        let today = clock(if day == 0 { 0 } else { 86_400 })
            .await
            .with_timezone(&chrono_tz::America::Los_Angeles)
            .format("%Y-%m-%d")
            .to_string();
        // The ERP bills every day, so the simulator always has invoices to pay.
        for (k, customer) in customers.iter().enumerate() {
            let id = format!("INV-M{day:02}-{k}");
            let price = format!(
                "{}.{:02}",
                120 + (day * 37 + k * 53) % 700,
                (day * 13 + k * 7) % 100
            );
            let (_, op) = ledgerlink::connectors::operation("sagepro.create_invoice").unwrap();
            let ctx = ledgerlink::connectors::client::CallContext {
                flow: "month".into(),
                step: "bill".into(),
                idempotency_key: Some(format!("bill-{id}")),
                attempt: 1,
            };
            let input = json!({"InvoiceID": id, "CustomerID": customer, "InvoiceDate": today,
                "Lines": [{"Quantity": 1, "UnitPrice": price, "GLAccountID": "4000"}]});
            let created = h
                .clients
                .get("sagepro")
                .unwrap()
                .call(op, &input, &ctx)
                .await
                .unwrap();
            balances.insert(id, dec(&created["Balance"]));
        }
        let config = SimConfig {
            seed: 1000 + day as u64,
            count: per_day,
            rate: None,
        };
        let events = simulate(&h.sb.paytrace_url(), &h.sb.sagepro_url(), &config, |_| {})
            .await
            .unwrap();
        let mut by_seq: HashMap<usize, u64> = HashMap::new();
        for ev in &events {
            let code = ev.response_code.unwrap_or(0);
            let (flow, event) = match ev.kind {
                EventKind::Sale | EventKind::Decline | EventKind::AchSale => {
                    let Some(txn) = ev.transaction_id else {
                        continue;
                    };
                    by_seq.insert(ev.seq, txn);
                    if [101, 104, 120, 122].contains(&code) {
                        sales.insert(
                            txn,
                            Truth {
                                invoice: ev.invoice_id.clone(),
                                amount: ev.amount.unwrap_or_default(),
                                card: ev.kind != EventKind::AchSale,
                                voided: false,
                                refunded: Decimal::ZERO,
                                settled: false,
                            },
                        );
                    }
                    counted[0] += 1;
                    ("paytrace-payment-posting.yaml", notified(&h, txn))
                }
                EventKind::Void if code == 109 => {
                    let txn = by_seq[&ev.target.unwrap()];
                    sales.get_mut(&txn).unwrap().voided = true;
                    counted[1] += 1;
                    ("paytrace-void-reversal.yaml", notified(&h, txn))
                }
                EventKind::Refund if [106, 108].contains(&code) => {
                    let original = by_seq[&ev.target.unwrap()];
                    sales.get_mut(&original).unwrap().refunded += ev.amount.unwrap_or_default();
                    counted[2] += 1;
                    // The sender of a refund notice knows the sale it refunds (PayTrace's export
                    // does not say): the flow then reverses exactly that payment.
                    let mut refund = notified(&h, ev.transaction_id.unwrap());
                    refund["original_transaction_id"] = json!(original);
                    ("paytrace-refund-posting.yaml", refund)
                }
                EventKind::Settlement => {
                    for s in sales.values_mut().filter(|s| s.card && !s.voided) {
                        s.settled = true;
                    }
                    counted[3] += 1;
                    continue;
                }
                EventKind::ChargebackNotice => {
                    let Some(target) = ev.target else { continue };
                    let txn = by_seq[&target];
                    let sale = &sales[&txn];
                    let left = sale.amount - sale.refunded;
                    let Some(inv) = sale.invoice.clone().filter(|_| left > Decimal::ZERO) else {
                        continue;
                    };
                    *chargebacks.entry(inv.clone()).or_default() += left;
                    counted[4] += 1;
                    let notice = json!({"notice_id": format!("CB-{day}-{}", ev.seq),
                        "transaction_id": txn, "amount": left.to_string(), "reason_code": "10.4",
                        "reason": "dispute", "invoice_id": inv, "customer_id": "",
                        "received_at": format!("{today}T20:00:00Z"), "respond_by": today});
                    ("paytrace-chargeback.yaml", notice)
                }
                _ => continue,
            };
            let record = h.run(flow, &event).await;
            let fine = match &record.status {
                RunStatus::Completed | RunStatus::Skipped { .. } => true,
                // A counter sale (paying no invoice) names no Sage Pro customer: dead-lettered by
                // design, for a person to assign.
                // Its void, if any, is dead-lettered for the same person with that advice.
                RunStatus::DeadLettered { step, .. } => {
                    step == "unknown_customer"
                        && [
                            "paytrace-payment-posting.yaml",
                            "paytrace-void-reversal.yaml",
                        ]
                        .contains(&flow)
                        && event["invoice_id"].as_str().unwrap_or_default().is_empty()
                }
                _ => false,
            };
            if !fine {
                failures.push(format!("day {day} {flow}: {}", record.timeline(false)));
            }
        }
        let night = h
            .run("settlement-reconciliation.yaml", &json!({"date": today}))
            .await;
        let answer = night
            .steps
            .iter()
            .find(|s| s.id == "reconcile")
            .and_then(|s| s.output.clone());
        match (&night.status, answer) {
            (RunStatus::Completed, Some(a)) => {
                report_fees += dec(&a["fees_total"]);
                report_problems += a["problems"].as_u64().unwrap();
                for b in a["batches"].as_array().unwrap() {
                    report_sales += dec(&b["sales_amount"]);
                }
            }
            _ => failures.push(format!(
                "day {day} reconciliation: {}",
                night.timeline(false)
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Ground truth from the simulator's record.
    let ledger = h.ledger().await;
    let mut expected = balances.clone();
    for s in sales.values().filter(|s| !s.voided) {
        if let Some(inv) = &s.invoice {
            *expected.get_mut(inv).unwrap() -= s.amount;
        }
    }
    for (inv, amount) in &chargebacks {
        *expected.get_mut(inv).unwrap() += amount;
    }
    let mut wrong = Vec::new();
    for (id, want) in &expected {
        let got = dec(&invoice(&ledger, id)["Balance"]);
        if got != *want {
            wrong.push(format!("{id}: Sage Pro {got}, truth {want}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "invoice balances differ:\n{}",
        wrong.join("\n")
    );
    let settled: Vec<&Truth> = sales.values().filter(|s| s.settled).collect();
    let truth_sales: Decimal = settled.iter().map(|s| s.amount).sum();
    let truth_fees: Decimal = settled.iter().map(|s| schedule.fee(s.amount)).sum();
    let counter_sales = settled.iter().filter(|s| s.invoice.is_none()).count() as u64;
    assert_eq!(
        report_sales, truth_sales,
        "settled card sales in the reports"
    );
    assert_eq!(report_fees, truth_fees, "fees in the reports");
    let mut unmatched = Vec::new();
    for f in std::fs::read_dir(&reports).unwrap() {
        let path = f.unwrap().path();
        if path.extension().is_some_and(|e| e == "csv") {
            let text = std::fs::read_to_string(&path).unwrap();
            unmatched.extend(
                text.lines()
                    .skip(1)
                    .filter(|l| !l.contains(",matched,"))
                    .map(String::from),
            );
        }
    }
    assert_eq!(
        report_problems,
        counter_sales,
        "only sales paying no invoice are unmatched:\n{}",
        unmatched.join("\n")
    );
    assert_eq!(
        Decimal::from_str(&account(&ledger, "6120")).unwrap(),
        truth_fees,
        "fees posted"
    );
    every_entry_balances(&ledger);
    eprintln!(
        "month: {days} days x {per_day} events: {} sales/declines, {} voids, {} refunds, {} batches, {} chargebacks; {} invoices to the cent; settled card sales {truth_sales}, fees {truth_fees}; {:.1} s",
        counted[0],
        counted[1],
        counted[2],
        counted[3],
        counted[4],
        expected.len(),
        started.elapsed().as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&reports);
}
