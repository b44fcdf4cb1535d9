//! `ledgerlink run [--profile dev] [--flows DIR] [--store FILE] [--workers N] [--bind ADDR]`:
//! the engine as a service. Loads the flows under the profile, opens the store, recovers runs
//! a previous process left running, serves webhooks and health checks, and executes due runs
//! until Ctrl-C or SIGTERM, then stops gracefully. Under a profile whose sandbox is `embedded`
//! (dev), it also starts the PayTrace and Sage Pro emulators and the activity simulator, whose
//! notifier feeds the engine's own webhook: payments appear in the Sage Pro sandbox at once.

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
    /// Runs executing at once (default: the profile's `runtime.workers`, else 8).
    #[arg(long)]
    workers: Option<usize>,
    /// Print progress every this many seconds (0: never).
    #[arg(long, default_value_t = 10)]
    progress: u64,
    /// Exit once no run is queued, running or waiting (batch mode, for tests and backfills).
    #[arg(long)]
    until_idle: bool,
    /// Webhook and health address (default: the profile's `server.bind`, else 127.0.0.1:8080).
    #[arg(long)]
    bind: Option<String>,
    /// Admin API address (default: the profile's `server.admin_bind`, else 127.0.0.1:8090).
    #[arg(long)]
    admin_bind: Option<String>,
    /// Do not start the profile's embedded sandbox.
    #[arg(long)]
    no_sandbox: bool,
}

/// The profile's signature tolerance and retention, refused when they do not parse (also
/// for `lint --profile`, so a bad setting is found before the engine starts).
pub(super) fn settings(
    profile: &crate::model::Profile,
) -> anyhow::Result<(Duration, Option<Duration>)> {
    let tolerance = profile
        .server
        .as_ref()
        .and_then(|s| s.signature_tolerance.as_deref())
        .map(|t| {
            humantime::parse_duration(t).map_err(|e| {
                anyhow::anyhow!(
                    "profile `{}`: server.signature_tolerance `{t}`: {e}",
                    profile.profile
                )
            })
        })
        .transpose()?
        .unwrap_or(Duration::from_secs(300));
    let retention = crate::runtime::retention::parse(
        profile
            .runtime
            .as_ref()
            .and_then(|r| r.retention.as_deref()),
        "runtime.retention",
    )
    .map_err(|e| anyhow::anyhow!("profile `{}`: {e}", profile.profile))?;
    Ok((tolerance, retention))
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // Background tasks (alert delivery) may start while the engine is assembled.
    let _inside = runtime.enter();
    let profile = args.at.profile()?;
    let (plans, problems) = args.at.plans(&profile)?;
    for p in &problems {
        eprintln!("warning: {p}");
    }
    let clients = super::setup::clients(&profile, &args.at.profiles_dir)?;
    let scope = crate::load::secrets::SecretScope::of(&profile, &args.at.profiles_dir);
    let routes = crate::server::webhook::WebhookRoutes::build(&plans, &profile, &scope)
        .map_err(|e| anyhow::anyhow!("profile `{}`: {e}", profile.profile))?;
    let profile_bind = profile
        .server
        .as_ref()
        .and_then(|s| s.bind.clone())
        .unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let bind = args.bind.clone().unwrap_or_else(|| profile_bind.clone());
    let (tolerance, retention) = settings(&profile)?;
    let embedded = profile
        .sandbox
        .as_ref()
        .filter(|s| s.embedded && !args.no_sandbox)
        .map(|s| {
            crate::sandbox::SandboxConfig::from_profile(s, &scope).map(|c| (c, s.simulate.clone()))
        })
        .transpose()?;
    let store_at = args.at.store_at()?;
    let store = args.at.open_store()?;
    // One engine per store file: a second one would take the first's running runs back as
    // left over by a crash and run them again. The lock goes with the process, crash or not.
    // A PostgreSQL store is shared: its engines take back only runs whose lease expired.
    let _one_engine = match &store_at {
        super::setup::StoreAt::File(path) => Some(lock_store(path)?),
        super::setup::StoreAt::Postgres(_) => None,
    };
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
    outln!(
        "ledgerlink run: profile `{}`, {} flow(s) [{}], store {}",
        profile.profile,
        plans.flows().len(),
        plans.flows().join(", "),
        store_at
    );
    if recovered > 0 {
        outln!("recovered {recovered} run(s) left running by a previous process");
    }
    let alerter = crate::alerts::Alerter::start(profile.alerts.as_ref(), &scope)
        .map_err(|e| anyhow::anyhow!("profile `{}`: {e}", profile.profile))?;
    let config = WorkerConfig {
        concurrency: args
            .workers
            .or_else(|| profile.runtime.as_ref().and_then(|r| r.workers))
            .unwrap_or(8)
            .max(1),
        alerter: alerter.clone(),
        ..WorkerConfig::default()
    };
    let hooks: Vec<String> = routes.by_path.keys().cloned().collect();
    let scheduled: Vec<Arc<crate::plan::Plan>> = plans
        .flows()
        .iter()
        .filter_map(|f| plans.current(f))
        .filter(|p| p.flow.trigger.schedule.is_some())
        .collect();
    let polled: Vec<Arc<crate::plan::Plan>> = plans
        .flows()
        .iter()
        .filter_map(|f| plans.current(f))
        .filter(|p| p.flow.trigger.poll.is_some())
        .collect();
    let poll_clients = clients.clone();
    let health: crate::alerts::health::HealthMap = Arc::default();
    let health_clients = clients.clone();
    let health_alerter = alerter.clone();
    let shared_plans = Arc::new(RwLock::new(plans));
    let shared_routes = Arc::new(RwLock::new(routes));
    let admin_bind = profile
        .server
        .as_ref()
        .and_then(|s| s.admin_bind.clone())
        .unwrap_or_else(|| "127.0.0.1:8090".to_string());
    let admin_token = profile
        .server
        .as_ref()
        .and_then(|s| s.admin_token.as_deref())
        .map(|r| scope.resolve("server.admin_token", r))
        .transpose()?;
    let mut reloader = crate::reload::Reloader::new(
        &args.at.flows,
        profile.clone(),
        scope.clone(),
        Arc::clone(&shared_plans),
        Arc::clone(&shared_routes),
        Arc::clone(&store) as Arc<dyn StateStore>,
    );
    reloader.alerter = alerter;
    let worker = Worker::new(
        Arc::clone(&store),
        Arc::clone(&shared_plans),
        Executor::new(clients),
        config,
    );
    {
        let (worker, dir) = (Arc::clone(&worker), args.at.profiles_dir.clone());
        reloader.watch_profile(
            &args.at.profiles_dir,
            Box::new(move |p| {
                let clients = super::setup::clients(p, &dir).map_err(|e| format!("{e:#}"))?;
                worker.set_clients(clients);
                Ok(())
            }),
        );
    }
    let server_state = crate::server::ServerState {
        store: Arc::clone(&store),
        routes: Arc::clone(&shared_routes),
        wake: Arc::clone(&worker.wake),
        tolerance_s: tolerance.as_secs() as i64,
        completions: Arc::clone(&worker.completions),
        runner: Some(Arc::clone(&worker)),
    };
    runtime.block_on(async {
        let (addr, _server) =
            crate::server::serve(&bind, crate::server::router(server_state)).await?;
        outln!("webhooks and health on http://{addr} (/healthz, /readyz)");
        for path in &hooks {
            outln!("  webhook: POST http://{addr}{path}");
        }
        let admin_state = crate::server::admin::AdminState {
            store: Arc::clone(&store),
            plans: Arc::clone(&shared_plans),
            stats: Arc::clone(&worker.stats),
            reload: Arc::clone(&reloader.status),
            token: admin_token,
            health: Arc::clone(&health),
        };
        // An ephemeral webhook port (tests, several engines on one machine) gets an ephemeral
        // admin port too, unless one is given.
        let admin_addr = match (&args.admin_bind, bind.ends_with(":0")) {
            (Some(a), _) => a.clone(),
            (None, true) => "127.0.0.1:0".to_string(),
            (None, false) => admin_bind,
        };
        let (admin, _admin_task) =
            crate::server::serve(&admin_addr, crate::server::admin::router(admin_state)).await?;
        outln!(
            "admin API on http://{admin} (/metrics, /api/flows, /api/runs, /api/dlq, /api/engines; bearer token)"
        );
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let work = tokio::spawn(Arc::clone(&worker).run(stopped.clone()));
        outln!(
            "watching {} for changes (hot reload)",
            args.at.flows.display()
        );
        match retention {
            Some(keep) => {
                let source = if profile
                    .runtime
                    .as_ref()
                    .is_some_and(|r| r.retention.is_some())
                {
                    "the profile's runtime.retention"
                } else {
                    "the default; set runtime.retention in the profile"
                };
                outln!(
                    "retention: ended runs older than {} are removed hourly ({source})",
                    crate::runtime::retention::describe(keep)
                );
                tokio::spawn(crate::runtime::retention::watch(
                    Arc::clone(&store),
                    keep,
                    Duration::from_secs(3600),
                    stopped.clone(),
                ));
            }
            None => outln!("retention: forever (the store keeps every run)"),
        }
        let starter = TriggerStarter {
            clients: poll_clients.clone(),
            store: Arc::clone(&store),
            plans: Arc::clone(&shared_plans),
            wake: Arc::clone(&worker.wake),
            stop: stopped.clone(),
        };
        {
            // Poll and schedule flows that appear while running get their trigger started.
            let starter = starter.clone();
            reloader.on_new_flow(Box::new(move |plan| starter.start(plan)));
        }
        tokio::spawn(crate::reload::watch(
            reloader,
            Duration::from_millis(500),
            stopped.clone(),
        ));
        for plan in scheduled {
            starter.start(plan);
        }
        let mut _sandbox = None;
        if let Some((mut config, simulate)) = embedded {
            // The embedded sandbox starts empty every time, but the store remembers the events
            // of earlier starts: with the same seed the simulator would replay the same
            // transaction ids and every one would be dropped as a duplicate. A store that has
            // seen runs moves the seed on, so each start brings new transactions.
            let earlier: i64 = store.counts().map(|c| c.values().sum()).unwrap_or(0);
            if earlier > 0 {
                config.seed = config.seed.wrapping_add(earlier as u64);
                outln!(
                    "note: the store holds {earlier} runs from earlier starts; the embedded sandbox uses seed {} so its transactions are new (delete the store to replay seed {} from the start)",
                    config.seed,
                    config.seed.wrapping_sub(earlier as u64)
                );
            }
            let seed = config.seed;
            if let Some(notify) = config.notify.as_mut() {
                follow_bind(notify, &profile_bind, &addr.to_string());
            }
            let sb = crate::sandbox::Sandbox::start(config).await?;
            outln!(
                "embedded sandbox: PayTrace {} , Sage Pro {}",
                sb.paytrace_url(),
                sb.sagepro_url()
            );
            outln!(
                "  look at the Sage Pro ledger: curl -s {}/_sandbox/sagepro/ledger",
                sb.sagepro_url()
            );
            outln!("  and the runs: ledgerlink runs list   (dead letters: ledgerlink dlq list)");
            if let Some(sim) = simulate {
                let config = crate::sandbox::simulator::SimConfig {
                    seed,
                    count: sim.count,
                    rate: Some(sim.rate),
                };
                let (pt, sp) = (sb.paytrace_url(), sb.sagepro_url());
                outln!(
                    "  simulating {} PayTrace events at {}/s",
                    sim.count, sim.rate
                );
                tokio::spawn(async move {
                    if let Err(e) =
                        crate::sandbox::simulator::simulate(&pt, &sp, &config, |_| {}).await
                    {
                        eprintln!("simulator: {e}");
                    }
                });
            }
            _sandbox = Some(sb);
        }
        // Connector health every minute: changes are alerts and `ledgerlink_connector_up`.
        tokio::spawn(crate::alerts::health::watch(
            health_clients,
            health_alerter,
            Arc::clone(&health),
            Duration::from_secs(60),
            stopped.clone(),
        ));
        // Pollers start once their peers (possibly the embedded sandbox) are up.
        for plan in polled {
            starter.start(plan);
        }
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
                    outln!("stopping: finishing in-flight steps");
                    break;
                }
                _ = tick.tick() => {
                    // Counting every run is a scan of the store: only when a line is printed.
                    if args.progress > 0 && last_print.elapsed() >= every {
                        last_print = std::time::Instant::now();
                        outln!("{}", summary(&store.counts().unwrap_or_default()));
                    }
                    if args.until_idle && !store.has_unfinished().unwrap_or(true) {
                        break;
                    }
                }
            }
        }
        let _ = stop.send(true);
        let _ = work.await;
        anyhow::Ok(())
    })?;
    let s = &worker.stats;
    outln!(
        "stopped: {} completed, {} skipped, {} failed, {} dead-lettered, {} retries scheduled",
        s.completed.load(Ordering::Relaxed),
        s.skipped.load(Ordering::Relaxed),
        s.failed.load(Ordering::Relaxed),
        s.dead_lettered.load(Ordering::Relaxed),
        s.waiting.load(Ordering::Relaxed)
    );
    outln!("{}", summary(&store.counts()?));
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

/// Starts the trigger task of a poll or schedule flow (at start, and for flows that appear
/// while running); both follow the flow's current revision through `plans`.
#[derive(Clone)]
struct TriggerStarter {
    clients: crate::connectors::Clients,
    store: Arc<dyn StateStore>,
    plans: Arc<RwLock<crate::runtime::worker::Plans>>,
    wake: Arc<tokio::sync::Notify>,
    stop: tokio::sync::watch::Receiver<bool>,
}

impl TriggerStarter {
    fn start(&self, plan: Arc<crate::plan::Plan>) {
        let trigger = &plan.flow.trigger;
        if let Some(p) = &trigger.poll {
            outln!(
                "  polling `{}` every {} for `{}`",
                p.operation,
                p.every,
                plan.flow.flow
            );
            let poller = crate::triggers::poll::Poller {
                plan,
                clients: self.clients.clone(),
                store: Arc::clone(&self.store),
            };
            tokio::spawn(crate::triggers::poll::run(
                poller,
                Some(Arc::clone(&self.plans)),
                Arc::clone(&self.wake),
                self.stop.clone(),
            ));
        } else if let Some(sc) = &trigger.schedule {
            outln!(
                "  schedule `{}` ({}) for `{}`",
                sc.cron,
                sc.timezone,
                plan.flow.flow
            );
            let scheduler = crate::triggers::schedule::Scheduler {
                plan,
                store: Arc::clone(&self.store),
            };
            tokio::spawn(crate::triggers::schedule::run(
                scheduler,
                Some(Arc::clone(&self.plans)),
                Arc::clone(&self.wake),
                self.stop.clone(),
            ));
        }
    }
}

/// The embedded sandbox's notifier posts to the engine's own webhook, named in the profile by
/// the profile's address. Run on another one (`--bind 127.0.0.1:0`), it would post where
/// nothing listens and no sale would reach the engine, silently: it follows the address the
/// engine really has. A notifier pointed anywhere else is left alone.
fn follow_bind(
    notify: &mut crate::sandbox::notifier::NotifierConfig,
    profile_bind: &str,
    actual: &str,
) {
    let Some(rest) = notify.url.strip_prefix("http://") else {
        return;
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if authority == profile_bind && authority != actual {
        let url = format!("http://{actual}{path}");
        outln!(
            "note: the embedded sandbox notifies {url} (the profile says {}; the engine is bound to {actual})",
            notify.url
        );
        notify.url = url;
    }
}

/// Hold an exclusive lock on `<store>.lock` for as long as the engine runs, or say which store
/// is taken.
fn lock_store(store: &std::path::Path) -> anyhow::Result<std::fs::File> {
    let mut path = store.as_os_str().to_owned();
    path.push(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| anyhow::anyhow!("cannot open the lock file `{}`: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another `ledgerlink run` is using the store `{}`; stop it first, or give this one its own store with --store FILE",
            store.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            anyhow::bail!("cannot lock `{}`: {e}", path.display())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_engine_per_store() {
        let store = std::env::temp_dir().join(format!("ll-lock-{}.db", std::process::id()));
        let first = lock_store(&store).unwrap();
        let second = lock_store(&store).unwrap_err().to_string();
        assert!(second.contains("another `ledgerlink run`"), "{second}");
        drop(first);
        assert!(lock_store(&store).is_ok());
    }

    #[test]
    fn the_notifier_follows_the_engine_to_another_port() {
        let mut n = crate::sandbox::notifier::NotifierConfig::new(
            "http://127.0.0.1:8080/hooks/paytrace/transactions",
            "s",
        );
        follow_bind(&mut n, "127.0.0.1:8080", "127.0.0.1:41234");
        assert_eq!(n.url, "http://127.0.0.1:41234/hooks/paytrace/transactions");
        let mut other =
            crate::sandbox::notifier::NotifierConfig::new("http://10.0.0.5:9000/h", "s");
        follow_bind(&mut other, "127.0.0.1:8080", "127.0.0.1:41234");
        assert_eq!(other.url, "http://10.0.0.5:9000/h");
    }
}
