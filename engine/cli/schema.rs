//! `ledgerlink schema [--connector NAME]`: print the flow JSON Schema (what
//! `schemas/flow.schema.json` holds) or a connector's operation catalog as JSON.

use anyhow::bail;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print this connector's operations (input/output schemas, idempotency, outcomes).
    #[arg(long)]
    connector: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    let text = match &args.connector {
        None => crate::schemas::flow_schema_text(),
        Some(name) => match crate::schemas::connector_schema_text(name) {
            Some(t) => t,
            None => {
                let names: Vec<&str> = crate::connectors::REGISTRY.iter().map(|r| r.name).collect();
                bail!(
                    "unknown connector `{name}` (connectors: {})",
                    names.join(", ")
                );
            }
        },
    };
    super::out(&text);
    Ok(0)
}
