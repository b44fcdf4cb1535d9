//! `ledgerlink new NAME --template T [--set KEY=VALUE]... [--dir flows]` writes a flow and its
//! test file from a template; `ledgerlink new --list` shows the templates.

use crate::templates::{TEMPLATES, find, manifest, render};
use anyhow::{Context, bail};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The new flow's name (its id and file name), e.g. `eu-payment-posting`.
    name: Option<String>,
    /// The template to start from (`--list` shows them).
    #[arg(long, short)]
    template: Option<String>,
    /// A template parameter, `KEY=VALUE` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Where to write the flow and its tests.
    #[arg(long, default_value = "flows")]
    dir: PathBuf,
    /// List the templates, one line each (with `--template T`: that one and its parameters).
    #[arg(long)]
    list: bool,
    /// Overwrite existing files.
    #[arg(long)]
    force: bool,
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    if args.list {
        if let Some(t) = &args.template {
            find(t)?;
        }
        let mut out = String::new();
        for t in TEMPLATES {
            let m = manifest(t)?;
            if args.template.as_ref().is_some_and(|w| *w != m.template) {
                continue;
            }
            out.push_str(&format!("{:<26} {}\n", m.template, m.summary.trim()));
            // With --template: its parameters too.
            for (k, p) in m.params.iter().filter(|_| args.template.is_some()) {
                out.push_str(&format!(
                    "  --set {k}=...  {} (default {})\n",
                    p.help, p.default
                ));
            }
        }
        if args.template.is_none() {
            out.push_str("\nparameters of one: ledgerlink new --list --template T\n");
        }
        super::out(&out);
        return Ok(0);
    }
    let (Some(name), Some(template)) = (&args.name, &args.template) else {
        bail!("usage: ledgerlink new NAME --template TEMPLATE (ledgerlink new --list shows them)");
    };
    let mut set = BTreeMap::new();
    for s in &args.set {
        let Some((k, v)) = s.split_once('=') else {
            bail!("--set `{s}`: write KEY=VALUE");
        };
        set.insert(k.trim().to_string(), v.trim().to_string());
    }
    let (t, m) = find(template)?;
    let rendered = render(t, &m, name, &set)?;
    let flow_path = args.dir.join(format!("{name}.yaml"));
    let test_path = args.dir.join(format!("{name}.test.yaml"));
    for p in [&flow_path, &test_path] {
        if p.exists() && !args.force {
            bail!(
                "`{}` exists; choose another name or pass --force",
                p.display()
            );
        }
    }
    std::fs::create_dir_all(args.dir.join("events"))
        .with_context(|| format!("cannot create `{}`", args.dir.display()))?;
    std::fs::write(&flow_path, &rendered.flow)
        .with_context(|| format!("cannot write `{}`", flow_path.display()))?;
    std::fs::write(&test_path, &rendered.tests)
        .with_context(|| format!("cannot write `{}`", test_path.display()))?;
    let mut wrote = vec![
        flow_path.display().to_string(),
        test_path.display().to_string(),
    ];
    for (file, text) in rendered.events {
        let p = args.dir.join("events").join(file);
        if !p.exists() {
            std::fs::write(&p, text).with_context(|| format!("cannot write `{}`", p.display()))?;
            wrote.push(p.display().to_string());
        }
    }
    let mut out = format!("wrote {}\n", wrote.join(", "));
    if rendered.flow.contains("\n  poll:") || rendered.flow.contains("\n  schedule:") {
        out.push_str(&format!(
            "note: like `{}`, this flow polls or runs on a schedule by itself: keep only one of them running on the same source (two billing flows would bill the same invoices)\n",
            m.flow
        ));
    }
    if set.keys().any(|k| k.ends_with("_table")) {
        out.push_str(
            "note: the tables you named must exist in your profiles (profiles/*.yaml `tables:`)\n",
        );
    }
    out.push_str(&format!(
        "next: ledgerlink lint {} --profile dev && ledgerlink test {}\n",
        flow_path.display(),
        flow_path.display()
    ));
    super::out(&out);
    Ok(0)
}
