//! `ledgerlink check [--profile NAME]`: build every connector the profile configures (secret
//! references resolved) and check each one is reachable and accepts its credentials, without
//! writing anything. Exit 0 when all pass, 1 when one fails, 2 when the profile is unusable.

use crate::connectors::setup::build_clients;
use crate::load::find_profile;
use std::path::PathBuf;
use std::time::Duration;

/// How long one connector's check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Profile whose connectors to check (`profiles/<NAME>.yaml`).
    #[arg(long, default_value = "dev")]
    profile: String,
    /// Directory holding the profiles.
    #[arg(long, default_value = "profiles")]
    profiles_dir: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    let profile = find_profile(&args.profiles_dir, &args.profile)?;
    // Every secret reference first, each failure listed: fixing one missing variable per run
    // of `check` is a slow way to set up a machine.
    let unresolved = unresolved_secrets(&profile, &args.profiles_dir);
    let clients = match build_clients(&profile, &args.profiles_dir) {
        Ok(c) if unresolved.is_empty() => c,
        built => {
            // The build stops at its first problem, which may be one of the unresolved
            // secrets: each is listed once, where it is in the profile file.
            let mut problems: Vec<(String, String)> = built
                .err()
                .map(|e| (e.setting(), e.to_string()))
                .into_iter()
                .collect();
            for problem in unresolved {
                if !problems.contains(&problem) {
                    problems.push(problem);
                }
            }
            let file = super::setup::ProfileFile::read(&args.profiles_dir, &args.profile);
            for (setting, why) in &problems {
                let at = file.as_ref().and_then(|f| f.place(setting));
                eprintln!(
                    "{}error: profile `{}`: {why}",
                    at.unwrap_or_default(),
                    args.profile
                );
            }
            return Ok(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut failed = 0;
    let mut checked = 0;
    runtime.block_on(async {
        for (name, client) in clients.iter() {
            checked += 1;
            let result = tokio::time::timeout(CHECK_TIMEOUT, client.check()).await;
            match result {
                Ok(Ok(what)) => outln!("ok      {name:<10} {what}"),
                Ok(Err(e)) => {
                    failed += 1;
                    outln!("FAILED  {name:<10} {} ({})", e, kind(&e));
                }
                Err(_) => {
                    failed += 1;
                    outln!(
                        "FAILED  {name:<10} no answer within {}s",
                        CHECK_TIMEOUT.as_secs()
                    );
                }
            }
        }
    });
    if checked == 0 {
        outln!("profile `{}` configures no connectors", args.profile);
    }
    Ok(if failed == 0 { 0 } else { 1 })
}

/// Each secret reference in the profile's connectors and `secrets:` that does not resolve: the
/// dotted setting and why.
fn unresolved_secrets(
    profile: &crate::model::Profile,
    profiles_dir: &std::path::Path,
) -> Vec<(String, String)> {
    fn walk(at: &str, value: &serde_json::Value, found: &mut Vec<(String, String)>) {
        match value {
            serde_json::Value::String(s) if crate::load::secrets::is_reference(s) => {
                found.push((at.to_string(), s.clone()));
            }
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    walk(&format!("{at}.{k}"), v, found);
                }
            }
            serde_json::Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(&format!("{at}[{i}]"), v, found);
                }
            }
            _ => {}
        }
    }
    let scope = crate::load::secrets::SecretScope::of(profile, profiles_dir);
    let mut references = Vec::new();
    for (name, settings) in &profile.connectors {
        walk(&format!("connectors.{name}"), settings, &mut references);
    }
    for (name, reference) in &profile.secrets {
        references.push((format!("secrets.{name}"), reference.clone()));
    }
    references
        .iter()
        .filter_map(|(at, reference)| {
            let e = scope.resolve(at, reference).err()?;
            Some((at.clone(), e.to_string()))
        })
        .collect()
}

fn kind(e: &crate::connectors::ConnectorError) -> &'static str {
    use crate::connectors::ConnectorError as E;
    match e {
        E::Retryable { .. } | E::NotSent { .. } => "unreachable or busy: is it running?",
        E::Misconfigured { .. } => "check the credentials and base_url",
        _ => "unexpected answer",
    }
}
