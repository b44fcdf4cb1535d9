//! `ledgerlink dlq list|show|replay|discard`: the dead-letter queue. `replay` queues runs
//! again on the flow's current revision (a running `ledgerlink run` picks them up; calls that
//! already succeeded are not repeated, from the journal and the idempotency ledger);
//! `--dry-run` shows what the replay would send, and how it differs from the failed attempt,
//! without writing anything.

use super::runs::shorten;
use super::setup::Where;
use crate::runtime::Executor;
use crate::store::{DlqFilter, StateStore, now_ms};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, clap::Subcommand)]
enum What {
    /// Dead letters, newest first.
    List {
        #[arg(long)]
        flow: Option<String>,
        #[arg(long)]
        step: Option<String>,
        /// Include replayed and discarded ones.
        #[arg(long)]
        all: bool,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[command(flatten)]
        at: Where,
    },
    /// One dead letter with its run (same as `runs show`).
    Show {
        id: i64,
        #[command(flatten)]
        at: Where,
    },
    /// Queue dead-lettered runs again on the current flow revision.
    Replay {
        /// Run ids; or use --all with the filters.
        ids: Vec<i64>,
        /// Every open dead letter (matching --flow / --step).
        #[arg(long)]
        all: bool,
        #[arg(long)]
        flow: Option<String>,
        #[arg(long)]
        step: Option<String>,
        /// Show the writes a replay would send, compared with the failed attempt; change nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        at: Where,
    },
    /// Close dead letters without replaying them.
    Discard {
        ids: Vec<i64>,
        #[command(flatten)]
        at: Where,
    },
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    match args.what {
        What::List {
            flow,
            step,
            all,
            limit,
            at,
        } => {
            let store = at.open_store()?;
            let rows = store.dead_letters(&DlqFilter {
                flow,
                step,
                open_only: !all,
                limit,
            })?;
            outln!(
                "{:>8}  {:<10} {:<28} {:<16} reason",
                "run",
                "state",
                "flow",
                "step"
            );
            for d in &rows {
                outln!(
                    "{:>8}  {:<10} {:<28} {:<16} {}",
                    d.run,
                    d.state,
                    d.flow,
                    d.step,
                    shorten(&d.reason, 100)
                );
            }
            outln!("{} dead letter(s)", rows.len());
            Ok(0)
        }
        What::Show { id, at } => super::runs::run(super::runs::Args::show(id, at)),
        What::Replay {
            ids,
            all,
            flow,
            step,
            dry_run,
            at,
        } => replay(ids, all, flow, step, dry_run, at),
        What::Discard { ids, at } => {
            let store = at.open_store()?;
            let mut n = 0;
            for id in &ids {
                if store.discard(*id, now_ms())? {
                    store.audit("dlq.discard", &format!("run {id}"), now_ms())?;
                    n += 1;
                } else {
                    eprintln!("run {id} is not an open dead letter");
                }
            }
            outln!("{n} dead letter(s) discarded");
            Ok(if n == ids.len() { 0 } else { 1 })
        }
    }
}

fn replay(
    ids: Vec<i64>,
    all: bool,
    flow: Option<String>,
    step: Option<String>,
    dry_run: bool,
    at: Where,
) -> anyhow::Result<i32> {
    let store = at.open_store()?;
    let targets: Vec<i64> = if all {
        store
            .dead_letters(&DlqFilter {
                flow,
                step,
                open_only: true,
                limit: usize::MAX >> 1,
            })?
            .iter()
            .map(|d| d.run)
            .collect()
    } else {
        ids
    };
    if targets.is_empty() {
        outln!("nothing to replay");
        return Ok(0);
    }
    let profile = at.profile()?;
    let (plans, _) = at.plans(&profile)?;
    if dry_run {
        let mut executor = Executor::new(super::setup::clients(&profile, &at.profiles_dir)?);
        executor.dry_run = true;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        for id in &targets {
            let Some(d) = store.run(*id)? else { continue };
            let Some(plan) = plans.current(&d.run.flow) else {
                outln!("run {id}: flow `{}` is not loaded", d.run.flow);
                continue;
            };
            let record = runtime.block_on(executor.run(&plan, &d.event));
            outln!(
                "run {id} (flow `{}`), on revision {}:",
                d.run.flow,
                plan.hash
            );
            for w in &record.planned_writes {
                let before = d
                    .journal
                    .iter()
                    .rfind(|e| e.step == w.step)
                    .map(|e| e.input.clone());
                let same = before.as_ref() == Some(&w.input);
                outln!(
                    "  would send {} ({}){}",
                    w.call,
                    w.step,
                    match (&before, same) {
                        (None, _) => " [not attempted before]".to_string(),
                        (Some(_), true) => " [same input as the failed attempt]".to_string(),
                        (Some(_), false) => " [input changed]".to_string(),
                    }
                );
                outln!("      {}", shorten(&w.input.to_string(), 300));
                if let (Some(b), false) = (before, same) {
                    outln!("    was {}", shorten(&b.to_string(), 300));
                }
            }
            outln!("  => {:?}", record.status);
        }
        return Ok(0);
    }
    let total = targets.len();
    let mut done = 0;
    for (i, id) in targets.iter().enumerate() {
        let Some(d) = store.run(*id)? else { continue };
        let revision = plans
            .current(&d.run.flow)
            .map(|p| p.hash.clone())
            .unwrap_or(d.run.revision.clone());
        if store.requeue(*id, &revision, now_ms())? {
            store.audit("dlq.replay", &format!("run {id} on {revision}"), now_ms())?;
            done += 1;
        }
        if total > 20 && (i + 1) % (total / 20).max(1) == 0 {
            eprint!("\rreplay: {}/{} queued", i + 1, total);
        }
    }
    if total > 20 {
        eprintln!();
    }
    outln!("{done} of {total} run(s) queued for replay; a running `ledgerlink run` executes them");
    Ok(if done == total { 0 } else { 1 })
}
