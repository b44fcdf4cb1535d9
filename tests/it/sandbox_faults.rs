//! The fault layer, over real HTTP against the sandbox.

use ledgerlink::sandbox::faults::{Fault, FaultKind};
use ledgerlink::sandbox::{Sandbox, SandboxConfig};
use std::time::Duration;

fn fault(path: &str, kind: FaultKind, count: Option<u32>) -> Fault {
    Fault {
        target: "*".into(),
        method: "*".into(),
        path: path.into(),
        kind,
        after: 0,
        count,
        probability: None,
    }
}

#[tokio::test]
async fn faults_fire_in_order_and_expire() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let http = ledgerlink::connectors::transport::client();
    let url = format!("{}/api/health", sb.sagepro_url());
    let set = format!("{}/_sandbox/faults", sb.sagepro_url());
    let faults = vec![
        fault("/api/health", FaultKind::Unavailable, Some(2)),
        Fault {
            after: 2,
            ..fault(
                "/api/health",
                FaultKind::RateLimited { retry_after_s: 7 },
                Some(1),
            )
        },
    ];
    let r = http.put(&set).json(&faults).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let codes: Vec<u16> = futures_codes(&http, &url, 4).await;
    assert_eq!(codes, [503, 503, 429, 200]);
    let listed: Vec<Fault> = http.get(&set).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed, faults);
    assert_eq!(http.delete(&set).send().await.unwrap().status(), 204);
}

async fn futures_codes(http: &reqwest::Client, url: &str, n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..n {
        let r = http.get(url).send().await.unwrap();
        if r.status() == 429 {
            assert_eq!(r.headers()["retry-after"], "7");
        }
        out.push(r.status().as_u16());
    }
    out
}

#[tokio::test]
async fn hang_and_commit_then_drop_time_out_the_client() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let http = ledgerlink::connectors::transport::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let set = format!("{}/_sandbox/faults", sb.paytrace_url());
    http.post(&set)
        .json(&fault("/v1/ping", FaultKind::CommitThenDrop, Some(1)))
        .send()
        .await
        .unwrap();
    let err = http
        .get(format!("{}/v1/ping", sb.paytrace_url()))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    let ok = http
        .get(format!("{}/v1/ping", sb.paytrace_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn latency_band_delays() {
    let sb = Sandbox::start(SandboxConfig {
        faults: vec![fault(
            "/api/health",
            FaultKind::Latency {
                min_ms: 120,
                max_ms: 150,
            },
            None,
        )],
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let started = std::time::Instant::now();
    let r = reqwest::get(format!("{}/api/health", sb.sagepro_url()))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(120));
}

#[tokio::test]
async fn a_probability_affects_about_that_share_repeatably() {
    let mut f = fault("/api/health", FaultKind::Unavailable, None);
    f.probability = Some(0.2);
    let run = || async {
        let sb = Sandbox::start(SandboxConfig {
            faults: vec![f.clone()],
            ..SandboxConfig::default()
        })
        .await
        .unwrap();
        let http = ledgerlink::connectors::transport::client();
        let mut pattern = Vec::new();
        for _ in 0..500 {
            let s = http
                .get(format!("{}/api/health", sb.sagepro_url()))
                .send()
                .await
                .unwrap()
                .status();
            pattern.push(s == 503);
        }
        pattern
    };
    let first = run().await;
    let share = first.iter().filter(|x| **x).count();
    assert!((70..=130).contains(&share), "{share} of 500");
    assert_eq!(first, run().await, "same pattern on every run");
}
