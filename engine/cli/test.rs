//! `ledgerlink test [PATHS] [--format human|junit] [--verbose]`: run flow tests
//! (`flows/<name>.test.yaml`) with scripted connectors; exit 1 when one fails.

use crate::flowtest::{discover, report, run_all};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Test files, flow files (their `<name>.test.yaml` is run) or directories. Default: `flows/`.
    paths: Vec<PathBuf>,
    /// Directory holding the profiles; default `profiles/` beside the flows' folder.
    #[arg(long)]
    profiles_dir: Option<PathBuf>,
    /// Output format: `human`, or `junit` XML for CI test reporters.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Show the run and the calls of passing cases too.
    #[arg(long, short)]
    verbose: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    Human,
    Junit,
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from("flows")]
    } else {
        args.paths
    };
    let files = discover(&paths)?;
    if files.is_empty() {
        eprintln!(
            "no flow tests found in {} (write `<flow>.test.yaml` beside a flow; see docs/testing.md)",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(1);
    }
    let summary = run_all(&files, args.profiles_dir.as_deref());
    match args.format {
        Format::Human => super::out(&report::human(&summary, args.verbose)),
        Format::Junit => super::out(&report::junit(&summary)),
    }
    Ok(if summary.ok() { 0 } else { 1 })
}
