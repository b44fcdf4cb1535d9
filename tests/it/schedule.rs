//! The schedule trigger with a fixed clock: the first tick starts the clock, due fires become
//! events keyed by their instant (never twice, also across a restart), missed fires follow the
//! flow's policy, and a DST fall-back hour fires once.

use chrono::{DateTime, Duration, Utc};
use ledgerlink::store::{SqliteStore, StateStore};
use ledgerlink::triggers::schedule::Scheduler;
use std::sync::Arc;

fn plan(cron: &str, tz: &str, missed: &str) -> Arc<ledgerlink::plan::Plan> {
    let flow = format!(
        "flow: scheduled\ntrigger:\n  schedule: {{ cron: \"{cron}\", timezone: {tz}{missed} }}\nsteps:\n  - id: echo\n    call: mock.echo\n    with: {{ at: event.scheduled_at }}\n"
    );
    let source = ledgerlink::load::from_bytes("s.yaml", flow.into_bytes()).unwrap();
    let profile = ledgerlink::model::Profile {
        profile: "dev".into(),
        ..Default::default()
    };
    Arc::new(
        ledgerlink::plan::build(source, profile, ledgerlink::script::helpers::system_clock())
            .unwrap(),
    )
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[test]
fn fires_once_each_and_survive_a_restart() {
    let store: Arc<dyn StateStore> = Arc::new(SqliteStore::memory().unwrap());
    let s = || Scheduler {
        plan: plan("0 * * * * *", "UTC", ""),
        store: Arc::clone(&store),
    };
    assert!(
        s().tick(at("2026-11-27T10:00:30Z"))
            .unwrap()
            .fired
            .is_empty(),
        "the first tick starts the clock"
    );
    let t = s().tick(at("2026-11-27T10:02:10Z")).unwrap();
    assert_eq!(
        t.fired,
        vec![at("2026-11-27T10:01:00Z"), at("2026-11-27T10:02:00Z")]
    );
    assert!(
        s().tick(at("2026-11-27T10:02:10Z"))
            .unwrap()
            .fired
            .is_empty(),
        "a restart does not fire again"
    );
    // Two hours down: the on-time fire runs, the missed ones are counted and dropped.
    let t = s().tick(at("2026-11-27T12:00:10Z")).unwrap();
    // (fires up to 90 s late still count as on time)
    assert_eq!(
        t.fired,
        vec![at("2026-11-27T11:59:00Z"), at("2026-11-27T12:00:00Z")]
    );
    assert_eq!(t.skipped, 116);
    assert_eq!(store.counts().unwrap().get("queued"), Some(&4));
    let run = store.run(1).unwrap().unwrap();
    assert_eq!(run.event_key, "schedule:2026-11-27T10:01:00Z");
    assert_eq!(run.event["scheduled_at"], "2026-11-27T10:01:00Z");
}

#[test]
fn missed_daily_fires_run_once_or_are_skipped() {
    for (policy, expected) in [("", 1), (", missed: once", 1), (", missed: skip", 0)] {
        let store: Arc<dyn StateStore> = Arc::new(SqliteStore::memory().unwrap());
        let s = Scheduler {
            plan: plan("0 0 3 * * *", "America/Los_Angeles", policy),
            store: Arc::clone(&store),
        };
        s.tick(at("2026-11-20T12:00:00Z")).unwrap(); // 04:00 PST
        let t = s.tick(at("2026-11-23T10:00:00Z")).unwrap(); // 02:00 PST, three fires missed
        assert_eq!(t.fired.len(), expected, "{policy}");
        if expected == 1 {
            assert_eq!(
                t.fired[0],
                at("2026-11-22T11:00:00Z"),
                "the latest missed fire, 03:00 PST"
            );
        }
    }
}

#[test]
fn a_dst_fall_back_hour_fires_once_and_five_field_crontab_lines_work() {
    let store: Arc<dyn StateStore> = Arc::new(SqliteStore::memory().unwrap());
    // 01:30 happens twice in Los Angeles on 2026-11-01 (PDT, then PST).
    let s = Scheduler {
        plan: plan("30 1 * * *", "America/Los_Angeles", ""),
        store: Arc::clone(&store),
    };
    let mut now = at("2026-11-01T06:00:00Z");
    s.tick(now).unwrap();
    let mut fired = Vec::new();
    while now < at("2026-11-01T12:00:00Z") {
        now += Duration::seconds(30);
        fired.extend(s.tick(now).unwrap().fired);
    }
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0], at("2026-11-01T08:30:00Z"));
}
