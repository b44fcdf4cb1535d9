//! The store contract: what every `StateStore` backend must do, run against each backend
//! (SQLite in memory and on disk, and PostgreSQL when a server answers: see
//! `support::pg_database`).

use ledgerlink::store::sqlite::Durability;
use ledgerlink::store::*;
use serde_json::json;

fn event(flow: &str, key: &str, ordering: Option<&str>, at: i64) -> NewEvent {
    NewEvent {
        flow: flow.into(),
        key: key.into(),
        body: json!({"id": key, "card": {"number": "4111111111111111"}, "note": "paid by 4111 1111 1111 1111"}),
        revision: "rev-1".into(),
        ordering_key: ordering.map(str::to_string),
        received_ms: at,
        text: None,
    }
}

fn run_id(a: &Accepted) -> i64 {
    match a {
        Accepted::New { run, .. } => *run,
        Accepted::Duplicate { .. } => panic!("expected a new run"),
    }
}

/// `shared`: several engines may use the store (PostgreSQL): `recover_running` leaves a live
/// engine's runs alone, and leases run on the database's clock (tested on their own below).
fn contract(store: &dyn StateStore, shared: bool) {
    // Intake: one run per new event, duplicates create nothing.
    let got = store
        .accept(&[
            event("f", "a", Some("cust-1"), 1000),
            event("f", "b", Some("cust-1"), 1001),
            event("f", "c", None, 1002),
        ])
        .unwrap();
    let (a, b, c) = (run_id(&got[0]), run_id(&got[1]), run_id(&got[2]));
    let again = store
        .accept(&[event("f", "a", None, 2000), event("g", "a", None, 2000)])
        .unwrap();
    assert!(matches!(again[0], Accepted::Duplicate { .. }));
    assert!(
        matches!(again[1], Accepted::New { .. }),
        "keys are per flow"
    );
    let g = run_id(&again[1]);

    // No card data at rest.
    let stored = store.run(a).unwrap().unwrap();
    let text = stored.event.to_string();
    assert!(
        !text.contains("4111111111111111") && !text.contains("4111 1111 1111 1111"),
        "{text}"
    );

    // Claim: due runs in order; `b` waits behind `a` (same ordering key).
    let claimed = store.claim("w1", 5000, 60_000, 10).unwrap();
    let ids: Vec<i64> = claimed.iter().map(|c| c.run.id).collect();
    assert_eq!(ids, vec![a, c, g], "b is held back by a");
    assert!(
        claimed
            .iter()
            .all(|c| c.run.state == RunState::Running && c.run.attempts == 1)
    );
    assert!(
        store.claim("w2", 5000, 60_000, 10).unwrap().is_empty(),
        "leases hold"
    );

    // Journal: insert, then update in place.
    let mut entry = JournalEntry {
        run: a,
        seq: 0,
        step: "post".into(),
        call: "sagepro.create_payment".into(),
        attempt: 1,
        outcome: None,
        input: json!({"Amount": "10.00", "Memo": "card 4111111111111111"}),
        output: json!(null),
        idempotency_key: Some("k-a".into()),
        started_ms: 5000,
        updated_ms: 5000,
        history: json!([]),
    };
    store.record_step(&entry).unwrap();
    entry.outcome = Some("ok".into());
    entry.output = json!({"PaymentReference": "PT-1"});
    store.record_step(&entry).unwrap();
    let journal = store.journal(a).unwrap();
    assert_eq!(journal.len(), 1);
    assert_eq!(journal[0].outcome.as_deref(), Some("ok"));
    assert!(!journal[0].input.to_string().contains("4111111111111111"));

    // Idempotency ledger: first result wins.
    assert_eq!(store.idempotent_result("f", "k-a").unwrap(), None);
    store
        .remember_result("f", "k-a", &json!({"n": 1}), 5000)
        .unwrap();
    store
        .remember_result("f", "k-a", &json!({"n": 2}), 5001)
        .unwrap();
    assert_eq!(
        store.idempotent_result("f", "k-a").unwrap(),
        Some(json!({"n": 1}))
    );
    assert_eq!(store.idempotent_result("g", "k-a").unwrap(), None);

    // Calls begun and ended in one commit each: a remembered key short-cuts the call.
    let mut second = JournalEntry {
        seq: 1,
        outcome: None,
        idempotency_key: Some("k-new".into()),
        ..entry.clone()
    };
    assert_eq!(
        store.begin_call(&second, "f", Some("k-a")).unwrap(),
        Some(json!({"n": 1}))
    );
    assert_eq!(
        store.journal(a).unwrap().len(),
        1,
        "a ledger hit writes nothing"
    );
    assert_eq!(store.begin_call(&second, "f", Some("k-new")).unwrap(), None);
    assert_eq!(
        store.journal(a).unwrap()[1].outcome,
        None,
        "started: in flight"
    );
    second.outcome = Some("ok".into());
    second.output = json!({"n": 3});
    store.end_call(&second, "f", Some("k-new")).unwrap();
    assert_eq!(store.journal(a).unwrap()[1].outcome.as_deref(), Some("ok"));
    assert_eq!(
        store.idempotent_result("f", "k-new").unwrap(),
        Some(json!({"n": 3}))
    );
    // A call's end with no start in the store is written whole, its input masked too.
    let unstarted = JournalEntry {
        seq: 2,
        outcome: Some("ok".into()),
        idempotency_key: None,
        ..entry.clone()
    };
    store.end_call(&unstarted, "f", None).unwrap();
    let written = &store.journal(a).unwrap()[2];
    assert_eq!(written.outcome.as_deref(), Some("ok"));
    assert!(
        !written.input.to_string().contains("4111111111111111"),
        "{}",
        written.input
    );

    // Finishing `a` releases `b`; a waiting run comes back when due, not before. An ended
    // run still names the worker that ran it (`runs show`).
    let ran_by = claimed[0].run.worker.clone();
    assert!(ran_by.is_some(), "a claimed run names its worker");
    store.finish(a, &RunEnd::Completed, 6000).unwrap();
    assert_eq!(store.run(a).unwrap().unwrap().run.worker, ran_by);
    store
        .finish(
            c,
            &RunEnd::Waiting {
                step: "post".into(),
                reason: "503".into(),
                next_ms: 9000,
            },
            6000,
        )
        .unwrap();
    store
        .finish(
            g,
            &RunEnd::DeadLettered {
                step: "post".into(),
                reason: "validation failed".into(),
            },
            6000,
        )
        .unwrap();
    let ids: Vec<i64> = store
        .claim("w1", 6000, 60_000, 10)
        .unwrap()
        .iter()
        .map(|c| c.run.id)
        .collect();
    assert_eq!(ids, vec![b]);
    let ids: Vec<i64> = store
        .claim("w1", 9000, 60_000, 10)
        .unwrap()
        .iter()
        .map(|c| c.run.id)
        .collect();
    assert_eq!(ids, vec![c]);
    assert_eq!(store.run(c).unwrap().unwrap().run.attempts, 2);

    if shared {
        assert_eq!(
            store.recover_running().unwrap(),
            0,
            "a live engine's runs are its own"
        );
    } else {
        // A crashed worker's runs come back (`recover_running`), and expired leases too.
        assert_eq!(store.recover_running().unwrap(), 2);
        let ids: Vec<i64> = store
            .claim("w3", 9000, 1, 10)
            .unwrap()
            .iter()
            .map(|c| c.run.id)
            .collect();
        assert_eq!(ids, vec![b, c]);
        let ids: Vec<i64> = store
            .claim("w4", 9002, 1, 10)
            .unwrap()
            .iter()
            .map(|c| c.run.id)
            .collect();
        assert_eq!(ids, vec![b, c], "leases expired at 9001");
    }
    store.finish(b, &RunEnd::Completed, 9100).unwrap();
    store
        .finish(
            c,
            &RunEnd::Failed {
                step: "map".into(),
                reason: "bad".into(),
            },
            9100,
        )
        .unwrap();

    // Dead letters: listed with the event key, replayed once, discarded once.
    let dl = store
        .dead_letters(&DlqFilter {
            open_only: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(dl.len(), 1);
    assert_eq!(
        (dl[0].run, dl[0].step.as_str(), dl[0].event_key.as_str()),
        (g, "post", "a")
    );
    assert!(store.requeue(g, "rev-2", 9200).unwrap());
    assert!(!store.requeue(g, "rev-2", 9200).unwrap(), "replayed once");
    let r = store.run(g).unwrap().unwrap();
    assert_eq!(
        (r.run.state, r.run.revision.as_str()),
        (RunState::Queued, "rev-2")
    );
    assert_eq!(r.dead_letter.unwrap().state, "replayed");
    let claimed = store.claim("w1", 9300, 60_000, 10).unwrap();
    assert_eq!(claimed.len(), 1);
    store
        .finish(
            g,
            &RunEnd::DeadLettered {
                step: "post".into(),
                reason: "still bad".into(),
            },
            9400,
        )
        .unwrap();
    assert!(store.discard(g, 9500).unwrap());
    assert!(!store.discard(g, 9500).unwrap());
    assert_eq!(
        store.run(g).unwrap().unwrap().run.state,
        RunState::Discarded
    );

    // Lists, counts, cursors, revisions, audit.
    let completed = store
        .runs(&RunFilter {
            state: Some(RunState::Completed),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        completed.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![b, a]
    );
    let counts = store.counts().unwrap();
    assert_eq!(counts.get("completed"), Some(&2));
    assert_eq!(counts.get("failed"), Some(&1));
    assert_eq!(counts.get("discarded"), Some(&1));
    assert_eq!(store.cursor("poll:f").unwrap(), None);
    store.set_cursor("poll:f", "100", 1).unwrap();
    store.set_cursor("poll:f", "200", 2).unwrap();
    assert_eq!(store.cursor("poll:f").unwrap().as_deref(), Some("200"));
    store.save_revision("f", "rev-1", "flow: f", 1).unwrap();
    store.save_revision("f", "rev-1", "flow: f", 2).unwrap();
    store.audit("reload", "f rev-1", 3).unwrap();
    assert_eq!(store.audit_log(10).unwrap()[0].1, "reload");
    assert!(store.run(999_999).unwrap().is_none());
}

/// The hot path of a webhook run: accept and claim in one commit, then writes that carry the
/// last call's deferred outcome.
fn hot_path_contract(store: &dyn StateStore) {
    let now = |event, worker: &str| {
        store
            .apply(Write::AcceptNow {
                event,
                worker: worker.into(),
                now_ms: 5000,
                lease_ms: 60_000,
                then: None,
            })
            .unwrap()
    };
    let Written::Accepted(AcceptedNow::Running(first)) = now(event("h", "a", Some("k"), 1), "w")
    else {
        panic!("a new event with a free ordering key runs at once");
    };
    assert_eq!(first.run.state, RunState::Running);
    assert_eq!(first.run.attempts, 1);
    let body = first.body.to_string();
    assert!(
        !body.contains("4111111111111111"),
        "the claimed body is redacted: {body}"
    );
    assert!(
        store.claim("other", 5001, 60_000, 10).unwrap().is_empty(),
        "a run claimed at intake is not claimed again"
    );
    assert!(matches!(
        now(event("h", "a", None, 2), "w"),
        Written::Accepted(AcceptedNow::Duplicate { .. })
    ));
    let Written::Accepted(AcceptedNow::Queued { run: behind, .. }) =
        now(event("h", "b", Some("k"), 3), "w")
    else {
        panic!("an event behind an unfinished run with its ordering key is queued");
    };

    // A call's outcome deferred to the run's end: both in one write.
    let run = first.run.id;
    let mut entry = JournalEntry {
        run,
        seq: 0,
        step: "post".into(),
        call: "sagepro.post_payment".into(),
        attempt: 1,
        outcome: None,
        input: json!({"amount": "10.00"}),
        output: json!(null),
        idempotency_key: Some("pay-a".into()),
        started_ms: 5000,
        updated_ms: 5000,
        history: json!([]),
    };
    let begun = store
        .apply(Write::BeginCall {
            prior: None,
            entry: entry.clone(),
            flow: "h".into(),
            ledger_key: Some("pay-a".into()),
        })
        .unwrap();
    assert!(matches!(begun, Written::Begun(None)));
    assert_eq!(store.journal(run).unwrap()[0].outcome, None, "in flight");
    entry.outcome = Some("ok".into());
    entry.output = json!({"PaymentReference": "P-1"});
    store
        .apply(Write::Finish {
            prior: Some(CallEnd {
                entry: entry.clone(),
                flow: "h".into(),
                remember: Some("pay-a".into()),
            }),
            run,
            end: RunEnd::Completed,
            now_ms: 6000,
        })
        .unwrap();
    assert_eq!(
        store.journal(run).unwrap()[0].outcome.as_deref(),
        Some("ok")
    );
    assert_eq!(
        store.idempotent_result("h", "pay-a").unwrap(),
        Some(json!({"PaymentReference": "P-1"}))
    );
    assert_eq!(
        store.run(run).unwrap().unwrap().run.state,
        RunState::Completed
    );
    let next: Vec<i64> = store
        .claim("w", 6001, 60_000, 10)
        .unwrap()
        .iter()
        .map(|c| c.run.id)
        .collect();
    assert_eq!(
        next,
        vec![behind],
        "the queued run is free once the first has ended"
    );
}

/// A webhook's event stored with its run's first write (`AcceptNow` with `then`): the write
/// lands under the new run's id; for a duplicate or a queued event, nothing of it is written.
fn admission_contract(store: &dyn StateStore) {
    let entry = JournalEntry {
        run: 0,
        seq: 0,
        step: "post".into(),
        call: "sagepro.post_payment".into(),
        attempt: 1,
        outcome: None,
        input: json!({"amount": "10.00", "note": "card 4111111111111111"}),
        output: json!(null),
        idempotency_key: Some("pay-x".into()),
        started_ms: 5000,
        updated_ms: 5000,
        history: json!([]),
    };
    let begin = || {
        Some(Box::new(Write::BeginCall {
            prior: None,
            entry: entry.clone(),
            flow: "adm".into(),
            ledger_key: Some("pay-x".into()),
        }))
    };
    let admit = |event, then| {
        store
            .apply(Write::AcceptNow {
                event,
                worker: "w".into(),
                now_ms: 5000,
                lease_ms: 60_000,
                then,
            })
            .unwrap()
    };
    let Written::AcceptedThen(AcceptedNow::Running(first), begun) =
        admit(event("adm", "x", Some("k"), 1), begin())
    else {
        panic!("a new event is accepted, claimed and its first write made");
    };
    assert!(matches!(*begun, Written::Begun(None)));
    let run = first.run.id;
    assert!(run > 0);
    let journal = store.journal(run).unwrap();
    assert_eq!(journal.len(), 1, "the call's start is under the new run");
    assert_eq!(journal[0].run, run);
    assert_eq!(journal[0].outcome, None);
    assert!(
        !journal[0].input.to_string().contains("4111111111111111"),
        "the first write is redacted too"
    );
    assert!(
        store.claim("other", 5001, 60_000, 10).unwrap().is_empty(),
        "the run is claimed by the admitting worker"
    );

    // A duplicate: no run, nothing written.
    let dup = admit(event("adm", "x", None, 2), begin());
    assert!(matches!(
        dup,
        Written::Accepted(AcceptedNow::Duplicate { .. })
    ));
    assert_eq!(store.journal(run).unwrap().len(), 1);

    // Behind an unfinished run with its ordering key: queued, its write not made.
    let Written::Accepted(AcceptedNow::Queued { run: behind, .. }) =
        admit(event("adm", "y", Some("k"), 3), begin())
    else {
        panic!("an event behind an unfinished run with its ordering key is queued");
    };
    assert!(store.journal(behind).unwrap().is_empty());

    // A run with no call: its end is its first write.
    let finish = Some(Box::new(Write::Finish {
        prior: None,
        run: 0,
        end: RunEnd::Skipped {
            reason: "filter is false".into(),
        },
        now_ms: 5002,
    }));
    let Written::AcceptedThen(AcceptedNow::Running(skipped), _) =
        admit(event("adm", "z", None, 4), finish)
    else {
        panic!("a run without calls is accepted with its end");
    };
    assert_eq!(
        store.run(skipped.run.id).unwrap().unwrap().run.state,
        RunState::Skipped
    );
}

/// Retention removes what ended long ago, and nothing that still needs attention.
fn retention_contract(store: &dyn StateStore) {
    let got = store
        .accept(&[
            event("r", "old-done", None, 1),
            event("r", "old-dead", None, 2),
            event("r", "old-queued", None, 3),
            event("r", "new-done", None, 4),
        ])
        .unwrap();
    let ids: Vec<i64> = got.iter().map(run_id).collect();
    let claimed = store.claim("w", 10, 60_000, 10).unwrap();
    assert_eq!(claimed.len(), 4);
    // (The third goes back to waiting: not ended, never pruned.)
    store.finish(ids[0], &RunEnd::Completed, 100).unwrap();
    let dead = RunEnd::DeadLettered {
        step: "post".into(),
        reason: "422".into(),
    };
    store.finish(ids[1], &dead, 100).unwrap();
    let waiting = RunEnd::Waiting {
        step: "post".into(),
        reason: "503".into(),
        next_ms: 200,
    };
    store.finish(ids[2], &waiting, 100).unwrap();
    store.finish(ids[3], &RunEnd::Completed, 10_000).unwrap();
    store.remember_result("r", "k-old", &json!(1), 100).unwrap();
    store
        .remember_result("r", "k-new", &json!(2), 10_000)
        .unwrap();
    store.audit("reload", "old", 100).unwrap();

    let pruned = store.prune(5_000, 100).unwrap();
    assert_eq!(
        pruned,
        Pruned {
            runs: 1,
            ledger: 1,
            audit: 1
        }
    );
    assert!(
        store.run(ids[0]).unwrap().is_none(),
        "the old completed run is gone"
    );
    for kept in &ids[1..] {
        assert!(store.run(*kept).unwrap().is_some(), "run {kept} is kept");
    }
    assert_eq!(store.idempotent_result("r", "k-old").unwrap(), None);
    assert_eq!(
        store.idempotent_result("r", "k-new").unwrap(),
        Some(json!(2))
    );
    assert_eq!(store.prune(5_000, 100).unwrap(), Pruned::default());
    // A run that ended late (a dead letter replayed long after it arrived) does not hold back
    // older-ending runs with higher ids.
    let later = store
        .accept(&[event("r", "late", None, 30), event("r", "early", None, 31)])
        .unwrap();
    let (late, early) = (run_id(&later[0]), run_id(&later[1]));
    assert_eq!(store.claim("w", 40, 60_000, 10).unwrap().len(), 2);
    store.finish(early, &RunEnd::Completed, 6_000).unwrap();
    store.finish(late, &RunEnd::Completed, 50_000).unwrap();
    assert_eq!(store.prune(8_000, 100).unwrap().runs, 1);
    assert!(store.run(early).unwrap().is_none());
    assert!(store.run(late).unwrap().is_some());
    // Its event is gone too: the same delivery now would be a new event.
    assert!(matches!(
        store
            .accept(&[event("r", "old-done", None, 20_000)])
            .unwrap()[0],
        Accepted::New { .. }
    ));
}

#[test]
fn sqlite_keeps_the_retention_contract() {
    retention_contract(&SqliteStore::memory().unwrap());
    let dir = std::env::temp_dir().join(format!("ll-store-ret-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    retention_contract(&SqliteStore::open(&dir.join("state.db"), Durability::Full).unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sqlite_in_memory_keeps_the_contract() {
    contract(&SqliteStore::memory().unwrap(), false);
    hot_path_contract(&SqliteStore::memory().unwrap());
    admission_contract(&SqliteStore::memory().unwrap());
}

#[test]
fn sqlite_file_keeps_the_hot_path_contract() {
    let dir = std::env::temp_dir().join(format!("ll-store-hot-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    hot_path_contract(&SqliteStore::open(&dir.join("state.db"), Durability::Full).unwrap());
    admission_contract(&SqliteStore::open(&dir.join("adm.db"), Durability::Full).unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sqlite_file_keeps_the_contract_and_survives_reopening() {
    let dir = std::env::temp_dir().join(format!("ll-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("nested/state.db");
    contract(&SqliteStore::open(&path, Durability::Full).unwrap(), false);
    let reopened = SqliteStore::open(&path, Durability::Normal).unwrap();
    assert_eq!(reopened.counts().unwrap().get("completed"), Some(&2));
    // The file itself holds no card number (the scan a PCI assessor would do).
    drop(reopened);
    for entry in std::fs::read_dir(path.parent().unwrap()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("4111111111111111") && !text.contains("4111 1111 1111 1111"));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Writes are committed in groups; one failing write in a group undoes only itself.
#[test]
fn a_failing_write_does_not_undo_the_rest_of_its_group() {
    let dir = std::env::temp_dir().join(format!("ll-store-group-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store =
        std::sync::Arc::new(SqliteStore::open(&dir.join("state.db"), Durability::Full).unwrap());
    let threads: Vec<_> = (0..64)
        .map(|i| {
            let store = std::sync::Arc::clone(&store);
            std::thread::spawn(move || {
                if i % 8 == 0 {
                    // A journal entry for a run that does not exist: a foreign-key failure.
                    let entry = JournalEntry {
                        run: 999_000 + i,
                        seq: 0,
                        step: "s".into(),
                        call: "c".into(),
                        attempt: 1,
                        outcome: None,
                        input: json!({}),
                        output: json!(null),
                        idempotency_key: None,
                        started_ms: 1,
                        updated_ms: 1,
                        history: json!([]),
                    };
                    assert!(store.record_step(&entry).is_err());
                } else {
                    let got = store
                        .accept(&[event("g", &format!("e{i}"), None, i)])
                        .unwrap();
                    assert!(matches!(got[0], Accepted::New { .. }));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(store.counts().unwrap().get("queued"), Some(&56));
    drop(store);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `has_unfinished` (what `run --until-idle` asks every 200 ms) agrees with the counts through
/// a run's life: queued, running, waiting, ended.
fn unfinished_contract(store: &dyn StateStore) {
    assert!(!store.has_unfinished().unwrap(), "an empty store");
    let run = run_id(&store.accept(&[event("f", "u1", None, 1000)]).unwrap()[0]);
    assert!(store.has_unfinished().unwrap(), "queued");
    assert_eq!(store.claim("w", 2000, 60_000, 10).unwrap().len(), 1);
    assert!(store.has_unfinished().unwrap(), "running");
    let waiting = RunEnd::Waiting {
        step: "post".into(),
        reason: "503".into(),
        next_ms: 10_000,
    };
    store.finish(run, &waiting, 3000).unwrap();
    assert!(store.has_unfinished().unwrap(), "waiting for a retry");
    assert_eq!(store.claim("w", 20_000, 60_000, 10).unwrap().len(), 1);
    store.finish(run, &RunEnd::Completed, 21_000).unwrap();
    assert!(!store.has_unfinished().unwrap(), "all ended");
}

#[test]
fn sqlite_answers_whether_runs_are_unfinished() {
    unfinished_contract(&SqliteStore::memory().unwrap());
    let dir = std::env::temp_dir().join(format!("ll-unfinished-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    unfinished_contract(&SqliteStore::open(&dir.join("state.db"), Durability::Full).unwrap());
}

fn pg_store(db: &crate::support::PgDatabase) -> PostgresStore {
    PostgresStore::open(&db.url).unwrap()
}

#[test]
fn postgres_keeps_the_contract() {
    let Some(db) = crate::support::pg_database("contract") else {
        return;
    };
    contract(&pg_store(&db), true);
    // Opening again finds the tables there (migrations are not applied twice).
    let reopened = pg_store(&db);
    assert_eq!(reopened.counts().unwrap().get("completed"), Some(&2));
    // No card number anywhere in the database (every table's rows as text).
    let mut client = ::postgres::Client::connect(&db.url, ::postgres::NoTls).unwrap();
    for table in [
        "events",
        "runs",
        "journal",
        "idempotency",
        "dead_letters",
        "audit",
    ] {
        let rows = client
            .query(&format!("SELECT t::text FROM {table} t"), &[])
            .unwrap();
        for row in rows {
            let text: String = row.get(0);
            assert!(
                !text.contains("4111111111111111") && !text.contains("4111 1111 1111 1111"),
                "{table}: {text}"
            );
        }
    }
}

#[test]
fn postgres_keeps_the_hot_path_admission_retention_and_unfinished_contracts() {
    let (Some(a), Some(b), Some(c), Some(d)) = (
        crate::support::pg_database("hot"),
        crate::support::pg_database("adm"),
        crate::support::pg_database("ret"),
        crate::support::pg_database("unf"),
    ) else {
        return;
    };
    hot_path_contract(&pg_store(&a));
    admission_contract(&pg_store(&b));
    retention_contract(&pg_store(&c));
    unfinished_contract(&pg_store(&d));
}

/// Two engines on one database: every run is claimed by exactly one of them, an event sent to
/// both is taken once, and runs with one ordering key never run at once.
#[test]
fn two_engines_on_one_postgres_database_never_share_a_run() {
    use std::sync::Arc;
    let Some(db) = crate::support::pg_database("two") else {
        return;
    };
    let engines = [Arc::new(pg_store(&db)), Arc::new(pg_store(&db))];
    // The same 200 events arrive at both engines (a webhook retried to the other instance).
    let events: Vec<NewEvent> = (0..200)
        .map(|i| event("f", &format!("e{i}"), None, i))
        .collect();
    let new: Vec<usize> = std::thread::scope(|s| {
        let handles: Vec<_> = engines
            .iter()
            .map(|e| {
                let events = &events;
                s.spawn(move || {
                    events
                        .iter()
                        .filter(|ev| {
                            matches!(
                                e.accept(std::slice::from_ref(ev)).unwrap()[0],
                                Accepted::New { .. }
                            )
                        })
                        .count()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        new.iter().sum::<usize>(),
        200,
        "each event taken once: {new:?}"
    );
    // Both claim at once, in small batches, until nothing is left.
    let claimed: Vec<Vec<i64>> = std::thread::scope(|s| {
        let handles: Vec<_> = engines
            .iter()
            .enumerate()
            .map(|(n, e)| {
                s.spawn(move || {
                    let mut mine = Vec::new();
                    loop {
                        let got = e.claim(&format!("engine-{n}"), 1000, 60_000, 7).unwrap();
                        if got.is_empty() {
                            return mine;
                        }
                        mine.extend(got.iter().map(|c| c.run.id));
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all: Vec<i64> = claimed.concat();
    all.sort_unstable();
    let before = all.len();
    all.dedup();
    assert_eq!(before, all.len(), "no run claimed twice");
    assert_eq!(all.len(), 200, "every run claimed");

    // Events with one ordering key admitted by both engines at once: one runs, the rest wait.
    let running: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|i| {
                let e = Arc::clone(&engines[i % 2]);
                s.spawn(move || {
                    let got = e
                        .accept_now(
                            &event("o", &format!("o{i}"), Some("cust-9"), i as i64),
                            "w",
                            2000,
                            60_000,
                        )
                        .unwrap();
                    usize::from(matches!(got, AcceptedNow::Running(_)))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(
        running, 1,
        "one run per ordering key at a time, across engines"
    );
}

/// Make `engine` look silent (as if killed): its heartbeat is set to long ago.
fn silence(url: &str, engine: &str) {
    let mut client = ::postgres::Client::connect(url, ::postgres::NoTls).unwrap();
    let changed = client
        .execute(
            "UPDATE engines SET heartbeat_ms = 0 WHERE id = $1",
            &[&engine],
        )
        .unwrap();
    assert_eq!(changed, 1, "engine {engine} is registered");
}

/// A run held by an engine that is alive is never taken back; the runs of an engine that
/// went silent (crashed) are, at start and by the others' claims; an engine that stops
/// cleanly signs off, so what it left is taken at once.
#[test]
fn postgres_takes_over_only_the_runs_of_engines_that_are_gone() {
    use std::time::Duration;
    let Some(db) = crate::support::pg_database("takeover") else {
        return;
    };
    let a = PostgresStore::open_with(&db.url, Duration::from_secs(30)).unwrap();
    // B's own heartbeat comes every 10 minutes, so the test can make it look silent.
    let b = PostgresStore::open_with(&db.url, Duration::from_secs(3600)).unwrap();
    let now = ledgerlink::store::now_ms();
    a.accept(&[
        event("f", "1", None, 1),
        event("f", "2", None, 2),
        event("f", "3", None, 3),
    ])
    .unwrap();
    let held_by_a = a.claim("w", now, 600_000, 1).unwrap();
    let held_by_b = b.claim("w", now, 600_000, 2).unwrap();
    assert_eq!((held_by_a.len(), held_by_b.len()), (1, 2));
    assert_eq!(
        a.recover_running().unwrap(),
        0,
        "B is alive: its runs are its own"
    );
    assert!(a.claim("w", now, 600_000, 10).unwrap().is_empty());

    // B goes silent (as if killed): A takes its runs over by claiming them.
    silence(&db.url, b.engine());
    let taken = a.claim("w", now, 600_000, 10).unwrap();
    assert_eq!(taken.len(), 2, "B's two runs");
    assert!(taken.iter().all(|c| c.run.attempts == 2));

    // B holds a new run and goes silent: a starting engine's recovery queues it again.
    a.accept(&[event("f", "4", None, 4)]).unwrap();
    assert_eq!(b.claim("w", now, 600_000, 1).unwrap().len(), 1);
    silence(&db.url, b.engine());
    let c = PostgresStore::open(&db.url).unwrap();
    assert_eq!(c.recover_running().unwrap(), 1, "B's run, not A's");

    // An engine that stops cleanly signs off: what it held is free at once.
    let d = PostgresStore::open_with(&db.url, Duration::from_secs(3600)).unwrap();
    a.accept(&[event("f", "5", None, 5)]).unwrap();
    assert_eq!(d.claim("w", now, 600_000, 10).unwrap().len(), 2, "4 and 5");
    drop(d);
    assert_eq!(c.recover_running().unwrap(), 2);
    let runs = a.runs(&RunFilter::default()).unwrap();
    let held = runs.iter().find(|r| r.id == held_by_a[0].run.id).unwrap();
    assert_eq!(held.state, RunState::Running, "A's own run was never taken");
}

/// A poll trigger's lease: one engine of several polls a flow; the others take over when its
/// lease runs out, when it goes silent, or at once when it signs off.
#[test]
fn postgres_hands_a_poll_lease_to_one_engine_at_a_time() {
    use std::time::Duration;
    let Some(db) = crate::support::pg_database("leases") else {
        return;
    };
    let a = PostgresStore::open_with(&db.url, Duration::from_secs(3600)).unwrap();
    let b = PostgresStore::open_with(&db.url, Duration::from_secs(3600)).unwrap();
    assert!(a.take_lease("poll:f", 60_000).unwrap(), "free: A takes it");
    assert!(!b.take_lease("poll:f", 60_000).unwrap(), "A holds it");
    assert!(a.take_lease("poll:f", 60_000).unwrap(), "A renews it");
    assert!(
        b.take_lease("poll:g", 60_000).unwrap(),
        "another flow's lease is apart"
    );

    // A's lease runs out: B takes it, and A no longer has it.
    assert!(a.take_lease("poll:h", 1).unwrap());
    std::thread::sleep(Duration::from_millis(20));
    assert!(
        b.take_lease("poll:h", 60_000).unwrap(),
        "run out: B takes it"
    );
    assert!(!a.take_lease("poll:h", 60_000).unwrap());

    // A goes silent (as if killed): B takes over before the lease runs out.
    silence(&db.url, a.engine());
    assert!(b.take_lease("poll:f", 60_000).unwrap(), "A is silent");

    // A holder that stops polling a flow gives its lease up; another engine's is kept.
    assert!(b.take_lease("poll:k", 60_000).unwrap());
    a.release_lease("poll:k").unwrap();
    assert!(
        !a.take_lease("poll:k", 60_000).unwrap(),
        "B's lease is not A's to give"
    );
    b.release_lease("poll:k").unwrap();
    assert!(
        a.take_lease("poll:k", 60_000).unwrap(),
        "given up: A takes it"
    );

    // B signs off: C takes B's leases at once.
    let c = PostgresStore::open_with(&db.url, Duration::from_secs(3600)).unwrap();
    assert!(!c.take_lease("poll:g", 60_000).unwrap(), "B holds it");
    drop(b);
    assert!(c.take_lease("poll:g", 60_000).unwrap(), "B signed off");
}

/// `sslmode=require`: the connections are TLS, the server's certificate verified by the
/// system's roots. This machine's PostgreSQL serves Debian's snakeoil certificate for
/// `localhost`, which the system store trusts; where it is not trusted, the test says so and
/// checks that the connection is refused rather than made in the clear.
#[test]
fn postgres_store_over_tls() {
    let Some(db) = crate::support::pg_database("tls") else {
        return;
    };
    let url = format!(
        "{}?sslmode=require",
        db.url.replace("@127.0.0.1:", "@localhost:")
    );
    let store = match PostgresStore::open(&url) {
        Ok(s) => s,
        Err(e) => {
            let e = e.to_string();
            assert!(e.contains("certificate") || e.contains("TLS"), "{e}");
            eprintln!("note: TLS to PostgreSQL refused here ({e}); not checked further");
            return;
        }
    };
    store.accept(&[event("f", "tls-1", None, 1)]).unwrap();
    let name = db.url.rsplit('/').next().unwrap().to_string();
    let mut client = ::postgres::Client::connect(&db.url, ::postgres::NoTls).unwrap();
    let encrypted: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.datname = $1 AND s.ssl",
            &[&name],
        )
        .unwrap()
        .get(0);
    assert!(encrypted >= 1, "the store's connections use TLS");
}

/// Runs with one ordering key, accepted by two engines at once while a third claims and ends
/// them as fast as it can: never two at once, always in arrival (id) order.
#[test]
fn postgres_ordering_keys_hold_while_two_engines_accept() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let Some(db) = crate::support::pg_database("order") else {
        return;
    };
    let senders = [pg_store(&db), pg_store(&db)];
    let worker = pg_store(&db);
    let done = AtomicBool::new(false);
    let order: Vec<i64> = std::thread::scope(|s| {
        let done = &done;
        let worker = &worker;
        let claimer = s.spawn(move || {
            let mut order = Vec::new();
            loop {
                let finished = done.load(Ordering::SeqCst);
                let got = worker.claim("w", 1000, 60_000, 10).unwrap();
                assert!(got.len() <= 1, "two runs of one key at once: {got:?}");
                for c in &got {
                    order.push(c.run.id);
                    worker.finish(c.run.id, &RunEnd::Completed, 1001).unwrap();
                }
                if got.is_empty() && finished {
                    return order;
                }
            }
        });
        let sending: Vec<_> = senders
            .iter()
            .enumerate()
            .map(|(n, e)| {
                s.spawn(move || {
                    // Batches of 10 (as `send` makes): a transaction stays open a while.
                    for b in 0..6 {
                        let batch: Vec<NewEvent> = (0..10)
                            .map(|i| event("f", &format!("{n}-{b}-{i}"), Some("inv-1"), i))
                            .collect();
                        e.accept(&batch).unwrap();
                    }
                })
            })
            .collect();
        for t in sending {
            t.join().unwrap();
        }
        done.store(true, Ordering::SeqCst);
        claimer.join().unwrap()
    });
    assert_eq!(order.len(), 120, "every run claimed once");
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "runs of one key are taken in arrival order: {order:?}"
    );
}

/// Each engine is judged by its own timeout: a slow-beating engine (1 hour) is not taken for
/// dead by one with a short timeout (1 s), however long between its heartbeats.
#[test]
fn postgres_judges_each_engine_by_its_own_timeout() {
    use std::time::Duration;
    let Some(db) = crate::support::pg_database("own_timeout") else {
        return;
    };
    let quick = PostgresStore::open_with(&db.url, Duration::from_secs(1)).unwrap();
    let slow = PostgresStore::open_with(&db.url, Duration::from_secs(3600)).unwrap();
    quick.accept(&[event("f", "1", None, 1)]).unwrap();
    assert_eq!(slow.claim("w", 1000, 600_000, 1).unwrap().len(), 1);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(quick.recover_running().unwrap(), 0);
    assert!(quick.claim("w", 1000, 600_000, 1).unwrap().is_empty());
}

/// An engine whose run was taken over (it was silent too long) cannot write for it any more:
/// no journal entry, no call start, no end over the engine that holds it now.
#[test]
fn postgres_refuses_writes_from_an_engine_that_lost_its_run() {
    use std::time::Duration;
    let Some(db) = crate::support::pg_database("fence") else {
        return;
    };
    let a = PostgresStore::open(&db.url).unwrap();
    let b = PostgresStore::open_with(&db.url, Duration::from_secs(3600)).unwrap();
    a.accept(&[event("f", "1", None, 1)]).unwrap();
    let run = b.claim("w", 1000, 600_000, 1).unwrap()[0].run.id;
    silence(&db.url, b.engine());
    assert_eq!(a.claim("w", 1000, 600_000, 1).unwrap()[0].run.id, run);
    let entry = JournalEntry {
        run,
        seq: 0,
        step: "post".into(),
        call: "sagepro.create_payment".into(),
        attempt: 1,
        outcome: None,
        input: json!({}),
        output: json!(null),
        idempotency_key: Some("k".into()),
        started_ms: 1,
        updated_ms: 1,
        history: json!([]),
    };
    let refused = b
        .begin_call(&entry, "f", Some("k"))
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("no longer held by this engine"),
        "{refused}"
    );
    assert!(b.finish(run, &RunEnd::Completed, 2000).is_err());
    assert!(b.record_step(&entry).is_err());
    // The engine holding it now writes as usual.
    assert!(a.begin_call(&entry, "f", Some("k")).unwrap().is_none());
    a.finish(run, &RunEnd::Completed, 2000).unwrap();
    assert!(a.journal(run).unwrap().len() == 1);
}

/// On a shared store an engine claims only runs of the flows it has loaded: the others wait
/// for an engine that has theirs (rather than fail as "not loaded").
#[test]
fn postgres_engines_claim_only_their_flows() {
    let Some(db) = crate::support::pg_database("flows") else {
        return;
    };
    let store = pg_store(&db);
    store
        .accept(&[event("a", "1", None, 1), event("b", "1", None, 2)])
        .unwrap();
    let only_a = store
        .claim_for("w", 1000, 60_000, 10, &["a".to_string()])
        .unwrap();
    assert_eq!(only_a.len(), 1);
    assert_eq!(only_a[0].run.flow, "a");
    assert!(
        store
            .claim_for("w", 1000, 60_000, 10, &["c".to_string()])
            .unwrap()
            .is_empty()
    );
    let b = store
        .claim_for("w", 1000, 60_000, 10, &["a".to_string(), "b".to_string()])
        .unwrap();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].run.flow, "b");
}

/// `runs` and `dlq` open the store read-only: a role that may only read can list runs (no
/// DDL, no heartbeat), and a database without the store's tables is refused, not filled.
#[test]
fn postgres_read_only_commands_need_only_read_rights() {
    let Some(db) = crate::support::pg_database("readonly") else {
        return;
    };
    let timeout = ledgerlink::store::postgres::DEFAULT_ENGINE_TIMEOUT;
    let refused = PostgresStore::open_existing(&db.url, timeout)
        .err()
        .expect("no tables yet")
        .to_string();
    assert!(refused.contains("has no Ledgerlink store"), "{refused}");
    let engine = pg_store(&db);
    engine.accept(&[event("f", "1", None, 1)]).unwrap();
    let role = format!("ll_ro_{}", std::process::id());
    let mut admin = ::postgres::Client::connect(&db.url, ::postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!(
            "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN; \
             GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"
        ))
        .unwrap();
    let reader_url = db.url.replace("postgres@", &format!("{role}@"));
    let listed = PostgresStore::open_existing(&reader_url, timeout)
        .and_then(|s| s.runs(&RunFilter::default()))
        .map(|r| r.len());
    admin
        .batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE {role}"))
        .unwrap();
    assert_eq!(listed.unwrap(), 1);
}

/// `runs engines`: the engines on a shared store with the runs each holds; one that stops
/// cleanly leaves the list. SQLite lists none.
#[test]
fn postgres_lists_the_engines_sharing_it() {
    assert!(SqliteStore::memory().unwrap().engines().unwrap().is_empty());
    let Some(db) = crate::support::pg_database("engines") else {
        return;
    };
    let a = pg_store(&db);
    let b = pg_store(&db);
    a.accept(&[event("f", "1", None, 1)]).unwrap();
    assert_eq!(b.claim("w", 1000, 60_000, 1).unwrap().len(), 1);
    let listed = a.engines().unwrap();
    assert_eq!(listed.len(), 2);
    let of = |id: &str| listed.iter().find(|e| e.id == id).unwrap().clone();
    assert_eq!((of(a.engine()).running, of(b.engine()).running), (0, 1));
    assert!(listed.iter().all(|e| e.silent_ms < e.timeout_ms));
    drop(b);
    assert_eq!(a.engines().unwrap().len(), 1, "a clean stop signs off");
}
