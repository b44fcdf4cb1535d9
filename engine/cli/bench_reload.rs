//! `ledgerlink bench reload [--flows 200] [--runs 20]`: how soon a saved flow edit is live.
//! `ledgerlink run` compares the flow files every 500 ms (`reload::watch`); a change is then
//! planned and swapped in by `Reloader::check`. This measures that check, idle (nothing changed:
//! the scan) and after an edit (scan, lint, plan, swap), over a folder of generated flows plus
//! the shipped ones, with the `dev` profile. Latency of an edit = up to 500 ms of waiting plus
//! the edit's check.

use crate::reload::Reloader;
use crate::runtime::worker::Plans;
use crate::server::webhook::WebhookRoutes;
use crate::store::{SqliteStore, StateStore};
use std::sync::{Arc, RwLock};
use std::time::Instant;

pub fn run(flows: usize, runs: usize) -> anyhow::Result<i32> {
    let profile = crate::load::find_profile(std::path::Path::new("profiles"), "dev")
        .map_err(|e| anyhow::anyhow!("{e} (run `bench reload` from the project folder)"))?;
    let scope = crate::load::secrets::SecretScope::of(&profile, std::path::Path::new("profiles"));
    let dir = std::env::temp_dir().join(format!("ll-bench-reload-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let files = super::bench::generate(flows)?;
    let mut plans = Plans::default();
    let mut paths = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let path = dir.join(format!("flow-{i}.yaml"));
        std::fs::write(&path, f.text.as_bytes())?;
        let source = crate::load::read(&path)?;
        plans.insert(crate::plan::build(
            source,
            profile.clone(),
            crate::script::helpers::system_clock(),
        )?);
        paths.push(path);
    }
    let routes = WebhookRoutes::build(&plans, &profile, &scope).map_err(|e| anyhow::anyhow!(e))?;
    let store: Arc<dyn StateStore> = Arc::new(SqliteStore::memory()?);
    let mut reloader = Reloader::new(
        &dir,
        profile,
        scope,
        Arc::new(RwLock::new(plans)),
        Arc::new(RwLock::new(routes)),
        store,
    );
    let mut idle = Vec::new();
    let mut edit = Vec::new();
    for k in 0..runs.max(1) {
        let t = Instant::now();
        let report = reloader.check();
        idle.push(t.elapsed().as_secs_f64() * 1e3);
        anyhow::ensure!(report.is_empty(), "nothing was changed, yet: {report:?}");
        let path = &paths[k % paths.len()];
        let text = std::fs::read_to_string(path)?;
        std::fs::write(path, format!("{text}# edit {k}\n"))?;
        let t = Instant::now();
        let report = reloader.check();
        edit.push(t.elapsed().as_secs_f64() * 1e3);
        anyhow::ensure!(
            report.loaded.len() == 1,
            "the edit was not loaded: {report:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    let (idle, edit) = (super::bench_w1::median(idle), super::bench_w1::median(edit));
    outln!(
        "bench reload: {} flow files, {} edits (median)",
        paths.len(),
        runs.max(1)
    );
    outln!("  idle check (scan, nothing changed): {idle:>8.2} ms");
    outln!("  check after an edit (scan, lint, plan, swap): {edit:>8.2} ms");
    outln!(
        "  a saved edit is live within {:.0} ms (500 ms watch interval + the check)",
        500.0 + edit
    );
    Ok(0)
}
