//! Connector debug logs never show card data or credentials: PayTrace and Sage Pro calls with
//! card numbers, CSCs, bank accounts, passwords and tokens run with every log line captured,
//! then the capture is scanned.

use ledgerlink::connectors::paytrace::client::PayTrace;
use ledgerlink::connectors::sagepro::client::SagePro;
use ledgerlink::connectors::{CallContext, Connector, operation};
use ledgerlink::sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn call(
    c: &dyn Connector,
    op: &str,
    input: Value,
) -> Result<Value, ledgerlink::connectors::ConnectorError> {
    let (_, o) = operation(op).unwrap();
    c.call(o, &input, &CallContext::default()).await
}

fn capture() -> Capture {
    static CAPTURE: std::sync::OnceLock<Capture> = std::sync::OnceLock::new();
    CAPTURE
        .get_or_init(|| {
            use tracing_subscriber::layer::SubscriberExt;
            let capture = Capture::default();
            let writer = capture.clone();
            let subscriber = tracing_subscriber::registry()
                .with(
                    "ledgerlink=debug"
                        .parse::<tracing_subscriber::filter::Targets>()
                        .unwrap(),
                )
                .with(
                    tracing_subscriber::fmt::layer()
                        .with_ansi(false)
                        .with_writer(move || writer.clone()),
                );
            let _ = tracing::subscriber::set_global_default(subscriber);
            capture
        })
        .clone()
}

#[tokio::test]
async fn debug_logs_of_connector_calls_hold_no_card_data_or_secrets() {
    // A global subscriber: a thread-local one races with other tests over tracing's callsite
    // cache. Other tests' connector logs land in the same capture, which only widens the scan.
    let capture = capture();
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let pt = PayTrace::new(ledgerlink::connectors::paytrace::config::Config {
        base_url: sb.paytrace_url(),
        username: "ledgerlink".into(),
        password: "sandbox".into(),
        integrator_id: None,
        timeout: Duration::from_secs(5),
        lookup_window: Duration::from_secs(60),
        refresh_margin: Duration::from_secs(1),
    })
    .unwrap();
    let sp = SagePro::new(ledgerlink::connectors::sagepro::config::Config {
        base_url: sb.sagepro_url(),
        client_id: "ledgerlink-sandbox".into(),
        client_secret: "sandbox-secret".into(),
        timeout: Duration::from_secs(5),
    })
    .unwrap();
    let card =
        json!({"number": "5454545454545454", "expiration_month": 12, "expiration_year": 2030});
    call(
        &pt,
        "paytrace.sale_keyed",
        json!({"amount": "10.00", "credit_card": card, "csc": "987", "invoice_id": "LOG-1",
        "description": "card 5454 5454 5454 5454"}),
    )
    .await
    .unwrap();
    call(
        &pt,
        "paytrace.sale_keyed",
        json!({"amount": "10.01", "credit_card": card, "csc": "987"}),
    )
    .await
    .unwrap_err();
    call(
        &pt,
        "paytrace.customer_create",
        json!({"customer_id": "LOG-C", "credit_card": card,
        "direct_deposit_account": "123456789", "transit_routing_number": "325070760"}),
    )
    .await
    .unwrap();
    call(
        &pt,
        "paytrace.check_sale_by_account",
        json!({"amount": "5.00",
        "check": {"account_number": "123456789", "routing_number": "325070760"}}),
    )
    .await
    .unwrap();
    call(&sp, "sagepro.create_payment", json!({"PaymentReference": "LOG-P", "PaymentDate": "2026-11-20", "Amount": "10.00",
        "CustomerID": "ACME01", "GLAccountID": "1050", "PaymentMethodCode": "CC", "PaymentStatus": "Paid"})).await.unwrap();

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("paytrace POST /v1/transactions/sale/keyed"),
        "requests are logged"
    );
    assert!(logs.contains("sagepro POST /api/payments"));
    assert!(logs.contains("xxxxxxxxxxxx5454") || logs.contains("545454******5454"));
    for secret in [
        "5454545454545454",
        "5454 5454 5454 5454",
        "\"csc\":\"987\"",
        "123456789",
        "325070760",
        "password=sandbox",
        "sandbox-secret",
        "Bearer ",
    ] {
        assert!(!logs.contains(secret), "`{secret}` found in the logs");
    }
    for line in logs.lines().filter(|l| l.contains("access_token")) {
        assert!(line.contains("\"access_token\":\"[redacted]\""), "{line}");
    }
}
