//! Hot reload of flows while the engine runs. A watcher compares the flow files' contents every
//! interval (a polling watcher: it works on every file system, including network and container
//! mounts where change events are unreliable, and flow directories are small). A changed or new
//! file is loaded, linted and planned; if that works and the webhook routes still build (secrets
//! resolve, no two flows on one path), the new plans and routes are swapped in together.
//! Runs already accepted keep the revision they were accepted with (the worker keeps every
//! revision it has seen); new events get the new one. A file that does not plan leaves the
//! previous revision running and its findings, with line and column, in the log and in
//! `errors()`. A deleted file stops new runs of its flow. Every outcome is audited.

use crate::load::secrets::SecretScope;
use crate::load::{discover, read};
use crate::model::Profile;
use crate::runtime::worker::Plans;
use crate::server::admin::ReloadStatus;
use crate::server::webhook::WebhookRoutes;
use crate::store::{StateStore, now_ms};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// What one check changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadReport {
    /// `(flow, new revision)` swapped in.
    pub loaded: Vec<(String, String)>,
    /// `(file, why)` left on the previous revision.
    pub failed: Vec<(String, String)>,
    /// Flows whose file is gone.
    pub removed: Vec<String>,
    /// Files saved back to the content that is loaded after a failed save.
    pub restored: Vec<String>,
    /// The profile, when its file changed and was applied.
    pub profile: Option<String>,
}

impl ReloadReport {
    pub fn is_empty(&self) -> bool {
        self.loaded.is_empty()
            && self.failed.is_empty()
            && self.removed.is_empty()
            && self.restored.is_empty()
            && self.profile.is_none()
    }
}

pub struct Reloader {
    flows_dir: PathBuf,
    profile: Profile,
    scope: SecretScope,
    pub plans: Arc<RwLock<Plans>>,
    pub routes: Arc<RwLock<WebhookRoutes>>,
    store: Arc<dyn StateStore>,
    /// file -> (content digest, flow it defines, if it planned).
    seen: BTreeMap<PathBuf, (String, Option<String>)>,
    /// file -> digest of the content that last failed (not tried again until it changes).
    failed: BTreeMap<PathBuf, String>,
    errors: BTreeMap<String, String>,
    /// The last set of changes that planned but could not serve (a secret that does not
    /// resolve, a webhook path taken twice), with why. It is tried again every check, as
    /// the cause may lie outside the flows, but reported once, not every half second.
    unserved: Option<(Vec<(PathBuf, String)>, String)>,
    /// Shared with the admin API.
    pub status: Arc<ReloadStatus>,
    /// Failed reloads are alerts.
    pub alerter: crate::alerts::Alerter,
    /// The profile file watched with the flows (see `watch_profile`).
    profile_file: Option<(PathBuf, String)>,
    /// Called with a new profile before it is swapped in (rebuild connector clients); an
    /// error keeps the old profile.
    on_profile: Option<ProfileHook>,
    /// Called with each flow that appears while running (start its poller or schedule).
    on_new_flow: Option<NewFlowHook>,
}

/// What `run` does with a flow that appeared while running.
pub type NewFlowHook = Box<dyn Fn(Arc<crate::plan::Plan>) + Send>;

/// What `run` does with a new profile: rebuild and install the connector clients.
pub type ProfileHook = Box<dyn Fn(&Profile) -> Result<(), String> + Send>;

impl Reloader {
    /// Watch `flows_dir`; the files there now are taken as already loaded into `plans`.
    pub fn new(
        flows_dir: &Path,
        profile: Profile,
        scope: SecretScope,
        plans: Arc<RwLock<Plans>>,
        routes: Arc<RwLock<WebhookRoutes>>,
        store: Arc<dyn StateStore>,
    ) -> Reloader {
        let mut by_source = BTreeMap::new();
        if let Ok(p) = plans.read() {
            for flow in p.flows() {
                if let Some(plan) = p.current(&flow) {
                    by_source.insert(PathBuf::from(plan.source.name.as_ref()), flow);
                }
            }
        }
        let mut seen = BTreeMap::new();
        for (file, digest) in scan(flows_dir) {
            let flow = by_source.get(&file).cloned();
            seen.insert(file, (digest, flow));
        }
        Reloader {
            flows_dir: flows_dir.to_path_buf(),
            profile,
            scope,
            plans,
            routes,
            store,
            seen,
            failed: BTreeMap::new(),
            errors: BTreeMap::new(),
            unserved: None,
            status: Arc::new(ReloadStatus::default()),
            alerter: crate::alerts::Alerter::log_only(),
            profile_file: None,
            on_profile: None,
            on_new_flow: None,
        }
    }

    /// Also watch the profile (`<profiles_dir>/<name>.yaml`): a good save (guards pass, secrets
    /// resolve, `hook` accepts it) re-plans every flow under it and swaps everything together;
    /// a bad one keeps the running profile. Server binds and the embedded sandbox keep their
    /// start-time settings.
    pub fn watch_profile(&mut self, profiles_dir: &Path, hook: ProfileHook) {
        let file = profiles_dir.join(format!("{}.yaml", self.profile.profile));
        let digest = digest_of(&file).unwrap_or_default();
        self.profile_file = Some((file, digest));
        self.on_profile = Some(hook);
    }

    /// Call `hook` with every flow that appears while running, once it is swapped in.
    pub fn on_new_flow(&mut self, hook: NewFlowHook) {
        self.on_new_flow = Some(hook);
    }

    /// A changed profile file: `Some(Ok(profile))` to apply, `Some(Err)` to report.
    fn changed_profile(&mut self) -> Option<Result<Profile, (String, String)>> {
        let (file, seen) = self.profile_file.clone()?;
        let digest = digest_of(&file)?;
        if digest == seen {
            return None;
        }
        let name = file.display().to_string();
        if self.failed.get(&file) == Some(&digest) {
            return None;
        }
        let dir = file.parent().unwrap_or(Path::new("."));
        // Guards are checked by the read; secrets when the routes and clients are rebuilt.
        let result =
            crate::load::find_profile(dir, &self.profile.profile).map_err(|e| e.to_string());
        match result {
            Ok(p) => {
                self.profile_file = Some((file, digest));
                Some(Ok(p))
            }
            Err(e) => {
                self.failed.insert(file, digest);
                Some(Err((name, e)))
            }
        }
    }

    /// The last reload error of each file still failing.
    pub fn errors(&self) -> BTreeMap<String, String> {
        self.errors.clone()
    }

    /// Look for changes once and apply them.
    pub fn check(&mut self) -> ReloadReport {
        let mut report = ReloadReport::default();
        match self.changed_profile() {
            Some(Ok(profile)) => {
                let applied = match &self.on_profile {
                    Some(hook) => hook(&profile),
                    None => Ok(()),
                };
                match applied {
                    Ok(()) => {
                        let dir = self
                            .profile_file
                            .as_ref()
                            .and_then(|(f, _)| f.parent().map(Path::to_path_buf))
                            .unwrap_or_default();
                        self.scope = SecretScope::of(&profile, &dir);
                        self.profile = profile;
                        // Every flow is planned again under the new profile.
                        for (_, (digest, _)) in self.seen.iter_mut() {
                            digest.clear();
                        }
                        report.profile = Some(self.profile.profile.clone());
                    }
                    Err(e) => report
                        .failed
                        .push((format!("profile `{}`", profile.profile), e)),
                }
            }
            Some(Err((file, why))) => report.failed.push((file, why)),
            None => {}
        }
        let now = scan(&self.flows_dir);
        let Ok(current) = self.plans.read().map(|p| p.clone()) else {
            return report;
        };
        let mut candidate = current;
        let mut changed: Vec<(PathBuf, String, Option<String>)> = Vec::new();
        for (file, digest) in &now {
            let name = file.display().to_string();
            let before = self.seen.get(file);
            if before.is_some_and(|(d, _)| d == digest) {
                // Back to the content that is loaded (a broken save undone): nothing to
                // reload, but the error is over.
                if self.failed.remove(file).is_some() {
                    self.errors.remove(&name);
                    report.restored.push(name);
                }
                continue;
            }
            if self.failed.get(file) == Some(digest) {
                // The same broken content: already reported.
                continue;
            }
            let result = read(file).map_err(|e| e.to_string()).and_then(|source| {
                crate::plan::build_for_profile(
                    source,
                    self.profile.clone(),
                    crate::script::helpers::system_clock(),
                )
                .map_err(|e| e.to_string())
            });
            match result {
                Ok(plan) if listed(&plan.flow.profiles, &self.profile.profile) => {
                    let flow = plan.flow.flow.clone();
                    report.loaded.push((flow.clone(), plan.hash.clone()));
                    candidate.insert(plan);
                    changed.push((file.clone(), digest.clone(), Some(flow)));
                }
                Ok(plan) => {
                    // Not for this profile (its `profiles:` list): not an error, just not run.
                    tracing::info!(flow = %plan.flow.flow, profile = %self.profile.profile,
                        "flow is not for this profile; not loaded");
                    if let Some((_, Some(was))) = self.seen.get(file) {
                        candidate.remove(was);
                        report.removed.push(was.clone());
                    }
                    changed.push((file.clone(), digest.clone(), None));
                }
                Err(e) => {
                    report.failed.push((name, e));
                    // The loaded revision stays; this content is not tried again.
                    self.failed.insert(file.clone(), digest.clone());
                }
            }
        }
        let mut gone = Vec::new();
        for (file, (_, flow)) in &self.seen {
            if !now.contains_key(file) {
                if let Some(f) = flow {
                    candidate.remove(f);
                    report.removed.push(f.clone());
                }
                gone.push(file.clone());
            }
        }
        if report.loaded.is_empty() && report.removed.is_empty() {
            if report.profile.is_some() {
                // A profile change re-plans flows; with none loaded, routes still need rebuilding.
                if let (Ok(p), Ok(mut r)) = (self.plans.read(), self.routes.write())
                    && let Ok(routes) = WebhookRoutes::build(&p, &self.profile, &self.scope)
                {
                    *r = routes;
                }
            }
            self.note(&report);
            return report;
        }
        match WebhookRoutes::build(&candidate, &self.profile, &self.scope) {
            Ok(routes) => {
                self.unserved = None;
                let known: Vec<String> = self.plans.read().map(|p| p.flows()).unwrap_or_default();
                if let (Ok(mut p), Ok(mut r)) = (self.plans.write(), self.routes.write()) {
                    *p = candidate.clone();
                    *r = routes;
                }
                if let Some(hook) = &self.on_new_flow {
                    for (flow, _) in &report.loaded {
                        if !known.contains(flow)
                            && let Some(plan) = candidate.current(flow)
                        {
                            hook(plan);
                        }
                    }
                }
                for (file, digest, flow) in changed {
                    self.errors.remove(&file.display().to_string());
                    self.failed.remove(&file);
                    self.seen.insert(file, (digest, flow));
                }
                for file in gone {
                    self.seen.remove(&file);
                }
                for (flow, revision) in &report.loaded {
                    if let Some(plan) = candidate.current(flow) {
                        let _ =
                            self.store
                                .save_revision(flow, revision, &plan.source.text, now_ms());
                    }
                }
            }
            Err(e) => {
                // The new set cannot serve (a secret does not resolve, a path is taken twice):
                // keep everything as it was.
                let attempt: Vec<(PathBuf, String)> = changed
                    .iter()
                    .map(|(file, digest, _)| (file.clone(), digest.clone()))
                    .collect();
                let attempt = Some((attempt, e.clone()));
                let already_reported = self.unserved == attempt;
                self.unserved = attempt;
                for (flow, _) in report.loaded.drain(..) {
                    if !already_reported {
                        report.failed.push((flow, e.clone()));
                    }
                }
                report.removed.clear();
            }
        }
        self.note(&report);
        report
    }

    /// Log and audit a report; keep the admin API's view current.
    fn note(&mut self, report: &ReloadReport) {
        self.status
            .loaded
            .fetch_add(report.loaded.len() as u64, Ordering::Relaxed);
        self.status
            .failed
            .fetch_add(report.failed.len() as u64, Ordering::Relaxed);
        for (flow, revision) in &report.loaded {
            tracing::info!(flow = %flow, revision = %revision, "flow reloaded");
            let _ = self
                .store
                .audit("reload", &format!("{flow} -> {revision}"), now_ms());
        }
        for (file, why) in &report.failed {
            tracing::error!(file = %file, "flow not reloaded, the previous revision keeps running: {why}");
            let _ = self
                .store
                .audit("reload.failed", &format!("{file}: {why}"), now_ms());
            self.alerter.send(crate::alerts::Alert {
                source: "reload".into(),
                severity: "error".into(),
                channel: None,
                flow: None,
                run: None,
                message: format!("{file} not reloaded, the previous revision keeps running: {why}"),
            });
            self.errors.insert(file.clone(), why.clone());
        }
        if let Some(p) = &report.profile {
            tracing::info!(profile = %p, "profile reloaded");
            let _ = self.store.audit("reload.profile", p, now_ms());
        }
        for flow in &report.removed {
            tracing::warn!(flow = %flow, "flow file deleted: no new runs of it");
            let _ = self.store.audit("reload.removed", flow, now_ms());
        }
        if let Ok(mut e) = self.status.errors.lock() {
            *e = self.errors.clone();
        }
    }
}

/// Check every `interval` until `stop` turns true.
pub async fn watch(
    mut reloader: Reloader,
    interval: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        let report = reloader.check();
        for (flow, revision) in &report.loaded {
            println!("reloaded `{flow}` (revision {revision})");
        }
        for (file, why) in &report.failed {
            println!("NOT reloaded {file}: {why}");
        }
        for flow in &report.removed {
            println!("removed `{flow}`: its file is gone");
        }
        for file in &report.restored {
            println!("{file} is back to the loaded revision; its error is cleared");
        }
        if let Some(p) = &report.profile {
            println!("profile `{p}` reloaded: every flow re-planned, connectors rebuilt");
        }
    }
}

fn listed(profiles: &[String], profile: &str) -> bool {
    profiles.is_empty() || profiles.iter().any(|p| p == profile)
}

fn digest_of(file: &Path) -> Option<String> {
    let bytes = std::fs::read(file).ok()?;
    Some(
        Sha256::digest(&bytes)
            .iter()
            .take(12)
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

/// Every flow file under `dir` with a digest of its content.
fn scan(dir: &Path) -> BTreeMap<PathBuf, String> {
    let files = discover(&[dir.to_path_buf()]).unwrap_or_default();
    files
        .into_iter()
        .filter_map(|f| {
            let bytes = std::fs::read(&f).ok()?;
            let digest: String = Sha256::digest(&bytes)
                .iter()
                .take(12)
                .map(|b| format!("{b:02x}"))
                .collect();
            Some((f, digest))
        })
        .collect()
}
