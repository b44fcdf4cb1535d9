//! Contract tests for the PayTrace emulator over real HTTP: OAuth (bad credentials, expiry on
//! the emulator clock, revocation), sale/authorization triggers and codes, the state machine
//! (void before settlement only, cumulative bounded refunds, capture), the vault, exports and
//! batches after a settlement, checks, test mode, Level 3, Protect.js tokens, malformed
//! requests, a commit-then-drop fault found again by export, and a quick load check.

use ledgerlink::sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

struct Pt {
    sb: Sandbox,
    http: reqwest::Client,
    token: String,
}

impl Pt {
    async fn start() -> Pt {
        let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
        let http = ledgerlink::connectors::transport::client();
        let mut pt = Pt {
            sb,
            http,
            token: String::new(),
        };
        pt.token = pt.login("ledgerlink", "sandbox").await.1["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        pt
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sb.paytrace_url())
    }

    async fn login(&self, user: &str, pass: &str) -> (u16, Value) {
        let r = self
            .http
            .post(self.url("/oauth/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "grant_type=password&username={user}&password={pass}"
            ))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    async fn call(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(self.url(path))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    async fn control(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        let text = r.text().await.unwrap();
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn sale(&self, amount: &str, extra: Value) -> (u16, Value) {
        let mut body = json!({
            "amount": amount,
            "credit_card": {"number": "4111111111111111", "expiration_month": "12", "expiration_year": "2030"},
            "csc": "999",
            "billing_address": {"name": "Ada Lovelace", "zip": "98101"},
            "invoice_id": "INV-1",
        });
        if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
            b.extend(e);
        }
        self.call("/v1/transactions/sale/keyed", body).await
    }
}

fn codes(v: &Value) -> Vec<String> {
    v["errors"].as_object().unwrap().keys().cloned().collect()
}

fn today_pacific() -> String {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::America::Los_Angeles)
        .format("%m/%d/%Y")
        .to_string()
}

#[tokio::test]
async fn oauth_grant_expiry_and_revocation() {
    let pt = Pt::start().await;
    let (s, v) = pt.login("ledgerlink", "wrong").await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_grant")));
    let (s, v) = pt.login("ledgerlink", "sandbox").await;
    assert_eq!(s, 200);
    assert_eq!(v["token_type"], "bearer");
    assert_eq!(v["expires_in"], 7200);
    assert_eq!(v["access_token"].as_str().unwrap().split(':').count(), 3);
    let ping: Value = pt
        .http
        .get(pt.url("/v1/ping"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ping["status"], "success");

    let r = pt
        .http
        .post(pt.url("/v1/customer/export"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    assert_eq!(pt.call("/v1/customer/export", json!({})).await.0, 200);

    pt.control("/_sandbox/clock", json!({"seconds": 7300}))
        .await;
    let (s, v) = pt.call("/v1/customer/export", json!({})).await;
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_token")));

    let mut pt = pt;
    pt.token = pt.login("ledgerlink", "sandbox").await.1["access_token"]
        .as_str()
        .unwrap()
        .into();
    assert_eq!(pt.call("/v1/customer/export", json!({})).await.0, 200);
    let revoked = pt
        .control("/_sandbox/paytrace/tokens/revoke", json!({}))
        .await;
    assert!(revoked["revoked"].as_u64().unwrap() >= 1);
    let (s, v) = pt.call("/v1/customer/export", json!({})).await;
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_token")));

    let cfg = pt
        .control("/_sandbox/paytrace/config", json!({"token_ttl_s": 5}))
        .await;
    assert_eq!(cfg["token_ttl_s"], 5);
    assert_eq!(pt.login("ledgerlink", "sandbox").await.1["expires_in"], 5);
}

#[tokio::test]
async fn sale_approvals_declines_and_triggers() {
    let pt = Pt::start().await;
    let (s, ok) = pt.sale("10.00", json!({})).await;
    assert_eq!(s, 200, "{ok}");
    assert_eq!(ok["success"], true);
    assert_eq!(ok["response_code"], 101);
    assert_eq!(
        ok["status_message"],
        "Your transaction was successfully approved."
    );
    assert_eq!(ok["masked_card_number"], "xxxxxxxxxxxx1111");
    assert_eq!(ok["csc_response"], "Match");
    assert_eq!(ok["avs_response"], "Full Exact Match");
    let id = ok["transaction_id"].as_u64().unwrap();
    assert!((100_000_000..1_000_000_000).contains(&id));
    assert!(!ok.to_string().contains("4111111111111111"));
    let (_, next) = pt.sale(&json!(12.5).to_string(), json!({})).await;
    assert!(next["transaction_id"].as_u64().unwrap() > id);

    let (s, d) = pt.sale("10.01", json!({})).await;
    assert_eq!(
        (s, d["success"].as_bool(), d["response_code"].as_u64()),
        (400, Some(false), Some(102))
    );
    assert_eq!(d["approval_message"], "    DECLINE - Do not honor");
    assert!(d["transaction_id"].as_u64().is_some());
    assert_eq!(pt.sale("10.02", json!({})).await.1["response_code"], 102);
    assert_eq!(
        pt.sale("10.05", json!({})).await.1["approval_message"],
        "  EXPIRED CARD - Expired card"
    );
    assert_eq!(pt.sale("10.13", json!({})).await.1["response_code"], 103);
    assert_eq!(pt.sale("10.99", json!({})).await.0, 500);
    let card = json!({"credit_card": {"number": "4000000000000002", "expiration_month": 1, "expiration_year": 2031}});
    assert_eq!(pt.sale("20.00", card).await.1["response_code"], 102);
    let (_, v) = pt
        .sale(
            "20.00",
            json!({"csc": "000", "billing_address": {"zip": "00000"}}),
        )
        .await;
    assert_eq!(
        (v["csc_response"].as_str(), v["avs_response"].as_str()),
        (Some("No Match"), Some("No Match"))
    );
    assert_eq!(v["response_code"], 101);

    // Several bad fields: several error keys, one envelope.
    let bad = json!({"amount": "ten", "credit_card": {"number": "4111111111111112", "expiration_month": 13, "expiration_year": "2030"}});
    let (s, v) = pt.call("/v1/transactions/sale/keyed", bad).await;
    assert_eq!(s, 400);
    assert_eq!(v["response_code"], 1);
    assert_eq!(v["status_message"], "One or more errors has occurred.");
    assert_eq!(codes(&v), ["902", "35", "43"]);

    pt.control("/_sandbox/paytrace/config", json!({"decline_status": 200}))
        .await;
    let (s, d) = pt.sale("10.01", json!({})).await;
    assert_eq!((s, d["response_code"].as_u64()), (200, Some(102)));
}

#[tokio::test]
async fn void_refund_capture_state_machine() {
    let pt = Pt::start().await;
    let id = |v: &Value| v["transaction_id"].as_u64().unwrap();
    let (_, a) = pt.sale("10.00", json!({})).await;
    let (_, b) = pt.sale("30.00", json!({})).await;
    let (s, v) = pt
        .call("/v1/transactions/void", json!({"transaction_id": id(&a)}))
        .await;
    assert_eq!((s, v["response_code"].as_u64()), (200, Some(109)));
    let (_, v) = pt
        .call(
            "/v1/transactions/void",
            json!({"transaction_id": id(&a).to_string()}),
        )
        .await;
    assert_eq!(codes(&v), ["818"]);
    let (_, v) = pt
        .call(
            "/v1/transactions/refund/for_transaction",
            json!({"transaction_id": id(&b)}),
        )
        .await;
    assert_eq!(codes(&v), ["817"]);

    let auth = json!({"amount": 50, "credit_card": {"number": "5454545454545454", "expiration_month": 6, "expiration_year": 30}});
    let (_, au) = pt.call("/v1/transactions/authorization/keyed", auth).await;
    assert_eq!(au["response_code"], 101);
    let (_, v) = pt
        .call(
            "/v1/transactions/authorization/capture",
            json!({"transaction_id": id(&au), "amount": "60"}),
        )
        .await;
    assert_eq!(codes(&v), ["821"]);
    let (_, v) = pt
        .call(
            "/v1/transactions/authorization/capture",
            json!({"transaction_id": id(&au), "amount": "40.00"}),
        )
        .await;
    assert_eq!(v["response_code"], 112);

    let settled = pt.control("/_sandbox/paytrace/settle", json!({})).await;
    assert_eq!(settled["transactions"], 2);
    let (_, v) = pt
        .call("/v1/transactions/void", json!({"transaction_id": id(&b)}))
        .await;
    assert_eq!(codes(&v), ["818"]);
    let refund = |amount: &str| json!({"transaction_id": id(&b), "amount": amount});
    let (_, r1) = pt
        .call("/v1/transactions/refund/for_transaction", refund("12.50"))
        .await;
    assert_eq!(r1["response_code"], 106);
    assert_ne!(id(&r1), id(&b));
    let (_, v) = pt
        .call("/v1/transactions/refund/for_transaction", refund("17.51"))
        .await;
    assert_eq!(codes(&v), ["819"]);
    // Voiding the unsettled refund gives its amount back.
    assert_eq!(
        pt.call("/v1/transactions/void", json!({"transaction_id": id(&r1)}))
            .await
            .1["response_code"],
        109
    );
    assert_eq!(
        pt.call("/v1/transactions/refund/for_transaction", refund("30"))
            .await
            .1["response_code"],
        106
    );
    let (_, v) = pt
        .call("/v1/transactions/refund/for_transaction", refund("0.01"))
        .await;
    assert_eq!(codes(&v), ["819"]);
    let (_, v) = pt
        .call(
            "/v1/transactions/refund/for_transaction",
            json!({"transaction_id": id(&au), "amount": 40}),
        )
        .await;
    assert_eq!(v["response_code"], 106);
    let (_, v) = pt
        .call("/v1/transactions/void", json!({"transaction_id": 999}))
        .await;
    assert_eq!(codes(&v), ["58"]);
}

#[tokio::test]
async fn vault_lifecycle() {
    let pt = Pt::start().await;
    let create = json!({
        "customer_id": "CUST-1",
        "credit_card": {"number": "4012000098765439", "expiration_month": "12", "expiration_year": "2031"},
        "billing_address": {"name": "Grace Hopper", "zip": "98101"},
        "email": "grace@example.com",
    });
    let (s, v) = pt.call("/v1/customer/create", create.clone()).await;
    assert_eq!((s, v["response_code"].as_u64()), (200, Some(160)));
    assert_eq!(v["masked_card_number"], "xxxxxxxxxxxx5439");
    assert_eq!(
        v["status_message"],
        "The customer profile for CUST-1/Grace Hopper was successfully created."
    );
    assert_eq!(
        codes(&pt.call("/v1/customer/create", create).await.1),
        ["171"]
    );
    let (_, v) = pt
        .call(
            "/v1/transactions/sale/by_customer",
            json!({"customer_id": "CUST-1", "amount": 7}),
        )
        .await;
    assert_eq!(
        (
            v["response_code"].as_u64(),
            v["masked_card_number"].as_str()
        ),
        (Some(101), Some("xxxxxxxxxxxx5439"))
    );
    let (_, v) = pt
        .call(
            "/v1/customer/update",
            json!({"customer_id": "CUST-1", "new_id": "CUST-2", "phone": "555"}),
        )
        .await;
    assert_eq!(v["response_code"], 161);
    let (_, v) = pt
        .call(
            "/v1/transactions/sale/by_customer",
            json!({"customer_id": "CUST-1", "amount": 7}),
        )
        .await;
    assert_eq!(codes(&v), ["30"]);
    let (_, v) = pt
        .call("/v1/customer/export", json!({"customer_id": "CUST-2"}))
        .await;
    let c = &v["customers"][0];
    assert_eq!(
        (
            c["phone"].as_str(),
            c["credit_card"]["masked_number"].as_str()
        ),
        (Some("555"), Some("xxxxxxxxxxxx5439"))
    );
    assert!(!v.to_string().contains("4012000098765439"));
    assert_eq!(
        pt.call("/v1/customer/delete", json!({"customer_id": "CUST-2"}))
            .await
            .1["response_code"],
        162
    );
    let (_, v) = pt
        .call(
            "/v1/transactions/authorization/by_customer",
            json!({"customer_id": "CUST-2", "amount": 7}),
        )
        .await;
    assert_eq!(codes(&v), ["30"]);
    // Only the three seeded sandbox profiles are left.
    let left: Vec<Value> = pt.call("/v1/customer/export", json!({})).await.1["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["customer_id"].clone())
        .collect();
    assert_eq!(
        left,
        vec![
            json!("pt-cust-1001"),
            json!("pt-cust-1002"),
            json!("pt-cust-1003")
        ]
    );
}

#[tokio::test]
async fn exports_and_batches_after_settlement() {
    let pt = Pt::start().await;
    let (_, a) = pt
        .sale(
            "15.25",
            json!({"invoice_id": "INV-77", "description": "order 77"}),
        )
        .await;
    pt.sale("10.01", json!({"invoice_id": "INV-78"})).await;
    let (_, one) = pt.call("/v1/batches/export_one", json!({})).await;
    assert_eq!(one["batch"]["transaction_count"], 1);
    assert_eq!(one["batch"]["created"], "");

    let day = today_pacific();
    let range = |extra: Value| {
        let mut b = json!({"start_date": day, "end_date": day});
        b.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        b
    };
    let (_, v) = pt
        .call(
            "/v1/transactions/export/by_date_range",
            range(json!({"transaction_type": "DECLINED"})),
        )
        .await;
    assert_eq!(v["transactions"].as_array().unwrap().len(), 1);
    let settled = pt.control("/_sandbox/paytrace/settle", json!({})).await;
    let batch = settled["batch_number"].as_u64().unwrap();

    let (s, v) = pt
        .call(
            "/v1/transactions/export/by_date_range",
            range(json!({"including_text": "inv-77"})),
        )
        .await;
    assert_eq!((s, v["response_code"].as_u64()), (200, Some(1)));
    assert_eq!(
        v["status_message"],
        "Your request has been successfully completed."
    );
    let t = &v["transactions"][0];
    assert_eq!(t["transaction_id"], a["transaction_id"]);
    assert_eq!(t["transaction_type"], "SALE");
    assert_eq!(t["amount"].to_string(), "15.25");
    assert_eq!(t["credit_card"]["masked_number"], "xxxxxxxxxxxx1111");
    assert_eq!(t["credit_card"]["expiration_year"], 30);
    assert_eq!(t["status_message"], "Settled");
    let at = t["created"]["at"].as_str().unwrap();
    assert!(at.ends_with(" AM") || at.ends_with(" PM"), "{at}");
    assert_eq!(at.split(' ').next().unwrap().split('/').count(), 3);
    assert!(!t["settled"].as_str().unwrap().is_empty());
    let (_, v) = pt
        .call(
            "/v1/transactions/export/by_id",
            json!({"transaction_id": a["transaction_id"], "include_bin": true}),
        )
        .await;
    assert_eq!(
        v["transactions"][0]["credit_card"]["masked_number"],
        "411111******1111"
    );

    let (_, one) = pt
        .call("/v1/batches/export_one", json!({"batch_number": batch}))
        .await;
    assert_eq!(
        (
            one["batch"]["number"].as_u64(),
            one["batch"]["sales_count"].as_u64()
        ),
        (Some(batch), Some(1))
    );
    assert_eq!(one["batch"]["net_amount"].to_string(), "15.25");
    let (_, list) = pt
        .call(
            "/v1/batches/transaction_list",
            json!({"batch_number": batch.to_string()}),
        )
        .await;
    assert_eq!(list["transactions"].as_array().unwrap().len(), 1);
    let (_, all) = pt.call("/v1/batches/export", range(json!({}))).await;
    assert_eq!(all["batches"].as_array().unwrap().len(), 1);
    let (_, v) = pt
        .call("/v1/batches/transaction_list", json!({"batch_number": 1}))
        .await;
    assert_eq!(codes(&v), ["906"]);
    let (_, v) = pt
        .call(
            "/v1/transactions/export/by_date_range",
            json!({"start_date": "2026-01-01"}),
        )
        .await;
    assert_eq!(codes(&v), ["903", "904"]);
}

#[tokio::test]
async fn checks_test_mode_level_three_and_protect() {
    let pt = Pt::start().await;
    let check = |amount: &str, routing: &str| json!({"amount": amount, "check": {"account_number": "123456789", "routing_number": routing}});
    let (s, v) = pt
        .call("/v1/checks/sale/by_account", check("25.00", "325070760"))
        .await;
    assert_eq!((s, v["response_code"].as_u64()), (200, Some(120)));
    let sale_id = v["check_transaction_id"].clone();
    let (_, v) = pt
        .call("/v1/checks/sale/by_account", check("25.01", "325070760"))
        .await;
    assert_eq!(
        (v["response_code"].as_u64(), v["ach_code"].as_str()),
        (Some(125), Some("R01"))
    );
    assert_eq!(
        codes(
            &pt.call("/v1/checks/sale/by_account", check("25.00", "12"))
                .await
                .1
        ),
        ["46"]
    );
    let (_, hold) = pt
        .call("/v1/checks/hold/by_account", check("40", "325070760"))
        .await;
    let hold_id = hold["check_transaction_id"].clone();
    let (_, v) = pt
        .call(
            "/v1/checks/manage/fund",
            json!({"check_transaction_id": hold_id, "amount": 40}),
        )
        .await;
    assert_eq!(v["response_code"], 124);
    assert_eq!(
        pt.call(
            "/v1/checks/manage/void",
            json!({"check_transaction_id": hold_id})
        )
        .await
        .1["response_code"],
        124
    );
    pt.control("/_sandbox/paytrace/settle", json!({})).await;
    assert_eq!(
        codes(
            &pt.call(
                "/v1/checks/manage/void",
                json!({"check_transaction_id": sale_id})
            )
            .await
            .1
        ),
        ["80"]
    );
    let (_, v) = pt
        .call(
            "/v1/checks/refund/by_transaction",
            json!({"check_transaction_id": sale_id, "amount": "5"}),
        )
        .await;
    assert_eq!(v["response_code"], 122);

    let (_, sale) = pt.sale("100.00", json!({})).await;
    let l3 = json!({"transaction_id": sale["transaction_id"], "line_items": [{"description": "widget", "amount": 100}]});
    let (_, v) = pt.call("/v1/level_three/visa", l3.clone()).await;
    assert_eq!(v["response_code"], 170);
    assert_eq!(
        codes(&pt.call("/v1/level_three/mastercard", l3).await.1),
        ["908"]
    );

    let minted = pt
        .control(
            "/_sandbox/paytrace/protect/mint",
            json!({"credit_card": {"number": "5454545454545454", "expiration_month": 1, "expiration_year": 2032}, "csc": "123"}),
        )
        .await;
    let body =
        json!({"hpf_token": minted["hpf_token"], "enc_key": minted["enc_key"], "amount": "8.00"});
    let (_, v) = pt
        .call("/v1/transactions/sale/pt_protect", body.clone())
        .await;
    assert_eq!(
        (
            v["response_code"].as_u64(),
            v["masked_card_number"].as_str()
        ),
        (Some(101), Some("xxxxxxxxxxxx5454"))
    );
    assert_eq!(
        codes(&pt.call("/v1/transactions/sale/pt_protect", body).await.1),
        ["907"]
    );
    let (_, v) = pt.call("/v1/payment_fields/token/create", json!({})).await;
    assert!(v["clientKey"].as_str().is_some_and(|k| !k.is_empty()));

    pt.control(
        "/_sandbox/paytrace/config",
        json!({"test_mode": true, "refund_unsettled": true}),
    )
    .await;
    let (_, ok) = pt.sale("10.00", json!({})).await;
    assert_eq!(ok["response_code"], 104);
    assert_eq!(pt.sale("10.01", json!({})).await.1["response_code"], 105);
    let (_, v) = pt
        .call(
            "/v1/transactions/refund/for_transaction",
            json!({"transaction_id": ok["transaction_id"]}),
        )
        .await;
    assert_eq!(v["response_code"], 108);
}

#[tokio::test]
async fn malformed_requests_get_the_envelope() {
    let pt = Pt::start().await;
    let raw = |body: Vec<u8>| {
        pt.http
            .post(pt.url("/v1/transactions/sale/keyed"))
            .bearer_auth(&pt.token)
            .header("content-type", "application/json")
            .body(body)
    };
    let r = raw(b"{\"amount\": ".to_vec()).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["success"].as_bool(), v["response_code"].as_u64()),
        (Some(false), Some(1))
    );
    assert_eq!(codes(&v), ["900"]);
    let v: Value = raw(b"[1,2]".to_vec())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(codes(&v), ["900"]);
    let r = raw(vec![b' '; 400 * 1024]).send().await.unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(codes(&r.json().await.unwrap()), ["900"]);
    let (_, v) = pt
        .call(
            "/v1/transactions/sale/keyed",
            json!({"amount": true, "credit_card": "x"}),
        )
        .await;
    assert_eq!(codes(&v), ["902", "35"]);
    let huge = b"{\"amount\": 1e400, \"credit_card\": {\"number\": 4111111111111111}}";
    let v: Value = raw(huge.to_vec())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(codes(&v), ["902", "43", "44"]);
    let r = pt
        .http
        .get(pt.url("/v1/transactions/sale/keyed"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(codes(&r.json().await.unwrap()), ["901"]);
    let (_, v) = pt.call("/v1/transactions/capture_all", json!({})).await;
    assert_eq!(codes(&v), ["901"]);
    let r = pt
        .http
        .post(pt.url("/oauth/token"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn commit_then_drop_sale_is_found_by_export() {
    let pt = Pt::start().await;
    pt.control(
        "/_sandbox/faults",
        json!({"path": "/v1/transactions/sale", "kind": {"type": "commit_then_drop"}, "count": 1}),
    )
    .await;
    let impatient = ledgerlink::connectors::transport::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = impatient
        .post(pt.url("/v1/transactions/sale/keyed"))
        .bearer_auth(&pt.token)
        .json(&json!({
            "amount": "42.00", "invoice_id": "INV-LOST-1",
            "credit_card": {"number": "4111111111111111", "expiration_month": 12, "expiration_year": 2030},
        }))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    let day = today_pacific();
    let (_, v) = pt
        .call(
            "/v1/transactions/export/by_date_range",
            json!({"start_date": day, "end_date": day, "including_text": "INV-LOST-1"}),
        )
        .await;
    let found = v["transactions"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{v}");
    assert_eq!(found[0]["amount"].to_string(), "42");
    assert_eq!(found[0]["status_message"], "Pending Settlement");
}

#[tokio::test]
async fn load_two_thousand_sales() {
    let pt = Arc::new(Pt::start().await);
    let left = Arc::new(AtomicUsize::new(2000));
    let failures = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..32)
        .map(|_| {
            let (pt, left, failures) = (Arc::clone(&pt), Arc::clone(&left), Arc::clone(&failures));
            tokio::spawn(async move {
                while left
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok()
                {
                    let (s, v) = pt.sale("19.00", json!({})).await;
                    if s != 200 || v["response_code"] != 101 {
                        failures.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "paytrace emulator: 2000 sales, concurrency 32, {:.0} req/s",
        2000.0 / secs
    );
    assert_eq!(failures.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn swiped_vault_from_transaction_and_daily_close() {
    let mut pt = Pt::start().await;
    let swipe = json!({"amount": "9.00", "description": "card 4111 1111 1111 1111 at till",
        "credit_card": {"swipe": "%B5454545454545454^DOE/JANE^3012101000000?"}});
    let (_, v) = pt.call("/v1/transactions/sale/swiped", swipe).await;
    assert_eq!(
        (
            v["response_code"].as_u64(),
            v["masked_card_number"].as_str()
        ),
        (Some(101), Some("xxxxxxxxxxxx5454"))
    );
    let (_, bad) = pt
        .call(
            "/v1/transactions/sale/swiped",
            json!({"amount": 1, "credit_card": {"swipe": "junk"}}),
        )
        .await;
    assert_eq!(codes(&bad), ["35"]);
    let from = json!({"customer_id": "FROM-TXN", "transaction_id": v["transaction_id"]});
    let (_, c) = pt.call("/v1/customer/create_from_transaction", from).await;
    assert_eq!(
        (
            c["response_code"].as_u64(),
            c["masked_card_number"].as_str()
        ),
        (Some(160), Some("xxxxxxxxxxxx5454"))
    );
    let (_, e) = pt
        .call(
            "/v1/transactions/export/by_id",
            json!({"transaction_id": v["transaction_id"]}),
        )
        .await;
    assert!(!e.to_string().contains("4111 1111 1111 1111"), "{e}");

    // Daily close one hour from now (Pacific), then the clock moves three hours on.
    let close_at = (chrono::Utc::now() + chrono::Duration::hours(1))
        .with_timezone(&chrono_tz::America::Los_Angeles)
        .format("%H:%M")
        .to_string();
    pt.control(
        "/_sandbox/paytrace/config",
        json!({"daily_close": close_at}),
    )
    .await;
    assert_eq!(
        pt.call("/v1/batches/export_one", json!({})).await.1["batch"]["transaction_count"],
        1
    );
    pt.control("/_sandbox/clock", json!({"seconds": 3 * 3600}))
        .await;
    pt.token = pt.login("ledgerlink", "sandbox").await.1["access_token"]
        .as_str()
        .unwrap()
        .into();
    let (_, one) = pt.call("/v1/batches/export_one", json!({})).await;
    assert_eq!(one["batch"]["transaction_count"], 0);
    let (_, e) = pt
        .call(
            "/v1/transactions/export/by_id",
            json!({"transaction_id": v["transaction_id"]}),
        )
        .await;
    assert_eq!(e["transactions"][0]["status_message"], "Settled");
}
