//! `ledgerlink send FLOW --event FILE|-`: put events in a flow's inbox (the store), where a
//! running `ledgerlink run` picks them up. The file holds one JSON object, a JSON array of
//! objects, or JSON lines. Events are written in batches, each batch one commit; a repeated
//! event (same event id) is reported as a duplicate and creates nothing.

use super::setup::Where;
use crate::runtime::intake::new_event;
use crate::store::{Accepted, StateStore, now_ms};
use anyhow::Context;
use serde_json::Value;
use std::io::Read;
use std::path::PathBuf;

/// Events per commit.
const BATCH: usize = 500;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The flow's name (its `flow:` field).
    flow: String,
    /// Event file: a JSON object, an array, or JSON lines; `-` reads stdin.
    #[arg(long)]
    event: PathBuf,
    #[command(flatten)]
    at: Where,
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    let profile = args.at.profile()?;
    let plan = args.at.plan(&profile, &args.flow)?;
    let text = if args.event.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s
    } else {
        std::fs::read_to_string(&args.event)
            .with_context(|| format!("cannot read `{}`", args.event.display()))?
    };
    let events =
        parse_events(&text).map_err(|e| anyhow::anyhow!("{}: {e}", args.event.display()))?;
    let store = args.at.open_store()?;
    let (mut new, mut duplicates) = (0usize, 0usize);
    for (n, chunk) in events.chunks(BATCH).enumerate() {
        let mut batch = Vec::with_capacity(chunk.len());
        for (i, e) in chunk.iter().enumerate() {
            let row = new_event(&plan, e, now_ms())
                .map_err(|err| anyhow::anyhow!("event {}: {err}", n * BATCH + i + 1))?;
            batch.push(row);
        }
        for a in store.accept(&batch)? {
            match a {
                Accepted::New { .. } => new += 1,
                Accepted::Duplicate { .. } => duplicates += 1,
            }
        }
    }
    println!(
        "{new} event(s) accepted for `{}`, {duplicates} duplicate(s) ignored; store {}",
        args.flow,
        args.at.store_path().display()
    );
    Ok(0)
}

/// One object, an array of objects, or one object per line.
fn parse_events(text: &str) -> Result<Vec<Value>, String> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        return match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(items)) => Ok(items),
            Ok(_) => Err("expected an array of events".into()),
            Err(e) => Err(format!("not JSON: {e}")),
        };
    }
    if let Ok(one) = serde_json::from_str::<Value>(text) {
        return Ok(vec![one]);
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: not JSON: {e}", i + 1)))
        .collect()
}
