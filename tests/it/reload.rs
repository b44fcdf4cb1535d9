//! Hot reload: an edited flow is swapped in while events keep arriving (runs accepted before
//! keep their revision, new ones get the new one, none fails or is lost); a broken save keeps
//! the previous revision and reports the finding with line and column; a deleted flow takes no
//! new events.

use ledgerlink::load::secrets::SecretScope;
use ledgerlink::reload::Reloader;
use ledgerlink::runtime::Executor;
use ledgerlink::runtime::worker::{Plans, Worker, WorkerConfig};
use ledgerlink::server::webhook::WebhookRoutes;
use ledgerlink::store::{RunFilter, RunState, SqliteStore, StateStore};
use serde_json::json;
use std::sync::{Arc, RwLock};
use std::time::Duration;

fn flow(step: &str) -> String {
    format!(
        r#"flow: reloaded
trigger:
  webhook:
    path: /hooks/reload
    signature: {{ scheme: none }}
    event_id: event.id
steps:
  - id: {step}
    call: mock.echo
    with: {{ id: event.id }}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_swap_revisions_without_losing_events_and_broken_saves_keep_the_old_one() {
    let dir = std::env::temp_dir().join(format!("ll-reload-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("flows")).unwrap();
    let file = dir.join("flows/reloaded.yaml");
    std::fs::write(&file, flow("first")).unwrap();
    let mut profile = ledgerlink::model::Profile {
        profile: "dev".into(),
        ..Default::default()
    };
    profile.allow_unsigned_webhooks = true;
    let scope = SecretScope::at(&dir);

    let mut plans = Plans::default();
    let source = ledgerlink::load::read(&file).unwrap();
    plans.insert(
        ledgerlink::plan::build(
            source,
            profile.clone(),
            ledgerlink::script::helpers::system_clock(),
        )
        .unwrap(),
    );
    let first_revision = plans.current("reloaded").unwrap().hash.clone();
    let routes = WebhookRoutes::build(&plans, &profile, &scope).unwrap();
    let (plans, routes) = (Arc::new(RwLock::new(plans)), Arc::new(RwLock::new(routes)));
    let store: Arc<dyn StateStore> = Arc::new(SqliteStore::memory().unwrap());
    let mut reloader = Reloader::new(
        &dir.join("flows"),
        profile.clone(),
        scope,
        Arc::clone(&plans),
        Arc::clone(&routes),
        Arc::clone(&store),
    );
    assert!(reloader.check().is_empty(), "nothing changed yet");

    let script = ledgerlink::connectors::mock::scripted::Scripted::default().echoing();
    let worker = Worker::new(
        Arc::clone(&store),
        Arc::clone(&plans),
        Executor::new(script.clients()),
        WorkerConfig {
            poll: Duration::from_millis(5),
            ..WorkerConfig::default()
        },
    );
    let addr = super::support::serve_hooks(&store, routes, Some(&worker)).await;
    let url = format!("http://{addr}/hooks/reload");
    let http = ledgerlink::connectors::transport::client();
    let send = |id: String| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            http.post(&url)
                .header("content-type", "application/json")
                .body(json!({"id": id}).to_string())
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };

    // Events before the edit are accepted on the first revision (the worker is not running yet,
    // so they are still queued when the flow changes).
    for i in 0..5 {
        assert_eq!(send(format!("a{i}")).await, 202);
    }
    std::fs::write(&file, flow("second")).unwrap();
    let report = reloader.check();
    assert_eq!(report.loaded.len(), 1, "{report:?}");
    let second_revision = report.loaded[0].1.clone();
    assert_ne!(second_revision, first_revision);
    for i in 0..5 {
        assert_eq!(send(format!("b{i}")).await, 202);
    }

    // A broken save: the second revision keeps serving; the finding has line and column.
    std::fs::write(
        &file,
        flow("third").replace("call: mock.echo", "call: mock.ecko"),
    )
    .unwrap();
    let report = reloader.check();
    assert!(report.loaded.is_empty());
    let (_, why) = &report.failed[0];
    assert!(why.contains("LL004") && why.contains("9:11"), "{why}");
    assert!(reloader.errors().values().any(|e| e.contains("LL004")));
    assert!(
        reloader.check().is_empty(),
        "the same broken content is reported once"
    );
    // Saving the loaded content back clears the error without a reload.
    std::fs::write(&file, flow("second")).unwrap();
    let report = reloader.check();
    assert_eq!(report.restored.len(), 1, "{report:?}");
    assert!(reloader.errors().is_empty());
    std::fs::write(
        &file,
        flow("third").replace("call: mock.echo", "call: mock.ecko"),
    )
    .unwrap();
    assert_eq!(
        reloader.check().failed.len(),
        1,
        "a new broken save is reported again"
    );
    assert_eq!(send("c0".into()).await, 202);

    // Run everything: none fails, each run on the revision it was accepted with.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let work = tokio::spawn(Arc::clone(&worker).run(stopped));
    for _ in 0..500 {
        let c = store.counts().unwrap();
        if c.get("completed") == Some(&11) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(true).unwrap();
    work.await.unwrap();
    let runs = store
        .runs(&RunFilter {
            limit: 100,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(runs.len(), 11);
    assert!(
        runs.iter().all(|r| r.state == RunState::Completed),
        "{runs:?}"
    );
    let on_first = runs.iter().filter(|r| r.revision == first_revision).count();
    let on_second = runs
        .iter()
        .filter(|r| r.revision == second_revision)
        .count();
    assert_eq!((on_first, on_second), (5, 6));
    let steps: Vec<String> = store
        .journal(
            runs.iter()
                .find(|r| r.revision == first_revision)
                .unwrap()
                .id,
        )
        .unwrap()
        .iter()
        .map(|e| e.step.clone())
        .collect();
    assert_eq!(
        steps,
        vec!["first"],
        "a run accepted before the edit ran the old steps"
    );

    // Fixed, then deleted: no new events.
    std::fs::write(&file, flow("fourth")).unwrap();
    assert_eq!(reloader.check().loaded.len(), 1);
    assert!(reloader.errors().is_empty());
    std::fs::remove_file(&file).unwrap();
    assert_eq!(reloader.check().removed, vec!["reloaded".to_string()]);
    assert_eq!(send("d0".into()).await, 404);
    let audit: Vec<String> = store
        .audit_log(10)
        .unwrap()
        .into_iter()
        .map(|a| a.1)
        .collect();
    assert!(
        audit.contains(&"reload".to_string())
            && audit.contains(&"reload.failed".to_string())
            && audit.contains(&"reload.removed".to_string()),
        "{audit:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Saving the profile re-plans every flow under it (new values reach new runs) and calls the
/// hook that rebuilds connectors; a profile that breaks its guards keeps the running one.
/// A project folder with one flow (`flows/<flow>.yaml`) and a dev profile, and a reloader
/// watching both, started from the flow as planned now.
struct Project {
    dir: std::path::PathBuf,
    plans: Arc<RwLock<Plans>>,
    reloader: Reloader,
}

fn project(
    tag: &str,
    flow: &str,
    text: &str,
    profile_text: &str,
    secrets: &[(&str, &str)],
) -> Project {
    let dir = std::env::temp_dir().join(format!("ll-reload-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("flows")).unwrap();
    std::fs::create_dir_all(dir.join("profiles/secrets")).unwrap();
    for (name, value) in secrets {
        std::fs::write(dir.join("profiles/secrets").join(name), value).unwrap();
    }
    let flow_file = dir.join(format!("flows/{flow}.yaml"));
    std::fs::write(&flow_file, text).unwrap();
    std::fs::write(dir.join("profiles/dev.yaml"), profile_text).unwrap();
    let profile = ledgerlink::load::find_profile(&dir.join("profiles"), "dev").unwrap();
    let mut plans = Plans::default();
    let source = ledgerlink::load::read(&flow_file).unwrap();
    plans.insert(
        ledgerlink::plan::build(
            source,
            profile.clone(),
            ledgerlink::script::helpers::system_clock(),
        )
        .unwrap(),
    );
    let scope = SecretScope::of(&profile, &dir.join("profiles"));
    let routes = WebhookRoutes::build(&plans, &profile, &scope).unwrap();
    let plans = Arc::new(RwLock::new(plans));
    let store: Arc<dyn StateStore> = Arc::new(SqliteStore::memory().unwrap());
    let reloader = Reloader::new(
        &dir.join("flows"),
        profile,
        scope,
        Arc::clone(&plans),
        Arc::new(RwLock::new(routes)),
        store,
    );
    Project {
        dir,
        plans,
        reloader,
    }
}

#[tokio::test]
async fn profile_saves_replan_flows_and_bad_ones_are_kept_out() {
    let flow = "flow: stamped\ntrigger: { manual: {} }\nsteps:\n  - id: echo\n    call: mock.echo\n    with: { company: profile.values.company }\n";
    let Project {
        dir,
        plans,
        mut reloader,
    } = project(
        "profile",
        "stamped",
        flow,
        "profile: dev\nvalues: { company: FIRST }\n",
        &[],
    );
    let profile_file = dir.join("profiles/dev.yaml");
    let values = || {
        plans
            .read()
            .unwrap()
            .current("stamped")
            .unwrap()
            .profile_values
            .to_string()
    };
    let first = values();
    let hooked = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&hooked);
    reloader.watch_profile(
        &dir.join("profiles"),
        Box::new(move |p| {
            seen.lock().unwrap().push(p.values["company"].to_string());
            Ok(())
        }),
    );
    assert!(reloader.check().is_empty());
    std::fs::write(&profile_file, "profile: dev\nvalues: { company: SECOND }\n").unwrap();
    let report = reloader.check();
    assert_eq!(report.profile.as_deref(), Some("dev"), "{report:?}");
    assert_eq!(
        report.loaded.len(),
        1,
        "the flow is planned again: {report:?}"
    );
    let now = values();
    assert_ne!(now, first);
    assert!(now.contains("SECOND"), "{now}");
    assert_eq!(hooked.lock().unwrap().as_slice(), ["\"SECOND\""]);
    // A dev profile pointing at PayTrace production breaks its guards: kept out.
    std::fs::write(
        &profile_file,
        "profile: dev\nvalues: { company: THIRD }\nconnectors:\n  paytrace: { base_url: \"https://api.paytrace.com\", username: u, password: \"${env:X}\" }\n",
    )
    .unwrap();
    let report = reloader.check();
    assert!(report.profile.is_none());
    assert!(
        report.failed[0].1.contains("breaks its guards"),
        "{report:?}"
    );
    assert!(values().contains("SECOND"));
    assert!(reloader.check().is_empty(), "reported once");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn flows_added_while_running_are_announced_to_start_their_triggers() {
    let dir = std::env::temp_dir().join(format!("ll-reload-new-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("flows")).unwrap();
    let profile = ledgerlink::model::Profile {
        profile: "dev".into(),
        ..Default::default()
    };
    let scope = SecretScope::at(&dir);
    let plans = Arc::new(RwLock::new(Plans::default()));
    let store: Arc<dyn StateStore> = Arc::new(SqliteStore::memory().unwrap());
    let mut reloader = Reloader::new(
        &dir.join("flows"),
        profile,
        scope,
        Arc::clone(&plans),
        Arc::new(RwLock::new(WebhookRoutes::default())),
        store,
    );
    let announced = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&announced);
    reloader.on_new_flow(Box::new(move |plan| {
        seen.lock().unwrap().push(plan.flow.flow.clone())
    }));
    std::fs::write(
        dir.join("flows/nightly.yaml"),
        "flow: nightly\ntrigger:\n  schedule: { cron: \"0 0 2 * * *\", timezone: UTC }\nsteps:\n  - id: echo\n    call: mock.echo\n    with: { at: event.scheduled_at }\n",
    )
    .unwrap();
    assert_eq!(reloader.check().loaded.len(), 1);
    assert_eq!(announced.lock().unwrap().as_slice(), ["nightly"]);
    std::fs::write(
        dir.join("flows/nightly.yaml"),
        "flow: nightly\ntrigger:\n  schedule: { cron: \"0 0 3 * * *\", timezone: UTC }\nsteps:\n  - id: echo\n    call: mock.echo\n    with: { at: event.scheduled_at }\n",
    )
    .unwrap();
    assert_eq!(reloader.check().loaded.len(), 1);
    assert_eq!(
        announced.lock().unwrap().len(),
        1,
        "an edit is not a new flow"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_profile_whose_secret_does_not_resolve_is_reported_once() {
    // New-user finding: such a save was reported (logged, audited, alerted) every half second
    // for every flow.
    let flow = "flow: hooked\ntrigger:\n  webhook:\n    path: /hooks/h\n    signature:\n      scheme: hmac_sha256\n      header: X-Sig\n      secret: ${secret:hook}\n    event_id: event.n\nsteps:\n  - id: echo\n    call: mock.echo\n    with: { n: event.n }\n";
    let Project {
        dir, mut reloader, ..
    } = project(
        "secret",
        "hooked",
        flow,
        "profile: dev\nsecrets: { hook: \"${file:secrets/hook}\" }\n",
        &[("hook", "first-secret")],
    );
    let profile_file = dir.join("profiles/dev.yaml");
    reloader.watch_profile(&dir.join("profiles"), Box::new(|_| Ok(())));
    assert!(reloader.check().is_empty());
    std::fs::write(
        &profile_file,
        "profile: dev\nsecrets: { hook: \"${file:secrets/missing}\" }\n",
    )
    .unwrap();
    let first = reloader.check();
    assert_eq!(first.failed.len(), 1, "{first:?}");
    for _ in 0..3 {
        let again = reloader.check();
        assert!(again.failed.is_empty(), "reported again: {again:?}");
    }
    // Fixed outside the flows (the secret file appears): served at the next check.
    std::fs::write(dir.join("profiles/secrets/missing"), "now-there").unwrap();
    let fixed = reloader.check();
    assert!(fixed.failed.is_empty(), "{fixed:?}");
    assert_eq!(fixed.loaded.len(), 1, "{fixed:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
