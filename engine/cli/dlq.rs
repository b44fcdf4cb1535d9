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
            let store = at.open_existing_store()?;
            let rows = store.dead_letters(&DlqFilter {
                flow,
                step,
                open_only: !all,
                limit,
            })?;
            if rows.is_empty() {
                outln!(
                    "no {}dead letters{}",
                    if all { "" } else { "open " },
                    if all {
                        ""
                    } else {
                        " (--all shows replayed and discarded ones too)"
                    }
                );
                return Ok(0);
            }
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
            if rows.len() == limit {
                outln!(
                    "{} dead letter(s) shown, there may be more (--limit N)",
                    rows.len()
                );
            } else {
                outln!("{} dead letter(s)", rows.len());
            }
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
            let store = at.open_existing_store()?;
            let mut n = 0;
            for id in &ids {
                if store.discard(*id, now_ms())? {
                    store.audit("dlq.discard", &format!("run {id}"), now_ms())?;
                    n += 1;
                } else {
                    eprintln!("run {id}: {}", why_not_open(store.as_ref(), *id)?);
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
    let store = at.open_existing_store()?;
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
        if all {
            outln!("nothing to replay: no open dead letters match");
            return Ok(0);
        }
        anyhow::bail!("name the runs to replay, or use --all (with --flow / --step)");
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
            let Some(d) = store.run(*id)? else {
                outln!("run {id}: no such run");
                continue;
            };
            if d.dead_letter.as_ref().is_none_or(|dl| dl.state != "open") {
                outln!("run {id}: {}", why_not_open(store.as_ref(), *id)?);
                continue;
            }
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
                let done = d
                    .journal
                    .iter()
                    .any(|e| e.step == w.step && e.outcome.as_deref() == Some("ok"));
                if done {
                    outln!(
                        "  {} ({}) succeeded before: kept, not sent again",
                        w.call,
                        w.step
                    );
                    continue;
                }
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
            let last = record.timeline(false);
            outln!("  {}", last.lines().last().unwrap_or("").trim());
        }
        return Ok(0);
    }
    let total = targets.len();
    let mut done = 0;
    for (i, id) in targets.iter().enumerate() {
        let Some(d) = store.run(*id)? else {
            eprintln!("run {id}: no such run");
            continue;
        };
        let revision = plans
            .current(&d.run.flow)
            .map(|p| p.hash.clone())
            .unwrap_or(d.run.revision.clone());
        if store.requeue(*id, &revision, now_ms())? {
            store.audit("dlq.replay", &format!("run {id} on {revision}"), now_ms())?;
            done += 1;
        } else {
            eprintln!("run {id}: {}", why_not_open(store.as_ref(), *id)?);
        }
        if total > 20 && (i + 1) % (total / 20).max(1) == 0 {
            if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                eprint!("\rreplay: {}/{} queued", i + 1, total);
            } else {
                eprintln!("replay: {}/{} queued", i + 1, total);
            }
        }
    }
    if total > 20 && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        eprintln!();
    }
    outln!("{done} of {total} run(s) queued for replay; a running `ledgerlink run` executes them");
    Ok(if done == total { 0 } else { 1 })
}

/// Why a run is not an open dead letter, for the operator.
fn why_not_open(store: &dyn StateStore, id: i64) -> anyhow::Result<String> {
    Ok(match store.run(id)? {
        None => "no such run".to_string(),
        Some(d) => match d.dead_letter {
            Some(dl) if dl.state != "open" => format!("its dead letter was already {}", dl.state),
            _ => format!("not a dead letter (it is {})", d.run.state.as_str()),
        },
    })
}
