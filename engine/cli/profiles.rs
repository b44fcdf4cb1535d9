//! `ledgerlink profiles list` and `ledgerlink profiles diff FROM TO`: what changes when flows
//! are promoted from one environment to the next, setting by setting. Secrets appear only as
//! the references profiles hold (`${env:NAME}`), never resolved.

use crate::load::guards::strings;
use crate::load::{find_profile, profile_names};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, clap::Subcommand)]
enum What {
    /// The profiles in the directory.
    List {
        #[arg(long, default_value = "profiles")]
        profiles_dir: PathBuf,
    },
    /// Settings that differ between two profiles.
    Diff {
        from: String,
        to: String,
        #[arg(long, default_value = "profiles")]
        profiles_dir: PathBuf,
    },
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    match args.what {
        What::List { profiles_dir } => {
            for name in profile_names(&profiles_dir) {
                match find_profile(&profiles_dir, &name) {
                    Ok(p) => outln!("{name:<8} {}", p.description.unwrap_or_default().trim()),
                    Err(e) => outln!("{name:<8} INVALID: {e}"),
                }
            }
            Ok(0)
        }
        What::Diff {
            from,
            to,
            profiles_dir,
        } => {
            let flat = |name: &str| -> anyhow::Result<BTreeMap<String, String>> {
                let p = find_profile(&profiles_dir, name)?;
                let v = serde_json::to_value(&p)?;
                Ok(leaves(&v)
                    .into_iter()
                    .filter(|(k, _)| k != "profile")
                    .collect())
            };
            let (a, b) = (flat(&from)?, flat(&to)?);
            let mut changes = 0;
            for key in a
                .keys()
                .chain(b.keys())
                .collect::<std::collections::BTreeSet<_>>()
            {
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) if x == y => continue,
                    (Some(x), Some(y)) => outln!("~ {key}: {x} -> {y}"),
                    (Some(x), None) => outln!("- {key}: {x}   (only in {from})"),
                    (None, Some(y)) => outln!("+ {key}: {y}   (only in {to})"),
                    (None, None) => continue,
                }
                changes += 1;
            }
            outln!("{changes} setting(s) differ between `{from}` and `{to}`");
            Ok(0)
        }
    }
}

/// Every scalar of a JSON value with its dotted path (strings as they are, others as JSON).
fn leaves(v: &serde_json::Value) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = strings(v, "").into_iter().collect();
    scalars(v, "", &mut out);
    out
}

fn scalars(v: &serde_json::Value, at: &str, out: &mut BTreeMap<String, String>) {
    let join = |k: &str| {
        if at.is_empty() {
            k.to_string()
        } else {
            format!("{at}.{k}")
        }
    };
    match v {
        // Empty containers are settings too (`faults: []`, `log: {}`).
        serde_json::Value::Object(m) if m.is_empty() => {
            out.insert(at.to_string(), "{}".into());
        }
        serde_json::Value::Array(items) if items.is_empty() => {
            out.insert(at.to_string(), "[]".into());
        }
        serde_json::Value::Object(m) => m.iter().for_each(|(k, v)| scalars(v, &join(k), out)),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, v)| scalars(v, &join(&i.to_string()), out)),
        serde_json::Value::String(_) => {}
        other => {
            out.insert(at.to_string(), other.to_string());
        }
    }
}
