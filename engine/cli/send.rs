//! `ledgerlink send FLOW --event FILE|-`: put events in a flow's inbox (the store), where a
//! running `ledgerlink run` picks them up. The file holds one JSON object, a JSON array of
//! objects, or JSON lines (streamed: a file of any size needs little memory). Events are
//! written in batches, each batch one commit; a repeated event (same event id) is reported as
//! a duplicate and creates nothing. A bad line stops the send with its line number; the
//! batches before it are stored, so fix the line and send the file again (they are skipped).

use super::setup::Where;
use crate::runtime::intake::new_event;
use crate::store::{Accepted, StateStore, now_ms};
use anyhow::Context;
use serde_json::Value;
use std::io::BufRead;
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
    let input: Box<dyn BufRead> = if args.event.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(&args.event)
            .with_context(|| format!("cannot read `{}`", args.event.display()))?;
        Box::new(std::io::BufReader::new(file))
    };
    let store = args.at.open_store()?;
    let mut sink = Sink {
        plan: &plan,
        store: &*store,
        batch: Vec::with_capacity(BATCH),
        seen: 0,
        new: 0,
        duplicates: 0,
    };
    let name = args.event.display().to_string();
    let mut lines = input.lines().enumerate();
    // JSON lines stream through in batches, so a file of any size needs little memory; a
    // single (possibly pretty-printed) object or an array is read whole.
    let mut first = None;
    for (_, line) in lines.by_ref() {
        let line = line.with_context(|| format!("cannot read `{name}`"))?;
        if !line.trim().is_empty() {
            first = Some(line);
            break;
        }
    }
    let Some(first) = first else {
        anyhow::bail!("{name}: no events");
    };
    match serde_json::from_str::<Value>(&first) {
        Ok(Value::Object(_)) if !first.trim_start().starts_with('[') => {
            sink.push(serde_json::from_str(&first)?)?;
            for (i, line) in lines {
                let line = line.with_context(|| format!("cannot read `{name}`"))?;
                if line.trim().is_empty() {
                    continue;
                }
                let event = serde_json::from_str(&line)
                    .map_err(|e| anyhow::anyhow!("{name}: line {}: not JSON: {e}", i + 1))?;
                sink.push(event)?;
            }
        }
        _ => {
            let mut text = first;
            for (_, line) in lines {
                text.push('\n');
                text.push_str(&line.with_context(|| format!("cannot read `{name}`"))?);
            }
            for event in parse_events(&text).map_err(|e| anyhow::anyhow!("{name}: {e}"))? {
                sink.push(event)?;
            }
        }
    }
    sink.flush()?;
    outln!(
        "{} event(s) accepted for `{}`, {} duplicate(s) ignored; store {}",
        sink.new,
        args.flow,
        sink.duplicates,
        args.at.store_at()?
    );
    Ok(0)
}

/// Events on their way to the store, a batch (one commit) at a time.
struct Sink<'a> {
    plan: &'a crate::plan::Plan,
    store: &'a dyn StateStore,
    batch: Vec<crate::store::NewEvent>,
    seen: usize,
    new: usize,
    duplicates: usize,
}

impl Sink<'_> {
    fn push(&mut self, event: Value) -> anyhow::Result<()> {
        self.seen += 1;
        let row = new_event(self.plan, event, now_ms())
            .map_err(|err| anyhow::anyhow!("event {}: {err}", self.seen))?;
        self.batch.push(row);
        if self.batch.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        for a in self.store.accept(&self.batch)? {
            match a {
                Accepted::New { .. } => self.new += 1,
                Accepted::Duplicate { .. } => self.duplicates += 1,
            }
        }
        self.batch.clear();
        Ok(())
    }
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
