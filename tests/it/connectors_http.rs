//! The generic `http` connector against a loopback server: answers by status, query and
//! default headers from a secret reference, the runtime's idempotency key, Retry-After, and no
//! blind resend of a POST whose answer was lost.

use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use ledgerlink::connectors::{CallContext, ConnectorError, REGISTRY, operation};
use serde_json::{Value, json};
use std::time::Duration;

async fn server() -> String {
    let app = axum::Router::new()
        .route(
            "/items",
            get(
                |headers: HeaderMap, q: axum::extract::RawQuery| async move {
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    axum::Json(json!({"auth": auth, "query": q.0}))
                },
            )
            .post(|headers: HeaderMap, body: axum::Json<Value>| async move {
                let key = headers
                    .get("idempotency-key")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                (
                    StatusCode::CREATED,
                    axum::Json(json!({"key": key, "got": body.0})),
                )
            }),
        )
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .route(
            "/invalid",
            post(|| async {
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    axum::Json(json!({"field": "sku"})),
                )
            }),
        )
        .route(
            "/busy",
            get(|| async {
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    [("retry-after", "3")],
                    "slow down",
                )
            }),
        )
        .route(
            "/slow",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn answers_are_classified_and_settings_apply() {
    let base = server().await;
    let dir = std::env::temp_dir().join(format!("ll-http-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("token"), "Bearer shop-token\n").unwrap();
    let build = REGISTRY
        .iter()
        .find(|r| r.name == "http")
        .unwrap()
        .build
        .unwrap();
    let client = build(
        &json!({"timeout": "1s", "headers": {"Authorization": "${file:token}"}}),
        &ledgerlink::load::secrets::SecretScope::at(&dir),
        &ledgerlink::connectors::Clients::default(),
    )
    .unwrap();
    let call = |op: &'static str, input: Value, key: Option<&str>| {
        let client = client.clone();
        let ctx = CallContext {
            idempotency_key: key.map(str::to_string),
            ..CallContext::default()
        };
        async move {
            let (_, o) = operation(&format!("http.{op}")).unwrap();
            client.call(o, &input, &ctx).await
        }
    };
    let v = call(
        "get",
        json!({"url": format!("{base}/items"), "query": {"sku": "A 1", "n": 2}}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(v["status"], 200);
    assert_eq!(v["body"]["auth"], "Bearer shop-token");
    assert_eq!(v["body"]["query"], "sku=A%201&n=2");
    let v = call(
        "post",
        json!({"url": format!("{base}/items"), "body": {"amount": "10.00"}}),
        Some("run-9/notify"),
    )
    .await
    .unwrap();
    assert_eq!(
        (v["status"].as_u64(), v["body"]["key"].as_str()),
        (Some(201), Some("run-9/notify"))
    );
    assert_eq!(v["body"]["got"]["amount"], "10.00");
    let e = call("get", json!({"url": format!("{base}/missing")}), None)
        .await
        .unwrap_err();
    assert_eq!(e.outcome(), "not_found");
    match call(
        "request",
        json!({"method": "POST", "url": format!("{base}/invalid"), "body": {}}),
        None,
    )
    .await
    {
        Err(ConnectorError::Validation { details, .. }) => assert_eq!(details["field"], "sku"),
        other => panic!("{other:?}"),
    }
    match call("get", json!({"url": format!("{base}/busy")}), None).await {
        Err(ConnectorError::Retryable { retry_after, .. }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(3)))
        }
        other => panic!("{other:?}"),
    }
    // A POST that times out may have been processed: never resent blindly.
    let e = call(
        "post",
        json!({"url": format!("{base}/slow"), "body": {}}),
        None,
    )
    .await
    .unwrap_err();
    assert!(matches!(e, ConnectorError::Permanent { .. }), "{e:?}");
    let e = call("get", json!({"url": "ftp://x"}), None)
        .await
        .unwrap_err();
    assert_eq!(e.outcome(), "validation");
    // A secret reference that cannot be resolved stops the build, naming the setting.
    let e = build(
        &json!({"headers": {"Authorization": "${env:LEDGERLINK_NO_SUCH}"}}),
        &ledgerlink::load::secrets::SecretScope::at(&dir),
        &ledgerlink::connectors::Clients::default(),
    )
    .err()
    .unwrap();
    assert!(
        e.to_string()
            .contains("connectors.http.headers.Authorization"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
