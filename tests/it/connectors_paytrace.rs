//! The PayTrace connector against the PayTrace emulator over loopback: every catalog operation
//! with its documented outcome, a token that expires or is revoked mid-run, 429/503 bursts, a
//! hang (timeout), and commit-then-drop on a sale, a void and a capture: the lost charge is
//! found by lookup, so PayTrace never holds two charges for one request.

use ledgerlink::connectors::paytrace::client::PayTrace;
use ledgerlink::connectors::paytrace::config::Config;
use ledgerlink::connectors::{CallContext, Connector, ConnectorError, catalog, operation};
use ledgerlink::sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

struct Pt {
    sb: Sandbox,
    client: PayTrace,
    called: Mutex<BTreeSet<String>>,
}

fn config(base_url: String) -> Config {
    Config {
        base_url,
        username: "ledgerlink".into(),
        password: "sandbox".into(),
        integrator_id: Some("LLTEST01".into()),
        timeout: Duration::from_millis(1500),
        lookup_window: Duration::from_secs(120),
        refresh_margin: Duration::from_secs(1),
    }
}

impl Pt {
    async fn start() -> Pt {
        let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
        let client = PayTrace::new(config(sb.paytrace_url())).unwrap();
        Pt {
            sb,
            client,
            called: Mutex::new(BTreeSet::new()),
        }
    }

    async fn call(&self, op: &str, input: Value) -> Result<Value, ConnectorError> {
        self.called.lock().unwrap().insert(op.to_string());
        let (_, o) = operation(&format!("paytrace.{op}")).unwrap();
        self.client.call(o, &input, &CallContext::default()).await
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

    async fn control(&self, path: &str, body: Value) -> Value {
        let r = ledgerlink::connectors::transport::client()
            .post(format!("{}{path}", self.sb.paytrace_url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}");
        r.json().await.unwrap_or(Value::Null)
    }

    async fn fault(&self, fault: Value) {
        let r = ledgerlink::connectors::transport::client()
            .post(format!("{}/_sandbox/faults", self.sb.paytrace_url()))
            .json(&fault)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }

    /// Every PayTrace transaction with this invoice id (through the emulator's state).
    async fn charges_for(&self, invoice: &str) -> Vec<Value> {
        let v = self
            .ok(
                "transactions_by_date_range",
                json!({"start_date": today(), "end_date": today(), "including_text": invoice}),
            )
            .await;
        v["transactions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["invoice_id"] == invoice)
            .cloned()
            .collect()
    }
}

fn today() -> String {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::America::Los_Angeles)
        .format("%m/%d/%Y")
        .to_string()
}

fn card(number: &str) -> Value {
    json!({"number": number, "expiration_month": 12, "expiration_year": 2030})
}

#[tokio::test]
async fn every_operation_gives_its_documented_outcome() {
    let pt = Pt::start().await;
    assert_eq!(pt.ok("ping", json!({})).await["status"], "success");

    // Card sales: approved, declined (a business outcome with the processor text), invalid.
    let sale = pt
        .ok("sale_keyed", json!({"amount": "125.00", "credit_card": card("4111111111111111"), "csc": "999", "invoice_id": "INV-A"}))
        .await;
    assert_eq!(sale["response_code"], 101);
    assert_eq!(sale["masked_card_number"], "xxxxxxxxxxxx1111");
    let sale_id = sale["transaction_id"].clone();
    match pt
        .call(
            "sale_keyed",
            json!({"amount": "10.01", "credit_card": card("4111111111111111")}),
        )
        .await
    {
        Err(ConnectorError::Declined { message, details }) => {
            assert!(message.contains("not approved"), "{message}");
            assert!(details["transaction_id"].is_number());
        }
        other => panic!("{other:?}"),
    }
    match pt.call("sale_keyed", json!({"amount": "10.00", "credit_card": {"number": "1234", "expiration_month": 13, "expiration_year": 2030}})).await {
        Err(ConnectorError::Validation { message, details }) => {
            assert!(message.contains("35") && message.contains("43"), "every code listed: {message}");
            assert_eq!(details["response_code"], 1);
            assert!(!message.contains("1234"));
        }
        other => panic!("{other:?}"),
    }
    let swipe = json!({"amount": "9.00", "credit_card": {"swipe": "%B5454545454545454^DOE/JANE^3012101000000?"}});
    assert_eq!(pt.ok("sale_swiped", swipe).await["response_code"], 101);

    // Vault: create, duplicate, sale and authorization by customer, update, export, delete.
    let vault = json!({"customer_id": "CONN-1", "credit_card": card("5454545454545454"),
        "billing_address": {"name": "Ada Lovelace", "zip": "98101"}});
    pt.ok("customer_create", vault.clone()).await;
    assert_eq!(pt.outcome("customer_create", vault).await, "duplicate");
    assert_eq!(
        pt.ok(
            "sale_by_customer",
            json!({"customer_id": "CONN-1", "amount": 20})
        )
        .await["response_code"],
        101
    );
    assert_eq!(
        pt.outcome(
            "sale_by_customer",
            json!({"customer_id": "NOPE", "amount": 20})
        )
        .await,
        "not_found"
    );
    let auth = pt
        .ok(
            "authorization_by_customer",
            json!({"customer_id": "CONN-1", "amount": "30.00"}),
        )
        .await;
    pt.ok(
        "customer_update",
        json!({"customer_id": "CONN-1", "email": "ada@example.com"}),
    )
    .await;
    let exported = pt
        .ok("customer_export", json!({"customer_id": "CONN-1"}))
        .await;
    assert!(exported.to_string().contains("ada@example.com"));
    assert!(!exported.to_string().contains("5454545454545454"));
    pt.ok(
        "customer_create_from_transaction",
        json!({"customer_id": "CONN-2", "transaction_id": sale_id}),
    )
    .await;

    // Authorization, capture, void; keyed refund.
    let a = pt
        .ok(
            "authorization_keyed",
            json!({"amount": "50.00", "credit_card": card("4111111111111111")}),
        )
        .await;
    assert_eq!(
        pt.ok(
            "capture",
            json!({"transaction_id": a["transaction_id"], "amount": "45.00"})
        )
        .await["response_code"],
        112
    );
    assert_eq!(
        pt.ok("void", json!({"transaction_id": auth["transaction_id"]}))
            .await["response_code"],
        109
    );
    assert_eq!(
        pt.outcome("void", json!({"transaction_id": 1})).await,
        "not_found"
    );
    assert_eq!(
        pt.ok(
            "refund_keyed",
            json!({"amount": "5.00", "credit_card": card("4111111111111111")})
        )
        .await["response_code"],
        106
    );

    // Level 3 and Protect.js.
    let l3 = json!({"transaction_id": sale_id, "invoice_id": "INV-A", "line_items": [{"description": "widget", "amount": 125}]});
    pt.ok("level_three_visa", l3).await;
    let l3mc = json!({"transaction_id": sale_id, "line_items": [{"description": "widget", "amount": 125}]});
    assert_eq!(
        pt.outcome("level_three_mastercard", l3mc).await,
        "validation"
    );
    assert!(pt.ok("payment_fields_token", json!({})).await["clientKey"].is_string());
    let minted = pt
        .control(
            "/_sandbox/paytrace/protect/mint",
            json!({"credit_card": card("5454545454545454"), "csc": "123"}),
        )
        .await;
    let protect =
        json!({"hpf_token": minted["hpf_token"], "enc_key": minted["enc_key"], "amount": "8.00"});
    assert_eq!(
        pt.ok("sale_pt_protect", protect).await["response_code"],
        101
    );
    let minted = pt
        .control(
            "/_sandbox/paytrace/protect/mint",
            json!({"credit_card": card("4111111111111111")}),
        )
        .await;
    pt.ok("customer_pt_protect_create", json!({"customer_id": "CONN-3", "hpf_token": minted["hpf_token"], "enc_key": minted["enc_key"]})).await;

    // ACH.
    let check = |amount: &str| json!({"amount": amount, "check": {"account_number": "123456789", "routing_number": "325070760"}});
    let ach = pt.ok("check_sale_by_account", check("25.00")).await;
    assert_eq!(ach["response_code"], 120);
    let hold = pt.ok("check_hold_by_account", check("40.00")).await;
    pt.ok(
        "check_fund",
        json!({"check_transaction_id": hold["check_transaction_id"], "amount": 40}),
    )
    .await;
    let hold2 = pt.ok("check_hold_by_account", check("41.00")).await;
    pt.ok(
        "check_void",
        json!({"check_transaction_id": hold2["check_transaction_id"]}),
    )
    .await;
    pt.ok("customer_update", json!({"customer_id": "CONN-1", "direct_deposit_account": "987654321", "transit_routing_number": "325070760"})).await;
    pt.ok(
        "check_sale_by_customer",
        json!({"customer_id": "CONN-1", "amount": "12.00"}),
    )
    .await;
    pt.ok(
        "check_hold_by_customer",
        json!({"customer_id": "CONN-1", "amount": "13.00"}),
    )
    .await;

    // Settlement, then refunds of settled transactions and the exports.
    let settled = pt.control("/_sandbox/paytrace/settle", json!({})).await;
    assert_eq!(
        pt.ok(
            "refund_for_transaction",
            json!({"transaction_id": sale_id, "amount": "25.00"})
        )
        .await["response_code"],
        106
    );
    assert_eq!(
        pt.outcome(
            "refund_for_transaction",
            json!({"transaction_id": sale_id, "amount": "500.00"})
        )
        .await,
        "validation"
    );
    pt.ok(
        "check_refund",
        json!({"check_transaction_id": ach["check_transaction_id"], "amount": "5"}),
    )
    .await;
    let one = pt
        .ok("transaction_by_id", json!({"transaction_id": sale_id}))
        .await;
    assert_eq!(one["transactions"][0]["status_message"], "Settled");
    assert_eq!(
        pt.outcome("transaction_by_id", json!({"transaction_id": 1}))
            .await,
        "not_found"
    );
    assert!(!pt.charges_for("INV-A").await.is_empty());
    let batches = pt
        .ok(
            "batches_export",
            json!({"start_date": today(), "end_date": today()}),
        )
        .await;
    assert_eq!(batches["batches"].as_array().unwrap().len(), 1);
    let number = settled["batch_number"].clone();
    pt.ok("batch_export_one", json!({"batch_number": number}))
        .await;
    let list = pt
        .ok("batch_transaction_list", json!({"batch_number": number}))
        .await;
    assert!(list.to_string().contains(&sale_id.to_string()));
    pt.ok("customer_delete", json!({"customer_id": "CONN-2"}))
        .await;
    assert_eq!(
        pt.outcome("customer_delete", json!({"customer_id": "CONN-2"}))
            .await,
        "not_found"
    );

    let all: BTreeSet<String> = catalog("paytrace")
        .unwrap()
        .operations
        .iter()
        .map(|o| o.name.clone())
        .collect();
    let called = pt.called.lock().unwrap().clone();
    let missing: Vec<_> = all.difference(&called).collect();
    assert!(missing.is_empty(), "operations not exercised: {missing:?}");
}

#[tokio::test]
async fn tokens_are_shared_refreshed_and_renewed_after_revocation() {
    let pt = Pt::start().await;
    let sale = || json!({"amount": "1.00", "credit_card": card("4111111111111111")});
    pt.ok("sale_keyed", sale()).await;
    // Revoked mid-run: one invalid_token, one new token, the call succeeds.
    pt.control("/_sandbox/paytrace/tokens/revoke", json!({}))
        .await;
    pt.ok("sale_keyed", sale()).await;
    // Short-lived tokens expire on the emulator clock: the client renews before or on 401.
    pt.control("/_sandbox/paytrace/config", json!({"token_ttl_s": 2}))
        .await;
    pt.control("/_sandbox/paytrace/tokens/revoke", json!({}))
        .await;
    pt.ok("sale_keyed", sale()).await;
    pt.control("/_sandbox/clock", json!({"seconds": 5})).await;
    pt.ok("sale_keyed", sale()).await;
    // Wrong credentials are a configuration problem, not a retry.
    let mut bad = config(pt.sb.paytrace_url());
    bad.password = "wrong".into();
    let client = PayTrace::new(bad).unwrap();
    let (_, op) = operation("paytrace.sale_keyed").unwrap();
    let e = client
        .call(op, &sale(), &CallContext::default())
        .await
        .unwrap_err();
    assert!(matches!(e, ConnectorError::Misconfigured { .. }), "{e:?}");
    assert!(!e.to_string().contains("wrong"));
    assert!(client.check().await.is_err());
    assert!(pt.client.check().await.is_ok());
}

#[tokio::test]
async fn bursts_and_timeouts_are_retryable_with_the_servers_delay() {
    let pt = Pt::start().await;
    pt.fault(json!({"path": "/v1/transactions/export", "kind": {"type": "rate_limited", "retry_after_s": 7}, "count": 1})).await;
    pt.fault(json!({"path": "/v1/batches", "kind": {"type": "unavailable"}, "count": 1}))
        .await;
    pt.fault(json!({"path": "/v1/customer/export", "kind": {"type": "hang"}, "count": 1}))
        .await;
    let q = json!({"start_date": today(), "end_date": today()});
    let e = pt
        .call("transactions_by_date_range", q.clone())
        .await
        .unwrap_err();
    assert!(e.is_retryable() && e.is_safe_to_resend(), "{e:?}");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    pt.ok("transactions_by_date_range", q.clone()).await;
    assert!(
        pt.call("batches_export", q.clone())
            .await
            .unwrap_err()
            .is_retryable()
    );
    pt.ok("batches_export", q).await;
    let e = pt.call("customer_export", json!({})).await.unwrap_err();
    assert!(e.is_retryable() && e.to_string().contains("timeout"), "{e}");
    // A 503 on a sale is an answer: nothing was charged, so retrying is safe.
    pt.fault(json!({"path": "/v1/transactions/sale", "kind": {"type": "unavailable"}, "count": 1}))
        .await;
    let input = json!({"amount": "33.00", "credit_card": card("4111111111111111"), "invoice_id": "INV-503"});
    assert!(
        pt.call("sale_keyed", input.clone())
            .await
            .unwrap_err()
            .is_retryable()
    );
    pt.ok("sale_keyed", input).await;
    assert_eq!(pt.charges_for("INV-503").await.len(), 1);
}

#[tokio::test]
async fn a_lost_sale_response_is_found_and_never_charged_twice() {
    let pt = Pt::start().await;
    // The sale commits and its answer is lost: the connector finds it and reports it.
    pt.fault(json!({"path": "/v1/transactions/sale/keyed", "kind": {"type": "commit_then_drop"}, "count": 1})).await;
    let input = json!({"amount": "77.10", "credit_card": card("4111111111111111"), "invoice_id": "INV-LOST-1"});
    let v = pt.ok("sale_keyed", input.clone()).await;
    assert_eq!(v["recovered"], true);
    assert_eq!(v["response_code"], 101);
    assert_eq!(v["masked_card_number"], "xxxxxxxxxxxx1111");
    assert_eq!(pt.charges_for("INV-LOST-1").await.len(), 1);

    // A declined charge whose answer is lost is a decline, not a retry.
    pt.fault(json!({"path": "/v1/transactions/sale/keyed", "kind": {"type": "commit_then_drop"}, "count": 1})).await;
    let declined = json!({"amount": "77.01", "credit_card": card("4111111111111111"), "invoice_id": "INV-LOST-2"});
    assert_eq!(pt.outcome("sale_keyed", declined).await, "declined");

    // A hang before anything was done: the lookup finds nothing, so a retry is safe and the
    // runtime's retry charges exactly once.
    pt.fault(json!({"path": "/v1/transactions/sale/keyed", "kind": {"type": "hang"}, "count": 1}))
        .await;
    let input = json!({"amount": "12.34", "credit_card": card("4111111111111111"), "invoice_id": "INV-LOST-3"});
    let e = pt.call("sale_keyed", input.clone()).await.unwrap_err();
    assert!(
        e.is_retryable() && e.to_string().contains("safe to send again"),
        "{e}"
    );
    pt.ok("sale_keyed", input).await;
    assert_eq!(pt.charges_for("INV-LOST-3").await.len(), 1);

    // Without an invoice id the charge cannot be looked up: a permanent error, never a retry.
    pt.fault(json!({"path": "/v1/transactions/sale/keyed", "kind": {"type": "commit_then_drop"}, "count": 1})).await;
    let e = pt
        .call(
            "sale_keyed",
            json!({"amount": "5.00", "credit_card": card("4111111111111111")}),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, ConnectorError::Permanent { .. }), "{e:?}");
    assert!(e.to_string().contains("check PayTrace"));

    // Void and capture whose answers are lost are confirmed by the transaction's status.
    let sale = pt
        .ok(
            "sale_keyed",
            json!({"amount": "9.00", "credit_card": card("4111111111111111")}),
        )
        .await;
    pt.fault(
        json!({"path": "/v1/transactions/void", "kind": {"type": "commit_then_drop"}, "count": 1}),
    )
    .await;
    let v = pt
        .ok("void", json!({"transaction_id": sale["transaction_id"]}))
        .await;
    assert_eq!(
        (v["response_code"].as_i64(), v["recovered"].as_bool()),
        (Some(109), Some(true))
    );
    let auth = pt
        .ok(
            "authorization_keyed",
            json!({"amount": "9.00", "credit_card": card("4111111111111111")}),
        )
        .await;
    pt.fault(json!({"path": "/v1/transactions/authorization/capture", "kind": {"type": "commit_then_drop"}, "count": 1})).await;
    let v = pt
        .ok("capture", json!({"transaction_id": auth["transaction_id"]}))
        .await;
    assert_eq!(v["recovered"], true);

    // ACH cannot be looked up in the export: unknown outcome is permanent, never resent.
    pt.fault(json!({"path": "/v1/checks/sale", "kind": {"type": "commit_then_drop"}, "count": 1}))
        .await;
    let check = json!({"amount": "25.00", "check": {"account_number": "123456789", "routing_number": "325070760"}});
    let e = pt.call("check_sale_by_account", check).await.unwrap_err();
    assert!(matches!(e, ConnectorError::Permanent { .. }), "{e:?}");
    assert!(!e.to_string().contains("123456789"));
}
