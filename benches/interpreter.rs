//! In-process cost per event of a flow with a 10-field `map` and one 10-line `script` (no
//! network), through the real plan and executor, against a hand-written Rust baseline doing the
//! same transformation in the same run. Goal: at most 20 us per event.
//!
//! `cargo bench --bench interpreter` (add `-- --quick` for a short run).
#![allow(clippy::unwrap_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use ledgerlink::connectors::Clients;
use ledgerlink::load::from_bytes;
use ledgerlink::model::Profile;
use ledgerlink::runtime::Executor;
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Value, json};
use std::hint::black_box;
use std::str::FromStr;

const FLOW: &str = r#"
flow: bench-map-script
trigger:
  manual: {}
steps:
  - id: payment
    map:
      PaymentReference: '"PT-" + event.transaction_id'
      PaymentDate: pacific_date(event.created.at)
      Amount: money(event.amount)
      CustomerID: lookup_or("customers", event.customer_id, event.customer_id)
      InvoiceID: event.invoice_id
      GLAccountID: lookup("gl_accounts", "card_clearing")
      PaymentMethodCode: '"CC"'
      PaymentStatus: status_map(event.status_code)
      Memo: '"PayTrace sale " + event.transaction_id'
      Tax: money(event.tax_amount)
  - id: totals
    script: |
      let amount = money(event.amount);
      let tax = money(event.tax_amount);
      let net = amount - tax;
      let fee = round(amount * 0.029 + 0.30, 2, "half_up");
      let lines = [];
      lines.push(#{ GLAccountID: "1050", Debit: amount - fee });
      lines.push(#{ GLAccountID: "6120", Debit: fee });
      lines.push(#{ GLAccountID: "4000", Credit: net });
      lines.push(#{ GLAccountID: "2200", Credit: tax });
      #{ Lines: lines, Fee: fee }
"#;

fn event() -> Value {
    serde_json::from_str(
        r#"{"transaction_id": 88431, "transaction_type": "SALE", "status_code": 101,
        "amount": 1234.50, "tax_amount": 84.50, "invoice_id": "INV-10021",
        "customer_id": "pt-cust-1001", "created": {"at": "11/25/2026 11:42:10 PM"}}"#,
    )
    .unwrap()
}

fn profile() -> Profile {
    let mut p = Profile {
        profile: "bench".into(),
        ..Profile::default()
    };
    p.tables.insert(
        "customers".into(),
        [("pt-cust-1001".to_string(), json!("ACME01"))].into(),
    );
    p.tables.insert(
        "gl_accounts".into(),
        [("card_clearing".to_string(), json!("1050"))].into(),
    );
    p
}

/// The same transformation written by hand, as a service without an engine would.
fn hand_written(e: &Value, customers: &std::collections::BTreeMap<String, Value>) -> Value {
    let amount = Decimal::from_str(&e["amount"].to_string()).unwrap();
    let tax = Decimal::from_str(&e["tax_amount"].to_string()).unwrap();
    let created = chrono::NaiveDateTime::parse_from_str(
        e["created"]["at"].as_str().unwrap(),
        "%m/%d/%Y %I:%M:%S %p",
    )
    .unwrap();
    let cust = e["customer_id"].as_str().unwrap();
    let fee = (amount * Decimal::from_str("0.029").unwrap() + Decimal::from_str("0.30").unwrap())
        .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    json!({
        "payment": {
            "PaymentReference": format!("PT-{}", e["transaction_id"]),
            "PaymentDate": created.format("%Y-%m-%d").to_string(),
            "Amount": amount.to_string(),
            "CustomerID": customers.get(cust).cloned().unwrap_or(json!(cust)),
            "InvoiceID": e["invoice_id"],
            "GLAccountID": "1050",
            "PaymentMethodCode": "CC",
            "PaymentStatus": if e["status_code"] == 101 { "Paid" } else { "Failed" },
            "Memo": format!("PayTrace sale {}", e["transaction_id"]),
            "Tax": tax.to_string(),
        },
        "totals": {
            "Fee": fee.to_string(),
            "Lines": [
                {"GLAccountID": "1050", "Debit": (amount - fee).to_string()},
                {"GLAccountID": "6120", "Debit": fee.to_string()},
                {"GLAccountID": "4000", "Credit": (amount - tax).to_string()},
                {"GLAccountID": "2200", "Credit": tax.to_string()},
            ]
        }
    })
}

/// A plan for `flow` under the bench profile.
fn plan_for(flow: &str) -> ledgerlink::plan::Plan {
    let source = from_bytes("bench.yaml", flow.as_bytes().to_vec()).unwrap();
    ledgerlink::plan::build(
        source,
        profile(),
        ledgerlink::script::helpers::system_clock(),
    )
    .unwrap()
}

/// Evaluate one compiled expression with `event` in scope, as the executor does.
fn eval_with(
    plan: &ledgerlink::plan::Plan,
    ast: &rhai::AST,
    event: &rhai::Dynamic,
) -> rhai::Dynamic {
    let mut scope = ledgerlink::plan::base_scope();
    scope.set_value("event", event.clone());
    plan.engine
        .eval_ast_with_scope::<rhai::Dynamic>(&mut scope, ast)
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let plan = plan_for(FLOW);
    let executor = Executor::new(Clients::default());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let ev = event();
    let record = rt.block_on(executor.run(&plan, &ev));
    assert_eq!(
        record.status,
        ledgerlink::runtime::RunStatus::Completed,
        "{record:#?}"
    );
    let customers = profile().tables["customers"].clone();

    let mut g = c.benchmark_group("per_event");
    g.bench_function("baseline_hand_written_rust", |b| {
        b.iter(|| black_box(hand_written(black_box(&ev), &customers)))
    });
    g.bench_function("ledgerlink_map10_script10", |b| {
        b.iter(|| black_box(rt.block_on(executor.run(black_box(&plan), black_box(&ev)))))
    });
    g.finish();
}

criterion_group!(benches, bench);

fn parts(c: &mut Criterion) {
    let plan = plan_for(FLOW);
    let ev = event();
    let mut g = c.benchmark_group("parts");
    g.bench_function("to_dynamic_event", |b| {
        b.iter(|| black_box(ledgerlink::script::value::to_dynamic(&ev).unwrap()))
    });
    let dynev = ledgerlink::script::value::to_dynamic(&ev)
        .unwrap()
        .into_shared();
    for (i, step) in plan.steps.iter().enumerate() {
        let c = match &step.kind {
            ledgerlink::plan::Kind::Map(c) | ledgerlink::plan::Kind::Script(c) => c,
            _ => continue,
        };
        g.bench_function(format!("eval_step_{i}"), |b| {
            b.iter(|| black_box(eval_with(&plan, &c.ast, &dynev)))
        });
        let out = eval_with(&plan, &c.ast, &dynev);
        g.bench_function(format!("to_json_{i}"), |b| {
            b.iter(|| black_box(ledgerlink::script::value::to_json(&out).unwrap()))
        });
        let j = ledgerlink::script::value::to_json(&out).unwrap();
        g.bench_function(format!("pci_find_{i}"), |b| {
            b.iter(|| black_box(ledgerlink::pci::find(&j)))
        });
    }
    g.finish();
}
criterion_group!(parts_group, parts);
criterion_main!(benches, parts_group, overhead_group, expr_group);
fn overhead(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    c.bench_function("parts/block_on_empty", |b| {
        b.iter(|| rt.block_on(async { black_box(1) }))
    });
    // The executor around a trivial flow: what a run costs besides evaluating expressions.
    let trivial = "flow: t\ntrigger:\n  manual: {}\nsteps:\n  - id: a\n    map: { A: '1' }\n";
    let plan = plan_for(trivial);
    let executor = Executor::new(Clients::default());
    let ev = event();
    c.bench_function("parts/executor_trivial_one_step", |b| {
        b.iter(|| black_box(rt.block_on(executor.run(&plan, &ev))))
    });
}
criterion_group!(overhead_group, overhead);

/// Single expressions, to see where a `map` spends its time.
fn expressions(c: &mut Criterion) {
    let plan = plan_for(FLOW);
    let ev = ledgerlink::script::value::to_dynamic(&event())
        .unwrap()
        .into_shared();
    let scope = ledgerlink::plan::base_scope();
    let mut g = c.benchmark_group("expr");
    for src in [
        "1",
        "event.invoice_id",
        "money(event.amount)",
        "pacific_date(event.created.at)",
        "lookup_or(\"customers\", event.customer_id, event.customer_id)",
        "status_map(event.status_code)",
        "\"PT-\" + event.transaction_id",
    ] {
        let ast = plan
            .engine
            .compile_expression_with_scope(&scope, src)
            .unwrap();
        g.bench_function(src, |b| b.iter(|| black_box(eval_with(&plan, &ast, &ev))));
    }
    g.finish();
}
criterion_group!(expr_group, expressions);
