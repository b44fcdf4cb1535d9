//! `ledgerlink run-once --flow FILE --event FILE [--profile NAME] [--dry-run] [--replies FILE]`:
//! run one event through one flow and print the step timeline. Connectors are the profile's
//! (`connectors:`, real HTTP), or answered from `--replies`. `--dry-run` performs reads but
//! prints, instead of sending, every write with its exact JSON and idempotency key.

use crate::connectors::mock::scripted::{Reply, Scripted};
use crate::load::{find_profile, read};
use crate::model::Profile;
use crate::runtime::{Executor, RunStatus};
use anyhow::{Context, bail};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The flow file.
    #[arg(long)]
    flow: PathBuf,
    /// The event, a JSON file (`-` for stdin).
    #[arg(long)]
    event: PathBuf,
    /// Profile to run under (`profiles/<NAME>.yaml`); default `dev` when that file exists.
    #[arg(long)]
    profile: Option<String>,
    /// Directory holding the profiles.
    #[arg(long, default_value = "profiles")]
    profiles_dir: PathBuf,
    /// Perform reads, print writes instead of sending them.
    #[arg(long)]
    dry_run: bool,
    /// Scripted connector replies (YAML list of `{call, ok | error, ...}`) instead of real
    /// connectors; every connector is answered from this file.
    #[arg(long)]
    replies: Option<PathBuf>,
    /// Print the full run record as JSON (instead of the timeline).
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    let profile = match &args.profile {
        Some(name) => find_profile(&args.profiles_dir, name)?,
        None if args.profiles_dir.join("dev.yaml").exists() => {
            find_profile(&args.profiles_dir, "dev")?
        }
        None => {
            eprintln!(
                "note: no `{}` here; running with an empty `dev` profile (no tables, no rates). Use --profiles-dir DIR or --profile NAME.",
                args.profiles_dir.join("dev.yaml").display()
            );
            Profile {
                profile: "dev".into(),
                ..Profile::default()
            }
        }
    };
    let source = read(&args.flow)?;
    let event_text = if args.event.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(&args.event)
            .with_context(|| format!("cannot read `{}`", args.event.display()))?
    };
    let event: serde_json::Value = serde_json::from_str(&event_text)
        .with_context(|| format!("`{}` is not JSON", args.event.display()))?;
    let plan = match crate::plan::build_for_profile(
        source,
        profile,
        crate::script::helpers::system_clock(),
    ) {
        Ok(p) => p,
        Err(crate::plan::PlanError::Invalid {
            file, diagnostics, ..
        }) => {
            let mut sources = crate::diag::SourceMap::default();
            if let Ok(f) = read(&args.flow) {
                sources.add(&f.name, &f.text);
            }
            eprint!(
                "{}",
                crate::diag::render(
                    crate::diag::Format::Human { colour: false },
                    &diagnostics,
                    &sources,
                    1
                )
            );
            bail!("`{file}` does not lint clean; nothing was run");
        }
        Err(e) => return Err(e.into()),
    };
    let listed = &plan.flow.profiles;
    if !listed.is_empty() && !listed.contains(&plan.profile.profile) {
        eprintln!(
            "warning: flow `{}` lists profiles [{}], not `{}`; running it anyway",
            plan.flow.flow,
            listed.join(", "),
            plan.profile.profile
        );
    }
    let clients = match &args.replies {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read `{}`", path.display()))?;
            let parsed = crate::load::parse(&text)
                .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.message))?;
            let replies: Vec<Reply> = serde_json::from_value(parsed.value)
                .with_context(|| format!("`{}` is not a list of replies", path.display()))?;
            check_replies(&replies, path)?;
            Scripted::new(replies).clients()
        }
        None => super::setup::clients(&plan.profile, &args.profiles_dir)?,
    };
    let mut executor = Executor::new(clients);
    executor.dry_run = args.dry_run;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let record = runtime.block_on(executor.run(&plan, &event));
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&record)?);
        return Ok(exit_code(&record.status));
    }
    super::out(&record.timeline(true));
    if args.dry_run {
        outln!("dry run: {} write(s) not sent", record.planned_writes.len());
        for w in &record.planned_writes {
            outln!(
                "--- {} ({}), idempotency key {}",
                w.call,
                w.step,
                w.idempotency_key.as_deref().unwrap_or("-")
            );
            outln!("{}", serde_json::to_string_pretty(&w.input)?);
        }
    }
    Ok(exit_code(&record.status))
}

fn exit_code(status: &RunStatus) -> i32 {
    match status {
        RunStatus::Completed | RunStatus::Skipped { .. } => 0,
        RunStatus::Failed { .. } | RunStatus::DeadLettered { .. } | RunStatus::Waiting { .. } => 1,
    }
}

/// A replies file with an unknown operation or failure kind is a usage error, not a run failure.
fn check_replies(replies: &[Reply], path: &std::path::Path) -> anyhow::Result<()> {
    crate::connectors::mock::scripted::check(replies)
        .map_err(|m| anyhow::anyhow!("{}: {m}", path.display()))
}
