//! The Sage Pro connector against the Sage Pro emulator over loopback: every catalog operation
//! with its documented outcome, tokens expiring and revoked mid-run, 429/503 bursts, hangs,
//! and commit-then-drop on payment posts: the retry carries the same Idempotency-Key and the
//! ledger holds exactly one payment.

use ledgerlink::connectors::sagepro::client::SagePro;
use ledgerlink::connectors::sagepro::config::Config;
use ledgerlink::connectors::{CallContext, Connector, ConnectorError, catalog, operation};
use ledgerlink::sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

struct Sp {
    sb: Sandbox,
    client: SagePro,
    called: Mutex<BTreeSet<String>>,
}

fn config(base_url: String, secret: &str) -> Config {
    Config {
        base_url,
        client_id: "ledgerlink-sandbox".into(),
        client_secret: secret.into(),
        timeout: Duration::from_millis(1500),
    }
}

impl Sp {
    async fn start() -> Sp {
        let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
        let client = SagePro::new(config(sb.sagepro_url(), "sandbox-secret")).unwrap();
        Sp {
            sb,
            client,
            called: Mutex::new(BTreeSet::new()),
        }
    }

    async fn call_with(
        &self,
        op: &str,
        input: Value,
        ctx: &CallContext,
    ) -> Result<Value, ConnectorError> {
        self.called.lock().unwrap().insert(op.to_string());
        let (_, o) = operation(&format!("sagepro.{op}")).unwrap();
        self.client.call(o, &input, ctx).await
    }

    async fn call(&self, op: &str, input: Value) -> Result<Value, ConnectorError> {
        self.call_with(op, input, &CallContext::default()).await
    }

    async fn ok(&self, op: &str, input: Value) -> Value {
        match self.call(op, input).await {
            Ok(v) => v,
            Err(e) => panic!("{op}: {e:?}"),
        }
    }

    async fn outcome(&self, op: &str, input: Value) -> String {
        match self.call(op, input).await {
            Ok(_) => "ok".into(),
            Err(e) => e.outcome().into(),
        }
    }

    async fn control(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let r = ledgerlink::connectors::transport::client()
            .request(method, format!("{}{path}", self.sb.sagepro_url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap_or(Value::Null)
    }

    async fn fault(&self, fault: Value) {
        self.control(reqwest::Method::POST, "/_sandbox/faults", fault)
            .await;
    }

    /// Payments in the ledger with this reference.
    async fn payments(&self, reference: &str) -> usize {
        let ledger = self
            .control(
                reqwest::Method::GET,
                "/_sandbox/sagepro/ledger",
                Value::Null,
            )
            .await;
        ledger["payments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["PaymentReference"] == reference)
            .count()
    }
}

fn today() -> String {
    chrono::Utc::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string()
}

fn payment(reference: &str, amount: &str, invoice: Option<&str>) -> Value {
    let mut p = json!({"PaymentReference": reference, "PaymentDate": today(), "Amount": amount,
        "CustomerID": "ACME01", "GLAccountID": "1050", "PaymentMethodCode": "CC", "PaymentStatus": "Paid"});
    if let Some(i) = invoice {
        p["InvoiceID"] = json!(i);
    }
    p
}

#[tokio::test]
async fn every_operation_gives_its_documented_outcome() {
    let sp = Sp::start().await;
    // Customers.
    assert_eq!(
        sp.ok("get_customer", json!({"CustomerID": "ACME01"})).await["CustomerID"],
        "ACME01"
    );
    assert_eq!(
        sp.outcome("get_customer", json!({"CustomerID": "NOPE"}))
            .await,
        "not_found"
    );
    let page = sp.ok("list_customers", json!({"pageSize": 2})).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    sp.ok(
        "create_customer",
        json!({"CustomerID": "CONN1", "Company": "Connector Co"}),
    )
    .await;
    assert_eq!(
        sp.outcome(
            "create_customer",
            json!({"CustomerID": "CONN1", "Company": "Other"})
        )
        .await,
        "duplicate"
    );
    let updated = sp
        .ok(
            "update_customer",
            json!({"CustomerID": "CONN1", "Phone": "555-0100"}),
        )
        .await;
    assert_eq!(updated["Phone"], "555-0100");
    assert_eq!(
        sp.outcome(
            "update_customer",
            json!({"CustomerID": "CONN1", "Phone": "x", "RowVersion": "1"})
        )
        .await,
        "conflict"
    );
    assert_eq!(
        sp.outcome(
            "update_customer",
            json!({"CustomerID": "NOPE", "Phone": "x"})
        )
        .await,
        "not_found"
    );

    // Invoices and orders.
    let inv = sp
        .ok(
            "create_invoice",
            json!({"CustomerID": "CONN1", "InvoiceDate": today(), "Tax": "8.25",
            "Lines": [{"ItemID": "TPS", "Quantity": 3, "UnitPrice": "33.33"}]}),
        )
        .await;
    let inv_id = inv["InvoiceID"].as_str().unwrap().to_string();
    assert_eq!(
        sp.ok("get_invoice", json!({"InvoiceID": inv_id})).await["Balance"],
        inv["Balance"]
    );
    let listed = sp.ok("list_invoices", json!({"CustomerID": "CONN1"})).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    sp.ok(
        "update_invoice",
        json!({"InvoiceID": inv_id, "PONumber": "PO-7"}),
    )
    .await;
    let order = sp
        .ok(
            "create_order",
            json!({"CustomerID": "ACME01", "OrderDate": today(),
            "Lines": [{"ItemID": "W-1", "Quantity": 10, "UnitPrice": "2.50"}]}),
        )
        .await;
    let order_id = order["OrderID"].as_str().unwrap().to_string();
    sp.ok("get_order", json!({"OrderID": order_id})).await;
    sp.ok("list_orders", json!({"CustomerID": "ACME01"})).await;
    sp.ok(
        "update_order",
        json!({"OrderID": order_id, "PONumber": "PO-8"}),
    )
    .await;
    assert_eq!(
        sp.outcome("get_order", json!({"OrderID": "SO-NOPE"})).await,
        "not_found"
    );

    // Payments: applied, replayed, reused reference with other details, over-applied.
    let p = sp
        .ok(
            "create_payment",
            payment("PT-C1", "100.00", Some("INV-10021")),
        )
        .await;
    assert_eq!(p["PaymentReference"], "PT-C1");
    assert_eq!(
        sp.ok(
            "create_payment",
            payment("PT-C1", "100.00", Some("INV-10021"))
        )
        .await["PaymentReference"],
        "PT-C1"
    );
    match sp
        .call(
            "create_payment",
            payment("PT-C1", "999.00", Some("INV-10021")),
        )
        .await
    {
        Err(ConnectorError::Duplicate {
            existing: Some(e), ..
        }) => assert_eq!(e["PaymentReference"], "PT-C1"),
        other => panic!("{other:?}"),
    }
    match sp
        .call(
            "create_payment",
            payment("PT-C2", "99999.00", Some("INV-10021")),
        )
        .await
    {
        Err(ConnectorError::Validation { details, .. }) => {
            assert!(details.to_string().contains("Amount"), "{details}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        sp.outcome("create_payment", payment("PT-C3", "1.00", Some("INV-NOPE")))
            .await,
        "not_found"
    );
    assert_eq!(
        sp.ok("get_payment", json!({"PaymentReference": "PT-C1"}))
            .await["Amount"],
        p["Amount"]
    );
    sp.ok("list_payments", json!({"InvoiceID": "INV-10021"}))
        .await;
    assert_eq!(sp.payments("PT-C1").await, 1);

    // Journal entries: balanced is created; unbalanced and inactive accounts are refused per line.
    let je = sp
        .ok(
            "create_journal_entry",
            json!({"EntryDate": today(), "Reference": "FEES-1", "Lines": [
            {"GLAccountID": "6120", "Debit": "2.90"}, {"GLAccountID": "1050", "Credit": "2.90"}]}),
        )
        .await;
    sp.ok(
        "get_journal_entry",
        json!({"JournalEntryID": je["JournalEntryID"]}),
    )
    .await;
    sp.ok("list_journal_entries", json!({"pageSize": 5})).await;
    match sp
        .call(
            "create_journal_entry",
            json!({"EntryDate": today(), "Lines": [
            {"GLAccountID": "6120", "Debit": "2.90"}, {"GLAccountID": "7777", "Credit": "2.00"}]}),
        )
        .await
    {
        Err(ConnectorError::Validation { details, .. }) => {
            assert!(details.as_array().unwrap().len() >= 2, "{details}")
        }
        other => panic!("{other:?}"),
    }

    // Credit memos and the chart of accounts.
    let memo = sp
        .ok("create_credit_memo", json!({"CustomerID": "CONN1", "InvoiceID": inv_id, "MemoDate": today(), "Amount": "13.24", "Reason": "refund"}))
        .await;
    sp.ok(
        "get_credit_memo",
        json!({"CreditMemoID": memo["CreditMemoID"]}),
    )
    .await;
    assert!(
        !sp.ok("list_gl_accounts", json!({})).await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let all: BTreeSet<String> = catalog("sagepro")
        .unwrap()
        .operations
        .iter()
        .map(|o| o.name.clone())
        .collect();
    let called = sp.called.lock().unwrap().clone();
    let missing: Vec<_> = all.difference(&called).collect();
    assert!(missing.is_empty(), "operations not exercised: {missing:?}");
}

#[tokio::test]
async fn tokens_expire_and_are_revoked_mid_run_without_failing_a_call() {
    let sp = Sp::start().await;
    sp.control(
        reqwest::Method::PUT,
        "/_sandbox/sagepro/token-ttl",
        json!({"seconds": 2}),
    )
    .await;
    sp.ok("get_customer", json!({"CustomerID": "ACME01"})).await;
    sp.control(
        reqwest::Method::POST,
        "/_sandbox/clock",
        json!({"seconds": 10}),
    )
    .await;
    sp.ok("get_customer", json!({"CustomerID": "ACME01"})).await;
    sp.control(
        reqwest::Method::POST,
        "/_sandbox/sagepro/tokens/revoke",
        json!({}),
    )
    .await;
    sp.ok("create_payment", payment("PT-TOK", "5.00", None))
        .await;
    assert!(sp.client.check().await.is_ok());
    let bad = SagePro::new(config(sp.sb.sagepro_url(), "wrong-secret")).unwrap();
    let (_, op) = operation("sagepro.get_customer").unwrap();
    let e = bad
        .call(
            op,
            &json!({"CustomerID": "ACME01"}),
            &CallContext::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, ConnectorError::Misconfigured { .. }), "{e:?}");
    assert!(!e.to_string().contains("wrong-secret"));
    assert!(bad.check().await.is_err());
}

#[tokio::test]
async fn bursts_hangs_and_lost_responses_never_post_twice() {
    let sp = Sp::start().await;
    let ctx = CallContext {
        flow: "payments".into(),
        step: "post".into(),
        idempotency_key: Some("run-1/post".into()),
        attempt: 1,
    };
    // 503 burst, then 429 with Retry-After: retryable; the fourth try posts once.
    sp.fault(json!({"method": "POST", "path": "/api/payments", "kind": {"type": "unavailable"}, "count": 2})).await;
    sp.fault(json!({"method": "POST", "path": "/api/payments", "kind": {"type": "rate_limited", "retry_after_s": 4}, "after": 2, "count": 1})).await;
    let body = payment("PT-BURST", "10.00", Some("INV-10022"));
    for _ in 0..2 {
        assert!(
            sp.call_with("create_payment", body.clone(), &ctx)
                .await
                .unwrap_err()
                .is_retryable()
        );
    }
    match sp.call_with("create_payment", body.clone(), &ctx).await {
        Err(ConnectorError::Retryable { retry_after, .. }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(4)))
        }
        other => panic!("{other:?}"),
    }
    sp.call_with("create_payment", body, &ctx).await.unwrap();
    assert_eq!(sp.payments("PT-BURST").await, 1);

    // Commit then drop: the payment is written, the answer lost; the retry with the same key
    // gets the original back and the ledger holds one payment.
    sp.fault(json!({"method": "POST", "path": "/api/payments", "kind": {"type": "commit_then_drop"}, "count": 1})).await;
    let ctx2 = CallContext {
        idempotency_key: Some("run-2/post".into()),
        ..ctx.clone()
    };
    let body = payment("PT-DROP", "20.00", Some("INV-10022"));
    let e = sp
        .call_with("create_payment", body.clone(), &ctx2)
        .await
        .unwrap_err();
    assert!(e.is_retryable(), "{e:?}");
    assert_eq!(sp.payments("PT-DROP").await, 1);
    let v = sp.call_with("create_payment", body, &ctx2).await.unwrap();
    assert_eq!(v["PaymentReference"], "PT-DROP");
    assert_eq!(sp.payments("PT-DROP").await, 1);

    // Without a runtime key the connector derives one from flow, step and input: same effect.
    sp.fault(json!({"method": "POST", "path": "/api/journalentries", "kind": {"type": "commit_then_drop"}, "count": 1})).await;
    let je = json!({"EntryDate": today(), "Reference": "DROP-JE", "Lines": [
        {"GLAccountID": "6120", "Debit": "1.00"}, {"GLAccountID": "1050", "Credit": "1.00"}]});
    assert!(
        sp.call("create_journal_entry", je.clone())
            .await
            .unwrap_err()
            .is_retryable()
    );
    sp.ok("create_journal_entry", je).await;
    let entries = sp
        .ok("list_journal_entries", json!({"pageSize": 200}))
        .await;
    let posted = entries["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["Reference"] == "DROP-JE")
        .count();
    assert_eq!(posted, 1, "one journal entry, not two");

    // A hang on a read is retryable.
    sp.fault(
        json!({"method": "GET", "path": "/api/invoices", "kind": {"type": "hang"}, "count": 1}),
    )
    .await;
    let e = sp
        .call("get_invoice", json!({"InvoiceID": "INV-10021"}))
        .await
        .unwrap_err();
    assert!(e.is_retryable() && e.to_string().contains("timeout"), "{e}");
    sp.ok("get_invoice", json!({"InvoiceID": "INV-10021"}))
        .await;
}
