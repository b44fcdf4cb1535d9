//! Golden lint cases: each folder in `tests/lint/` holds flow files and `expected.txt`, the
//! human output (no colour) of linting that folder. `BLESS=1 cargo test` rewrites them.

use ledgerlink::diag::{Format, render};
use ledgerlink::lint::{LintOptions, lint_sources};
use ledgerlink::load::from_bytes;
use std::path::Path;

/// Lint every `*.yaml` in `dir`, naming files relative to it, and render for humans.
pub fn lint_dir(dir: &Path, options: &LintOptions) -> String {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    names.sort();
    let files = names
        .iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            from_bytes(&name, std::fs::read(p).unwrap()).unwrap()
        })
        .collect();
    let report = lint_sources(files, options);
    render(
        Format::Human { colour: false },
        &report.diagnostics,
        &report.sources,
        report.files,
    )
}

#[test]
fn golden_cases() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lint");
    let failures: Vec<String> = super::golden::case_dirs(&root)
        .iter()
        .filter_map(|case| {
            let mut profile = std::fs::read_to_string(case.join("profile"))
                .ok()
                .map(|s| s.trim().to_string());
            // A case may carry a whole profile (`against.profile`) to lint against.
            let profile_data = ledgerlink::load::read_profile(&case.join("against.profile"))
                .ok()
                .map(std::sync::Arc::new);
            if let Some(p) = &profile_data {
                profile = Some(p.profile.clone());
            }
            let actual = lint_dir(
                case,
                &LintOptions {
                    profile,
                    profile_data,
                },
            );
            super::golden::check(&case.join("expected.txt"), &actual)
        })
        .collect();
    assert!(
        failures.is_empty(),
        "golden lint cases differ (BLESS=1 to accept):\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_rule_has_a_golden_case() {
    if super::golden::blessing() {
        return; // expected files are being rewritten concurrently
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lint");
    let mut all = String::new();
    for entry in std::fs::read_dir(&root).unwrap() {
        let p = entry.unwrap().path().join("expected.txt");
        all.push_str(&std::fs::read_to_string(p).unwrap_or_default());
    }
    for rule in ledgerlink::lint::rules::RULES {
        let code = rule.code().code;
        assert!(
            all.contains(&format!("[{code}]")),
            "no golden case shows {code}"
        );
    }
}
