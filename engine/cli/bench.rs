//! `ledgerlink bench lint [--flows N]`: lint N generated flow files (in memory, through the
//! real loader, schema validation and every rule) and report the time, against a baseline
//! measured in the same run (parsing the same YAML only), so the ratio shows what lint adds.
//! `ledgerlink bench sandbox` measures the emulators (`bench_sandbox.rs`), `bench runtime` the
//! durable runtime against in-memory execution (`bench_runtime.rs`).

use crate::lint::{LintOptions, lint_sources};
use crate::load::{SourceFile, from_bytes};
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to measure: `lint` (200 flow files), `sandbox` (emulator requests per second),
    /// `runtime` (W1 events per second, in memory and durable), `w1` (W1 over HTTP against a
    /// hand-written baseline service) or `reload` (how soon a saved flow edit is live).
    #[arg(value_parser = ["lint", "sandbox", "runtime", "w1", "reload"])]
    what: String,
    /// Number of generated flow files.
    #[arg(long, default_value_t = 200)]
    flows: usize,
    /// Repetitions; the median is reported.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Requests per emulator (`bench sandbox`).
    #[arg(long, default_value_t = 10_000)]
    requests: usize,
    /// Concurrent connections (`bench sandbox`) or runs (`bench runtime`).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Events (`bench runtime`; per measurement for `bench w1`).
    #[arg(long, default_value_t = 5_000)]
    events: usize,
    /// Concurrency levels for `bench w1`, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "16,64")]
    levels: Vec<usize>,
    /// Interleaved repeats per level for `bench w1` (the median is reported).
    #[arg(long, default_value_t = 3)]
    repeats: usize,
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    if args.what == "sandbox" {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        return runtime.block_on(super::bench_sandbox::run(args.requests, args.concurrency));
    }
    if args.what == "reload" {
        return super::bench_reload::run(args.flows, args.runs.max(20));
    }
    if args.what == "w1" {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        return runtime.block_on(super::bench_w1::run(
            args.events,
            &args.levels,
            args.repeats,
        ));
    }
    if args.what == "runtime" {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        return runtime.block_on(super::bench_runtime::run(args.events, args.concurrency));
    }
    let files = generate(args.flows)?;
    let bytes: usize = files.iter().map(|f| f.text.len()).sum();
    let mut lint_times = Vec::new();
    let mut parse_times = Vec::new();
    let mut findings = 0;
    for _ in 0..args.runs.max(1) {
        let t = Instant::now();
        for f in &files {
            let _ = crate::load::parse(&f.text);
        }
        parse_times.push(t.elapsed());
        let t = Instant::now();
        let report = lint_sources(files.clone(), &LintOptions::default());
        lint_times.push(t.elapsed());
        findings = report.diagnostics.len();
    }
    lint_times.sort();
    parse_times.sort();
    let lint = lint_times[lint_times.len() / 2];
    let parse = parse_times[parse_times.len() / 2];
    outln!(
        "bench lint: {} flow files, {} KiB, {} runs (median)",
        files.len(),
        bytes / 1024,
        lint_times.len()
    );
    outln!(
        "  baseline (YAML parse only): {:>8.1} ms",
        parse.as_secs_f64() * 1e3
    );
    outln!(
        "  ledgerlink lint (all rules): {:>8.1} ms  ({:.1}x baseline, {:.0} us/file)",
        lint.as_secs_f64() * 1e3,
        lint.as_secs_f64() / parse.as_secs_f64().max(1e-9),
        lint.as_secs_f64() * 1e6 / files.len().max(1) as f64
    );
    outln!("  findings: {findings} (expected 0)");
    outln!(
        "  goal: under 1000 ms for 200 files: {}",
        if lint.as_millis() < 1000 {
            "met"
        } else {
            "NOT met"
        }
    );
    Ok(if findings == 0 { 0 } else { 1 })
}

/// Generate `n` distinct, realistic flow files from the shipped examples.
pub(super) fn generate(n: usize) -> anyhow::Result<Vec<SourceFile>> {
    let templates = [
        include_str!("../../flows/paytrace-payment-posting.yaml"),
        include_str!("../../flows/sagepro-customer-to-paytrace.yaml"),
        include_str!("../../flows/paytrace-refund-posting.yaml"),
    ];
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let t = templates[i % templates.len()];
        let first = t
            .lines()
            .find(|l| l.starts_with("flow: "))
            .unwrap_or("flow: x");
        let text = t
            .replacen(first, &format!("{first}-{i}"), 1)
            .replace("path: /hooks/", &format!("path: /hooks/{i}/"));
        out.push(from_bytes(
            &format!("generated/{i}.yaml"),
            text.into_bytes(),
        )?);
    }
    Ok(out)
}
