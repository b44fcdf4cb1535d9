//! Flow tests (`ledgerlink test`): `flows/<name>.test.yaml` files hold cases for the flow
//! beside them: an event, scripted connector replies (declines, not found, 409, 422, 503...)
//! and the calls, alerts and outcome expected. They run without a network, in milliseconds.

pub mod matcher;
pub mod report;
pub mod runner;
pub mod spec;

pub use report::Summary;
pub use runner::{FileError, FileResult, run_file};

use std::path::{Path, PathBuf};

pub use crate::load::is_flow_test as is_test_file;

/// Test files under the given paths: a test file as given, a flow file's `<name>.test.yaml`,
/// directories searched recursively.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, crate::load::LoadError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            crate::load::walk_yaml(p, &mut out)?;
            continue;
        }
        if !p.exists() {
            return Err(crate::load::LoadError::Missing {
                path: p.display().to_string(),
            });
        }
        if is_test_file(p) {
            out.push(p.clone());
        } else {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let beside = p.with_file_name(
                name.replace(".yaml", ".test.yaml")
                    .replace(".yml", ".test.yml"),
            );
            if beside.exists() {
                out.push(beside);
            }
        }
    }
    out.retain(|p| is_test_file(p));
    out.dedup();
    Ok(out)
}

/// Run every test file.
pub fn run_all(files: &[PathBuf], profiles: Option<&Path>) -> Summary {
    let mut summary = Summary::default();
    for f in files {
        match run_file(f, profiles) {
            Ok(r) => summary.files.push(r),
            Err(e) => summary.errors.push(e),
        }
    }
    summary
}
