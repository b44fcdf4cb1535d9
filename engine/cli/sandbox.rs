//! `ledgerlink sandbox [--profile NAME] [--paytrace-port N] [--sagepro-port N] [--seed N]
//! [--db FILE] [--faults FILE] [--notify URL --notify-secret REF] [--simulate RATE
//! [--simulate-count N]]`: run the PayTrace and Sage Pro emulators on loopback until
//! interrupted. Settings come from the profile's `sandbox:` section, then flags override them.
//! Optionally feeds PayTrace a simulated day of activity (`sandbox/simulator.rs`) and announces
//! new transactions to a webhook receiver (`sandbox/notifier.rs`), printing each event.

use crate::load::find_profile;
use crate::sandbox::notifier::NotifierConfig;
use crate::sandbox::simulator::{SimConfig, simulate};
use crate::sandbox::{Sandbox, SandboxConfig, faults::Fault};
use anyhow::Context;
use std::path::{Path, PathBuf};

/// Ports used when neither the profile nor a flag names one.
const DEFAULT_PAYTRACE_PORT: u16 = 8081;
const DEFAULT_SAGEPRO_PORT: u16 = 8082;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Take settings from this profile's `sandbox:` section (`profiles/<NAME>.yaml`).
    #[arg(long)]
    profile: Option<String>,
    /// Directory holding the profiles.
    #[arg(long, default_value = "profiles")]
    profiles_dir: PathBuf,
    /// PayTrace emulator port (0 picks a free one; default 8081).
    #[arg(long)]
    paytrace_port: Option<u16>,
    /// Sage Pro emulator port (0 picks a free one; default 8082).
    #[arg(long)]
    sagepro_port: Option<u16>,
    /// Seed for generated ids and seeded data (default 1).
    #[arg(long)]
    seed: Option<u64>,
    /// SQLite file for the Sage Pro ledger (default: in memory).
    #[arg(long)]
    db: Option<PathBuf>,
    /// Faults to start with: a JSON or YAML list (see docs/sandbox.md); added to the profile's.
    #[arg(long)]
    faults: Option<PathBuf>,
    /// Announce each new PayTrace transaction, signed, to this URL (the demo notifier).
    #[arg(long, value_name = "URL", requires = "notify_secret")]
    notify: Option<String>,
    /// Signing secret for --notify, as a reference: `${env:NAME}` or `${file:PATH}`.
    #[arg(long, value_name = "REF", requires = "notify")]
    notify_secret: Option<String>,
    /// Run the activity simulator at RATE events per second (0: as fast as possible).
    #[arg(long, value_name = "RATE")]
    simulate: Option<f64>,
    /// Number of simulated events (with --simulate).
    #[arg(long, value_name = "N", default_value_t = 200, requires = "simulate")]
    simulate_count: usize,
}

/// The configuration the flags and profile describe.
fn config(args: &Args) -> anyhow::Result<SandboxConfig> {
    let mut config = match &args.profile {
        Some(name) => {
            let profile = find_profile(&args.profiles_dir, name)?;
            match &profile.sandbox {
                Some(s) => SandboxConfig::from_profile(
                    s,
                    &crate::load::secrets::SecretScope::of(&profile, &args.profiles_dir),
                )?,
                None => SandboxConfig::default(),
            }
        }
        None => SandboxConfig::default(),
    };
    let from_profile = args.profile.is_some();
    config.paytrace_port = args.paytrace_port.unwrap_or(if from_profile {
        config.paytrace_port
    } else {
        DEFAULT_PAYTRACE_PORT
    });
    config.sagepro_port = args.sagepro_port.unwrap_or(if from_profile {
        config.sagepro_port
    } else {
        DEFAULT_SAGEPRO_PORT
    });
    if let Some(seed) = args.seed {
        config.seed = seed;
    }
    if let Some(db) = &args.db {
        config.sagepro_db = Some(db.clone());
    }
    if let Some(path) = &args.faults {
        config.faults.extend(read_faults(path)?);
    }
    if let (Some(url), Some(reference)) = (&args.notify, &args.notify_secret) {
        let secret = crate::load::secrets::resolve("--notify-secret", reference, Path::new("."))?;
        config.notify = Some(NotifierConfig::new(url, &secret));
    }
    Ok(config)
}

fn read_faults(path: &Path) -> anyhow::Result<Vec<Fault>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    let parsed = crate::load::parse(&text).map_err(|e| {
        let at = e
            .span
            .map(|s| format!(":{}:{}", s.line, s.col))
            .unwrap_or_default();
        anyhow::anyhow!("{}{at}: {}", path.display(), e.message)
    })?;
    let serde_json::Value::Array(items) = parsed.value else {
        anyhow::bail!("`{}` must be a list of faults", path.display());
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let fault: Fault = serde_json::from_value(item)
                .map_err(|e| anyhow::anyhow!("{}: fault {}: {e}", path.display(), i + 1))?;
            fault
                .validate()
                .map_err(|e| anyhow::anyhow!("{}: fault {}: {e}", path.display(), i + 1))?;
            Ok(fault)
        })
        .collect()
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    if args.simulate.is_some_and(|r| !r.is_finite() || r < 0.0) {
        anyhow::bail!("--simulate takes events per second, 0 or more");
    }
    let config = config(&args)?;
    let seed = config.seed;
    // Without --simulate, the profile's `sandbox.simulate` applies (as under `ledgerlink run`).
    let simulated = match (args.simulate, &args.profile) {
        (Some(rate), _) => Some((rate, args.simulate_count)),
        (None, Some(name)) => find_profile(&args.profiles_dir, name)?
            .sandbox
            .and_then(|s| s.simulate)
            .map(|s| (s.rate, s.count)),
        (None, None) => None,
    };
    let notify_url = config.notify.as_ref().map(|n| n.url.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let sandbox = Sandbox::start(config).await?;
        outln!("PayTrace emulator: {}", sandbox.paytrace_url());
        outln!("Sage Pro emulator: {}", sandbox.sagepro_url());
        if let Some(url) = notify_url {
            outln!("Notifier: new PayTrace transactions are POSTed, signed, to {url}");
            let mut deliveries = sandbox.notifications();
            tokio::spawn(async move {
                while let Ok(d) = deliveries.recv().await {
                    let status = d.status.map_or("no answer".to_string(), |s| s.to_string());
                    let verdict = if d.delivered {
                        "delivered"
                    } else {
                        "NOT delivered"
                    };
                    outln!(
                        "notifier: transaction {} {verdict} ({status}, {} attempt(s))",
                        d.transaction_id,
                        d.attempts
                    );
                }
            });
        }
        outln!("Ctrl-C to stop.");
        if let Some((rate, count)) = simulated {
            let sim = SimConfig {
                seed,
                count,
                rate: Some(rate),
            };
            let (pt, sp) = (sandbox.paytrace_url(), sandbox.sagepro_url());
            tokio::spawn(async move {
                let done = simulate(&pt, &sp, &sim, |e| outln!("simulator: {e}")).await;
                match done {
                    Ok(events) => outln!("simulator: done, {} events", events.len()),
                    Err(e) => eprintln!("simulator: {e}"),
                }
            });
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = sandbox.wait() => {}
        }
        anyhow::Ok(0)
    })
}
