//! The webhook trigger over real HTTP: a signed event is stored before the 202, a repeated
//! event id is a 200 that creates nothing, and forged, stale, unsigned, oversized, malformed or
//! misdirected requests get 401/413/400/415/404/405 with a JSON error and store nothing. Then
//! the whole path: sandbox activity -> notifier -> webhook -> worker -> Sage Pro ledger.

use ledgerlink::connectors::Clients;
use ledgerlink::load::secrets::SecretScope;
use ledgerlink::runtime::Executor;
use ledgerlink::runtime::worker::{Plans, Worker, WorkerConfig};
use ledgerlink::server::webhook::WebhookRoutes;
use ledgerlink::server::{ServerState, router, serve};
use ledgerlink::store::{SqliteStore, StateStore};
use ledgerlink::triggers::signature;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

const SECRET: &str = "hook-secret";

const FLOW: &str = r#"flow: hooked
trigger:
  webhook:
    path: /hooks/test
    signature: { scheme: hmac_sha256, header: X-Test-Signature, secret: "${secret:hook}" }
    event_id: event.id
    max_body: 1KiB
steps:
  - id: echo
    call: mock.echo
    with: { id: event.id }
"#;

fn profile(dir: &Path) -> ledgerlink::model::Profile {
    std::fs::write(dir.join("hook.secret"), format!("{SECRET}\n")).unwrap();
    serde_json::from_value(json!({"profile": "dev", "secrets": {"hook": "${file:hook.secret}"}}))
        .unwrap()
}

async fn start(
    dir: &Path,
    flow: &str,
    profile: &ledgerlink::model::Profile,
) -> (String, Arc<dyn StateStore>, Arc<RwLock<Plans>>) {
    let source = ledgerlink::load::from_bytes("flow.yaml", flow.as_bytes().to_vec()).unwrap();
    let (plans, routes) = super::support::planned(source, profile, &SecretScope::of(profile, dir));
    let store: Arc<dyn StateStore> = Arc::new(SqliteStore::memory().unwrap());
    let addr = super::support::serve_hooks(&store, Arc::new(RwLock::new(routes)), None).await;
    (
        format!("http://{addr}"),
        store,
        Arc::new(RwLock::new(plans)),
    )
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("ll-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[tokio::test]
async fn signed_events_are_stored_and_bad_requests_refused() {
    let dir = tempdir("webhook");
    let profile = profile(&dir);
    let (base, store, _) = start(&dir, FLOW, &profile).await;
    let http = ledgerlink::connectors::transport::client();
    let url = format!("{base}/hooks/test");
    let post = |body: String, sig: Option<String>, kind: &'static str| {
        let mut r = http.post(&url).header("content-type", kind).body(body);
        if let Some(s) = sig {
            r = r.header("X-Test-Signature", s);
        }
        r.send()
    };
    let now = chrono::Utc::now().timestamp();
    let body = json!({"id": "evt-1", "amount": "10.00"}).to_string();
    let signed = signature::sign(SECRET.as_bytes(), now, body.as_bytes());

    let r = post(body.clone(), Some(signed.clone()), "application/json")
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["accepted"].as_bool(), v["event_id"].as_str()),
        (Some(true), Some("evt-1"))
    );
    let run = v["run"].as_i64().unwrap();
    assert_eq!(
        store.run(run).unwrap().unwrap().event["amount"],
        "10.00",
        "stored before the 202"
    );

    let r = post(body.clone(), Some(signed.clone()), "application/json")
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["duplicate"], true);

    let forged = signature::sign(b"not-the-secret", now, body.as_bytes());
    let stale = signature::sign(SECRET.as_bytes(), now - 3600, body.as_bytes());
    let other = json!({"id": "evt-2"}).to_string();
    let big = json!({"id": "evt-3", "pad": "x".repeat(2000)}).to_string();
    let big_sig = signature::sign(SECRET.as_bytes(), now, big.as_bytes());
    let bad_json = "{not json".to_string();
    let bad_sig = signature::sign(SECRET.as_bytes(), now, bad_json.as_bytes());
    let array = "[1]".to_string();
    let array_sig = signature::sign(SECRET.as_bytes(), now, array.as_bytes());
    let no_id = json!({"amount": 1}).to_string();
    let no_id_sig = signature::sign(SECRET.as_bytes(), now, no_id.as_bytes());
    let cases = [
        (
            other.clone(),
            Some(forged),
            "application/json",
            401,
            "InvalidSignature",
        ),
        (
            other.clone(),
            Some(stale),
            "application/json",
            401,
            "InvalidSignature",
        ),
        (
            other.clone(),
            None,
            "application/json",
            401,
            "InvalidSignature",
        ),
        (
            other.clone(),
            Some("t=1,v1=zz".into()),
            "application/json",
            401,
            "InvalidSignature",
        ),
        (
            big,
            Some(big_sig),
            "application/json",
            413,
            "PayloadTooLarge",
        ),
        (
            bad_json,
            Some(bad_sig),
            "application/json",
            400,
            "MalformedJson",
        ),
        (
            array,
            Some(array_sig),
            "application/json",
            400,
            "NotAnObject",
        ),
        (no_id, Some(no_id_sig), "application/json", 400, "NoEventId"),
        (other, None, "text/plain", 415, "UnsupportedMediaType"),
    ];
    for (body, sig, kind, status, code) in cases {
        let r = post(body, sig, kind).await.unwrap();
        assert_eq!(r.status(), status, "{code}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], code);
        assert!(v["error"]["message"].is_string());
    }
    let r = http
        .post(format!("{base}/hooks/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(
        store.counts().unwrap().get("queued"),
        Some(&1),
        "refused requests stored nothing"
    );
    let health: Value = http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ready");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn unsigned_flows_need_a_profile_that_allows_them_and_secrets_must_resolve() {
    let dir = tempdir("webhook-unsigned");
    let unsigned = FLOW.replace(
        r#"{ scheme: hmac_sha256, header: X-Test-Signature, secret: "${secret:hook}" }"#,
        "{ scheme: none }",
    );
    let mut profile = profile(&dir);
    profile.allow_unsigned_webhooks = true;
    let source = ledgerlink::load::from_bytes("flow.yaml", unsigned.as_bytes().to_vec()).unwrap();
    let plan = ledgerlink::plan::build(
        source,
        profile.clone(),
        ledgerlink::script::helpers::system_clock(),
    )
    .unwrap();
    let mut plans = Plans::default();
    plans.insert(plan);
    assert!(WebhookRoutes::build(&plans, &profile, &SecretScope::of(&profile, &dir)).is_ok());
    profile.allow_unsigned_webhooks = false;
    let e = WebhookRoutes::build(&plans, &profile, &SecretScope::of(&profile, &dir))
        .err()
        .unwrap();
    assert!(e.contains("unsigned webhooks"), "{e}");

    let source = ledgerlink::load::from_bytes("flow.yaml", FLOW.as_bytes().to_vec()).unwrap();
    let plan = ledgerlink::plan::build(
        source,
        profile.clone(),
        ledgerlink::script::helpers::system_clock(),
    )
    .unwrap();
    let mut plans = Plans::default();
    plans.insert(plan);
    profile.secrets.clear();
    let e = WebhookRoutes::build(&plans, &profile, &SecretScope::of(&profile, &dir))
        .err()
        .unwrap();
    assert!(e.contains("binds no secret `hook`"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Sandbox activity reaches the Sage Pro ledger through the webhook trigger and the durable
/// runtime, with the shipped payment flow and the dev profile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_sales_reach_the_sagepro_ledger_through_the_webhook() {
    use ledgerlink::sandbox::notifier::NotifierConfig;
    use ledgerlink::sandbox::simulator::{SimConfig, simulate};
    use ledgerlink::sandbox::{Sandbox, SandboxConfig};

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let profiles = root.join("profiles");
    let profile = ledgerlink::load::find_profile(&profiles, "dev").unwrap();
    let scope = SecretScope::of(&profile, &profiles);
    let source = ledgerlink::load::read(&root.join("flows/paytrace-payment-posting.yaml")).unwrap();
    let plan = ledgerlink::plan::build(
        source,
        profile.clone(),
        ledgerlink::script::helpers::system_clock(),
    )
    .unwrap();
    let mut plans = Plans::default();
    plans.insert(plan);
    let routes = WebhookRoutes::build(&plans, &profile, &scope).unwrap();
    let store: Arc<dyn StateStore> = Arc::new(SqliteStore::memory().unwrap());

    // Sandbox first (ephemeral ports), then the engine's clients pointing at it.
    let secret = scope.resolve("test", "${secret:paytrace_webhook}").unwrap();
    let listener_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut notify = NotifierConfig::new(
        &format!("http://127.0.0.1:{listener_port}/hooks/paytrace/transactions"),
        &secret,
    );
    notify.interval_ms = 50;
    let sb = Sandbox::start(SandboxConfig {
        notify: Some(notify),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let sagepro = ledgerlink::connectors::sagepro::client::SagePro::new(
        ledgerlink::connectors::sagepro::config::Config {
            base_url: sb.sagepro_url(),
            client_id: "ledgerlink-sandbox".into(),
            client_secret: "sandbox-secret".into(),
            timeout: Duration::from_secs(5),
        },
    )
    .unwrap();
    let worker = Worker::new(
        Arc::clone(&store),
        Arc::new(RwLock::new(plans)),
        Executor::new(Clients::default().with("sagepro", Arc::new(sagepro))),
        WorkerConfig {
            poll: Duration::from_millis(10),
            ..WorkerConfig::default()
        },
    );
    let state = ServerState {
        store: Arc::clone(&store),
        routes: Arc::new(RwLock::new(routes)),
        wake: Arc::clone(&worker.wake),
        tolerance_s: 300,
        completions: Arc::clone(&worker.completions),
        runner: Some(Arc::clone(&worker)),
    };
    let (_addr, _server) = serve(&format!("127.0.0.1:{listener_port}"), router(state))
        .await
        .unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let work = tokio::spawn(Arc::clone(&worker).run(stopped));

    let events = simulate(
        &sb.paytrace_url(),
        &sb.sagepro_url(),
        &SimConfig {
            seed: 3,
            count: 30,
            rate: None,
        },
        |_| {},
    )
    .await
    .unwrap();
    let sales: Vec<u64> = events
        .iter()
        .filter(|e| e.kind.label() == "sale" && e.response_code == Some(101))
        .filter_map(|e| e.transaction_id)
        .collect();
    assert!(!sales.is_empty());
    let mut missing = sales.clone();
    for _ in 0..200 {
        let ledger = super::support::ledger(&sb).await;
        let refs: Vec<String> = ledger["payments"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["PaymentReference"].as_str().map(str::to_string))
            .collect();
        missing.retain(|id| !refs.contains(&format!("PT-{id}")));
        if missing.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(true).unwrap();
    work.await.unwrap();
    assert!(
        missing.is_empty(),
        "sales not posted to Sage Pro: {missing:?}; runs {:?}",
        store.counts().unwrap()
    );
}

/// `respond: completed`: the sender's answer waits for the run and carries its outcome.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_can_answer_after_its_run() {
    let dir = tempdir("webhook-sync");
    let profile = profile(&dir);
    let flow = FLOW.replace(
        "    max_body: 1KiB\n",
        "    max_body: 1KiB\n    respond: completed\n",
    ) + "  - id: stop\n    switch:\n      - when: event.id == \"bad\"\n        steps:\n          - id: refuse\n            dead_letter: { reason: '\"refused \" + event.id' }\n";
    let source = ledgerlink::load::from_bytes("flow.yaml", flow.into_bytes()).unwrap();
    let (plans, routes) =
        super::support::planned(source, &profile, &SecretScope::of(&profile, &dir));
    // A file store: its reads use their own connection.
    let store: Arc<dyn StateStore> = Arc::new(
        SqliteStore::open(
            &dir.join("state.db"),
            ledgerlink::store::sqlite::Durability::Full,
        )
        .unwrap(),
    );
    let script = ledgerlink::connectors::mock::scripted::Scripted::default().echoing();
    let worker = Worker::new(
        Arc::clone(&store),
        Arc::new(RwLock::new(plans)),
        Executor::new(script.clients()),
        WorkerConfig::default(),
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let work = tokio::spawn(Arc::clone(&worker).run(stopped));
    let addr =
        super::support::serve_hooks(&store, Arc::new(RwLock::new(routes)), Some(&worker)).await;
    let http = ledgerlink::connectors::transport::client();
    let send = |id: &str| {
        let body = json!({"id": id}).to_string();
        let sig = signature::sign(
            SECRET.as_bytes(),
            chrono::Utc::now().timestamp(),
            body.as_bytes(),
        );
        http.post(format!("http://{addr}/hooks/test"))
            .header("content-type", "application/json")
            .header("X-Test-Signature", sig)
            .body(body)
            .send()
    };
    let r = send("good").await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "completed", "{v}");
    let run = v["run"].as_i64().unwrap();
    // A completed run answers once its event and its call's start are committed; its end is
    // committed right after (`Worker::record_end`).
    let journal = store.journal(run).unwrap();
    assert_eq!(
        journal.len(),
        1,
        "the call's start was committed before the answer"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while store.run(run).unwrap().unwrap().run.state != ledgerlink::store::RunState::Completed {
        assert!(
            std::time::Instant::now() < deadline,
            "the run's end was never committed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let v: Value = send("bad").await.unwrap().json().await.unwrap();
    assert_eq!(
        (&v["status"], &v["step"], &v["reason"]),
        (
            &json!("dead_lettered"),
            &json!("refuse"),
            &json!("refused bad")
        )
    );
    assert_eq!(
        store
            .run(v["run"].as_i64().unwrap())
            .unwrap()
            .unwrap()
            .run
            .state,
        ledgerlink::store::RunState::DeadLettered,
        "a run that did not complete answers only after its end is committed"
    );
    let again = send("good").await.unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap()["duplicate"], true);
    // The same new event twice at once: both runs may start before either is stored, but
    // only one is stored with its first write; the other stops before its call.
    let runs = |s: &Arc<dyn StateStore>| s.counts().unwrap().values().sum::<i64>();
    let runs_before = runs(&store);
    let (a, b) = tokio::join!(send("twin"), send("twin"));
    let (a, b): (Value, Value) = (
        a.unwrap().json().await.unwrap(),
        b.unwrap().json().await.unwrap(),
    );
    let statuses = [&a, &b].map(|v| {
        if v["duplicate"] == true {
            "duplicate".to_string()
        } else {
            v["status"].as_str().unwrap_or("?").to_string()
        }
    });
    let mut sorted = statuses.clone();
    sorted.sort();
    assert_eq!(sorted, ["completed", "duplicate"], "{a} {b}");
    assert_eq!(runs(&store), runs_before + 1, "one run for the twin");
    let twin = [&a, &b]
        .into_iter()
        .find_map(|v| v["run"].as_i64())
        .unwrap();
    assert_eq!(
        store.journal(twin).unwrap().len(),
        1,
        "one call for the twin"
    );
    stop.send(true).unwrap();
    work.await.unwrap();
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    // Review finding (slowloris): a connection sending its headers a byte at a time was held
    // forever. The server closes it once the header read timeout passes.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let store: Arc<dyn StateStore> = Arc::new(SqliteStore::memory().unwrap());
    let addr = super::support::serve_hooks(
        &store,
        Arc::new(RwLock::new(
            ledgerlink::server::webhook::WebhookRoutes::default(),
        )),
        None,
    )
    .await;
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"POST /hooks/x HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    let limit = ledgerlink::server::HEADER_READ_TIMEOUT + std::time::Duration::from_secs(10);
    let read = tokio::time::timeout(limit, slow.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "still open after {:?}", started.elapsed());
    assert!(
        started.elapsed() >= ledgerlink::server::HEADER_READ_TIMEOUT / 2,
        "closed too early: {:?}",
        started.elapsed()
    );
}
