//! The crash test: `ledgerlink run` posts payments to the Sage Pro emulator (20% of payment
//! posts answered 503, 1% committed with the answer dropped) while it is killed with SIGKILL at
//! random moments, then restarted. At the end every event is posted exactly once or is in the
//! dead-letter queue with a reason: nothing lost, nothing doubled.
//!
//! The webhook form sends the same events by HTTP to a `respond: completed` webhook, as a
//! gateway would: each one is re-sent until it gets a 2xx, across the kills (the run starts at
//! intake and its call's outcome commits with its end).
//!
//! The PostgreSQL forms run two engines on one database at once and kill one of them each
//! round: the other takes over the runs the killed one held (its heartbeat stops; the
//! profile's `runtime.engine_timeout` is 2 s here) while the killed one is restarted.
//!
//! Heavy, so ignored by default; CI runs it explicitly. By hand:
//! `cargo test --test it crash -- --ignored --nocapture`, with `LEDGERLINK_CRASH_EVENTS`
//! (default 5000) and `LEDGERLINK_CRASH_KILLS` (default 5).

use ledgerlink::sandbox::faults::{Fault, FaultKind};
use ledgerlink::sandbox::{Sandbox, SandboxConfig};
use ledgerlink::store::StateStore;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const FLOW: &str = r#"flow: crash-posting
description: One Sage Pro payment per event, idempotent by its reference.
trigger: { manual: {} }
on_error:
  retry: { attempts: 10, backoff: 50ms, max_delay: 500ms }
  then: dead_letter
steps:
  - id: post
    call: sagepro.create_payment
    with:
      PaymentReference: '"CR-" + event.n'
      PaymentDate: '"2026-11-20"'
      Amount: money(event.amount)
      CustomerID: '"STARK"'
      GLAccountID: '"1050"'
      PaymentMethodCode: '"CC"'
      PaymentStatus: '"Paid"'
    idempotency_key: '"crash-" + event.n'
    on:
      validation: dead_letter
"#;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A crash test's directory (flows, profile, events) and store.
struct Rig {
    dir: PathBuf,
    /// `--store`: the SQLite file, or the PostgreSQL URL.
    store: String,
}

impl Rig {
    fn open_store(&self) -> std::sync::Arc<dyn StateStore> {
        ledgerlink::store::open(&self.store, ledgerlink::store::sqlite::Durability::Full).unwrap()
    }
}

fn ledgerlink(rig: &Rig, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ledgerlink"));
    c.current_dir(&rig.dir)
        .args(args)
        .args([
            "--profile",
            "crash",
            "--profiles-dir",
            "profiles",
            "--flows",
            "flows",
            "--store",
            &rig.store,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// `ledgerlink run` as the test runs it: 16 workers, quiet, webhooks on `bind`.
fn engine(rig: &Rig, bind: &str, until_idle: bool) -> Command {
    let mut args = vec![
        "run",
        "--workers",
        "16",
        "--progress",
        "0",
        "--bind",
        bind,
        "--admin-bind",
        "127.0.0.1:0",
    ];
    if until_idle {
        args.push("--until-idle");
    }
    ledgerlink(rig, &args)
}

fn start_engine(rig: &Rig, bind: &str) -> Child {
    engine(rig, bind, false)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// A small xorshift for kill times (seeded: the test is repeatable in shape).
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "heavy: run with --ignored (CI does)"]
async fn killed_engines_never_lose_or_double_a_payment() {
    crash_test(false, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "heavy: run with --ignored (CI does)"]
async fn killed_engines_never_lose_or_double_a_webhook_payment() {
    crash_test(true, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "heavy: run with --ignored (CI does)"]
async fn killed_engines_sharing_postgres_never_lose_or_double_a_payment() {
    if let Some(db) = crate::support::pg_database("crash_send") {
        crash_test(false, Some(&db)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "heavy: run with --ignored (CI does)"]
async fn killed_engines_sharing_postgres_never_lose_or_double_a_webhook_payment() {
    if let Some(db) = crate::support::pg_database("crash_hook") {
        crash_test(true, Some(&db)).await;
    }
}

/// Send every event to the webhook until it answers 2xx (a gateway's redelivery), 16 at once;
/// with several engines, each try goes to the next one (a load balancer).
async fn deliver(urls: Vec<String>, events: usize) {
    let http = ledgerlink::connectors::transport::client();
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut senders = Vec::new();
    for _ in 0..16 {
        let (http, next, urls) = (http.clone(), std::sync::Arc::clone(&next), urls.clone());
        senders.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= events {
                    return;
                }
                let body = serde_json::json!({"n": n, "amount": amount(n)});
                for attempt in n.. {
                    let sent = http
                        .post(&urls[attempt % urls.len()])
                        .timeout(Duration::from_secs(5))
                        .json(&body)
                        .send()
                        .await;
                    if sent.is_ok_and(|r| r.status().is_success()) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }));
    }
    for s in senders {
        s.await.unwrap();
    }
}

fn amount(n: usize) -> String {
    format!("{}.{:02}", 1 + n % 97, n % 100)
}

async fn crash_test(webhook: bool, postgres: Option<&crate::support::PgDatabase>) {
    let events = env_number("LEDGERLINK_CRASH_EVENTS", 5000);
    let kills = env_number("LEDGERLINK_CRASH_KILLS", 5);
    let dir = std::env::temp_dir().join(format!(
        "ll-crash-{}-{}-{}",
        if webhook { "webhook" } else { "send" },
        if postgres.is_some() { "pg" } else { "sqlite" },
        std::process::id()
    ));
    let rig = Rig {
        store: match postgres {
            Some(db) => db.url.clone(),
            None => dir.join("state.db").display().to_string(),
        },
        dir: dir.clone(),
    };
    // Two engines share a PostgreSQL store; SQLite allows one.
    let engines = if postgres.is_some() { 2 } else { 1 };
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("flows")).unwrap();
    std::fs::create_dir_all(dir.join("profiles")).unwrap();

    let fault = |kind: FaultKind, probability: f64| Fault {
        target: "sagepro".into(),
        method: "POST".into(),
        path: "/api/payments".into(),
        kind,
        after: 0,
        count: None,
        probability: Some(probability),
    };
    let sb = Sandbox::start(SandboxConfig {
        sagepro_db: Some(dir.join("sagepro.db")),
        faults: vec![
            fault(FaultKind::Unavailable, 0.20),
            fault(FaultKind::CommitThenDrop, 0.01),
        ],
        ..SandboxConfig::default()
    })
    .await
    .unwrap();

    let flow = if webhook {
        FLOW.replace(
            "trigger: { manual: {} }",
            "trigger:\n  webhook:\n    path: /hooks/crash\n    signature: { scheme: none }\n    event_id: event.n\n    respond: completed",
        )
    } else {
        FLOW.to_string()
    };
    std::fs::write(dir.join("flows/crash-posting.yaml"), flow).unwrap();
    std::fs::write(dir.join("profiles/sagepro.secret"), "sandbox-secret\n").unwrap();
    std::fs::write(
        dir.join("profiles/crash.yaml"),
        format!(
            "profile: crash\nallow_unsigned_webhooks: true\nruntime:\n  engine_timeout: 2s\nconnectors:\n  sagepro:\n    base_url: {}\n    client_id: ledgerlink-sandbox\n    client_secret: ${{file:sagepro.secret}}\n    timeout: 1s\n",
            sb.sagepro_url()
        ),
    )
    .unwrap();
    let binds: Vec<String> = (0..engines)
        .map(|_| {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().to_string()
        })
        .collect();

    let started = Instant::now();
    let delivery = if webhook {
        Some(tokio::spawn(deliver(
            binds
                .iter()
                .map(|b| format!("http://{b}/hooks/crash"))
                .collect(),
            events,
        )))
    } else {
        let lines: Vec<String> = (0..events)
            .map(|n| format!("{{\"n\": {n}, \"amount\": \"{}\"}}", amount(n)))
            .collect();
        std::fs::write(dir.join("events.jsonl"), lines.join("\n")).unwrap();
        let sent = ledgerlink(&rig, &["send", "crash-posting", "--event", "events.jsonl"])
            .output()
            .unwrap();
        assert!(
            sent.status.success(),
            "{}",
            String::from_utf8_lossy(&sent.stderr)
        );
        None
    };

    // Each round: start whichever engines are down, wait a random time, SIGKILL one (no
    // shutdown code runs). With two engines the other keeps working meanwhile.
    let mut seed = 0x5eed_u64;
    let mut running: Vec<Option<Child>> = (0..engines).map(|_| None).collect();
    for round in 0..kills {
        for (slot, bind) in running.iter_mut().zip(&binds) {
            if slot.is_none() {
                *slot = Some(start_engine(&rig, bind));
            }
        }
        let wait = 300 + next(&mut seed) % 1500;
        tokio::time::sleep(Duration::from_millis(wait)).await;
        if let Some(mut victim) = running[round % engines].take() {
            victim.kill().unwrap();
            victim.wait().unwrap();
        }
        let peek = rig.open_store().counts().unwrap();
        println!(
            "crash {round}: engine {} killed after {wait} ms; runs now {peek:?}",
            round % engines
        );
    }
    if let Some(delivery) = delivery {
        // Live engines until every event has been answered 2xx, then a last drain.
        for (slot, bind) in running.iter_mut().zip(&binds) {
            if slot.is_none() {
                *slot = Some(start_engine(&rig, bind));
            }
        }
        delivery.await.unwrap();
    }
    for mut engine in running.into_iter().flatten() {
        engine.kill().unwrap();
        engine.wait().unwrap();
    }
    let last = engine(&rig, "127.0.0.1:0", true).output().unwrap();
    assert!(
        last.status.success(),
        "{}",
        String::from_utf8_lossy(&last.stderr)
    );
    let elapsed = started.elapsed();

    // The engine's view.
    let store = rig.open_store();
    let counts = store.counts().unwrap();
    let completed = counts.get("completed").copied().unwrap_or(0) as usize;
    let dead = counts.get("dead_lettered").copied().unwrap_or(0) as usize;
    assert_eq!(completed + dead, events, "every event ends: {counts:?}");

    // Sage Pro's view: each reference at most once, and exactly the completed runs.
    let ledger: Value = ledgerlink::connectors::transport::client()
        .get(format!("{}/_sandbox/sagepro/ledger", sb.sagepro_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut posted: BTreeMap<String, usize> = BTreeMap::new();
    for p in ledger["payments"].as_array().unwrap() {
        if let Some(r) = p["PaymentReference"]
            .as_str()
            .filter(|r| r.starts_with("CR-"))
        {
            *posted.entry(r.to_string()).or_default() += 1;
        }
    }
    let doubled: Vec<_> = posted.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "posted twice: {doubled:?}");
    let dead_letters = store
        .dead_letters(&ledgerlink::store::DlqFilter {
            open_only: true,
            limit: events,
            ..Default::default()
        })
        .unwrap();
    for d in &dead_letters {
        assert!(!d.reason.is_empty(), "dead letter {} has a reason", d.run);
    }
    assert!(
        posted.len() >= completed && posted.len() <= completed + dead,
        "{} payments for {completed} completed and {dead} dead-lettered runs",
        posted.len()
    );
    println!(
        "crash test ({}, {}): {events} events, {kills} SIGKILLs, {completed} posted once, {dead} dead-lettered, 0 lost, 0 doubled, {:.1}s",
        if webhook {
            "webhook, respond: completed"
        } else {
            "send"
        },
        if postgres.is_some() {
            "two engines on PostgreSQL"
        } else {
            "SQLite"
        },
        elapsed.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
