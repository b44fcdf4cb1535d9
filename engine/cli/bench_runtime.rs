//! `ledgerlink bench runtime [--events N] [--concurrency C]`: events per second through a
//! W1-like flow (map 7 fields with status and GL rules, post the payment to the Sage Pro
//! emulator over loopback), measured three ways in one run: in memory (no store: the
//! baseline), durable with `synchronous=NORMAL`, and durable with `synchronous=FULL` (the
//! default). Durable runs go the whole way: inbox batch, claim, journal before and after the
//! call, idempotency ledger, finish.

use crate::connectors::Clients;
use crate::connectors::sagepro::client::SagePro;
use crate::connectors::sagepro::config::Config;
use crate::model::Profile;
use crate::runtime::Executor;
use crate::runtime::intake::new_event;
use crate::runtime::worker::{Plans, Worker, WorkerConfig};
use crate::sandbox::{Sandbox, SandboxConfig};
use crate::store::sqlite::Durability;
use crate::store::{SqliteStore, StateStore, now_ms};
use serde_json::{Value, json};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

pub(super) const FLOW: &str = r#"flow: w1-posting
trigger: { manual: {} }
steps:
  - id: payment
    map:
      PaymentReference: '"W1-" + event.transaction_id'
      PaymentDate: pacific_date(event.created.at)
      Amount: money(event.amount)
      CustomerID: lookup("customers", event.customer_id)
      GLAccountID: 'lookup("gl_accounts", if event.credit_card == () { "ach_clearing" } else { "card_clearing" })'
      PaymentMethodCode: 'if event.credit_card == () { "ACH" } else { "CC" }'
      PaymentStatus: status_map(event.status_code)
  - id: post
    call: sagepro.create_payment
    with: steps.payment
    idempotency_key: '"w1-" + event.transaction_id'
"#;

fn profile() -> Profile {
    serde_json::from_value(json!({
        "profile": "bench",
        "tables": {
            "customers": {"pt-cust-1001": "ACME01", "pt-cust-1002": "GLOBEX", "pt-cust-1003": "INITECH"},
            "gl_accounts": {"card_clearing": "1050", "ach_clearing": "1055"}
        }
    }))
    .unwrap_or_default()
}

/// A W1-like PayTrace transaction (about 1 KB with its addresses).
pub(super) fn event(i: usize, offset: usize) -> Value {
    let n = i + offset;
    json!({
        "transaction_id": 500_000 + n, "transaction_type": "SALE", "status_code": 101,
        "status_message": "Your transaction was successfully approved.",
        "amount": format!("{}.{:02}", 10 + n % 900, n % 100), "invoice_id": format!("INV-{}", 20_000 + n),
        "customer_id": format!("pt-cust-100{}", 1 + n % 3), "customer_reference_id": "",
        "credit_card": {"masked_number": "xxxxxxxxxxxx5454", "expiration_month": 12, "expiration_year": 28},
        "approval_code": "TAS610", "approval_message": "  NO  MATCH - Approved and completed",
        "avs_response": "No Match", "csc_response": "Match", "description": "Order 81234 web checkout",
        "billing_address": {"name": "Ada Lovelace", "street_address": "8320 Main Street", "city": "Spokane", "state": "WA", "zip": "99201"},
        "shipping_address": {"name": "Ada Lovelace", "street_address": "8320 Main Street", "city": "Spokane", "state": "WA", "zip": "99201"},
        "created": {"at": "11/25/2026 11:42:10 PM", "through": "API", "by": "ledgerlink", "from_ip": "127.0.0.1"},
        "settled": "", "tax_amount": "", "receipt_emailed_to": "ada@example.com"
    })
}

/// A fresh Sage Pro emulator and an executor posting to it: each measurement gets its own, so
/// none pays for the ledger rows an earlier one left behind.
async fn fresh_executor() -> anyhow::Result<(Sandbox, Executor)> {
    let sb = Sandbox::start(SandboxConfig::default()).await?;
    let sagepro = SagePro::new(Config {
        base_url: sb.sagepro_url(),
        client_id: "ledgerlink-sandbox".into(),
        client_secret: "sandbox-secret".into(),
        timeout: Duration::from_secs(10),
    })?;
    let executor = Executor::new(Clients::default().with("sagepro", Arc::new(sagepro)));
    Ok((sb, executor))
}

pub async fn run(events: usize, concurrency: usize) -> anyhow::Result<i32> {
    let source = crate::load::from_bytes("w1-posting.yaml", FLOW.as_bytes().to_vec())?;
    let plan = Arc::new(crate::plan::build(
        source,
        profile(),
        crate::script::helpers::system_clock(),
    )?);
    let dir = std::env::temp_dir().join(format!("ll-bench-runtime-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut results: Vec<(&str, f64)> = Vec::new();
    for variant in ["memory", "normal", "full"] {
        let (_sandbox, executor) = fresh_executor().await?;
        // Warm up the token and the connection pool.
        executor.run(&plan, &event(0, 9_000_000)).await;
        let rate = match variant {
            "memory" => in_memory(&executor, &plan, events, concurrency).await,
            "normal" => {
                durable(
                    &executor,
                    &plan,
                    events,
                    concurrency,
                    &dir,
                    Durability::Normal,
                    1_000_000,
                )
                .await?
            }
            _ => {
                durable(
                    &executor,
                    &plan,
                    events,
                    concurrency,
                    &dir,
                    Durability::Full,
                    2_000_000,
                )
                .await?
            }
        };
        results.push((variant, rate));
    }
    let _ = std::fs::remove_dir_all(&dir);
    let memory = results[0].1;
    outln!(
        "bench runtime: {events} W1 events (map 7 fields, post to the Sage Pro emulator), concurrency {concurrency}"
    );
    outln!(
        "  in memory, no store (baseline):     {:>8.0} events/s",
        memory
    );
    for (name, rate) in [
        ("durable, synchronous=NORMAL:", results[1].1),
        ("durable, synchronous=FULL (default):", results[2].1),
    ] {
        outln!(
            "  {name:<36} {:>8.0} events/s  ({:.2}x baseline)",
            rate,
            rate / memory.max(1e-9)
        );
    }
    Ok(0)
}

async fn in_memory(
    executor: &Executor,
    plan: &Arc<crate::plan::Plan>,
    events: usize,
    concurrency: usize,
) -> f64 {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (executor, plan, next) = (executor.clone(), Arc::clone(plan), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= events {
                    break;
                }
                executor.run(&plan, &event(i, 0)).await;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    events as f64 / started.elapsed().as_secs_f64().max(1e-9)
}

async fn durable(
    executor: &Executor,
    plan: &Arc<crate::plan::Plan>,
    events: usize,
    concurrency: usize,
    dir: &std::path::Path,
    durability: Durability,
    offset: usize,
) -> anyhow::Result<f64> {
    let path = dir.join(format!("{durability:?}.db"));
    let store: Arc<dyn StateStore> = Arc::new(SqliteStore::open(&path, durability)?);
    let mut plans = Plans::default();
    plans.insert_shared(Arc::clone(plan));
    let started = Instant::now();
    for chunk in (0..events).collect::<Vec<_>>().chunks(500) {
        let rows: Vec<_> = chunk
            .iter()
            .filter_map(|i| new_event(plan, event(*i, offset), now_ms()).ok())
            .collect();
        store.accept(&rows)?;
    }
    let worker = Worker::new(
        Arc::clone(&store),
        Arc::new(RwLock::new(plans)),
        executor.clone(),
        WorkerConfig {
            concurrency,
            poll: Duration::from_millis(2),
            ..WorkerConfig::default()
        },
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(Arc::clone(&worker).run(stopped));
    loop {
        let done = worker
            .stats
            .completed
            .load(std::sync::atomic::Ordering::Relaxed) as usize;
        let failed = worker
            .stats
            .dead_lettered
            .load(std::sync::atomic::Ordering::Relaxed) as usize
            + worker
                .stats
                .failed
                .load(std::sync::atomic::Ordering::Relaxed) as usize;
        if done + failed >= events {
            if failed > 0 {
                eprintln!("bench runtime: {failed} run(s) did not complete");
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let rate = events as f64 / started.elapsed().as_secs_f64().max(1e-9);
    let _ = stop.send(true);
    let _ = task.await;
    Ok(rate)
}
