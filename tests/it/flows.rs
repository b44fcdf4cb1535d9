//! Every shipped flow in `flows/` lints clean (templates are shipped flows with parameters:
//! `flowtest.rs` checks what `ledgerlink new` makes of them).

use ledgerlink::lint::{LintOptions, lint_paths};
use std::path::{Path, PathBuf};

#[test]
fn shipped_flows_lint_clean() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for dir in ["flows"] {
        let path = root.join(dir);
        if !path.exists() {
            continue;
        }
        for profile in [None, Some("dev"), Some("qa"), Some("prod")] {
            // Shipped flows are checked against the shipped profiles' contents too (LL023).
            let profile_data = profile.map(|p| {
                std::sync::Arc::new(
                    ledgerlink::load::find_profile(
                        &Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles"),
                        p,
                    )
                    .unwrap(),
                )
            });
            let options = LintOptions {
                profile: profile.map(String::from),
                profile_data,
            };
            let report = lint_paths(std::slice::from_ref(&path), &options).unwrap();
            let errors: Vec<_> = report
                .diagnostics
                .iter()
                .filter(|d| d.severity == ledgerlink::diag::Severity::Error || profile.is_none())
                .collect();
            assert!(errors.is_empty(), "{dir} under {profile:?}: {errors:#?}");
        }
    }
}
