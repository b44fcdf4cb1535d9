//! `ledgerlink lint [PATHS] [--profile NAME] [--format human|short|json|sarif]`.

use crate::diag::{Format, render};
use crate::lint::{LintOptions, lint_paths};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Flow files or directories (searched for *.yaml / *.yml). Default: `flows/`.
    paths: Vec<PathBuf>,
    /// Lint for this profile (dev, qa, prod): flows not allowed there and unsigned webhooks
    /// under prod are reported.
    #[arg(long)]
    profile: Option<String>,
    /// Directory holding the profiles (`--profile` must name one of its files).
    #[arg(long, default_value = "profiles")]
    profiles_dir: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    format: OutputFormat,
    /// Colour: auto (on a terminal), always, never.
    #[arg(long, value_enum, default_value_t = Colour::Auto)]
    color: Colour,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum OutputFormat {
    Human,
    Short,
    Json,
    Sarif,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Colour {
    Auto,
    Always,
    Never,
}

/// The profiles directory: `given` when it exists, else a `profiles` folder beside the folder
/// holding the first linted path.
fn profiles_dir_for(given: &std::path::Path, paths: &[PathBuf]) -> Option<PathBuf> {
    if given.is_dir() {
        return Some(given.to_path_buf());
    }
    let first = paths.first()?;
    let flows_dir = if first.is_dir() {
        first.as_path()
    } else {
        first.parent()?
    };
    let project = std::fs::canonicalize(flows_dir).ok()?;
    let beside = project.parent()?.join("profiles");
    beside.is_dir().then_some(beside)
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from("flows")]
    } else {
        args.paths
    };
    let mut profile_data = None;
    if let Some(name) = &args.profile {
        // A typo must not lint silently against nothing. The profiles are looked for where
        // `--profiles-dir` says, else beside the linted flows' folder (`lint ../proj/flows`);
        // without either, the name alone is used, and the user is told.
        match profiles_dir_for(&args.profiles_dir, &paths) {
            Some(dir) => {
                let profile = crate::load::find_profile(&dir, name)?;
                super::run::settings(&profile)?;
                profile_data = Some(std::sync::Arc::new(profile));
            }
            None => eprintln!(
                "note: no profiles directory at `{}` or beside the flows; linting for profile `{name}` by its name only (its connectors, tables and secrets are not checked; pass --profiles-dir DIR)",
                args.profiles_dir.display()
            ),
        }
    }
    let options = LintOptions {
        profile: args.profile,
        profile_data,
    };
    let report = lint_paths(&paths, &options)?;
    let colour = match args.color {
        Colour::Always => true,
        Colour::Never => false,
        Colour::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let format = match args.format {
        OutputFormat::Human => Format::Human { colour },
        OutputFormat::Short => Format::Short,
        OutputFormat::Json => Format::Json,
        OutputFormat::Sarif => Format::Sarif,
    };
    super::out(&render(
        format,
        &report.diagnostics,
        &report.sources,
        report.files,
    ));
    Ok(if report.has_errors() { 1 } else { 0 })
}
