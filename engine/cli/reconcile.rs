//! `ledgerlink reconcile --date D [--profile NAME] [--dry-run]`: run the settlement
//! reconciliation flow (`flows/settlement-reconciliation.yaml`) for one day against the
//! profile's connectors, print the summary and where the reports are, post the fee entries
//! (not with `--dry-run`). Exit 0 when everything matched, 1 when there are problems.

use crate::load::{find_profile, read};
use crate::runtime::{Executor, RunStatus};
use anyhow::{Context, bail};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The Pacific business day to reconcile, YYYY-MM-DD.
    #[arg(long)]
    date: String,
    /// Profile whose connectors and fee schedule to use.
    #[arg(long, default_value = "dev")]
    profile: String,
    /// Directory holding the profiles.
    #[arg(long, default_value = "profiles")]
    profiles_dir: PathBuf,
    /// The reconciliation flow.
    #[arg(long, default_value = "flows/settlement-reconciliation.yaml")]
    flow: PathBuf,
    /// Reconcile and write the reports, but print the fee entries instead of posting them.
    #[arg(long)]
    dry_run: bool,
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    if chrono::NaiveDate::parse_from_str(&args.date, "%Y-%m-%d").is_err() {
        bail!("--date must be YYYY-MM-DD, got `{}`", args.date);
    }
    let profile = find_profile(&args.profiles_dir, &args.profile)?;
    let source = read(&args.flow)?;
    let plan = crate::plan::build(source, profile, crate::script::helpers::system_clock())
        .with_context(|| format!("`{}`", args.flow.display()))?;
    let clients = super::setup::clients(&plan.profile, &args.profiles_dir)?;
    if clients.get("reconcile").is_none() {
        bail!(
            "profile `{}` has no `connectors.reconcile` section (report_dir, fees); see docs/flows.md#settlement-reconciliation",
            plan.profile.profile
        );
    }
    let mut executor = Executor::new(clients);
    executor.dry_run = args.dry_run;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let event = serde_json::json!({ "date": args.date });
    let record = runtime.block_on(executor.run(&plan, &event));
    let answer = record
        .steps
        .iter()
        .find(|s| s.id == "reconcile")
        .and_then(|s| s.output.clone());
    match (&record.status, answer) {
        (RunStatus::Completed, Some(a)) => {
            let text = |k: &str| {
                a.get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            super::out(&format!(
                "{}\nreport: {}\n        {}\n",
                text("summary"),
                text("report_html"),
                text("report_csv")
            ));
            for b in a
                .get("batches")
                .and_then(|b| b.as_array())
                .into_iter()
                .flatten()
            {
                super::out(&format!(
                    "batch {}: {} transaction(s), net {}, fees {}, {} problem(s)\n",
                    b["number"], b["transactions"], b["net_amount"], b["fees"], b["problems"]
                ));
            }
            let fees: Vec<_> = record
                .steps
                .iter()
                .filter(|s| s.id == "fee_entry")
                .collect();
            if args.dry_run {
                super::out(&format!(
                    "dry run: {} fee entr(ies) not posted\n",
                    record.planned_writes.len()
                ));
                for w in &record.planned_writes {
                    super::out(&format!(
                        "--- {} (idempotency key {})\n{}\n",
                        w.call,
                        w.idempotency_key.as_deref().unwrap_or("-"),
                        serde_json::to_string_pretty(&w.input).unwrap_or_default()
                    ));
                }
            } else {
                super::out(&format!(
                    "{} fee entr(ies) posted or already there\n",
                    fees.len()
                ));
            }
            let problems = a.get("problems").and_then(|p| p.as_u64()).unwrap_or(0);
            Ok(if problems == 0 { 0 } else { 1 })
        }
        _ => {
            eprint!("{}", record.timeline(false));
            bail!("the reconciliation of {} did not complete", args.date)
        }
    }
}
