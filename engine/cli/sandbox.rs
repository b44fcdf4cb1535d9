//! `ledgerlink sandbox [--paytrace-port N] [--sagepro-port N] [--seed N] [--db FILE]
//! [--faults FILE] [--simulate RATE [--simulate-count N]]`: run the PayTrace and Sage Pro
//! emulators on loopback until interrupted, optionally feeding PayTrace a simulated day of
//! activity (`sandbox/simulator.rs`) and printing each event.

use crate::sandbox::simulator::{SimConfig, simulate};
use crate::sandbox::{Sandbox, SandboxConfig, faults::Fault};
use anyhow::Context;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// PayTrace emulator port (0 picks a free one).
    #[arg(long, default_value_t = 8081)]
    paytrace_port: u16,
    /// Sage Pro emulator port (0 picks a free one).
    #[arg(long, default_value_t = 8082)]
    sagepro_port: u16,
    /// Seed for generated ids and seeded data.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// SQLite file for the Sage Pro ledger (default: in memory).
    #[arg(long)]
    db: Option<PathBuf>,
    /// Faults to start with: a JSON or YAML list (see docs/sandbox.md).
    #[arg(long)]
    faults: Option<PathBuf>,
    /// Run the activity simulator at RATE events per second (0: as fast as possible).
    #[arg(long, value_name = "RATE")]
    simulate: Option<f64>,
    /// Number of simulated events (with --simulate).
    #[arg(long, value_name = "N", default_value_t = 200, requires = "simulate")]
    simulate_count: usize,
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    let faults: Vec<Fault> = match &args.faults {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read `{}`", p.display()))?;
            let parsed = crate::load::parse(&text)
                .map_err(|e| anyhow::anyhow!("{}: {}", p.display(), e.message))?;
            serde_json::from_value(parsed.value)
                .with_context(|| format!("`{}` is not a list of faults", p.display()))?
        }
        None => Vec::new(),
    };
    if args.simulate.is_some_and(|r| !r.is_finite() || r < 0.0) {
        anyhow::bail!("--simulate takes events per second, 0 or more");
    }
    let config = SandboxConfig {
        paytrace_port: args.paytrace_port,
        sagepro_port: args.sagepro_port,
        seed: args.seed,
        sagepro_db: args.db,
        faults,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let sandbox = Sandbox::start(config).await?;
        println!("PayTrace emulator: {}", sandbox.paytrace_url());
        println!("Sage Pro emulator: {}", sandbox.sagepro_url());
        println!("Ctrl-C to stop.");
        if let Some(rate) = args.simulate {
            let sim = SimConfig {
                seed: args.seed,
                count: args.simulate_count,
                rate: Some(rate),
            };
            let (pt, sp) = (sandbox.paytrace_url(), sandbox.sagepro_url());
            tokio::spawn(async move {
                let done = simulate(&pt, &sp, &sim, |e| println!("simulator: {e}")).await;
                match done {
                    Ok(events) => println!("simulator: done, {} events", events.len()),
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
