//! The sandbox notifier and profile-driven sandbox settings: each new PayTrace transaction
//! reaches a receiver on loopback as a signed JSON event (verified with the webhook trigger's
//! own scheme), with masked card data only; retries when the receiver fails; a profile's
//! `sandbox:` section sets faults and the notifier, with secrets as references.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use ledgerlink::model::{NotifySettings, SandboxSettings};
use ledgerlink::sandbox::notifier::NotifierConfig;
use ledgerlink::sandbox::{Sandbox, SandboxConfig};
use ledgerlink::triggers::signature;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SECRET: &str = "demo-secret";

/// A receiver that verifies each POST and keeps the bodies; the first `fail_first` requests
/// get a 503.
async fn receiver(fail_first: usize) -> (String, Arc<Mutex<Vec<Value>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::new(Mutex::new(0usize));
    let (g, s) = (Arc::clone(&got), Arc::clone(&seen));
    let app = axum::Router::new().route(
        "/hooks/pt",
        post(move |headers: HeaderMap, body: Bytes| {
            let (g, s) = (Arc::clone(&g), Arc::clone(&s));
            async move {
                let n = {
                    let mut s = s.lock().unwrap();
                    *s += 1;
                    *s
                };
                if n <= fail_first {
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                let header = headers
                    .get("x-paytrace-signature")
                    .and_then(|v| v.to_str().ok());
                let now = chrono::Utc::now().timestamp();
                if signature::verify(SECRET.as_bytes(), header, &body, now, 300).is_err() {
                    return StatusCode::UNAUTHORIZED;
                }
                g.lock()
                    .unwrap()
                    .push(serde_json::from_slice(&body).unwrap());
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hooks/pt"), got)
}

async fn sale(sb: &Sandbox, amount: &str, invoice: &str) -> Value {
    let token = super::support::paytrace_token(sb).await;
    let body = json!({
        "amount": amount,
        "credit_card": {"number": "5454545454545454", "expiration_month": "12", "expiration_year": "2030"},
        "invoice_id": invoice,
    });
    super::support::paytrace_post(sb, &token, "/v1/transactions/sale/keyed", &body).await
}

async fn wait_for(got: &Arc<Mutex<Vec<Value>>>, n: usize) -> Vec<Value> {
    for _ in 0..200 {
        let now = got.lock().unwrap().clone();
        if now.len() >= n {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "only {} of {n} notifications arrived",
        got.lock().unwrap().len()
    );
}

#[tokio::test]
async fn new_transactions_arrive_signed_with_masked_cards_only() {
    let (url, got) = receiver(0).await;
    let mut notify = NotifierConfig::new(&url, SECRET);
    notify.interval_ms = 20;
    let sb = Sandbox::start(SandboxConfig {
        notify: Some(notify),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let mut deliveries = sb.notifications();
    let first = sale(&sb, "125.00", "INV-10021").await;
    let declined = sale(&sb, "1.01", "INV-10022").await;
    let events = wait_for(&got, 2).await;
    assert_eq!(events[0]["transaction_id"], first["transaction_id"]);
    assert_eq!(events[0]["transaction_type"], "SALE");
    assert_eq!(events[0]["status_code"], 101);
    assert_eq!(events[0]["invoice_id"], "INV-10021");
    assert_eq!(events[0]["amount"].to_string(), "125");
    assert_eq!(
        events[0]["credit_card"]["masked_number"],
        "xxxxxxxxxxxx5454"
    );
    assert_eq!(events[1]["transaction_id"], declined["transaction_id"]);
    let text = serde_json::to_string(&events).unwrap();
    assert!(
        !text.contains("5454545454545454"),
        "a full card number was sent"
    );
    let d = deliveries.recv().await.unwrap();
    assert!(
        d.delivered && d.attempts == 1 && d.status == Some(204),
        "{d:?}"
    );
}

#[tokio::test]
async fn a_failing_receiver_gets_retries_until_it_answers() {
    let (url, got) = receiver(2).await;
    let mut notify = NotifierConfig::new(&url, SECRET);
    notify.interval_ms = 20;
    let sb = Sandbox::start(SandboxConfig {
        notify: Some(notify),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let mut deliveries = sb.notifications();
    sale(&sb, "10.00", "INV-10021").await;
    let d = tokio::time::timeout(Duration::from_secs(10), deliveries.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(d.delivered, "{d:?}");
    assert_eq!(d.attempts, 3);
    assert_eq!(wait_for(&got, 1).await.len(), 1);
}

#[tokio::test]
async fn a_profile_sets_faults_and_the_notifier_with_a_secret_reference() {
    let dir = std::env::temp_dir().join(format!("ll-sbprofile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hook.secret"), format!("{SECRET}\n")).unwrap();
    let (url, got) = receiver(0).await;
    let settings = SandboxSettings {
        seed: Some(7),
        faults: vec![
            json!({"target": "sagepro", "path": "/api/health", "kind": {"type": "unavailable"}, "count": 1}),
        ],
        notify: Some(NotifySettings {
            url,
            secret: "${file:hook.secret}".into(),
            header: None,
        }),
        ..SandboxSettings::default()
    };
    let mut config =
        SandboxConfig::from_profile(&settings, &ledgerlink::load::secrets::SecretScope::at(&dir))
            .unwrap();
    assert_eq!(config.seed, 7);
    assert_eq!(config.faults.len(), 1);
    config.notify.as_mut().unwrap().interval_ms = 20;
    let sb = Sandbox::start(config).await.unwrap();
    let health = format!("{}/api/health", sb.sagepro_url());
    assert_eq!(
        ledgerlink::connectors::transport::client()
            .get(&health)
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
    assert_eq!(
        ledgerlink::connectors::transport::client()
            .get(&health)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    sale(&sb, "20.00", "INV-10021").await;
    assert_eq!(wait_for(&got, 1).await.len(), 1);

    // A bad fault or an inline secret is refused with the setting named.
    let bad = SandboxSettings {
        faults: vec![json!({"kind": {"type": "explode"}})],
        ..SandboxSettings::default()
    };
    let e = SandboxConfig::from_profile(
        &bad,
        &ledgerlink::load::secrets::SecretScope::at(Path::new(".")),
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("sandbox.faults[0]"), "{e}");
    let inline = SandboxSettings {
        notify: Some(NotifySettings {
            url: "http://127.0.0.1:1/x".into(),
            secret: "plain-text".into(),
            header: None,
        }),
        ..SandboxSettings::default()
    };
    let e = SandboxConfig::from_profile(
        &inline,
        &ledgerlink::load::secrets::SecretScope::at(Path::new(".")),
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("sandbox.notify.secret"), "{e}");
    assert!(!e.to_string().contains("plain-text"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The demo end to end: what the notifier sends for a card sale and an ACH sale runs through
/// the shipped payment-posting flow, with the real Sage Pro connector, into the emulator's
/// ledger: card to the card clearing account, ACH to the ACH clearing account.
#[tokio::test]
async fn notifier_events_post_through_the_shipped_flow() {
    use ledgerlink::connectors::Clients;
    use ledgerlink::runtime::{Executor, RunStatus};

    let (url, got) = receiver(0).await;
    let mut notify = NotifierConfig::new(&url, SECRET);
    notify.interval_ms = 20;
    let sb = Sandbox::start(SandboxConfig {
        notify: Some(notify),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let http = ledgerlink::connectors::transport::client();
    let token = super::support::paytrace_token(&sb).await;
    for (path, body) in [
        (
            "/v1/transactions/sale/keyed",
            json!({"amount": "100.00", "invoice_id": "INV-10021", "customer_reference_id": "ACME01",
            "credit_card": {"number": "4111111111111111", "expiration_month": 12, "expiration_year": 2030}}),
        ),
        (
            "/v1/checks/sale/by_account",
            json!({"amount": "50.00", "invoice_id": "INV-10023", "customer_reference_id": "GLOBEX",
            "check": {"account_number": "123456789", "routing_number": "325070760"}}),
        ),
    ] {
        let r = http
            .post(format!("{}{path}", sb.paytrace_url()))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
    let events = wait_for(&got, 2).await;

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let profile = ledgerlink::load::find_profile(&root.join("profiles"), "dev").unwrap();
    let source = ledgerlink::load::read(&root.join("flows/paytrace-payment-posting.yaml")).unwrap();
    let plan =
        ledgerlink::plan::build(source, profile, ledgerlink::script::helpers::system_clock())
            .unwrap();
    let sagepro = super::support::sagepro(&sb);
    let executor = Executor::new(Clients::default().with("sagepro", Arc::new(sagepro)));
    for e in &events {
        let record = executor.run(&plan, e).await;
        assert_eq!(
            record.status,
            RunStatus::Completed,
            "{}",
            record.timeline(false)
        );
    }
    let ledger = super::support::ledger(&sb).await;
    let payments = ledger["payments"].as_array().unwrap();
    let find = |reference: String| {
        payments
            .iter()
            .find(|p| p["PaymentReference"] == reference.as_str())
            .unwrap_or_else(|| panic!("no payment {reference}: {payments:?}"))
            .clone()
    };
    let card = find(format!("PT-{}", events[0]["transaction_id"]));
    assert_eq!(
        (
            card["CustomerID"].as_str(),
            card["GLAccountID"].as_str(),
            card["PaymentMethodCode"].as_str()
        ),
        (Some("ACME01"), Some("1050"), Some("CC"))
    );
    assert_eq!(card["Amount"], "100.00");
    let ach = find(format!("PT-{}", events[1]["transaction_id"]));
    assert_eq!(
        (
            ach["CustomerID"].as_str(),
            ach["GLAccountID"].as_str(),
            ach["PaymentMethodCode"].as_str()
        ),
        (Some("GLOBEX"), Some("1055"), Some("ACH"))
    );
    assert!(!ledger.to_string().contains("4111111111111111"));
}
