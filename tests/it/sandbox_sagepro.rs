//! Contract tests for the Sage Pro facade emulator over real HTTP: auth, payments and their
//! business rules, replays and Idempotency-Key, RowVersion, journal validation, paging, the
//! error shape, card-data refusal, commit-then-drop recovery and a small load check.

use ledgerlink::sandbox::{Sandbox, SandboxConfig};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

struct Api {
    _sb: Sandbox,
    http: Client,
    url: String,
    token: String,
}

async fn token(http: &Client, url: &str) -> String {
    let r = http
        .post(format!("{url}/api/auth/token"))
        .json(&json!({"grant_type": "client_credentials", "client_id": "ledgerlink-sandbox", "client_secret": "sandbox-secret"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["expires_in"], 300);
    v["access_token"].as_str().unwrap().to_string()
}

async fn start() -> Api {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let http = ledgerlink::connectors::transport::client();
    let url = sb.sagepro_url();
    let token = token(&http, &url).await;
    Api {
        _sb: sb,
        http,
        url,
        token,
    }
}

impl Api {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut rb = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        let status = r.status();
        let h = r.headers().clone();
        let text = r.text().await.unwrap();
        (
            status,
            h,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let (s, _, v) = self.send(reqwest::Method::GET, path, None, &[]).await;
        (s, v)
    }
    async fn post(
        &self,
        path: &str,
        body: Value,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        self.send(reqwest::Method::POST, path, Some(body), &[])
            .await
    }
}

fn payment(reference: &str, amount: &str, invoice: Option<&str>) -> Value {
    let mut p = json!({
        "PaymentReference": reference, "PaymentDate": "2026-11-20", "Amount": amount,
        "CustomerID": "ACME01", "GLAccountID": "1050", "PaymentMethodCode": "CC", "PaymentStatus": "Paid",
    });
    if let Some(i) = invoice {
        p["InvoiceID"] = json!(i);
    }
    p
}

fn assert_error_shape(v: &Value, code: &str) {
    let e = &v["error"];
    assert_eq!(e["code"], code, "{v}");
    assert!(
        e["message"].is_string() && e["requestId"].is_string() && e["details"].is_array(),
        "{v}"
    );
}

#[tokio::test]
async fn auth_ok_expired_invalid_and_revoked() {
    let api = start().await;
    let (s, v) = api.get("/api/customers/ACME01").await;
    assert_eq!(s, 200);
    assert_eq!(v["CustomerID"], "ACME01");
    let r = api
        .http
        .get(format!("{}/api/customers", api.url))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_error_shape(&r.json().await.unwrap(), "InvalidToken");
    let r = api
        .http
        .post(format!("{}/api/auth/token", api.url))
        .json(&json!({"client_id": "x", "client_secret": "y"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    api.http
        .post(format!("{}/_sandbox/clock", api.url))
        .json(&json!({"seconds": 400}))
        .send()
        .await
        .unwrap();
    let (s, v) = api.get("/api/customers/ACME01").await;
    assert_eq!(s, 401);
    assert_error_shape(&v, "TokenExpired");
    let fresh = token(&api.http, &api.url).await;
    let r = api
        .http
        .get(format!("{}/api/health", api.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    api.http
        .post(format!("{}/_sandbox/sagepro/tokens/revoke", api.url))
        .send()
        .await
        .unwrap();
    let r = api
        .http
        .get(format!("{}/api/customers", api.url))
        .bearer_auth(&fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn payments_apply_replay_and_conflict() {
    let api = start().await;
    let (_, inv) = api.get("/api/invoices/INV-10021").await;
    assert_eq!(inv["Balance"], "1500.00");
    assert_eq!(inv["Status"], "Open");
    let (s, h, v) = api
        .post(
            "/api/payments",
            payment("PT-1001", "1234.50", Some("INV-10021")),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(h["location"], "/api/payments/PT-1001");
    assert_eq!(v["Applications"][0]["Amount"], "1234.50");
    assert_eq!(v["UnappliedAmount"], "0.00");
    let (_, inv) = api.get("/api/invoices/INV-10021").await;
    assert_eq!(
        (
            inv["Balance"].as_str(),
            inv["AmountPaid"].as_str(),
            inv["Status"].as_str()
        ),
        (Some("265.50"), Some("1234.50"), Some("PartiallyPaid"))
    );
    // Replay: same body (amount as a number this time) answers the original.
    let mut same = payment("PT-1001", "0", Some("INV-10021"));
    same["Amount"] = serde_json::from_str("1234.5").unwrap();
    let (s, h, again) = api.post("/api/payments", same).await;
    assert_eq!(s, 200);
    assert_eq!(h["idempotent-replay"], "true");
    assert_eq!(again, v);
    let (s, _, e) = api
        .post(
            "/api/payments",
            payment("PT-1001", "10.00", Some("INV-10021")),
        )
        .await;
    assert_eq!(s, 409);
    assert_error_shape(&e, "DuplicatePaymentReference");
    // Over-application, then allowed with the rest on account.
    let (s, _, e) = api
        .post(
            "/api/payments",
            payment("PT-1002", "300.00", Some("INV-10021")),
        )
        .await;
    assert_eq!(s, 422);
    assert_eq!(e["error"]["details"][0]["code"], "ExceedsInvoiceBalance");
    let mut over = payment("PT-1002", "300.00", Some("INV-10021"));
    over["AllowOverpayment"] = json!(true);
    let (s, _, v) = api.post("/api/payments", over).await;
    assert_eq!(s, 201);
    assert_eq!(v["UnappliedAmount"], "34.50");
    let (_, inv) = api.get("/api/invoices/INV-10021").await;
    assert_eq!(
        (inv["Balance"].as_str(), inv["Status"].as_str()),
        (Some("0.00"), Some("Paid"))
    );
    // Refund reverses, bounded by the original.
    let mut refund = payment("PT-1003", "100.00", None);
    refund["PaymentStatus"] = json!("Refunded");
    refund["OriginalPaymentReference"] = json!("PT-1001");
    let (s, _, v) = api.post("/api/payments", refund.clone()).await;
    assert_eq!(s, 201, "{v}");
    let (_, inv) = api.get("/api/invoices/INV-10021").await;
    assert_eq!(
        (inv["Balance"].as_str(), inv["Status"].as_str()),
        (Some("100.00"), Some("PartiallyPaid"))
    );
    refund["PaymentReference"] = json!("PT-1004");
    refund["Amount"] = json!("1200.00");
    let (s, _, e) = api.post("/api/payments", refund).await;
    assert_eq!(s, 422);
    assert_eq!(e["error"]["details"][0]["code"], "ExceedsRefundable");
    // Failed: recorded only. Unknown customer/invoice: 404. Void invoice: 422.
    let mut failed = payment("PT-1005", "50.00", Some("INV-10022"));
    failed["PaymentStatus"] = json!("Failed");
    let (s, _, v) = api.post("/api/payments", failed).await;
    assert_eq!(
        (s, v["Posted"].clone()),
        (StatusCode::CREATED, json!(false))
    );
    let mut unknown = payment("PT-1006", "5.00", None);
    unknown["CustomerID"] = json!("NOBODY");
    assert_eq!(api.post("/api/payments", unknown).await.0, 404);
    assert_eq!(
        api.post(
            "/api/payments",
            payment("PT-1007", "5.00", Some("INV-99999"))
        )
        .await
        .0,
        404
    );
    let (_, voids) = api.get("/api/invoices?Status=Void").await;
    let void_id = voids["items"][0]["InvoiceID"].as_str().unwrap().to_string();
    let mut v_pay = payment("PT-1008", "5.00", Some(&void_id));
    v_pay["CustomerID"] = voids["items"][0]["CustomerID"].clone();
    let (s, _, e) = api.post("/api/payments", v_pay).await;
    assert_eq!(
        (s, e["error"]["details"][0]["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("InvoiceVoid"))
    );
    let (s, v) = api.get("/api/payments/PT-1001").await;
    assert_eq!((s, v["Amount"].clone()), (StatusCode::OK, json!("1234.50")));
    let (_, list) = api
        .get("/api/payments?InvoiceID=INV-10021&pageSize=2")
        .await;
    assert_eq!(list["total"], 3);
    assert_eq!(
        list["next"],
        "/api/payments?page=2&pageSize=2&InvoiceID=INV-10021"
    );
    let (_, ledger) = api.get("/_sandbox/sagepro/ledger").await;
    let ar = ledger["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["GLAccountID"] == "1200")
        .unwrap();
    assert_eq!(ar["Net"], "-1434.50");
}

#[tokio::test]
async fn idempotency_key_replays_and_conflicts() {
    let api = start().await;
    let body = json!({"CustomerID": "newco", "Company": "New Co"});
    let post = |b: Value| {
        api.send(
            reqwest::Method::POST,
            "/api/customers",
            Some(b),
            &[("Idempotency-Key", "k-1")],
        )
    };
    let (s, h1, first) = post(body.clone()).await;
    assert_eq!(s, 201);
    assert_eq!(first["CustomerID"], "NEWCO");
    assert!(h1.get("idempotent-replay").is_none());
    let (s, h2, second) = post(body).await;
    assert_eq!(s, 201);
    assert_eq!(h2["idempotent-replay"], "true");
    assert_eq!(first, second);
    let (s, _, e) = post(json!({"CustomerID": "OTHER", "Company": "Other"})).await;
    assert_eq!(s, 409);
    assert_error_shape(&e, "IdempotencyKeyReused");
    let (s, _, e) = api
        .post(
            "/api/customers",
            json!({"CustomerID": "NEWCO", "Company": "Again"}),
        )
        .await;
    assert_eq!(s, 409);
    assert_error_shape(&e, "DuplicateCustomer");
}

#[tokio::test]
async fn rowversion_mismatch_is_412() {
    let api = start().await;
    let (_, c) = api.get("/api/customers/GLOBEX").await;
    let rv = c["RowVersion"].as_str().unwrap().to_string();
    let (s, _, v) = api
        .send(
            reqwest::Method::PUT,
            "/api/customers/GLOBEX",
            Some(json!({"Phone": "555-9999"})),
            &[("If-Match", &rv)],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_ne!(v["RowVersion"], json!(rv));
    let (s, _, e) = api
        .send(
            reqwest::Method::PUT,
            "/api/customers/GLOBEX",
            Some(json!({"Phone": "555-0000", "RowVersion": rv})),
            &[],
        )
        .await;
    assert_eq!(s, 412);
    assert_error_shape(&e, "RowVersionMismatch");
    let (_, inv) = api.get("/api/invoices/INV-10022").await;
    let (s, _, _) = api
        .send(
            reqwest::Method::PUT,
            "/api/invoices/INV-10022",
            Some(json!({"PONumber": "X", "RowVersion": "999"})),
            &[],
        )
        .await;
    assert_eq!(s, 412);
    let (s, _, v) = api
        .send(
            reqwest::Method::PUT,
            "/api/invoices/INV-10022",
            Some(json!({"PONumber": "X", "RowVersion": inv["RowVersion"]})),
            &[],
        )
        .await;
    assert_eq!((s, v["PONumber"].clone()), (StatusCode::OK, json!("X")));
}

#[tokio::test]
async fn journal_entries_validate_per_line() {
    let api = start().await;
    let today = chrono::Utc::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    let ok = json!({"EntryDate": today, "Reference": "BATCH-1", "Lines": [
        {"GLAccountID": "1000", "Debit": "97.10"}, {"GLAccountID": "6120", "Debit": 2.9},
        {"GLAccountID": "1050", "Credit": "100.00"}]});
    let (s, h, v) = api.post("/api/journalentries", ok).await;
    assert_eq!(s, 201, "{v}");
    let loc = h["location"].to_str().unwrap().to_string();
    assert_eq!(api.get(&loc).await.1["Lines"][1]["Debit"], "2.90");
    let last_month = (chrono::Utc::now().date_naive() - chrono::Duration::days(40))
        .format("%Y-%m-%d")
        .to_string();
    let bad = json!({"EntryDate": last_month, "Lines": [
        {"GLAccountID": "1900", "Debit": "10.00"}, {"GLAccountID": "7777", "Credit": "5.00"},
        {"GLAccountID": "4000", "Debit": "1.00", "Credit": "1.00"}]});
    let (s, _, e) = api.post("/api/journalentries", bad).await;
    assert_eq!(s, 422);
    assert_error_shape(&e, "ValidationFailed");
    let codes: Vec<(String, String)> = e["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["field"].as_str().unwrap().to_string(),
                d["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for want in [
        ("Lines[0].GLAccountID", "AccountInactive"),
        ("Lines[1].GLAccountID", "AccountNotFound"),
        ("Lines[2].Debit", "DebitOrCredit"),
        ("Lines", "Unbalanced"),
    ] {
        assert!(
            codes.contains(&(want.0.to_string(), want.1.to_string())),
            "{codes:?}"
        );
    }
    assert!(
        codes
            .iter()
            .any(|(f, c)| f == "EntryDate" && (c == "PeriodClosed" || c == "NoPeriod")),
        "{codes:?}"
    );
    let (_, accts) = api.get("/api/glaccounts").await;
    assert!(
        accts["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["GLAccountID"] == "1900" && a["Status"] == "Inactive")
    );
}

#[tokio::test]
async fn paging_updated_since_errors_and_card_data() {
    let api = start().await;
    let (_, p1) = api.get("/api/customers?pageSize=4").await;
    assert_eq!(
        (p1["total"].as_i64(), p1["items"].as_array().unwrap().len()),
        (Some(10), 4)
    );
    let (_, p3) = api
        .get(
            p1["next"]
                .as_str()
                .map(|n| n.replace("page=2", "page=3"))
                .unwrap()
                .as_str(),
        )
        .await;
    assert_eq!(p3["items"].as_array().unwrap().len(), 2);
    assert_eq!(p3["next"], Value::Null);
    let ids: Vec<&str> = p1["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["CustomerID"].as_str().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    let c = api
        .send(
            reqwest::Method::PUT,
            "/api/customers/WAYNE",
            Some(json!({"Phone": "1"})),
            &[],
        )
        .await
        .2;
    let since = c["UpdatedAt"].as_str().unwrap().to_string();
    let (_, changed) = api
        .get(&format!("/api/customers?updatedSince={since}"))
        .await;
    assert_eq!(changed["total"], 1);
    assert_eq!(changed["items"][0]["CustomerID"], "WAYNE");
    assert_eq!(api.get("/api/customers?pageSize=500").await.0, 400);
    let r = api
        .http
        .post(format!("{}/api/payments", api.url))
        .bearer_auth(&api.token)
        .header("content-type", "application/json")
        .body("{\"Amount\": 1,")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_error_shape(&r.json().await.unwrap(), "MalformedJson");
    let mut p = payment("PT-CARD", "1.00", None);
    p["Memo"] = json!("card 4111 1111 1111 1111");
    let (s, _, e) = api.post("/api/payments", p).await;
    assert_eq!(s, 422);
    assert_eq!(e["error"]["details"][0]["code"], "CardDataRefused");
    assert_eq!(api.get("/api/payments/PT-CARD").await.0, 404);
    let (s, _, e) = api.post("/api/customers", json!({"CustomerID": "X"})).await;
    assert_eq!(s, 422);
    assert_eq!(e["error"]["details"][0]["field"], "Company");
}

#[tokio::test]
async fn commit_then_drop_is_recovered_without_double_posting() {
    let api = start().await;
    let fault = json!({"path": "/api/payments", "method": "POST", "kind": {"type": "commit_then_drop"}, "count": 1});
    let r = api
        .http
        .post(format!("{}/_sandbox/faults", api.url))
        .json(&fault)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let body = payment("PT-DROP", "200.00", Some("INV-10021"));
    let r = api
        .http
        .post(format!("{}/api/payments", api.url))
        .bearer_auth(&api.token)
        .json(&body)
        .timeout(Duration::from_millis(500))
        .send()
        .await;
    assert!(r.is_err(), "the response should have been dropped");
    let (s, v) = api.get("/api/payments/PT-DROP").await;
    assert_eq!((s, v["Amount"].clone()), (StatusCode::OK, json!("200.00")));
    let (s, h, _) = api.post("/api/payments", body).await;
    assert_eq!(s, 200);
    assert_eq!(h["idempotent-replay"], "true");
    let (_, inv) = api.get("/api/invoices/INV-10021").await;
    assert_eq!(inv["Balance"], "1300.00");
}

#[tokio::test]
async fn load_mix_of_reads_and_payments() {
    let api = std::sync::Arc::new(start().await);
    let started = Instant::now();
    let total = 2000;
    let mut tasks = Vec::new();
    for w in 0..32 {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = w;
            while n < total {
                let (status, body) = if n % 4 == 0 {
                    let mut p = payment(&format!("LOAD-{n}"), "0.01", None);
                    p["CustomerID"] = json!("STARK");
                    let (s, _, b) = api.post("/api/payments", p).await;
                    (s, b)
                } else {
                    api.get("/api/invoices/INV-10023").await
                };
                assert!(status.is_success(), "{status} {body}");
                n += 32;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "sagepro load: {total} requests in {secs:.2}s = {:.0} req/s",
        total as f64 / secs
    );
    let (_, list) = api.get("/api/payments?CustomerID=STARK&pageSize=1").await;
    assert_eq!(list["total"], 500);
}

#[tokio::test]
async fn invoices_orders_credit_memos_and_unknown_routes() {
    let api = start().await;
    let inv = json!({"CustomerID": "initech", "InvoiceDate": "2026-11-02", "Tax": "8.25", "Freight": 5,
        "Lines": [{"ItemID": "TPS", "Quantity": 3, "UnitPrice": "33.33"}]});
    let (s, h, v) = api.post("/api/invoices", inv).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        (
            v["Subtotal"].as_str(),
            v["Total"].as_str(),
            v["DueDate"].as_str()
        ),
        (Some("99.99"), Some("113.24"), Some("2026-12-02"))
    );
    let id = v["InvoiceID"].as_str().unwrap().to_string();
    assert_eq!(
        h["location"].to_str().unwrap(),
        format!("/api/invoices/{id}")
    );
    let memo = json!({"CustomerID": "INITECH", "InvoiceID": id, "MemoDate": "2026-11-03", "Amount": "13.24", "Reason": "refund"});
    let (s, _, m) = api.post("/api/creditmemos", memo).await;
    assert_eq!(
        (s, m["Status"].clone(), m["Balance"].clone()),
        (StatusCode::CREATED, json!("Applied"), json!("0.00"))
    );
    let (_, inv) = api.get(&format!("/api/invoices/{id}")).await;
    assert_eq!(
        (inv["Balance"].as_str(), inv["Status"].as_str()),
        (Some("100.00"), Some("PartiallyPaid"))
    );
    let order = json!({"CustomerID": "ACME01", "OrderDate": "2026-11-04", "Lines": [{"ItemID": "W-1", "Quantity": 10, "UnitPrice": "2.50", "DiscountPercent": 10}]});
    let (s, _, o) = api.post("/api/orders", order).await;
    assert_eq!(
        (s, o["OrderAmount"].clone(), o["Status"].clone()),
        (StatusCode::CREATED, json!("22.50"), json!("Open"))
    );
    let oid = o["OrderID"].as_str().unwrap().to_string();
    let (s, _, o) = api
        .send(
            reqwest::Method::PUT,
            &format!("/api/orders/{oid}"),
            Some(json!({"Status": "Closed", "RowVersion": o["RowVersion"]})),
            &[],
        )
        .await;
    assert_eq!((s, o["Status"].clone()), (StatusCode::OK, json!("Closed")));
    let (_, open) = api.get("/api/orders?Status=Open").await;
    assert!(
        open["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["Status"] == "Open")
    );
    let (s, v) = api.get("/api/nothing").await;
    assert_eq!(s, 404);
    assert_error_shape(&v, "RouteNotFound");
    let (s, _, v) = api
        .send(reqwest::Method::DELETE, "/api/payments", None, &[])
        .await;
    assert_eq!(s, 405);
    assert_error_shape(&v, "MethodNotAllowed");
}

#[tokio::test]
async fn file_ledger_survives_a_restart() {
    let path = std::env::temp_dir().join(format!("sagepro-test-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let config = SandboxConfig {
        sagepro_db: Some(path.clone()),
        ..SandboxConfig::default()
    };
    {
        let sb = Sandbox::start(config.clone()).await.unwrap();
        let http = ledgerlink::connectors::transport::client();
        let token = token(&http, &sb.sagepro_url()).await;
        let r = http
            .post(format!("{}/api/payments", sb.sagepro_url()))
            .bearer_auth(&token)
            .json(&payment("PT-FILE", "10.00", Some("INV-10021")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let sb = Sandbox::start(config).await.unwrap();
    let http = ledgerlink::connectors::transport::client();
    let token = token(&http, &sb.sagepro_url()).await;
    let v: Value = http
        .get(format!("{}/api/invoices/INV-10021", sb.sagepro_url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["Balance"], "1490.00");
    drop(sb);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[tokio::test]
async fn extreme_amounts_are_refused_and_the_ledger_keeps_working() {
    // Review finding: an amount near the decimal range's end overflowed a sum, the emulator
    // panicked holding the ledger lock, and every later call answered 500.
    let api = start().await;
    for (reference, amount) in [
        ("PT-HUGE-1", "79228162514264337593543950335"),
        ("PT-HUGE-2", "10000000000000.00"),
    ] {
        let (s, _, e) = api
            .post("/api/payments", payment(reference, amount, None))
            .await;
        assert_eq!(s, 422, "{e}");
        assert_error_shape(&e, "ValidationFailed");
        assert!(e.to_string().contains("OutOfRange"), "{e}");
    }
    let (s, _, v) = api
        .post("/api/payments", payment("PT-AFTER", "12.34", None))
        .await;
    assert_eq!(s, 201, "{v}");
}
