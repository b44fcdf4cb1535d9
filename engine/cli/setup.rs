//! What the service commands share: the profile, the flows planned under it, and the store.
//! `run`, `send`, `runs` and `dlq` all take `--profile`, `--profiles-dir`, `--flows` and
//! `--store` the same way, so they always agree on which store they read.

use crate::connectors::Clients;
use crate::connectors::mock::scripted::{Scripted, ScriptedConnector};
use crate::connectors::setup::build_clients;
use crate::load::{discover, find_profile, read};
use crate::model::Profile;
use crate::plan::Plan;
use crate::runtime::worker::Plans;
use crate::store::sqlite::Durability;
use crate::store::{PostgresStore, SqliteStore, StateStore};
use anyhow::Context;
use std::path::PathBuf;
use std::sync::Arc;

/// Which store the commands use. `Debug` and `Display` never show a URL's password.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreAt {
    /// An SQLite file (the embedded default).
    File(PathBuf),
    /// A PostgreSQL connection URL.
    Postgres(String),
}

impl std::fmt::Debug for StoreAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StoreAt({self})")
    }
}

impl std::fmt::Display for StoreAt {
    /// The file's path, or the database without its password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreAt::File(path) => write!(f, "{}", path.display()),
            StoreAt::Postgres(url) => match url.parse::<postgres::Config>() {
                Ok(config) => f.write_str(&crate::store::postgres::shown(&config)),
                Err(_) => f.write_str("postgres://…"),
            },
        }
    }
}

#[derive(Clone, clap::Args)]
pub struct Where {
    /// Profile (`profiles/<NAME>.yaml`).
    #[arg(long, default_value = "dev")]
    pub profile: String,
    /// Directory holding the profiles.
    #[arg(long, default_value = "profiles")]
    pub profiles_dir: PathBuf,
    /// Directory (or files) holding the flows.
    #[arg(long, default_value = "flows")]
    pub flows: PathBuf,
    /// The state store: an SQLite file, or a `postgres://user@host:port/database` URL (several
    /// engines sharing one state). Default: the profile's `runtime.store`, else
    /// `.ledgerlink/<profile>/state.db`.
    #[arg(long)]
    pub store: Option<String>,
    /// Commit durability: `full` (survives a power cut) or `normal` (survives a process crash;
    /// faster).
    #[arg(long, default_value = "full", value_parser = ["full", "normal"])]
    pub durability: String,
}

impl std::fmt::Debug for Where {
    /// As derived, but `store` shows a URL without its password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let store = self.store.as_deref().map(|s| {
            if crate::store::postgres::is_url(s) {
                StoreAt::Postgres(s.to_string()).to_string()
            } else {
                s.to_string()
            }
        });
        f.debug_struct("Where")
            .field("profile", &self.profile)
            .field("profiles_dir", &self.profiles_dir)
            .field("flows", &self.flows)
            .field("store", &store)
            .field("durability", &self.durability)
            .finish()
    }
}

impl Where {
    pub fn profile(&self) -> anyhow::Result<Profile> {
        Ok(find_profile(&self.profiles_dir, &self.profile)?)
    }

    /// `--store`, else the profile's `runtime.store`, else `.ledgerlink/<profile>/state.db`.
    /// A `postgres://` URL (or a secret reference resolving to one) names a PostgreSQL store.
    pub fn store_at(&self) -> anyhow::Result<StoreAt> {
        self.store_in(
            find_profile(&self.profiles_dir, &self.profile)
                .ok()
                .as_ref(),
        )
    }

    /// `store_at`, with the profile already read (`None`: no profile file).
    fn store_in(&self, profile: Option<&Profile>) -> anyhow::Result<StoreAt> {
        let configured = match &self.store {
            Some(s) => Some(s.clone()),
            None => profile
                .and_then(|p| {
                    let store = p.runtime.as_ref().and_then(|r| r.store.clone())?;
                    Some(if crate::load::secrets::is_reference(&store) {
                        crate::load::secrets::SecretScope::of(p, &self.profiles_dir)
                            .resolve("runtime.store", &store)
                            .map_err(|e| anyhow::anyhow!("profile `{}`: {e}", p.profile))
                    } else {
                        Ok(store)
                    })
                })
                .transpose()?,
        };
        // A mistyped scheme (`postgress://`) would otherwise become a directory named after
        // the URL, password and all.
        if let Some((scheme, _)) = configured.as_deref().and_then(|c| c.split_once("://"))
            && !crate::store::postgres::is_url(configured.as_deref().unwrap_or_default())
        {
            anyhow::bail!(
                "the store `{scheme}://…` is neither an SQLite file nor a `postgres://` URL (check the spelling of `postgres://` or `postgresql://`)"
            );
        }
        Ok(match configured {
            Some(url) if crate::store::postgres::is_url(&url) => StoreAt::Postgres(url),
            Some(path) => StoreAt::File(PathBuf::from(path)),
            None => StoreAt::File(
                PathBuf::from(".ledgerlink")
                    .join(&self.profile)
                    .join("state.db"),
            ),
        })
    }

    pub fn open_store(&self) -> anyhow::Result<Arc<dyn StateStore>> {
        let durability = if self.durability == "normal" {
            Durability::Normal
        } else {
            Durability::Full
        };
        // The profile is read once for both the store and its settings.
        let profile = find_profile(&self.profiles_dir, &self.profile).ok();
        Ok(match self.store_in(profile.as_ref())? {
            StoreAt::File(path) => Arc::new(SqliteStore::open(&path, durability)?),
            StoreAt::Postgres(url) => Arc::new(PostgresStore::open_with(
                &url,
                self.engine_timeout(profile.as_ref())?,
            )?),
        })
    }

    /// The profile's `runtime.engine_timeout` (PostgreSQL store), else 30 s.
    fn engine_timeout(&self, profile: Option<&Profile>) -> anyhow::Result<std::time::Duration> {
        let Some(text) = profile
            .and_then(|p| p.runtime.as_ref())
            .and_then(|r| r.engine_timeout.clone())
        else {
            return Ok(crate::store::postgres::DEFAULT_ENGINE_TIMEOUT);
        };
        let timeout = humantime::parse_duration(&text).map_err(|e| {
            anyhow::anyhow!(
                "profile `{}`: runtime.engine_timeout `{text}`: {e} (write a duration such as `30s` or `2m`)",
                self.profile
            )
        })?;
        if timeout < std::time::Duration::from_secs(1) {
            anyhow::bail!(
                "profile `{}`: runtime.engine_timeout `{text}` is under 1s: engines that are alive would lose their runs",
                self.profile
            );
        }
        Ok(timeout)
    }

    /// The store, which must exist already (commands that only read or change runs): the
    /// SQLite file, or the PostgreSQL database's tables.
    pub fn open_existing_store(&self) -> anyhow::Result<Arc<dyn StateStore>> {
        let profile = find_profile(&self.profiles_dir, &self.profile).ok();
        match self.store_in(profile.as_ref())? {
            StoreAt::File(path) if !path.is_file() => anyhow::bail!(
                "no store at `{}`: `ledgerlink send` or `ledgerlink run` creates it; use --store FILE for another one",
                path.display()
            ),
            StoreAt::File(_) => self.open_store(),
            StoreAt::Postgres(url) => Ok(Arc::new(PostgresStore::open_existing(
                &url,
                self.engine_timeout(profile.as_ref())?,
            )?)),
        }
    }

    /// Every flow under `--flows` planned under the profile. Flows that do not plan are
    /// reported in the second list and left out.
    pub fn plans(&self, profile: &Profile) -> anyhow::Result<(Plans, Vec<String>)> {
        let files = discover(std::slice::from_ref(&self.flows))
            .with_context(|| format!("cannot read flows from `{}`", self.flows.display()))?;
        let mut plans = Plans::default();
        let mut problems = Vec::new();
        for file in files {
            let source = match read(&file) {
                Ok(s) => s,
                Err(e) => {
                    problems.push(e.to_string());
                    continue;
                }
            };
            match crate::plan::build_for_profile(
                source,
                profile.clone(),
                crate::script::helpers::system_clock(),
            ) {
                Ok(plan) if plan_listed(&plan, profile) => plans.insert(plan),
                Ok(plan) => problems.push(format!(
                    "flow `{}` is not for profile `{}` (its `profiles:` list); not loaded",
                    plan.flow.flow, profile.profile
                )),
                Err(e) => problems.push(e.to_string()),
            }
        }
        Ok((plans, problems))
    }

    /// One flow by name.
    pub fn plan(&self, profile: &Profile, flow: &str) -> anyhow::Result<Arc<Plan>> {
        let (plans, problems) = self.plans(profile)?;
        plans.current(flow).ok_or_else(|| {
            let known = plans.flows().join(", ");
            let mut msg = format!(
                "no flow `{flow}` under `{}` for profile `{}` (loaded: {})",
                self.flows.display(),
                profile.profile,
                if known.is_empty() { "none" } else { &known }
            );
            if !problems.is_empty() {
                msg.push_str(&format!("; problems: {}", problems.join("; ")));
            }
            anyhow::anyhow!(msg)
        })
    }
}

/// The profile's connectors plus the echoing `mock` connector (flows under development and
/// tests call `mock.*`; it only answers with its input).
pub fn clients(profile: &Profile, profiles_dir: &std::path::Path) -> anyhow::Result<Clients> {
    let echo = Arc::new(ScriptedConnector {
        connector: "mock".into(),
        script: Scripted::default().echoing(),
    });
    let built = build_clients(profile, profiles_dir).map_err(|e| {
        let at = ProfileFile::read(profiles_dir, &profile.profile)
            .and_then(|file| file.place(&e.setting()));
        anyhow::anyhow!(
            "{}profile `{}`: {e}",
            at.unwrap_or_default(),
            profile.profile
        )
    })?;
    Ok(built.with("mock", echo))
}

/// A profile file read for its places, so error messages can point into it.
pub struct ProfileFile {
    path: std::path::PathBuf,
    index: crate::load::PointerIndex,
}

impl ProfileFile {
    /// The profile `name` in `profiles_dir`, when it reads.
    pub fn read(profiles_dir: &std::path::Path, name: &str) -> Option<ProfileFile> {
        let path = profiles_dir.join(format!("{name}.yaml"));
        let text = std::fs::read_to_string(&path).ok()?;
        let index = crate::load::parse(&text).ok()?.index;
        Some(ProfileFile { path, index })
    }

    /// `file:line:col: ` of a dotted setting (the nearest enclosing setting when it is absent).
    pub fn place(&self, setting: &str) -> Option<String> {
        let pointer: String = setting
            .split('.')
            .map(|part| format!("/{}", crate::load::escape(part)))
            .collect();
        let span = self.index.span(&pointer)?;
        Some(format!(
            "{}:{}:{}: ",
            self.path.display(),
            span.line,
            span.col
        ))
    }
}

fn plan_listed(plan: &Plan, profile: &Profile) -> bool {
    plan.flow.profiles.is_empty() || plan.flow.profiles.contains(&profile.profile)
}

#[cfg(test)]
mod password_tests {
    use super::*;

    #[test]
    fn a_store_url_never_shows_its_password() {
        let at = Where {
            profile: "dev".into(),
            profiles_dir: "profiles".into(),
            flows: "flows".into(),
            store: Some("postgres://ledgerlink:hunter2@db.internal:5432/ll".into()),
            durability: "full".into(),
        };
        let shown = format!(
            "{at:?} {} {:?}",
            at.store_at().unwrap(),
            at.store_at().unwrap()
        );
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("postgres://ledgerlink@db.internal:5432/ll"),
            "{shown}"
        );
    }
}
