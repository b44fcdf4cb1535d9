//! `ledgerlink runs list [--flow F] [--state S] [--limit N]` and `ledgerlink runs show ID
//! [--json]`: what the store knows about runs, down to every journaled call of one run;
//! `runs engines`: the engines sharing a PostgreSQL store.

use super::setup::Where;
use crate::store::{RunFilter, RunState};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, clap::Subcommand)]
enum What {
    /// Runs, newest first.
    List {
        #[arg(long)]
        flow: Option<String>,
        /// queued, running, waiting, completed, skipped, failed, dead_lettered, discarded.
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[command(flatten)]
        at: Where,
    },
    /// Remove ended runs (and idempotency results, audit entries) older than the retention:
    /// `--older-than`, else the profile's `runtime.retention` (default 90d). Queued, waiting
    /// and dead-lettered runs are kept. `ledgerlink run` does this hourly by itself; this is
    /// safe while it runs. The file does not shrink (freed pages are reused): `VACUUM` it with
    /// the engine stopped to give the space back.
    Prune {
        /// Such as `30d` or `36h`: at least an hour.
        #[arg(long)]
        older_than: Option<String>,
        #[command(flatten)]
        at: Where,
    },
    /// The engines sharing a PostgreSQL store: when each started, how long since its last
    /// heartbeat, and the runs it holds. One silent past its timeout has its runs taken over.
    Engines {
        #[command(flatten)]
        at: Where,
    },
    /// One run: its event, every call with attempts and outcome, its dead letter.
    Show {
        id: i64,
        /// The whole record as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        at: Where,
    },
}

impl Args {
    /// `runs show ID` (used by `dlq show`).
    pub(super) fn show(id: i64, at: Where) -> Args {
        Args {
            what: What::Show {
                id,
                json: false,
                at,
            },
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    match args.what {
        What::Engines { at } => {
            let store = at.open_existing_store()?;
            let engines = store.engines()?;
            if engines.is_empty() {
                outln!(
                    "no engines listed in {}: an SQLite store is used by one `ledgerlink run` at a time (it holds `<store>.lock`); a PostgreSQL store lists the engines running on it",
                    at.store_at()?
                );
                return Ok(0);
            }
            outln!(
                "{:<40}  {:<20}  {:>14}  {:>8}  {:>5}  state",
                "engine",
                "started (UTC)",
                "last heartbeat",
                "timeout",
                "runs"
            );
            for e in engines {
                let started = chrono::DateTime::from_timestamp_millis(e.started_ms)
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                    .unwrap_or_default();
                let state = if e.silent_ms > e.timeout_ms {
                    "silent: its runs are taken over"
                } else {
                    "alive"
                };
                outln!(
                    "{:<40}  {:<20}  {:>12.1}s ago  {:>7}s  {:>5}  {state}",
                    e.id,
                    started,
                    e.silent_ms as f64 / 1000.0,
                    e.timeout_ms / 1000,
                    e.running
                );
            }
            Ok(0)
        }
        What::Prune { older_than, at } => {
            let (text, setting) = match older_than {
                Some(t) => (Some(t), "--older-than"),
                None => (
                    at.profile()?.runtime.and_then(|r| r.retention),
                    "runtime.retention",
                ),
            };
            let Some(keep) = crate::runtime::retention::parse(text.as_deref(), setting)
                .map_err(anyhow::Error::msg)?
            else {
                outln!("retention is `forever`: nothing removed");
                return Ok(0);
            };
            let store = at.open_existing_store()?;
            let p = crate::runtime::retention::prune_older_than(store.as_ref(), keep)?;
            outln!(
                "removed ended runs: {}, idempotency results: {}, audit entries: {} (older than {})",
                p.runs,
                p.ledger,
                p.audit,
                crate::runtime::retention::describe(keep)
            );
            Ok(0)
        }
        What::List {
            flow,
            state,
            limit,
            at,
        } => {
            let state = match state {
                Some(s) => Some(RunState::parse(&s).ok_or_else(|| {
                    let all: Vec<&str> = RunState::ALL.iter().map(|s| s.as_str()).collect();
                    anyhow::anyhow!("unknown state `{s}` (one of: {})", all.join(", "))
                })?),
                None => None,
            };
            let store = at.open_existing_store()?;
            let rows = store.runs(&RunFilter { flow, state, limit })?;
            let capped = rows.len() == limit;
            outln!(
                "{:>8}  {:<14} {:<28} {:>8}  step / reason",
                "run",
                "state",
                "flow",
                "attempts"
            );
            for r in rows {
                let why = match (&r.step, &r.reason) {
                    (Some(s), Some(w)) => format!("{s}: {w}"),
                    (None, Some(w)) => w.clone(),
                    _ => String::new(),
                };
                outln!(
                    "{:>8}  {:<14} {:<28} {:>8}  {}",
                    r.id,
                    r.state.as_str(),
                    r.flow,
                    r.attempts,
                    shorten(&why, 100)
                );
            }
            if capped {
                outln!("(the newest {limit} shown; --limit N for more)");
            }
            Ok(0)
        }
        What::Show { id, json, at } => {
            let store = at.open_existing_store()?;
            let Some(d) = store.run(id)? else {
                eprintln!("error: no run {id} in {}", at.store_at()?);
                return Ok(1);
            };
            if json {
                outln!("{}", serde_json::to_string_pretty(&d)?);
                return Ok(0);
            }
            let r = &d.run;
            outln!(
                "run {} of flow `{}` (revision {})",
                r.id,
                r.flow,
                r.revision
            );
            outln!(
                "  state: {}  (claimed by a worker {} time(s))",
                r.state.as_str(),
                r.attempts
            );
            if let Some(worker) = &r.worker {
                let verb = if r.state == crate::store::RunState::Running {
                    "held by"
                } else {
                    "last ran on"
                };
                outln!("  {verb}: {worker}");
            }
            if let Some(reason) = &r.reason {
                outln!("  {}: {reason}", r.step.as_deref().unwrap_or("reason"));
            }
            outln!(
                "  event {}: {}",
                d.event_key,
                shorten(&d.event.to_string(), 300)
            );
            for e in &d.journal {
                outln!(
                    "  call #{} {} ({}) -> {} after {} attempt(s){}",
                    e.seq,
                    e.step,
                    e.call,
                    e.outcome.as_deref().unwrap_or("IN FLIGHT"),
                    e.attempt,
                    e.idempotency_key
                        .as_ref()
                        .map(|k| format!(", key {k}"))
                        .unwrap_or_default()
                );
                for h in e.history.as_array().into_iter().flatten() {
                    outln!(
                        "      attempt {} failed: {}",
                        h["attempt"],
                        h["message"].as_str().unwrap_or("")
                    );
                }
                outln!("      input  {}", shorten(&e.input.to_string(), 300));
                outln!("      output {}", shorten(&e.output.to_string(), 300));
            }
            if let Some(dl) = &d.dead_letter {
                outln!(
                    "  dead letter ({}) at `{}`: {}",
                    dl.state,
                    dl.step,
                    dl.reason
                );
            }
            Ok(0)
        }
    }
}

/// `text` as one printable table cell of at most `max` characters: control characters
/// (line breaks, escape sequences from a sender's data) are shown escaped, so a reason cannot
/// draw fake rows or recolour the terminal.
pub(super) fn shorten(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (n, c) in text.chars().enumerate() {
        if n == max {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}
