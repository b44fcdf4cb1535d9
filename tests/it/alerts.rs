//! Alert delivery: an `alert` step and a dead letter reach the profile's webhook target as
//! Slack-compatible JSON, identical alerts are grouped, a failing target is retried, and runs
//! are never held up by any of it.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::post;
use ledgerlink::alerts::{Alert, Alerter};
use ledgerlink::load::secrets::SecretScope;
use ledgerlink::model::AlertSettings;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

async fn receiver(fail_first: usize) -> (String, Arc<Mutex<Vec<Value>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::new(Mutex::new(0usize));
    let (g, s) = (Arc::clone(&got), Arc::clone(&seen));
    let app = axum::Router::new().route(
        "/slack",
        post(move |body: Bytes| {
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
                g.lock()
                    .unwrap()
                    .push(serde_json::from_slice(&body).unwrap());
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/slack"), got)
}

fn settings(url: &str, window: &str) -> AlertSettings {
    serde_json::from_value(json!({
        "targets": {"ops": {"webhook": url}, "log": {}},
        "default": ["ops", "log"],
        "group_window": window,
    }))
    .unwrap()
}

fn alert(message: &str) -> Alert {
    Alert {
        source: "alert".into(),
        severity: "warning".into(),
        channel: None,
        flow: Some("payments".into()),
        run: Some(7),
        message: message.into(),
    }
}

async fn wait_for(got: &Arc<Mutex<Vec<Value>>>, n: usize) -> Vec<Value> {
    for _ in 0..300 {
        if got.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    got.lock().unwrap().clone()
}

#[tokio::test]
async fn alerts_reach_the_webhook_grouped_and_retried() {
    let (url, got) = receiver(1).await;
    let alerter = Alerter::start(Some(&settings(&url, "500ms")), &SecretScope::default()).unwrap();
    alerter.send(alert("payment posted on account: invoice INV-1 not found"));
    for _ in 0..4 {
        alerter.send(alert("same thing again"));
    }
    let delivered = wait_for(&got, 3).await;
    assert_eq!(
        delivered[0]["text"],
        "[warning] payment posted on account: invoice INV-1 not found (flow `payments`, run 7)",
        "first one after a retry"
    );
    assert_eq!(
        (
            delivered[0]["severity"].as_str(),
            delivered[0]["run"].as_i64()
        ),
        (Some("warning"), Some(7))
    );
    assert_eq!(delivered[1]["count"], 1);
    // The three repeats are held back in the window, then reported once with a count.
    assert_eq!(delivered[2]["count"], 3, "{delivered:?}");
    let text = delivered[2]["text"].as_str().unwrap();
    assert!(text.contains("repeated 3 more time(s)"), "{text}");
    assert_eq!(
        delivered[2]["severity"], "warning",
        "the held-back alerts keep their level"
    );
    assert_eq!(delivered[2]["run"], 7);
}

#[tokio::test]
async fn bad_settings_are_refused_and_no_settings_only_log() {
    let bad: AlertSettings =
        serde_json::from_value(json!({"targets": {}, "default": ["ops"]})).unwrap();
    let e = Alerter::start(Some(&bad), &SecretScope::default())
        .err()
        .unwrap();
    assert!(e.contains("alerts.default names `ops`"), "{e}");
    let secret: AlertSettings = serde_json::from_value(json!({"targets": {"ops": {"webhook": "${env:LEDGERLINK_NO_SUCH_HOOK}"}}, "default": ["ops"]})).unwrap();
    let e = Alerter::start(Some(&secret), &SecretScope::default())
        .err()
        .unwrap();
    assert!(e.contains("alerts.targets.ops.webhook"), "{e}");
    Alerter::start(None, &SecretScope::default())
        .unwrap()
        .send(alert("only logged"));
}

/// A connector whose health a test switches.
struct Flaky(std::sync::atomic::AtomicBool);

impl ledgerlink::connectors::Connector for Flaky {
    fn call<'a>(
        &'a self,
        _: &'a ledgerlink::connectors::Operation,
        _: &'a Value,
        _: &'a ledgerlink::connectors::CallContext,
    ) -> ledgerlink::connectors::BoxFuture<'a, Result<Value, ledgerlink::connectors::ConnectorError>>
    {
        Box::pin(async { Ok(json!({})) })
    }

    fn check(
        &self,
    ) -> ledgerlink::connectors::BoxFuture<'_, Result<String, ledgerlink::connectors::ConnectorError>>
    {
        let up = self.0.load(std::sync::atomic::Ordering::Relaxed);
        Box::pin(async move {
            if up {
                Ok("fine".into())
            } else {
                Err(ledgerlink::connectors::ConnectorError::NotSent {
                    message: "cannot connect".into(),
                    retry_after: None,
                })
            }
        })
    }
}

#[tokio::test]
async fn connector_health_changes_are_alerts_and_metrics() {
    use ledgerlink::alerts::health::{HealthMap, check_once};
    let (url, got) = receiver(0).await;
    let alerter = Alerter::start(Some(&settings(&url, "50ms")), &SecretScope::default()).unwrap();
    let flaky = Arc::new(Flaky(std::sync::atomic::AtomicBool::new(true)));
    let clients = ledgerlink::connectors::Clients::default().with("sagepro", flaky.clone());
    let health: HealthMap = Arc::default();
    check_once(&clients, &alerter, &health).await;
    assert_eq!(health.lock().unwrap().get("sagepro"), Some(&true));
    flaky.0.store(false, std::sync::atomic::Ordering::Relaxed);
    check_once(&clients, &alerter, &health).await;
    check_once(&clients, &alerter, &health).await; // still down: no second alert
    flaky.0.store(true, std::sync::atomic::Ordering::Relaxed);
    check_once(&clients, &alerter, &health).await;
    let delivered = wait_for(&got, 2).await;
    let texts: Vec<&str> = delivered
        .iter()
        .filter_map(|d| d["text"].as_str())
        .collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(
        texts[0].contains("connector `sagepro` is down: temporary failure: cannot connect"),
        "{texts:?}"
    );
    assert!(
        texts[1].contains("connector `sagepro` is up again"),
        "{texts:?}"
    );
    assert_eq!(health.lock().unwrap().get("sagepro"), Some(&true));
}
