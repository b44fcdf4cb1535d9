//! Log output for every command: human lines or JSON (`--log-format json`), on stderr, filtered
//! by `--log` or the `LEDGERLINK_LOG` variable (`warn` by default; `debug` shows each connector
//! request and answer, redacted; per-target filters such as `ledgerlink=debug,reqwest=warn`).

use std::str::FromStr;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
}

/// Install the global subscriber. A bad filter is a usage error naming the text.
pub fn init(filter: Option<&str>, format: Format) -> anyhow::Result<()> {
    let text = match filter {
        Some(f) => f.to_string(),
        None => std::env::var("LEDGERLINK_LOG").unwrap_or_else(|_| "warn".into()),
    };
    let targets = Targets::from_str(&text).map_err(|e| {
        anyhow::anyhow!("log filter `{text}`: {e} (try `debug` or `ledgerlink=debug`)")
    })?;
    let registry = tracing_subscriber::registry().with(targets);
    let result = match format {
        Format::Human => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        Format::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    // Already installed (tests calling main twice): keep the first.
    let _ = result;
    Ok(())
}
