//! `ledgerlink bench sandbox [--requests N] [--concurrency C]`: how many requests per second
//! each emulator holds on this machine, over real HTTP on loopback, through the fault layer and
//! auth. PayTrace: keyed sales (half approved, half declined by the `.01` trigger); Sage Pro:
//! one payment POST for three invoice GETs. The baseline, measured in the same run with the
//! same client, is an axum route answering `{}`: the ratio shows what the emulators add.

use crate::connectors::transport;
use crate::sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// One measured load: requests per second and failures.
struct Load {
    rate: f64,
    errors: usize,
}

pub async fn run(requests: usize, concurrency: usize) -> anyhow::Result<i32> {
    let sb = Sandbox::start(SandboxConfig::default()).await?;
    let http = transport::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(10))
        .build()?;
    let baseline_url = baseline().await?;
    let pt_token = token(
        &http,
        &format!("{}/oauth/token", sb.paytrace_url()),
        "grant_type=password&username=ledgerlink&password=sandbox",
        "access_token",
    )
    .await?;
    let sp_token = token(
        &http,
        &format!("{}/api/auth/token", sb.sagepro_url()),
        "grant_type=client_credentials&client_id=ledgerlink-sandbox&client_secret=sandbox-secret",
        "access_token",
    )
    .await?;

    let base = {
        let url = baseline_url.clone();
        drive(&http, requests, concurrency, move |c, _| {
            c.post(&url).json(&json!({"amount": "1.00"}))
        })
        .await
    };
    let pt = {
        let url = format!("{}/v1/transactions/sale/keyed", sb.paytrace_url());
        drive(&http, requests, concurrency, move |c, n| {
            let cents = if n % 2 == 0 { "00" } else { "01" };
            c.post(&url).bearer_auth(&pt_token).json(&json!({
                "amount": format!("{}.{cents}", 10 + n % 90),
                "credit_card": {"number": "4111111111111111", "expiration_month": 12, "expiration_year": 2030},
                "invoice_id": format!("BENCH-{n}"),
            }))
        })
        .await
    };
    let sp = {
        let base_url = sb.sagepro_url();
        drive(&http, requests, concurrency, move |c, n| {
            if n % 4 == 0 {
                c.post(format!("{base_url}/api/payments"))
                    .bearer_auth(&sp_token)
                    .header("Idempotency-Key", format!("bench-{n}"))
                    .json(&json!({
                        "PaymentReference": format!("BENCH-{n}"), "PaymentDate": "2026-11-20",
                        "Amount": "0.01", "CustomerID": "STARK", "GLAccountID": "1050",
                        "PaymentMethodCode": "CC", "PaymentStatus": "Paid",
                    }))
            } else {
                c.get(format!("{base_url}/api/invoices/INV-10023"))
                    .bearer_auth(&sp_token)
            }
        })
        .await
    };
    outln!("bench sandbox: {requests} requests per target at concurrency {concurrency}");
    outln!(
        "  baseline (axum route answering {{}}): {:>8.0} req/s",
        base.rate
    );
    for (name, load) in [
        ("PayTrace keyed sales", &pt),
        ("Sage Pro 1 POST : 3 GET", &sp),
    ] {
        outln!(
            "  {name:<36} {:>8.0} req/s  ({:.2}x baseline, {} errors)",
            load.rate,
            load.rate / base.rate.max(1e-9),
            load.errors
        );
    }
    let met = pt.rate >= 2000.0 && sp.rate >= 2000.0 && pt.errors + sp.errors == 0;
    outln!(
        "  goal: both at least 2,000 req/s without errors: {}",
        if met { "met" } else { "NOT met" }
    );
    Ok(if pt.errors + sp.errors == 0 { 0 } else { 1 })
}

/// Send `total` requests from `concurrency` workers; the answer must be 2xx, or 4xx for a
/// PayTrace decline (a business answer, not an error).
async fn drive(
    http: &reqwest::Client,
    total: usize,
    concurrency: usize,
    request: impl Fn(&reqwest::Client, usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
) -> Load {
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let request = Arc::new(request);
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (next, errors, request, http) = (
            Arc::clone(&next),
            Arc::clone(&errors),
            Arc::clone(&request),
            http.clone(),
        );
        workers.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    break;
                }
                let ok = match request(&http, n).send().await {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let body: Value = r.json().await.unwrap_or(Value::Null);
                        (200..300).contains(&status)
                            || (status == 400 && body["response_code"] == 102)
                    }
                    Err(_) => false,
                };
                if !ok {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for w in workers {
        let _ = w.await;
    }
    Load {
        rate: total as f64 / started.elapsed().as_secs_f64().max(1e-9),
        errors: errors.load(Ordering::Relaxed),
    }
}

async fn token(
    http: &reqwest::Client,
    url: &str,
    form: &str,
    field: &str,
) -> anyhow::Result<String> {
    let body: Value = http
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form.to_string())
        .send()
        .await?
        .json()
        .await?;
    body[field]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("no token from {url}: {body}"))
}

/// The baseline server: one axum route on loopback answering `{}`.
async fn baseline() -> anyhow::Result<String> {
    let app = axum::Router::new().route(
        "/ok",
        axum::routing::post(|| async { axum::Json(json!({})) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}/ok"))
}
