//! The admin API: open health routes, everything else behind the bearer token (401 without it,
//! or when no token is configured), Prometheus metrics, flows, runs, dead letters and replay.

use ledgerlink::runtime::worker::{Plans, Stats};
use ledgerlink::server::admin::{AdminState, ReloadStatus, router};
use ledgerlink::server::serve;
use ledgerlink::store::{NewEvent, RunEnd, SqliteStore, StateStore};
use serde_json::{Value, json};
use std::sync::{Arc, RwLock};

async fn start(token: Option<&str>) -> (String, Arc<dyn StateStore>) {
    let store: Arc<dyn StateStore> = Arc::new(SqliteStore::memory().unwrap());
    let flow = "flow: admin-test\ntrigger: { manual: {} }\nsteps:\n  - id: echo\n    call: mock.echo\n    with: { n: event.n }\n";
    let source =
        ledgerlink::load::from_bytes("flows/admin-test.yaml", flow.as_bytes().to_vec()).unwrap();
    let profile = ledgerlink::model::Profile {
        profile: "dev".into(),
        ..Default::default()
    };
    let mut plans = Plans::default();
    plans.insert(
        ledgerlink::plan::build(source, profile, ledgerlink::script::helpers::system_clock())
            .unwrap(),
    );
    let reload = Arc::new(ReloadStatus::default());
    reload
        .errors
        .lock()
        .unwrap()
        .insert("flows/broken.yaml".into(), "3:5: error[LL002]".into());
    let state = AdminState {
        store: Arc::clone(&store),
        plans: Arc::new(RwLock::new(plans)),
        stats: Arc::new(Stats::default()),
        reload,
        token: token.map(str::to_string),
        health: Arc::new(std::sync::Mutex::new(
            [("sagepro".to_string(), true)].into_iter().collect(),
        )),
    };
    let (addr, _task) = serve("127.0.0.1:0", router(state)).await.unwrap();
    (format!("http://{addr}"), store)
}

#[tokio::test]
async fn protected_routes_need_the_token() {
    let (base, store) = start(Some("s3cret-token")).await;
    let accepted = store
        .accept(&[NewEvent {
            flow: "admin-test".into(),
            key: "e1".into(),
            body: json!({"n": 1}),
            revision: "r".into(),
            ordering_key: None,
            received_ms: 1,
            text: None,
        }])
        .unwrap();
    let run = match accepted[0] {
        ledgerlink::store::Accepted::New { run, .. } => run,
        _ => unreachable!(),
    };
    store.claim("w", 10, 1000, 1).unwrap();
    store
        .finish(
            run,
            &RunEnd::DeadLettered {
                step: "echo".into(),
                reason: "boom".into(),
            },
            20,
        )
        .unwrap();

    let http = ledgerlink::connectors::transport::client();
    assert_eq!(
        http.get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        http.get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    for path in [
        "/metrics",
        "/api/flows",
        "/api/runs",
        "/api/dlq",
        "/api/engines",
    ] {
        let r = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path} without a token");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "Unauthorized");
        let r = http
            .get(format!("{base}{path}"))
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path} with a wrong token");
    }
    let get = |path: &str| {
        http.get(format!("{base}{path}"))
            .bearer_auth("s3cret-token")
            .send()
    };
    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    for line in [
        "ledgerlink_events_accepted_total 1",
        "ledgerlink_runs{state=\"dead_lettered\"} 1",
        "ledgerlink_dlq_size 1",
        "# TYPE ledgerlink_reloads_total counter",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
    let flows: Value = get("/api/flows").await.unwrap().json().await.unwrap();
    assert_eq!(flows["flows"][0]["flow"], "admin-test");
    assert_eq!(
        flows["reload_errors"]["flows/broken.yaml"],
        "3:5: error[LL002]"
    );
    let runs: Value = get("/api/runs?state=dead_lettered")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(runs["runs"][0]["id"], run);
    let one: Value = get(&format!("/api/runs/{run}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["dead_letter"]["reason"], "boom");
    assert_eq!(get("/api/runs/999").await.unwrap().status(), 404);
    assert_eq!(get("/api/runs?state=nope").await.unwrap().status(), 400);
    let dlq: Value = get("/api/dlq").await.unwrap().json().await.unwrap();
    assert_eq!(dlq["dead_letters"].as_array().unwrap().len(), 1);
    // An SQLite store is one engine's: no engines to list.
    let engines: Value = get("/api/engines").await.unwrap().json().await.unwrap();
    assert_eq!(engines["engines"], serde_json::json!([]));
    let replay = |id: i64| {
        http.post(format!("{base}/api/dlq/{id}/replay"))
            .bearer_auth("s3cret-token")
            .send()
    };
    assert_eq!(replay(run).await.unwrap().status(), 200);
    assert_eq!(replay(run).await.unwrap().status(), 409, "replayed once");
    assert_eq!(
        http.post(format!("{base}/api/dlq/{run}/replay"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

#[tokio::test]
async fn without_a_configured_token_the_api_is_closed() {
    let (base, _) = start(None).await;
    let r = ledgerlink::connectors::transport::client()
        .get(format!("{base}/api/runs"))
        .bearer_auth("anything")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "NoAdminToken");
}

#[tokio::test]
async fn readyz_reports_a_down_connector() {
    let store: Arc<dyn StateStore> = Arc::new(SqliteStore::memory().unwrap());
    let state = AdminState {
        store,
        plans: Arc::new(RwLock::new(Plans::default())),
        stats: Arc::new(Stats::default()),
        reload: Arc::new(ReloadStatus::default()),
        token: None,
        health: Arc::new(std::sync::Mutex::new(
            [
                ("paytrace".to_string(), true),
                ("sagepro".to_string(), false),
            ]
            .into_iter()
            .collect(),
        )),
    };
    let (addr, _task) = serve("127.0.0.1:0", router(state)).await.unwrap();
    let r = ledgerlink::connectors::transport::client()
        .get(format!("http://{addr}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["status"].as_str(), v["connectors"]["sagepro"].as_bool()),
        (Some("degraded"), Some(false))
    );
}
