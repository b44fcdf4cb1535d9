//! The activity simulator against embedded emulators: the same seed gives the same operations
//! and amounts, every kind of event happens, the generated sales are in the PayTrace export with
//! their Sage Pro invoice ids, no full card number is reported, a rate paces the events, and a
//! run is fast.

use ledgerlink::sandbox::simulator::{EventKind, SimConfig, SimEvent, simulate};
use ledgerlink::sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn run(seed: u64, count: usize) -> (Sandbox, Vec<SimEvent>) {
    let sb = Sandbox::start(SandboxConfig {
        seed,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let config = SimConfig {
        seed,
        count,
        rate: None,
    };
    let mut seen = 0;
    let events = simulate(&sb.paytrace_url(), &sb.sagepro_url(), &config, |_| {
        seen += 1
    })
    .await
    .unwrap();
    assert_eq!(seen, count);
    (sb, events)
}

fn plans(events: &[SimEvent]) -> Vec<String> {
    events.iter().map(SimEvent::plan).collect()
}

#[tokio::test]
async fn same_seed_same_day() {
    let started = Instant::now();
    let (_a, first) = run(7, 60).await;
    let (_b, second) = run(7, 60).await;
    assert_eq!(plans(&first), plans(&second));
    assert_eq!(
        first, second,
        "fresh emulators with the same seed answer alike"
    );
    let (_c, other) = run(8, 60).await;
    assert_ne!(plans(&first), plans(&other));
    assert!(started.elapsed() < Duration::from_secs(10), "too slow");
}

#[tokio::test]
async fn a_day_has_every_kind_of_event() {
    let (_sb, events) = run(3, 80).await;
    let count = |k: EventKind| events.iter().filter(|e| e.kind == k).count();
    for k in [
        EventKind::Sale,
        EventKind::Decline,
        EventKind::AchSale,
        EventKind::Void,
        EventKind::Refund,
    ] {
        assert!(count(k) > 0, "no {k:?} in {:#?}", plans(&events));
    }
    assert_eq!(count(EventKind::Settlement), 1);
    assert_eq!(count(EventKind::ChargebackNotice), 1);
    for e in &events {
        let line = e.to_string();
        let expect = match e.kind {
            EventKind::Sale => Some(101),
            EventKind::Decline => Some(102),
            EventKind::AchSale => Some(120),
            EventKind::Void => Some(109),
            EventKind::Refund => Some(106),
            EventKind::Settlement | EventKind::ChargebackNotice => None,
        };
        assert_eq!(e.response_code, expect, "{line}");
        assert!(
            !line.contains("4111111111111111") && !line.contains("0000000000"),
            "{line}"
        );
    }
    let notice = events.last().unwrap();
    assert_eq!(notice.kind, EventKind::ChargebackNotice);
    assert!(notice.target.is_some() && notice.outcome.contains("no chargeback API"));
    let batch = events
        .iter()
        .find(|e| e.kind == EventKind::Settlement)
        .unwrap();
    assert!(batch.transaction_id.is_some(), "{batch}");
}

#[tokio::test]
async fn generated_sales_are_in_the_paytrace_export() {
    let (sb, events) = run(11, 40).await;
    let http = ledgerlink::connectors::transport::client();
    let base = sb.paytrace_url();
    let token: Value = http
        .post(format!("{base}/oauth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=password&username=ledgerlink&password=sandbox")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap();
    let export: Value = http
        .post(format!("{base}/v1/transactions/export/by_date_range"))
        .bearer_auth(token)
        .json(&json!({"start_date": "01/01/2000", "end_date": "12/31/2099"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = export["transactions"].as_array().unwrap();
    let sales: Vec<&SimEvent> = events
        .iter()
        .filter(|e| e.kind == EventKind::Sale)
        .collect();
    assert!(!sales.is_empty());
    for s in sales {
        let id = s.transaction_id.unwrap();
        let rec = listed
            .iter()
            .find(|t| t["transaction_id"].as_u64() == Some(id))
            .unwrap_or_else(|| panic!("sale {s} not exported"));
        assert_eq!(
            rec["amount"].to_string(),
            s.amount.unwrap().normalize().to_string()
        );
        let invoice = s.invoice_id.clone().unwrap_or_default();
        assert_eq!(rec["invoice_id"], json!(invoice));
        if !invoice.is_empty() {
            let n: u32 = invoice.trim_start_matches("INV-").parse().unwrap();
            assert!(
                (10021..=10031).contains(&n),
                "{invoice} is not a seeded open invoice"
            );
        }
    }
}

#[tokio::test]
async fn a_rate_paces_the_events() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let config = SimConfig {
        seed: 1,
        count: 6,
        rate: Some(25.0),
    };
    let started = Instant::now();
    let events = simulate(&sb.paytrace_url(), &sb.sagepro_url(), &config, |_| {})
        .await
        .unwrap();
    assert_eq!(events.len(), 6);
    // six events at 25/s: the last one starts 200 ms after the first
    assert!(started.elapsed() >= Duration::from_millis(190));
    assert!(started.elapsed() < Duration::from_secs(5));
}
