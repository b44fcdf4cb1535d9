//! Helpers the integration tests share: sandbox credentials, connector clients pointing at a
//! running sandbox, and reading the Sage Pro ledger back.

use ledgerlink::connectors::paytrace::client::PayTrace;
use ledgerlink::connectors::sagepro::client::SagePro;
use ledgerlink::sandbox::Sandbox;
use serde_json::Value;
use std::time::Duration;

/// A PayTrace access token from the emulator (the sandbox's built-in API user).
pub async fn paytrace_token(sb: &Sandbox) -> String {
    let v: Value = ledgerlink::connectors::transport::client()
        .post(format!("{}/oauth/token", sb.paytrace_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=password&username=ledgerlink&password=sandbox")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["access_token"].as_str().unwrap().to_string()
}

/// The PayTrace connector against the emulator.
pub fn paytrace(sb: &Sandbox) -> PayTrace {
    PayTrace::new(ledgerlink::connectors::paytrace::config::Config {
        base_url: sb.paytrace_url(),
        username: "ledgerlink".into(),
        password: "sandbox".into(),
        integrator_id: None,
        timeout: Duration::from_secs(5),
        lookup_window: Duration::from_secs(60),
        refresh_margin: Duration::from_secs(1),
    })
    .unwrap()
}

/// The Sage Pro connector against the emulator.
pub fn sagepro(sb: &Sandbox) -> SagePro {
    SagePro::new(ledgerlink::connectors::sagepro::config::Config {
        base_url: sb.sagepro_url(),
        client_id: "ledgerlink-sandbox".into(),
        client_secret: "sandbox-secret".into(),
        timeout: Duration::from_secs(5),
    })
    .unwrap()
}

/// The Sage Pro emulator's ledger (`/_sandbox/sagepro/ledger`).
pub async fn ledger(sb: &Sandbox) -> Value {
    ledgerlink::connectors::transport::client()
        .get(format!("{}/_sandbox/sagepro/ledger", sb.sagepro_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// POST JSON to the PayTrace emulator with a bearer token; the answer's body.
pub async fn paytrace_post(sb: &Sandbox, token: &str, path: &str, body: &Value) -> Value {
    ledgerlink::connectors::transport::client()
        .post(format!("{}{path}", sb.paytrace_url()))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// One flow planned under `profile` and the webhook routes it serves.
pub fn planned(
    source: ledgerlink::load::SourceFile,
    profile: &ledgerlink::model::Profile,
    scope: &ledgerlink::load::secrets::SecretScope,
) -> (
    ledgerlink::runtime::worker::Plans,
    ledgerlink::server::webhook::WebhookRoutes,
) {
    let plan = ledgerlink::plan::build(
        source,
        profile.clone(),
        ledgerlink::script::helpers::system_clock(),
    )
    .unwrap();
    let mut plans = ledgerlink::runtime::worker::Plans::default();
    plans.insert(plan);
    let routes = ledgerlink::server::webhook::WebhookRoutes::build(&plans, profile, scope).unwrap();
    (plans, routes)
}

/// Serve webhooks from `routes` on an ephemeral port, waking `worker` (and answering
/// `respond: completed` hooks from its completions) when there is one; the address.
pub async fn serve_hooks(
    store: &std::sync::Arc<dyn ledgerlink::store::StateStore>,
    routes: std::sync::Arc<std::sync::RwLock<ledgerlink::server::webhook::WebhookRoutes>>,
    worker: Option<&std::sync::Arc<ledgerlink::runtime::worker::Worker>>,
) -> std::net::SocketAddr {
    use std::sync::Arc;
    let state = ledgerlink::server::ServerState {
        store: Arc::clone(store),
        routes,
        wake: worker.map_or_else(Default::default, |w| Arc::clone(&w.wake)),
        tolerance_s: 300,
        completions: worker.map_or_else(Default::default, |w| Arc::clone(&w.completions)),
        runner: worker.cloned(),
    };
    let (addr, _task) = ledgerlink::server::serve("127.0.0.1:0", ledgerlink::server::router(state))
        .await
        .unwrap();
    addr
}

/// A fresh PostgreSQL database for one test, dropped (with its connections) at the end.
pub struct PgDatabase {
    pub url: String,
    name: String,
    server: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = ledgerlink::store::postgres::drop_database(&self.server, &self.name);
    }
}

/// A new empty database on the PostgreSQL server at `LEDGERLINK_TEST_PG` (default
/// `postgres://postgres@127.0.0.1:5432`, the machine's trust-auth server). With no server
/// there, `None` and a note, so `cargo test` works without one; CI sets
/// `LEDGERLINK_REQUIRE_PG=1` and fails instead.
pub fn pg_database(tag: &str) -> Option<PgDatabase> {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let server = std::env::var("LEDGERLINK_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("ll_test_{}_{}_{n}", tag, std::process::id());
    match ledgerlink::store::postgres::create_database(&server, &name) {
        Ok(url) => Some(PgDatabase { url, name, server }),
        Err(e) if std::env::var_os("LEDGERLINK_REQUIRE_PG").is_none() => {
            eprintln!("note: skipping the PostgreSQL part of `{tag}`: no server at {server}: {e}");
            None
        }
        Err(e) => panic!("LEDGERLINK_REQUIRE_PG is set but PostgreSQL at {server} fails: {e}"),
    }
}
