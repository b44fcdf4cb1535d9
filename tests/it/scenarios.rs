//! Scenario tests: each folder in `tests/scenarios/` holds `flow.yaml` (or `flow.ref`, the path
//! of a shipped flow such as `flows/paytrace-refund-posting.yaml`), `event.json`, optional
//! `replies.yaml` (scripted connector replies, failures included), optional `profile.yaml`
//! (default: `tests/scenarios/profile.yaml`), an optional empty `dry_run` marker, and
//! `expected.txt`: the timeline, every connector call (input, idempotency key, attempt), retry
//! delays and the full run record. `BLESS=1 cargo test scenarios` rewrites them.

use ledgerlink::connectors::mock::scripted::{Reply, Scripted};
use ledgerlink::load::{from_bytes, parse, read_profile};
use ledgerlink::runtime::Executor;
use ledgerlink::runtime::retry::{Jitter, RecordingSleeper};
use std::path::Path;
use std::sync::Arc;

pub fn fixed_clock() -> ledgerlink::script::helpers::Clock {
    Arc::new(|| {
        chrono::DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z")
            .unwrap()
            .to_utc()
    })
}

fn run_case(dir: &Path) -> String {
    let root = dir.parent().unwrap();
    // `flow.ref` names a shipped flow (path from the repository root) to test it as it is.
    let flow_path = match std::fs::read_to_string(dir.join("flow.ref")) {
        Ok(r) => root.parent().unwrap().parent().unwrap().join(r.trim()),
        Err(_) => dir.join("flow.yaml"),
    };
    let flow = from_bytes("flow.yaml", std::fs::read(flow_path).unwrap()).unwrap();
    let event: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("event.json")).unwrap()).unwrap();
    let profile_path = if dir.join("profile.yaml").exists() {
        dir.join("profile.yaml")
    } else {
        root.join("profile.yaml")
    };
    let profile = read_profile(&profile_path).unwrap();
    let replies: Vec<Reply> = match std::fs::read_to_string(dir.join("replies.yaml")) {
        Ok(text) => serde_json::from_value(parse(&text).unwrap().value).unwrap(),
        Err(_) => Vec::new(),
    };
    let plan = match ledgerlink::plan::build(flow, profile, fixed_clock()) {
        Ok(p) => p,
        Err(e) => return format!("plan error: {e}\n"),
    };
    let script = Scripted::new(replies);
    let sleeper = Arc::new(RecordingSleeper::default());
    let mut executor = Executor::new(script.clients());
    executor.sleeper = sleeper.clone();
    executor.jitter = Arc::new(Jitter::seeded(42));
    executor.dry_run = dir.join("dry_run").exists();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let record = rt.block_on(executor.run(&plan, &event));
    let mut out = record.timeline(false);
    out.push_str("calls:\n");
    for c in script.calls() {
        out.push_str(&format!(
            "  {} attempt {} key {}\n    {}\n",
            c.call,
            c.attempt,
            c.idempotency_key.as_deref().unwrap_or("-"),
            c.input
        ));
    }
    let delays = sleeper.delays.lock().unwrap();
    if !delays.is_empty() {
        out.push_str(&format!("delays: {:?}\n", *delays));
    }
    out.push_str("record:\n");
    out.push_str(&serde_json::to_string_pretty(&record).unwrap());
    out.push('\n');
    out
}

#[test]
fn scenarios() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let failures: Vec<String> = super::golden::case_dirs(&root)
        .iter()
        .filter_map(|case| super::golden::check(&case.join("expected.txt"), &run_case(case)))
        .collect();
    assert!(
        failures.is_empty(),
        "scenarios differ (BLESS=1 to accept):\n{}",
        failures.join("\n")
    );
}
