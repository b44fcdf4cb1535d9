//! The committed fuzz corpus, replayed on the stable toolchain: every input in
//! `fuzz/corpus/<target>/` goes through the same harness function the fuzzer ran
//! (`fuzz/harness/mod.rs`, included by path), so `cargo test` and CI keep every input the fuzzer
//! once found interesting (and every crash it found, once fixed) from regressing, without
//! nightly or libFuzzer. Long runs: `docs/reliability.md`.

#[path = "../../fuzz/harness/mod.rs"]
mod harness;

use std::path::Path;

/// Runs `target` over its corpus; a panic names the input file.
fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 10, "{target}: only {} inputs", files.len());
    for file in files {
        let data = std::fs::read(&file).unwrap();
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(outcome.is_ok(), "{target} panicked on {}", file.display());
    }
}

#[test]
fn flow_lint_corpus() {
    replay("flow_lint", harness::flow_lint);
}

#[test]
fn webhook_intake_corpus() {
    replay("webhook_intake", harness::webhook_intake);
}

#[test]
fn script_helpers_corpus() {
    replay("script_helpers", harness::script_helpers);
}
