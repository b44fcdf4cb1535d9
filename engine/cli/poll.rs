//! `ledgerlink poll backfill FLOW --from YYYY-MM-DD --to YYYY-MM-DD`: read a poll flow's
//! source one day at a time over a past range and put every record in the inbox, exactly as the
//! poll trigger does (records already there are duplicates and create nothing). The stored
//! cursor is not moved. A running `ledgerlink run` executes the new runs.

use super::setup::Where;
use crate::triggers::poll::Poller;
use chrono::{NaiveDate, TimeZone, Utc};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, clap::Subcommand)]
enum What {
    /// Re-read a date range through a poll flow.
    Backfill {
        /// The poll flow's name.
        flow: String,
        /// First day, `YYYY-MM-DD` (UTC).
        #[arg(long)]
        from: NaiveDate,
        /// Last day, inclusive.
        #[arg(long)]
        to: NaiveDate,
        #[command(flatten)]
        at: Where,
    },
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    let What::Backfill { flow, from, to, at } = args.what;
    if to < from {
        anyhow::bail!("--to {to} is before --from {from}");
    }
    let profile = at.profile()?;
    let plan = at.plan(&profile, &flow)?;
    if plan.flow.trigger.poll.is_none() {
        anyhow::bail!("flow `{flow}` has no poll trigger");
    }
    let windowed = plan
        .flow
        .trigger
        .poll
        .as_ref()
        .and_then(|p| p.with.as_ref())
        .is_some_and(|w| {
            serde_json::Value::Object(w.clone())
                .to_string()
                .contains("window_")
        });
    if !windowed {
        eprintln!(
            "warning: `{flow}`'s poll input does not use `window_start`/`window_end`, so every day reads the same records (only duplicates are skipped)"
        );
    }
    let clients = super::setup::clients(&profile, &at.profiles_dir)?;
    let store = at.open_store()?;
    let poller = Poller {
        plan,
        clients,
        store,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let days = (to - from).num_days() + 1;
    let (mut records, mut new) = (0, 0);
    for (i, day) in from.iter_days().take(days as usize).enumerate() {
        let start = Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default());
        let end = start + chrono::Duration::days(1);
        let outcome = runtime.block_on(poller.backfill(start, end))?;
        records += outcome.records;
        new += outcome.new;
        outln!(
            "[{:>3}/{days}] {day}: {} record(s), {} new, {} already there",
            i + 1,
            outcome.records,
            outcome.new,
            outcome.duplicates
        );
    }
    outln!("backfill of `{flow}`: {records} record(s) read, {new} new event(s) queued");
    Ok(0)
}
