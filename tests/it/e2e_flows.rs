//! The shipped flows end to end: real PayTrace activity in the emulator, each event exactly as
//! PayTrace exports it, the flow run against both emulators over HTTP, and the Sage Pro ledger
//! checked to the cent (invoice balances, GL accounts, every entry balanced).

use ledgerlink::connectors::Clients;
use ledgerlink::runtime::{Executor, RunRecord, RunStatus};
use ledgerlink::sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;

pub(super) struct Harness {
    pub(super) sb: Sandbox,
    token: String,
    pub(super) clients: Clients,
}

impl Harness {
    pub(super) async fn start() -> Harness {
        let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
        let token = super::support::paytrace_token(&sb).await;
        let clients = Clients::default()
            .with("paytrace", Arc::new(super::support::paytrace(&sb)))
            .with("sagepro", Arc::new(super::support::sagepro(&sb)));
        Harness { sb, token, clients }
    }

    pub(super) async fn paytrace(&self, path: &str, body: Value) -> Value {
        super::support::paytrace_post(&self.sb, &self.token, path, &body).await
    }

    /// A sale by the vaulted card of `customer`; its transaction id.
    pub(super) async fn sale(&self, customer: &str, amount: &str, invoice: &str) -> u64 {
        let v = self
            .paytrace(
                "/v1/transactions/sale/by_customer",
                json!({"customer_id": customer, "amount": amount, "invoice_id": invoice}),
            )
            .await;
        v["transaction_id"]
            .as_u64()
            .unwrap_or_else(|| panic!("{v}"))
    }

    /// The transaction as PayTrace's export shows it: the event the flows receive.
    pub(super) async fn export(&self, id: u64) -> Value {
        let v = self
            .paytrace(
                "/v1/transactions/export/by_id",
                json!({"transaction_id": id}),
            )
            .await;
        v["transactions"][0].clone()
    }

    pub(super) async fn settle(&self) {
        ledgerlink::connectors::transport::client()
            .post(format!(
                "{}/_sandbox/paytrace/settle",
                self.sb.paytrace_url()
            ))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
    }

    pub(super) async fn run(&self, flow: &str, event: &Value) -> RunRecord {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let profile = ledgerlink::load::find_profile(&root.join("profiles"), "dev").unwrap();
        let source = ledgerlink::load::read(&root.join("flows").join(flow)).unwrap();
        let plan =
            ledgerlink::plan::build(source, profile, ledgerlink::script::helpers::system_clock())
                .unwrap();
        Executor::new(self.clients.clone()).run(&plan, event).await
    }

    pub(super) async fn ledger(&self) -> Value {
        super::support::ledger(&self.sb).await
    }
}

pub(super) fn invoice<'a>(ledger: &'a Value, id: &str) -> &'a Value {
    ledger["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["InvoiceID"] == id)
        .unwrap_or_else(|| panic!("no invoice {id}"))
}

pub(super) fn account(ledger: &Value, id: &str) -> String {
    ledger["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["GLAccountID"] == id)
        .map(|a| a["Net"].as_str().unwrap().to_string())
        .unwrap_or_else(|| "0.00".into())
}

/// Every GL batch balances: debits equal credits.
pub(super) fn every_entry_balances(ledger: &Value) {
    use rust_decimal::Decimal;
    use std::collections::BTreeMap;
    let mut by_batch: BTreeMap<String, Decimal> = BTreeMap::new();
    for l in ledger["journalLines"].as_array().unwrap() {
        let d: Decimal = l["Debit"].as_str().unwrap().parse().unwrap();
        let c: Decimal = l["Credit"].as_str().unwrap().parse().unwrap();
        *by_batch
            .entry(l["GLBatch"].as_str().unwrap().to_string())
            .or_default() += d - c;
    }
    for (batch, net) in by_batch {
        assert!(net.is_zero(), "GL batch {batch} does not balance: {net}");
    }
}

fn completed(r: &RunRecord) {
    assert_eq!(r.status, RunStatus::Completed, "{}", r.timeline(false));
}

/// A day of one invoice: a payment, a voided sale, a settled sale partly refunded, a
/// chargeback and a decline, each through its shipped flow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_voids_refunds_chargebacks_and_declines_reach_the_ledger_to_the_cent() {
    let h = Harness::start().await;
    // INV-10021 (ACME01) is seeded at 1500.00; pt-cust-1001 is ACME01's vaulted card.
    let a = h.sale("pt-cust-1001", "100.00", "INV-10021").await;
    completed(
        &h.run("paytrace-payment-posting.yaml", &h.export(a).await)
            .await,
    );
    let b = h.sale("pt-cust-1001", "30.00", "INV-10021").await;
    completed(
        &h.run("paytrace-payment-posting.yaml", &h.export(b).await)
            .await,
    );
    assert_eq!(
        invoice(&h.ledger().await, "INV-10021")["Balance"],
        "1370.00"
    );

    // B is voided before settlement: its payment is reversed.
    let void = h
        .paytrace("/v1/transactions/void", json!({"transaction_id": b}))
        .await;
    assert_eq!(void["response_code"], 109, "{void}");
    completed(
        &h.run("paytrace-void-reversal.yaml", &h.export(b).await)
            .await,
    );
    assert_eq!(
        invoice(&h.ledger().await, "INV-10021")["Balance"],
        "1400.00"
    );

    // A void that comes before the sale is posted: the sale is never posted.
    let d = h.sale("pt-cust-1001", "45.00", "INV-10021").await;
    h.paytrace("/v1/transactions/void", json!({"transaction_id": d}))
        .await;
    completed(
        &h.run("paytrace-void-reversal.yaml", &h.export(d).await)
            .await,
    );
    let mut late_sale = h.export(d).await;
    late_sale["status_message"] = json!("Pending Settlement"); // as the webhook carried it
    completed(&h.run("paytrace-payment-posting.yaml", &late_sale).await);
    assert_eq!(
        invoice(&h.ledger().await, "INV-10021")["Balance"],
        "1400.00"
    );

    // C settles, then 50.00 of it is refunded.
    let c = h.sale("pt-cust-1001", "200.00", "INV-10021").await;
    completed(
        &h.run("paytrace-payment-posting.yaml", &h.export(c).await)
            .await,
    );
    h.settle().await;
    let refund = h
        .paytrace(
            "/v1/transactions/refund/for_transaction",
            json!({"transaction_id": c, "amount": "50.00"}),
        )
        .await;
    let r = refund["transaction_id"]
        .as_u64()
        .unwrap_or_else(|| panic!("{refund}"));
    completed(
        &h.run("paytrace-refund-posting.yaml", &h.export(r).await)
            .await,
    );

    // A chargeback of A (a dispute notice, not a PayTrace API). The refund above named no sale,
    // so it was booked against A (the oldest payment by the same card): the chargeback finds A
    // short and reopens the invoice against C instead; the invoice comes out the same.
    // Received today: the emulator's books close the month before this one.
    let today = chrono::Utc::now().date_naive();
    let notice = json!({"notice_id": "CB-1", "transaction_id": a, "amount": "100.00",
        "reason_code": "10.4", "reason": "fraud", "invoice_id": "INV-10021",
        "customer_id": "pt-cust-1001", "received_at": format!("{today}T15:00:00Z"),
        "respond_by": (today + chrono::Duration::days(20)).to_string()});
    let cb = h.run("paytrace-chargeback.yaml", &notice).await;
    completed(&cb);
    assert_eq!(cb.alerts[0].channel.as_deref(), Some("finance"));

    // A decline (the emulator declines amounts ending in .01): recorded Failed, alerted.
    let e = h.sale("pt-cust-1001", "80.01", "INV-10021").await;
    let declined = h
        .run("paytrace-payment-posting.yaml", &h.export(e).await)
        .await;
    completed(&declined);
    assert!(
        declined.alerts[0].message.contains("was declined"),
        "{:?}",
        declined.alerts
    );

    let ledger = h.ledger().await;
    let inv = invoice(&ledger, "INV-10021");
    // 1500 - 100 (A) - 200 (C) + 50 reopened by the refund - 50 credited + 100 reopened by the
    // chargeback; B and D net to nothing; the decline changes nothing.
    assert_eq!(inv["Balance"], "1300.00", "{inv}");
    assert_eq!(inv["CreditsApplied"], "50.00", "{inv}");
    // Card clearing: +100 +30 -30 +200 -50 -100 (chargeback taken back) = 150.
    assert_eq!(account(&ledger, "1050"), "150.00");
    assert_eq!(
        account(&ledger, "1290"),
        "0.00",
        "disputes carries the chargeback's trail"
    );
    assert_eq!(account(&ledger, "4050"), "50.00");
    every_entry_balances(&ledger);
    let failed: Vec<&Value> = ledger["payments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["PaymentStatus"] == "Failed")
        .collect();
    assert_eq!(
        failed.len(),
        2,
        "the void placeholder and the decline: {failed:?}"
    );
}

fn event_file(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("flows/events")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn sagepro_get(h: &Harness, op: &str, input: Value) -> Value {
    let (_, op) = ledgerlink::connectors::operation(op).unwrap();
    let ctx = ledgerlink::connectors::client::CallContext {
        flow: "test".into(),
        step: "read".into(),
        idempotency_key: None,
        attempt: 1,
    };
    h.clients
        .get("sagepro")
        .unwrap()
        .call(op, &input, &ctx)
        .await
        .unwrap()
}

/// A shop order: new customer, vaulted card charged, order, invoice and payment in Sage Pro;
/// a second order whose card is declined is held as Failed and bills nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_becomes_a_paid_invoice_and_a_declined_one_is_held() {
    let h = Harness::start().await;
    let order = event_file("shop-order-paid.json");
    let r = h.run("shop-order-to-cash.yaml", &order).await;
    completed(&r);
    let ledger = h.ledger().await;
    let inv = invoice(&ledger, "WEB1042");
    assert_eq!(
        (&inv["Total"], &inv["Balance"], &inv["CustomerID"]),
        (&json!("161.15"), &json!("0.00"), &json!("W200110042")),
        "{inv}"
    );
    let so = sagepro_get(&h, "sagepro.get_order", json!({"OrderID": "WEB1042"})).await;
    assert_eq!(so["PaymentStatus"], "Paid", "{so}");
    let reference = so["PaymentReference"].as_str().unwrap().to_string();
    let txn: u64 = reference.trim_start_matches("PT-").parse().unwrap();
    let sale = h.export(txn).await;
    assert_eq!(
        (
            sale["amount"].to_string().as_str(),
            sale["customer_id"].as_str()
        ),
        ("161.15", Some("pt-cust-1001"))
    );
    assert!(
        sale["description"]
            .as_str()
            .unwrap()
            .starts_with("ledgerlink:"),
        "{sale}"
    );
    // The same sale arriving through the payment-posting webhook is left to this flow.
    let posted = h.run("paytrace-payment-posting.yaml", &sale).await;
    assert!(
        matches!(posted.status, RunStatus::Skipped { .. }),
        "{}",
        posted.timeline(false)
    );

    let mut declined = order.clone();
    declined["id"] = json!(5523740999_u64);
    declined["order_number"] = json!(1043);
    declined["name"] = json!("#1043");
    declined["line_items"] =
        json!([{"sku": "GEAR-07", "title": "Gear set", "quantity": 1, "price": "40.01"}]);
    declined["total_tax"] = json!("0.00");
    declined["total_shipping"] = json!("0.00");
    declined["total_price"] = json!("40.01");
    let r = h.run("shop-order-to-cash.yaml", &declined).await;
    completed(&r);
    assert_eq!(r.alerts.len(), 1, "{:?}", r.alerts);
    let so = sagepro_get(&h, "sagepro.get_order", json!({"OrderID": "WEB1043"})).await;
    assert_eq!(so["PaymentStatus"], "Failed", "{so}");
    let ledger = h.ledger().await;
    assert!(
        ledger["invoices"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["InvoiceID"] != "WEB1043")
    );
    every_entry_balances(&ledger);
}

/// Recurring billing: a due invoice is charged by token and paid; one whose charges keep
/// failing goes through the dunning retries to a credit hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn due_invoices_are_charged_by_token_and_declines_end_on_credit_hold() {
    let h = Harness::start().await;
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::America::Los_Angeles)
        .date_naive();
    let yesterday = (today - chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    for (id, customer, price) in [
        ("INV-R1", "ACME01", "120.00"),
        ("INV-R2", "GLOBEX", "75.01"),
    ] {
        let (_, op) = ledgerlink::connectors::operation("sagepro.create_invoice").unwrap();
        let ctx = ledgerlink::connectors::client::CallContext {
            flow: "test".into(),
            step: "inv".into(),
            idempotency_key: Some(format!("inv-{id}")),
            attempt: 1,
        };
        let input = json!({"InvoiceID": id, "CustomerID": customer, "InvoiceDate": yesterday,
            "DueDate": yesterday, "Lines": [{"Quantity": 1, "UnitPrice": price, "GLAccountID": "4000"}]});
        h.clients
            .get("sagepro")
            .unwrap()
            .call(op, &input, &ctx)
            .await
            .unwrap();
    }
    let event = json!({"scheduled_at": chrono::Utc::now().to_rfc3339()});
    completed(&h.run("recurring-billing.yaml", &event).await);
    let ledger = h.ledger().await;
    assert_eq!(invoice(&ledger, "INV-R1")["Balance"], "0.00");
    assert_eq!(invoice(&ledger, "INV-R2")["Balance"], "75.01");
    let failed = |l: &Value| {
        l["payments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| {
                p["PaymentReference"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with("AUTOPAY-INV-R2-")
            })
            .count()
    };
    assert_eq!(failed(&ledger), 1);
    // Same day again: the retry waits for its day, nothing is charged twice.
    completed(&h.run("recurring-billing.yaml", &event).await);
    assert_eq!(failed(&h.ledger().await), 1);
    let glob = sagepro_get(&h, "sagepro.get_customer", json!({"CustomerID": "GLOBEX"})).await;
    assert_eq!(glob["OnCreditHold"], false);
    every_entry_balances(&h.ledger().await);
}

/// Vault sync: the token and the masked card reach the Sage Pro customer; Sage Pro refuses an
/// unmasked number in those fields outright.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_profiles_reach_sagepro_as_token_and_masked_card_only() {
    let h = Harness::start().await;
    let export = h
        .paytrace(
            "/v1/customer/export",
            json!({"customer_id": "pt-cust-1002"}),
        )
        .await;
    let profile = export["customers"][0].clone();
    completed(&h.run("paytrace-vault-to-sagepro.yaml", &profile).await);
    let c = sagepro_get(&h, "sagepro.get_customer", json!({"CustomerID": "GLOBEX"})).await;
    assert_eq!(c["PaymentToken"], "pt-cust-1002");
    let on_file = c["CardOnFile"].as_str().unwrap();
    assert!(
        on_file.ends_with("5454 exp 12/30") || on_file.contains("5454 exp"),
        "{c}"
    );
    assert!(!on_file.contains("545454545454"), "{c}");

    let (_, op) = ledgerlink::connectors::operation("sagepro.update_customer").unwrap();
    let ctx = ledgerlink::connectors::client::CallContext {
        flow: "test".into(),
        step: "raw".into(),
        idempotency_key: Some("raw-pan".into()),
        attempt: 1,
    };
    let refused = h
        .clients
        .get("sagepro")
        .unwrap()
        .call(
            op,
            &json!({"CustomerID": "GLOBEX", "CardOnFile": "5454545454545454"}),
            &ctx,
        )
        .await
        .unwrap_err();
    assert_eq!(refused.outcome(), "validation", "{refused}");
    assert!(
        refused
            .to_string()
            .ends_with("must never be sent to the ERP. (CardOnFile)"),
        "{refused}"
    );
    assert!(!refused.to_string().contains("5454545454545454"));
}

/// Customer sync: a changed Sage Pro customer's contact details reach its PayTrace vault
/// profile; its card stays as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_sagepro_customer_updates_its_paytrace_profile_not_its_card() {
    let h = Harness::start().await;
    let before = h
        .paytrace(
            "/v1/customer/export",
            json!({"customer_id": "pt-cust-1001"}),
        )
        .await;
    let card = before["customers"][0]["credit_card"].clone();
    let customer = sagepro_get(&h, "sagepro.get_customer", json!({"CustomerID": "ACME01"})).await;
    let mut changed = customer.clone();
    changed["Email"] = json!("billing@acme.example");
    changed["City"] = json!("Tacoma");
    completed(&h.run("sagepro-customer-to-paytrace.yaml", &changed).await);
    let after = h
        .paytrace(
            "/v1/customer/export",
            json!({"customer_id": "pt-cust-1001"}),
        )
        .await;
    let profile = &after["customers"][0];
    assert_eq!(profile["email"], "billing@acme.example", "{profile}");
    assert_eq!(profile["billing_address"]["city"], "Tacoma", "{profile}");
    assert_eq!(profile["credit_card"], card, "the card is untouched");
}
