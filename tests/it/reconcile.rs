//! Settlement reconciliation end to end: real sales in the PayTrace emulator, payments in the
//! Sage Pro emulator (one right, one with the wrong amount, one missing, one PayTrace never
//! saw), the batch closed, then the shipped flow run: the report names each case, the fee
//! entry reaches the Sage Pro ledger balanced and to the cent, finance is alerted.

use ledgerlink::connectors::Clients;
use ledgerlink::connectors::client::CallContext;
use ledgerlink::runtime::{Executor, RunStatus};
use ledgerlink::sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};
use std::sync::Arc;

async fn post(sb: &Sandbox, token: &str, path: &str, body: Value) -> Value {
    super::support::paytrace_post(sb, token, path, &body).await
}

async fn payment(clients: &Clients, reference: &str, amount: &str, date: &str) {
    let (_, op) = ledgerlink::connectors::operation("sagepro.create_payment").unwrap();
    let ctx = CallContext {
        flow: "test".into(),
        step: "pay".into(),
        idempotency_key: Some(format!("pay-{reference}")),
        attempt: 1,
    };
    let input = json!({"PaymentReference": reference, "PaymentDate": date, "Amount": amount,
        "CustomerID": "ACME01", "GLAccountID": "1050", "PaymentMethodCode": "CC",
        "PaymentStatus": "Paid"});
    clients
        .get("sagepro")
        .unwrap()
        .call(op, &input, &ctx)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_is_reconciled_with_its_report_fees_and_alert() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let token = super::support::paytrace_token(&sb).await;
    post(&sb, &token, "/v1/customer/create", json!({"customer_id": "pt-cust-1001",
        "credit_card": {"number": "4111111111111111", "expiration_month": 12, "expiration_year": 2030}})).await;
    let mut ids = Vec::new();
    for (amount, invoice) in [("100.00", "INV-A"), ("50.00", "INV-B"), ("20.00", "INV-C")] {
        let sale = post(
            &sb,
            &token,
            "/v1/transactions/sale/by_customer",
            json!({"customer_id": "pt-cust-1001", "amount": amount, "invoice_id": invoice}),
        )
        .await;
        ids.push(sale["transaction_id"].as_u64().unwrap());
    }
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::America::Los_Angeles)
        .format("%Y-%m-%d")
        .to_string();
    let mut clients = Clients::default()
        .with("paytrace", Arc::new(super::support::paytrace(&sb)))
        .with("sagepro", Arc::new(super::support::sagepro(&sb)));
    payment(&clients, &format!("PT-{}", ids[0]), "100.00", &today).await;
    payment(&clients, &format!("PT-{}", ids[1]), "55.00", &today).await;
    payment(&clients, "PT-999999", "12.00", &today).await;
    ledgerlink::connectors::transport::client()
        .post(format!("{}/_sandbox/paytrace/settle", sb.paytrace_url()))
        .json(&json!({}))
        .send()
        .await
        .unwrap();

    let reports = std::env::temp_dir().join(format!("ll-reconcile-{}", std::process::id()));
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let profile = ledgerlink::load::find_profile(&root.join("profiles"), "dev").unwrap();
    let scope = ledgerlink::load::secrets::SecretScope::of(&profile, &root.join("profiles"));
    let settings = json!({"report_dir": reports, "fees": {"percent": "2.90", "fixed": "0.30"}});
    let reconcile =
        ledgerlink::connectors::reconcile::client::Reconcile::build(&settings, &scope, &clients)
            .unwrap();
    clients = clients.with("reconcile", reconcile);
    let source =
        ledgerlink::load::read(&root.join("flows/settlement-reconciliation.yaml")).unwrap();
    let plan =
        ledgerlink::plan::build(source, profile, ledgerlink::script::helpers::system_clock())
            .unwrap();
    let record = Executor::new(clients)
        .run(&plan, &json!({"date": today}))
        .await;
    assert_eq!(
        record.status,
        RunStatus::Completed,
        "{}",
        record.timeline(false)
    );

    let answer = record
        .steps
        .iter()
        .find(|s| s.id == "reconcile")
        .unwrap()
        .output
        .clone()
        .unwrap();
    assert_eq!(answer["problems"], 3, "{answer}");
    assert_eq!(
        (
            &answer["missing_in_sagepro"],
            &answer["missing_in_paytrace"],
            &answer["amount_mismatches"]
        ),
        (&json!(1), &json!(1), &json!(1))
    );
    // 100.00 -> 3.20, 50.00 -> 1.75, 20.00 -> 0.88 (2.90% + 0.30, half up per sale).
    assert_eq!(answer["batches"][0]["fees"].to_string(), "5.83");
    assert_eq!(answer["batches"][0]["net_amount"].to_string(), "170.00");

    let csv = std::fs::read_to_string(answer["report_csv"].as_str().unwrap()).unwrap();
    assert!(
        csv.contains(&format!(
            ",matched,{},SALE,INV-A,100.00,PT-{},100.00,",
            ids[0], ids[0]
        )),
        "{csv}"
    );
    assert!(
        csv.contains(&format!(
            ",amount mismatch,{},SALE,INV-B,50.00,PT-{},55.00,difference -5.00",
            ids[1], ids[1]
        )),
        "{csv}"
    );
    assert!(
        csv.contains(&format!(
            ",missing in Sage Pro,{},SALE,INV-C,20.00,,,",
            ids[2]
        )),
        "{csv}"
    );
    assert!(csv.contains(",missing in PayTrace,999999,SALE,,,PT-999999,12.00,PayTrace has no settled transaction for it"), "{csv}");
    let html = std::fs::read_to_string(answer["report_html"].as_str().unwrap()).unwrap();
    assert!(
        html.contains("<h2>Missing in PayTrace</h2>") && html.contains("fees 5.83"),
        "{html}"
    );

    let ledger = super::support::ledger(&sb).await;
    let fee_lines: Vec<&Value> = ledger["journalLines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["Source"] == "PAYTRACE")
        .collect();
    assert_eq!(fee_lines.len(), 2, "{}", ledger["journalLines"]);
    let dr: Vec<_> = fee_lines
        .iter()
        .map(|l| {
            (
                l["GLAccountID"].clone(),
                l["Debit"].clone(),
                l["Credit"].clone(),
            )
        })
        .collect();
    assert!(
        dr.contains(&(json!("6120"), json!("5.83"), json!("0.00"))),
        "{dr:?}"
    );
    assert!(
        dr.contains(&(json!("1050"), json!("0.00"), json!("5.83"))),
        "{dr:?}"
    );
    assert_eq!(record.alerts.len(), 1);
    assert!(
        record.alerts[0].message.contains("3 problem(s)"),
        "{:?}",
        record.alerts
    );
    let _ = std::fs::remove_dir_all(&reports);
}
