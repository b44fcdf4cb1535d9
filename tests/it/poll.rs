//! The poll trigger against the emulators: PayTrace exports read by date window with an
//! overlap, records deduplicated by event id across polls and across a restart (a new poller
//! reading the stored cursor), and Sage Pro lists paged through with `updatedSince`.

use ledgerlink::connectors::Clients;
use ledgerlink::sandbox::{Sandbox, SandboxConfig};
use ledgerlink::store::{SqliteStore, StateStore};
use ledgerlink::triggers::poll::Poller;
use serde_json::{Value, json};
use std::sync::Arc;

fn plan(flow: &str) -> Arc<ledgerlink::plan::Plan> {
    let source = ledgerlink::load::from_bytes("poll.yaml", flow.as_bytes().to_vec()).unwrap();
    let profile = ledgerlink::model::Profile {
        profile: "dev".into(),
        ..Default::default()
    };
    Arc::new(
        ledgerlink::plan::build(source, profile, ledgerlink::script::helpers::system_clock())
            .unwrap(),
    )
}

fn clients(sb: &Sandbox) -> Clients {
    Clients::default()
        .with("paytrace", Arc::new(super::support::paytrace(sb)))
        .with("sagepro", Arc::new(super::support::sagepro(sb)))
}

async fn sale(sb: &Sandbox, token: &str, invoice: &str) -> u64 {
    let v: Value = ledgerlink::connectors::transport::client()
        .post(format!("{}/v1/transactions/sale/keyed", sb.paytrace_url()))
        .bearer_auth(token)
        .json(&json!({"amount": "10.00", "invoice_id": invoice,
            "credit_card": {"number": "4111111111111111", "expiration_month": 12, "expiration_year": 2030}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["transaction_id"].as_u64().unwrap()
}

const PAYTRACE_POLL: &str = r#"flow: poll-sales
trigger:
  poll:
    operation: paytrace.transactions_by_date_range
    every: 1h
    cursor: transaction_id
    overlap: 1d
    items: transactions
    event_id: event.transaction_id
    with:
      start_date: format_date(window_start, "%m/%d/%Y")
      end_date: format_date(window_end, "%m/%d/%Y")
steps:
  - id: echo
    call: mock.echo
    with: { id: event.transaction_id }
"#;

#[tokio::test]
async fn polls_overlap_without_duplicates_and_resume_from_the_cursor() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let token = super::support::paytrace_token(&sb).await;
    let store: Arc<dyn StateStore> = Arc::new(SqliteStore::memory().unwrap());
    let poller = || Poller {
        plan: plan(PAYTRACE_POLL),
        clients: clients(&sb),
        store: Arc::clone(&store),
    };
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(sale(&sb, &token, &format!("INV-P{i}")).await);
    }
    let first = poller().poll_once(chrono::Utc::now()).await.unwrap();
    assert_eq!((first.records, first.new, first.duplicates), (3, 3, 0));
    assert_eq!(first.cursor, Some(ids[2].to_string()));
    // The overlap re-reads the day: everything is a duplicate, nothing is lost.
    let again = poller().poll_once(chrono::Utc::now()).await.unwrap();
    assert_eq!((again.new, again.duplicates), (0, 3));
    // New sales, and a "restarted" poller (a new instance reading the stored cursor).
    for i in 3..5 {
        ids.push(sale(&sb, &token, &format!("INV-P{i}")).await);
    }
    let resumed = poller().poll_once(chrono::Utc::now()).await.unwrap();
    assert_eq!((resumed.new, resumed.duplicates), (2, 3));
    assert_eq!(resumed.cursor, Some(ids[4].to_string()));
    assert_eq!(store.counts().unwrap().get("queued"), Some(&5));
    let stored = store.cursor("poll:poll-sales").unwrap().unwrap();
    assert!(stored.contains(&ids[4].to_string()), "{stored}");
}

const SAGEPRO_POLL: &str = r#"flow: poll-customers
trigger:
  poll:
    operation: sagepro.list_customers
    every: 10m
    cursor: UpdatedAt
    overlap: 1m
    items: items
    event_id: event.CustomerID + "@" + event.UpdatedAt
    with:
      updatedSince: cursor
      pageSize: 3
steps:
  - id: echo
    call: mock.echo
    with: { id: event.CustomerID }
"#;

#[tokio::test]
async fn paged_lists_are_read_to_the_end() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let store: Arc<dyn StateStore> = Arc::new(SqliteStore::memory().unwrap());
    let poller = Poller {
        plan: plan(SAGEPRO_POLL),
        clients: clients(&sb),
        store: Arc::clone(&store),
    };
    let out = poller.poll_once(chrono::Utc::now()).await.unwrap();
    assert_eq!(
        out.new, 10,
        "all ten seeded customers over four pages: {out:?}"
    );
    assert!(out.cursor.is_some());
    let again = poller.poll_once(chrono::Utc::now()).await.unwrap();
    assert_eq!(again.new, 0, "{again:?}");
}

#[tokio::test]
async fn backfill_reads_a_window_without_moving_the_cursor() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let token = super::support::paytrace_token(&sb).await;
    for i in 0..2 {
        sale(&sb, &token, &format!("INV-B{i}")).await;
    }
    let store: Arc<dyn StateStore> = Arc::new(SqliteStore::memory().unwrap());
    let poller = Poller {
        plan: plan(PAYTRACE_POLL),
        clients: clients(&sb),
        store: Arc::clone(&store),
    };
    let now = chrono::Utc::now();
    let out = poller
        .backfill(now - chrono::Duration::days(1), now)
        .await
        .unwrap();
    assert_eq!((out.records, out.new), (2, 2));
    let again = poller
        .backfill(now - chrono::Duration::days(1), now)
        .await
        .unwrap();
    assert_eq!((again.new, again.duplicates), (0, 2));
    assert_eq!(
        store.cursor("poll:poll-sales").unwrap(),
        None,
        "the cursor is not moved"
    );
}

/// A polled PayTrace refund reaches Sage Pro as a Refunded payment and a credit memo through the shipped
/// refund-posting flow, the worker and the real connectors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polled_refund_reaches_sagepro_as_a_credit_memo() {
    use ledgerlink::runtime::Executor;
    use ledgerlink::runtime::worker::{Plans, Worker, WorkerConfig};
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let http = ledgerlink::connectors::transport::client();
    let token = super::support::paytrace_token(&sb).await;
    let call = |path: &'static str, body: Value| {
        let (http, url, token) = (
            http.clone(),
            format!("{}{path}", sb.paytrace_url()),
            token.clone(),
        );
        async move {
            http.post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    call("/v1/customer/create", json!({"customer_id": "pt-cust-1001",
        "credit_card": {"number": "4111111111111111", "expiration_month": 12, "expiration_year": 2030}})).await;
    let sale = call(
        "/v1/transactions/sale/by_customer",
        json!({"customer_id": "pt-cust-1001", "amount": "50.00", "invoice_id": "INV-10021"}),
    )
    .await;
    http.post(format!("{}/_sandbox/paytrace/settle", sb.paytrace_url()))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let refund = call(
        "/v1/transactions/refund/for_transaction",
        json!({"transaction_id": sale["transaction_id"], "amount": "20.00"}),
    )
    .await;
    assert_eq!(refund["response_code"], 106, "{refund}");

    // The sale's payment, as the payment-posting flow records it: the refund reverses it.
    let payment = json!({"PaymentReference": format!("PT-{}", sale["transaction_id"]),
        "PaymentDate": "2026-11-25", "Amount": "50.00", "CustomerID": "ACME01",
        "InvoiceID": "INV-10021", "GLAccountID": "1050", "PaymentMethodCode": "CC",
        "PaymentStatus": "Paid"});
    let context = ledgerlink::connectors::client::CallContext {
        flow: "test".into(),
        step: "pay".into(),
        idempotency_key: Some("pay-1".into()),
        attempt: 1,
    };
    let (_, create) = ledgerlink::connectors::operation("sagepro.create_payment").unwrap();
    clients(&sb)
        .get("sagepro")
        .unwrap()
        .call(create, &payment, &context)
        .await
        .unwrap();

    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let profile = ledgerlink::load::find_profile(&root.join("profiles"), "dev").unwrap();
    let source = ledgerlink::load::read(&root.join("flows/paytrace-refund-posting.yaml")).unwrap();
    let plan = Arc::new(
        ledgerlink::plan::build(source, profile, ledgerlink::script::helpers::system_clock())
            .unwrap(),
    );
    let store: Arc<dyn StateStore> = Arc::new(SqliteStore::memory().unwrap());
    let poller = Poller {
        plan: Arc::clone(&plan),
        clients: clients(&sb),
        store: Arc::clone(&store),
    };
    let polled = poller.poll_once(chrono::Utc::now()).await.unwrap();
    assert_eq!(polled.new, 1, "only the refund is asked for: {polled:?}");

    let mut plans = Plans::default();
    plans.insert_shared(plan);
    let worker = Worker::new(
        Arc::clone(&store),
        Arc::new(std::sync::RwLock::new(plans)),
        Executor::new(clients(&sb)),
        WorkerConfig {
            poll: std::time::Duration::from_millis(5),
            ..WorkerConfig::default()
        },
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let work = tokio::spawn(Arc::clone(&worker).run(stopped));
    for _ in 0..300 {
        let c = store.counts().unwrap();
        if c.get("completed").copied().unwrap_or(0) == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    stop.send(true).unwrap();
    work.await.unwrap();
    let counts = store.counts().unwrap();
    assert_eq!(
        (counts.get("completed"), counts.get("skipped")),
        (Some(&1), None),
        "the sale is not even polled: {counts:?}"
    );
    let ledger = super::support::ledger(&sb).await;
    let inv = ledger["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["InvoiceID"] == "INV-10021")
        .unwrap()
        .clone();
    assert_eq!(inv["CreditsApplied"], "20.00", "{inv}");
    // 1500.00 - 50.00 paid + 20.00 reopened by the refund - 20.00 credited.
    assert_eq!(
        (&inv["AmountPaid"], &inv["Balance"]),
        (&json!("30.00"), &json!("1450.00"))
    );
    let refund = ledger["payments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["PaymentStatus"] == "Refunded")
        .unwrap()
        .clone();
    assert_eq!(refund["Amount"], "20.00", "{refund}");
    assert_eq!(
        refund["OriginalPaymentReference"],
        format!("PT-{}", sale["transaction_id"])
    );
}

/// Two engines sharing a PostgreSQL store poll a flow once between them: the one holding the
/// flow's lease makes the request, the other sees it held and waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engines_sharing_a_store_poll_once_between_them() {
    let Some(db) = super::support::pg_database("poll_lease") else {
        return;
    };
    // Unscripted: each call is recorded (and fails, which is all the same here).
    let script = ledgerlink::connectors::mock::scripted::Scripted::default();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut loops = Vec::new();
    for _ in 0..2 {
        let store: Arc<dyn StateStore> =
            Arc::new(ledgerlink::store::PostgresStore::open(&db.url).unwrap());
        let poller = Poller {
            plan: plan(PAYTRACE_POLL),
            clients: script.clients(),
            store,
        };
        loops.push(tokio::spawn(ledgerlink::triggers::poll::run(
            poller,
            None,
            Arc::new(tokio::sync::Notify::new()),
            stopped.clone(),
        )));
    }
    // Each loop polls at once (the interval is an hour); give both time for that round.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    stop.send(true).unwrap();
    for l in loops {
        l.await.unwrap();
    }
    let polls = script
        .calls()
        .iter()
        .filter(|c| c.call == "paytrace.transactions_by_date_range")
        .count();
    assert_eq!(polls, 1, "one engine polled, the other saw the lease held");
}
