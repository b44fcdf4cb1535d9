//! The sandbox: PayTrace v1 and Sage Pro facade emulators as real HTTP servers on loopback,
//! for consultants building and demoing flows and for tests that need peers which fail the way
//! real systems fail. `ledgerlink sandbox` runs them; `Sandbox::start` embeds them in a test or
//! in the dev profile. Every route passes through the fault layer (`faults.rs`), configured by
//! flags, a profile, or `PUT /_sandbox/faults` at run time. Documented in `docs/sandbox.md`.
//!
//! This module is, with `server/`, the only one that knows HTTP.

pub mod clock;
pub mod faults;
pub mod notifier;
pub mod paytrace;
pub mod sagepro;
mod sim_event;
mod sim_http;
mod sim_ops;
pub mod simulator;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot listen on {addr}: {error}")]
    Bind { addr: String, error: std::io::Error },
    #[error("sandbox store: {0}")]
    Store(String),
    #[error("sandbox settings: {0}")]
    Settings(String),
}

/// How to run the sandbox.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// 0 picks a free port.
    pub paytrace_port: u16,
    pub sagepro_port: u16,
    /// Seed for generated ids and the simulator; the same seed gives the same data.
    pub seed: u64,
    /// Where Sage Pro keeps its ledger (SQLite); `None` keeps it in memory.
    pub sagepro_db: Option<PathBuf>,
    /// Faults active from the start.
    pub faults: Vec<faults::Fault>,
    /// The demo notifier (signed webhook events for new PayTrace transactions).
    pub notify: Option<notifier::NotifierConfig>,
}

impl SandboxConfig {
    /// The settings of a profile's `sandbox:` section; secret references are resolved and
    /// relative paths read in `scope` (the profile's directory and secret bindings).
    pub fn from_profile(
        settings: &crate::model::SandboxSettings,
        scope: &crate::load::secrets::SecretScope,
    ) -> Result<SandboxConfig, SandboxError> {
        let defaults = SandboxConfig::default();
        let mut faults = Vec::new();
        for (i, value) in settings.faults.iter().enumerate() {
            let fault: faults::Fault = serde_json::from_value(value.clone())
                .map_err(|e| SandboxError::Settings(format!("sandbox.faults[{i}]: {e}")))?;
            fault
                .validate()
                .map_err(|e| SandboxError::Settings(format!("sandbox.faults[{i}]: {e}")))?;
            faults.push(fault);
        }
        let notify = match &settings.notify {
            Some(n) => {
                let secret = scope
                    .resolve("sandbox.notify.secret", &n.secret)
                    .map_err(|e| SandboxError::Settings(e.to_string()))?;
                let mut config = notifier::NotifierConfig::new(&n.url, &secret);
                if let Some(h) = &n.header {
                    config.header = h.clone();
                }
                Some(config)
            }
            None => None,
        };
        Ok(SandboxConfig {
            paytrace_port: settings.paytrace_port.unwrap_or(defaults.paytrace_port),
            sagepro_port: settings.sagepro_port.unwrap_or(defaults.sagepro_port),
            seed: settings.seed.unwrap_or(defaults.seed),
            sagepro_db: settings.sagepro_db.as_ref().map(|p| scope.base.join(p)),
            faults,
            notify,
        })
    }
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            paytrace_port: 0,
            sagepro_port: 0,
            seed: 1,
            sagepro_db: None,
            faults: Vec::new(),
            notify: None,
        }
    }
}

/// Running emulators; dropping it stops them.
pub struct Sandbox {
    pub paytrace: SocketAddr,
    pub sagepro: SocketAddr,
    pub paytrace_state: Arc<paytrace::State>,
    pub sagepro_state: Arc<sagepro::State>,
    notifications: tokio::sync::broadcast::Sender<notifier::Delivery>,
    tasks: Vec<JoinHandle<()>>,
}

impl Sandbox {
    /// Start both emulators on 127.0.0.1.
    pub async fn start(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        let clock = clock::Clock::system();
        let pt_faults = faults::Faults::new(
            config
                .faults
                .iter()
                .filter(|f| f.applies_to("paytrace"))
                .cloned()
                .collect(),
        );
        let sp_faults = faults::Faults::new(
            config
                .faults
                .iter()
                .filter(|f| f.applies_to("sagepro"))
                .cloned()
                .collect(),
        );
        let paytrace_state = Arc::new(paytrace::State::new(config.seed, clock.clone()));
        let sagepro_state = Arc::new(
            sagepro::State::open(config.sagepro_db.as_deref(), config.seed, clock.clone())
                .map_err(SandboxError::Store)?,
        );
        let pt_app = faults::wrap(
            paytrace::router(Arc::clone(&paytrace_state)),
            pt_faults,
            clock.clone(),
        );
        let sp_app = faults::wrap(
            sagepro::router(Arc::clone(&sagepro_state)),
            sp_faults,
            clock,
        );
        let (paytrace, t1) = serve(config.paytrace_port, pt_app).await?;
        let (sagepro, t2) = serve(config.sagepro_port, sp_app).await?;
        let mut tasks = vec![t1, t2];
        let (notifications, _) = tokio::sync::broadcast::channel(256);
        if let Some(notify) = config.notify {
            let sender = notifications.clone();
            let task = notifier::spawn(Arc::clone(&paytrace_state), notify, move |d| {
                // Nobody listening is fine: the notifier works the same.
                let _ = sender.send(d);
            })
            .map_err(SandboxError::Settings)?;
            tasks.push(task);
        }
        Ok(Sandbox {
            paytrace,
            sagepro,
            paytrace_state,
            sagepro_state,
            notifications,
            tasks,
        })
    }

    pub fn paytrace_url(&self) -> String {
        format!("http://{}", self.paytrace)
    }

    pub fn sagepro_url(&self) -> String {
        format!("http://{}", self.sagepro)
    }

    /// Each notifier delivery from now on (nothing when no notifier is configured).
    pub fn notifications(&self) -> tokio::sync::broadcast::Receiver<notifier::Delivery> {
        self.notifications.subscribe()
    }

    /// Run until the process is interrupted.
    pub async fn wait(mut self) {
        for t in std::mem::take(&mut self.tasks) {
            let _ = t.await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn serve(port: u16, app: axum::Router) -> Result<(SocketAddr, JoinHandle<()>), SandboxError> {
    let addr = format!("127.0.0.1:{port}");
    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|error| SandboxError::Bind {
            addr: addr.clone(),
            error,
        })?;
    let local = listener
        .local_addr()
        .map_err(|error| SandboxError::Bind { addr, error })?;
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((local, task))
}
