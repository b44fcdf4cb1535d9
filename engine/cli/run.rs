//! `ledgerlink run [--profile dev] [--flows DIR] [--store FILE] [--workers N]`: the engine as
//! a service. Loads the flows under the profile, opens the store, recovers runs a previous
//! process left running, and executes due runs until Ctrl-C or SIGTERM, then stops gracefully.
//! Events come in through `ledgerlink send` (triggers arrive with the next issue).

use super::setup::Where;
use crate::runtime::Executor;
use crate::runtime::worker::{Worker, WorkerConfig};
use crate::store::{StateStore, now_ms};
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    at: Where,
    /// Runs executing at once.
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// Print progress every this many seconds (0: never).
    #[arg(long, default_value_t = 10)]
    progress: u64,
    /// Exit once no run is queued, running or waiting (batch mode, for tests and backfills).
    #[arg(long)]
    until_idle: bool,
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    let profile = args.at.profile()?;
    let (plans, problems) = args.at.plans(&profile)?;
    for p in &problems {
        eprintln!("warning: {p}");
    }
    let clients = super::setup::clients(&profile, &args.at.profiles_dir)?;
    let store = args.at.open_store()?;
    let recovered = store.recover_running()?;
    for flow in plans.flows() {
        if let Some(plan) = plans.current(&flow) {
            store.save_revision(&flow, &plan.hash, &plan.source.text, now_ms())?;
        }
    }
    store.audit(
        "start",
        &format!(
            "profile {} flows [{}]",
            profile.profile,
            plans.flows().join(", ")
        ),
        now_ms(),
    )?;
    println!(
        "ledgerlink run: profile `{}`, {} flow(s) [{}], store {}",
        profile.profile,
        plans.flows().len(),
        plans.flows().join(", "),
        args.at.store_path().display()
    );
    if recovered > 0 {
        println!("recovered {recovered} run(s) left running by a previous process");
    }
    let store: Arc<dyn StateStore> = store;
    let config = WorkerConfig {
        concurrency: args.workers.max(1),
        ..WorkerConfig::default()
    };
    let worker = Worker::new(
        Arc::clone(&store),
        Arc::new(RwLock::new(plans)),
        Executor::new(clients),
        config,
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let work = tokio::spawn(Arc::clone(&worker).run(stopped));
        let every = Duration::from_secs(args.progress.max(1));
        let mut tick = tokio::time::interval(if args.until_idle {
            Duration::from_millis(200)
        } else {
            every
        });
        let mut last_print = std::time::Instant::now();
        loop {
            tokio::select! {
                _ = shutdown_signal() => {
                    println!("stopping: finishing in-flight steps");
                    break;
                }
                _ = tick.tick() => {
                    let counts = store.counts().unwrap_or_default();
                    let busy: i64 = ["queued", "running", "waiting"]
                        .iter()
                        .map(|s| counts.get(*s).copied().unwrap_or(0))
                        .sum();
                    if args.progress > 0 && last_print.elapsed() >= every {
                        last_print = std::time::Instant::now();
                        println!("{}", summary(&counts));
                    }
                    if args.until_idle && busy == 0 {
                        break;
                    }
                }
            }
        }
        let _ = stop.send(true);
        let _ = work.await;
    });
    let s = &worker.stats;
    println!(
        "stopped: {} completed, {} skipped, {} failed, {} dead-lettered, {} retries scheduled",
        s.completed.load(Ordering::Relaxed),
        s.skipped.load(Ordering::Relaxed),
        s.failed.load(Ordering::Relaxed),
        s.dead_lettered.load(Ordering::Relaxed),
        s.waiting.load(Ordering::Relaxed)
    );
    println!("{}", summary(&store.counts()?));
    store.audit("stop", "graceful", now_ms())?;
    Ok(0)
}

fn summary(counts: &std::collections::BTreeMap<String, i64>) -> String {
    let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    format!(
        "runs: {}",
        if parts.is_empty() {
            "none".into()
        } else {
            parts.join(", ")
        }
    )
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
        match term {
            Ok(mut t) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = t.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
