//! The durable runtime with scripted connectors: retries are rows that survive a new worker,
//! a call in flight at a crash is resent with the same idempotency key, recorded outcomes are
//! not repeated, the idempotency ledger stops a second post for the same key, ordering keys
//! keep a refund behind its sale, and dead letters replay without repeating what succeeded.

use ledgerlink::connectors::mock::scripted::{Reply, Scripted};
use ledgerlink::runtime::Executor;
use ledgerlink::runtime::intake::new_event;
use ledgerlink::runtime::worker::{Plans, Worker, WorkerConfig};
use ledgerlink::store::*;
use serde_json::{Value, json};
use std::sync::{Arc, RwLock};
use std::time::Duration;

const FLOW: &str = r#"flow: durable-test
trigger: { manual: {} }
ordering_key: event.customer
on_error:
  retry: { attempts: 4, backoff: 20ms, max_delay: 50ms }
  then: dead_letter
steps:
  - id: customer
    call: sagepro.get_customer
    with: { CustomerID: event.customer }
  - id: post
    call: sagepro.create_payment
    with:
      PaymentReference: '"PT-" + event.n'
      PaymentDate: '"2026-11-20"'
      Amount: money(event.amount)
      CustomerID: steps.customer.CustomerID
      GLAccountID: '"1050"'
      PaymentMethodCode: '"CC"'
      PaymentStatus: '"Paid"'
    idempotency_key: '"pay-" + event.n'
"#;

fn plan() -> ledgerlink::plan::Plan {
    plan_with_backoff("20ms")
}

fn plan_with_backoff(backoff: &str) -> ledgerlink::plan::Plan {
    let text = FLOW.replace(
        "backoff: 20ms, max_delay: 50ms",
        &format!("backoff: {backoff}, max_delay: 5s"),
    );
    let source = ledgerlink::load::from_bytes("durable-test.yaml", text.into_bytes()).unwrap();
    let profile = ledgerlink::model::Profile {
        profile: "dev".into(),
        ..Default::default()
    };
    ledgerlink::plan::build(source, profile, ledgerlink::script::helpers::system_clock()).unwrap()
}

fn reply(v: Value) -> Reply {
    serde_json::from_value(v).unwrap()
}

fn ok_customer() -> Reply {
    reply(json!({"call": "sagepro.get_customer", "ok": {"CustomerID": "ACME01"}, "times": 50}))
}

struct Rig {
    store: Arc<dyn StateStore>,
    plans: Arc<RwLock<Plans>>,
    script: Scripted,
}

impl Rig {
    fn new(replies: Vec<Reply>) -> Rig {
        Rig::with_plan(replies, plan())
    }

    fn with_plan(replies: Vec<Reply>, plan: ledgerlink::plan::Plan) -> Rig {
        let mut plans = Plans::default();
        plans.insert(plan);
        Rig {
            store: Arc::new(SqliteStore::memory().unwrap()),
            plans: Arc::new(RwLock::new(plans)),
            script: Scripted::new(replies),
        }
    }

    fn send(&self, events: &[Value]) -> Vec<i64> {
        let plan = self.plans.read().unwrap().current("durable-test").unwrap();
        let rows: Vec<NewEvent> = events
            .iter()
            .map(|e| new_event(&plan, e.clone(), now_ms()).unwrap())
            .collect();
        self.store
            .accept(&rows)
            .unwrap()
            .into_iter()
            .map(|a| match a {
                Accepted::New { run, .. } => run,
                Accepted::Duplicate { event } => -event,
            })
            .collect()
    }

    fn worker(&self) -> Arc<Worker> {
        Worker::new(
            Arc::clone(&self.store),
            Arc::clone(&self.plans),
            Executor::new(self.script.clients()),
            WorkerConfig {
                concurrency: 4,
                poll: Duration::from_millis(5),
                ..WorkerConfig::default()
            },
        )
    }

    /// Run a worker until `done` holds for the store (or 10 s pass), then stop it.
    async fn work_until(&self, done: impl Fn(&dyn StateStore) -> bool) {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(self.worker().run(stopped));
        for _ in 0..1000 {
            if done(self.store.as_ref()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stop.send(true).unwrap();
        task.await.unwrap();
        assert!(
            done(self.store.as_ref()),
            "not done: {:?}",
            self.store.counts().unwrap()
        );
    }

    fn state(&self, run: i64) -> RunState {
        self.store.run(run).unwrap().unwrap().run.state
    }

    fn calls(&self, call: &str) -> Vec<(Option<String>, u32)> {
        self.script
            .calls()
            .into_iter()
            .filter(|c| c.call == call)
            .map(|c| (c.idempotency_key, c.attempt))
            .collect()
    }
}

fn idle(s: &dyn StateStore) -> bool {
    let c = s.counts().unwrap();
    ["queued", "running", "waiting"]
        .iter()
        .all(|k| !c.contains_key(*k))
}

#[tokio::test]
async fn retries_are_rows_that_a_new_worker_picks_up() {
    // A backoff long enough that the first worker is surely stopped while the row waits.
    let rig = Rig::with_plan(
        vec![
            ok_customer(),
            reply(
                json!({"call": "sagepro.create_payment", "error": "retryable", "message": "503", "times": 2}),
            ),
            reply(json!({"call": "sagepro.create_payment", "ok": {"PaymentReference": "PT-1"}})),
        ],
        plan_with_backoff("300ms"),
    );
    let run = rig.send(&[json!({"n": 1, "customer": "ACME01", "amount": "10.00"})])[0];
    // First worker: the first failure leaves a waiting row, then the worker stops.
    rig.work_until(|s| s.run(run).unwrap().unwrap().run.state == RunState::Waiting)
        .await;
    let waiting = rig.store.run(run).unwrap().unwrap();
    assert!(waiting.run.reason.as_deref().unwrap().contains("503"));
    assert_eq!(waiting.journal[1].outcome.as_deref(), Some("retry"));
    let input = waiting.journal[1].input.clone();
    assert!(
        input.is_object(),
        "a retry row keeps the call's input: {input}"
    );
    // A new worker (a restart) finishes it.
    rig.work_until(idle).await;
    assert_eq!(rig.state(run), RunState::Completed);
    let d = rig.store.run(run).unwrap().unwrap();
    assert_eq!(
        (d.journal[1].attempt, d.journal[1].outcome.as_deref()),
        (3, Some("ok"))
    );
    assert_eq!(
        d.journal[1].input, input,
        "each start writes the same input"
    );
    let history = d.journal[1].history.as_array().unwrap();
    assert_eq!(
        history.len(),
        2,
        "both failed attempts are kept: {history:?}"
    );
    assert_eq!(history[0]["attempt"], 1);
    assert!(history[1]["message"].as_str().unwrap().contains("503"));
    assert_eq!(
        rig.calls("sagepro.get_customer").len(),
        1,
        "the recorded read is not repeated"
    );
    let posts = rig.calls("sagepro.create_payment");
    assert_eq!(posts.iter().map(|c| c.1).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert!(posts.iter().all(|c| c.0.as_deref() == Some("pay-1")));
}

#[tokio::test]
async fn a_call_in_flight_at_a_crash_is_resent_with_the_same_key() {
    let rig = Rig::new(vec![
        ok_customer(),
        reply(json!({"call": "sagepro.create_payment", "ok": {"PaymentReference": "PT-2"}})),
    ]);
    let run = rig.send(&[json!({"n": 2, "customer": "ACME01", "amount": "20.00"})])[0];
    // What a crash leaves: the run claimed, its read done, its post started and never ended.
    let claimed = rig.store.claim("dead-worker", now_ms(), 60_000, 1).unwrap();
    assert_eq!(claimed[0].run.id, run);
    let entry = |seq, step: &str, call: &str, outcome: Option<&str>, output: Value| JournalEntry {
        run,
        seq,
        step: step.into(),
        call: call.into(),
        attempt: 1,
        outcome: outcome.map(str::to_string),
        input: json!({}),
        output,
        idempotency_key: (seq == 1).then(|| "pay-2".to_string()),
        started_ms: now_ms(),
        updated_ms: now_ms(),
        history: json!([]),
    };
    rig.store
        .record_step(&entry(
            0,
            "customer",
            "sagepro.get_customer",
            Some("ok"),
            json!({"CustomerID": "ACME01"}),
        ))
        .unwrap();
    rig.store
        .record_step(&entry(
            1,
            "post",
            "sagepro.create_payment",
            None,
            Value::Null,
        ))
        .unwrap();
    assert_eq!(rig.store.recover_running().unwrap(), 1);
    rig.work_until(idle).await;
    assert_eq!(rig.state(run), RunState::Completed);
    assert!(
        rig.calls("sagepro.get_customer").is_empty(),
        "the recorded read is reused"
    );
    assert_eq!(
        rig.calls("sagepro.create_payment"),
        vec![(Some("pay-2".into()), 2)]
    );
}

#[tokio::test]
async fn the_idempotency_ledger_stops_a_second_post_for_the_same_key() {
    let rig = Rig::new(vec![
        ok_customer(),
        reply(
            json!({"call": "sagepro.create_payment", "ok": {"PaymentReference": "PT-3"}, "times": 5}),
        ),
    ]);
    // Two different events (different ids) that build the same payment key.
    let runs = rig.send(&[
        json!({"n": 3, "customer": "ACME01", "amount": "30.00", "delivery": 1}),
        json!({"n": 3, "customer": "ACME01", "amount": "30.00", "delivery": 2}),
    ]);
    rig.work_until(idle).await;
    assert!(runs.iter().all(|r| rig.state(*r) == RunState::Completed));
    assert_eq!(rig.calls("sagepro.create_payment").len(), 1);
}

#[tokio::test]
async fn runs_with_one_ordering_key_go_in_arrival_order() {
    let rig = Rig::new(vec![
        ok_customer(),
        reply(
            json!({"call": "sagepro.create_payment", "error": "retryable", "message": "503", "times": 2}),
        ),
        reply(
            json!({"call": "sagepro.create_payment", "ok": {"PaymentReference": "x"}, "times": 5}),
        ),
    ]);
    let runs = rig.send(&[
        json!({"n": 10, "customer": "ACME01", "amount": "1.00"}),
        json!({"n": 11, "customer": "ACME01", "amount": "2.00"}),
        json!({"n": 12, "customer": "GLOBEX", "amount": "3.00"}),
    ]);
    rig.work_until(idle).await;
    assert!(runs.iter().all(|r| rig.state(*r) == RunState::Completed));
    let keys: Vec<String> = rig
        .calls("sagepro.create_payment")
        .into_iter()
        .filter_map(|c| c.0)
        .collect();
    let last_of_10 = keys.iter().rposition(|k| k == "pay-10").unwrap();
    let first_of_11 = keys.iter().position(|k| k == "pay-11").unwrap();
    assert!(last_of_10 < first_of_11, "pay-11 overtook pay-10: {keys:?}");
}

#[tokio::test]
async fn dead_letters_replay_without_repeating_what_succeeded() {
    let rig = Rig::new(vec![
        ok_customer(),
        reply(
            json!({"call": "sagepro.create_payment", "error": "permanent", "message": "ledger closed"}),
        ),
    ]);
    let run = rig.send(&[json!({"n": 20, "customer": "ACME01", "amount": "5.00"})])[0];
    rig.work_until(idle).await;
    assert_eq!(rig.state(run), RunState::DeadLettered);
    let dl = rig
        .store
        .dead_letters(&DlqFilter {
            open_only: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!((dl[0].run, dl[0].step.as_str()), (run, "post"));
    assert!(dl[0].reason.contains("ledger closed"));
    // Fixed on the Sage Pro side; replay.
    rig.script.push(reply(
        json!({"call": "sagepro.create_payment", "ok": {"PaymentReference": "PT-20"}}),
    ));
    assert!(rig.store.requeue(run, &dl[0].revision, now_ms()).unwrap());
    rig.work_until(idle).await;
    assert_eq!(rig.state(run), RunState::Completed);
    assert_eq!(
        rig.calls("sagepro.get_customer").len(),
        1,
        "the read before the failure is not repeated"
    );
    assert_eq!(rig.calls("sagepro.create_payment").len(), 2);
}

#[tokio::test]
async fn duplicate_events_are_acknowledged_and_create_nothing() {
    let rig = Rig::new(vec![ok_customer()]);
    let first = rig.send(&[json!({"n": 30, "customer": "ACME01", "amount": "1.00"})]);
    let again = rig.send(&[json!({"n": 30, "customer": "ACME01", "amount": "1.00"})]);
    assert!(first[0] > 0 && again[0] < 0, "the second is a duplicate");
    assert_eq!(rig.store.counts().unwrap().get("queued"), Some(&1));
}

#[tokio::test]
async fn an_event_no_step_can_read_is_dead_lettered_naming_its_field() {
    // Review finding: `1e400` was accepted (202), then the run failed without a dead letter
    // and without saying which field was at fault.
    let rig = Rig::new(vec![ok_customer()]);
    let event: Value = serde_json::from_str(
        r#"{"n": 40, "customer": "ACME01", "amount": 1e400, "note": "card 4111111111111111"}"#,
    )
    .unwrap();
    let run = rig.send(&[event])[0];
    rig.work_until(idle).await;
    assert_eq!(rig.state(run), RunState::DeadLettered);
    let dl = rig.store.dead_letters(&DlqFilter::default()).unwrap();
    assert_eq!((dl[0].run, dl[0].step.as_str()), (run, "event"));
    assert!(dl[0].reason.contains("field amount"), "{}", dl[0].reason);
    assert!(dl[0].reason.contains("decimal range"), "{}", dl[0].reason);
    assert!(rig.calls("sagepro.create_payment").is_empty());
}

/// Sage Pro whose customer lookup takes `delay` (the call in flight when the engine stops)
/// and whose posts are counted.
struct SlowLookup {
    delay: Duration,
    started: Arc<tokio::sync::Notify>,
    posts: Arc<std::sync::atomic::AtomicUsize>,
}

impl ledgerlink::connectors::Connector for SlowLookup {
    fn call<'a>(
        &'a self,
        operation: &'a ledgerlink::connectors::Operation,
        _input: &'a Value,
        _context: &'a ledgerlink::connectors::CallContext,
    ) -> ledgerlink::connectors::BoxFuture<'a, Result<Value, ledgerlink::connectors::ConnectorError>>
    {
        Box::pin(async move {
            if operation.name == "get_customer" {
                self.started.notify_one();
                tokio::time::sleep(self.delay).await;
                Ok(json!({"CustomerID": "ACME01"}))
            } else {
                self.posts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Ok(json!({"PaymentReference": "PT-1"}))
            }
        })
    }
}

#[tokio::test]
async fn a_graceful_stop_finishes_the_call_in_flight_and_starts_no_other() {
    let rig = Rig::new(vec![]);
    let slow = Arc::new(SlowLookup {
        delay: Duration::from_millis(300),
        started: Arc::default(),
        posts: Arc::default(),
    });
    let started = Arc::clone(&slow.started);
    let posts = Arc::clone(&slow.posts);
    let worker = Worker::new(
        Arc::clone(&rig.store),
        Arc::clone(&rig.plans),
        Executor::new(ledgerlink::connectors::Clients::default().with("sagepro", slow)),
        WorkerConfig {
            poll: Duration::from_millis(5),
            ..WorkerConfig::default()
        },
    );
    let run = rig.send(&[json!({"n": 1, "customer": "ACME01", "amount": "10.00"})])[0];
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(Arc::clone(&worker).run(stopped));
    // SIGTERM while the lookup is in flight.
    started.notified().await;
    stop.send(true).unwrap();
    task.await.unwrap();
    let d = rig.store.run(run).unwrap().unwrap();
    assert_eq!(d.run.state, RunState::Waiting, "{:?}", d.run);
    assert!(
        d.run.reason.as_deref().unwrap().contains("engine stopped"),
        "{:?}",
        d.run.reason
    );
    assert_eq!(d.run.step.as_deref(), Some("post"));
    assert_eq!(
        d.journal.len(),
        1,
        "only the lookup was started: {:?}",
        d.journal
    );
    assert_eq!(
        d.journal[0].outcome.as_deref(),
        Some("ok"),
        "its outcome is kept"
    );
    assert_eq!(posts.load(std::sync::atomic::Ordering::SeqCst), 0);
    // The next start resumes the run: the payment is posted once, the lookup not repeated.
    let rig2 = Rig {
        store: Arc::clone(&rig.store),
        plans: Arc::clone(&rig.plans),
        script: Scripted::new(vec![reply(
            json!({"call": "sagepro.create_payment", "ok": {"PaymentReference": "PT-1"}}),
        )]),
    };
    rig2.work_until(idle).await;
    assert_eq!(rig2.state(run), RunState::Completed);
    assert!(rig2.calls("sagepro.get_customer").is_empty());
    assert_eq!(rig2.calls("sagepro.create_payment").len(), 1);
}
