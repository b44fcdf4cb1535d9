//! The store's statements, one function per operation, each run inside a transaction the
//! caller owns (`sqlite.rs` batches many of them into one commit). Kept to SQL that SQLite and
//! PostgreSQL both accept. Values arrive with card data already masked: `sqlite.rs` redacts at
//! the door, on the caller's thread, so the one writer thread does not spend its time on it.

use super::types::json_text as text;
use super::types::*;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::Value;
use std::collections::BTreeMap;

const RUN_COLUMNS: &str = "r.id, r.event_id, r.flow, r.revision, r.state, r.attempts, r.next_ms, \
     r.ordering_key, r.step, r.reason, r.created_ms, r.updated_ms, r.worker";
/// The columns a query selects after `RUN_COLUMNS`: the event's key, then its body.
const EVENT_KEY_COLUMN: usize = 13;
const EVENT_BODY_COLUMN: usize = 14;

pub(super) fn parse_json(table: &str, text: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        table: table.into(),
        message: e.to_string(),
    })
}

fn run_row(r: &Row<'_>) -> rusqlite::Result<RunRow> {
    let state: String = r.get(4)?;
    Ok(RunRow {
        id: r.get(0)?,
        event: r.get(1)?,
        flow: r.get(2)?,
        revision: r.get(3)?,
        state: RunState::parse(&state).unwrap_or(RunState::Failed),
        attempts: r.get(5)?,
        next_ms: r.get(6)?,
        ordering_key: r.get(7)?,
        step: r.get(8)?,
        reason: r.get(9)?,
        created_ms: r.get(10)?,
        updated_ms: r.get(11)?,
        worker: r.get(12)?,
    })
}

fn journal_row(r: &Row<'_>) -> rusqlite::Result<(JournalEntry, String, String, String)> {
    Ok((
        JournalEntry {
            run: r.get(0)?,
            seq: r.get(1)?,
            step: r.get(2)?,
            call: r.get(3)?,
            attempt: r.get(4)?,
            outcome: r.get(5)?,
            input: Value::Null,
            output: Value::Null,
            idempotency_key: r.get(8)?,
            started_ms: r.get(9)?,
            updated_ms: r.get(10)?,
            history: Value::Null,
        },
        r.get(6)?,
        r.get(7)?,
        r.get(11)?,
    ))
}

fn dead_letter_row(r: &Row<'_>) -> rusqlite::Result<DeadLetter> {
    Ok(DeadLetter {
        run: r.get(0)?,
        flow: r.get(1)?,
        step: r.get(2)?,
        reason: r.get(3)?,
        revision: r.get(4)?,
        state: r.get(5)?,
        at_ms: r.get(6)?,
        event_key: r.get(7)?,
    })
}

const DLQ_SELECT: &str = "SELECT d.run_id, d.flow, d.step, d.reason, d.revision, d.state, d.at_ms, e.event_key \
     FROM dead_letters d JOIN runs r ON r.id = d.run_id JOIN events e ON e.id = r.event_id";

pub fn accept(conn: &Connection, events: &[NewEvent]) -> Result<Vec<Accepted>, StoreError> {
    events
        .iter()
        .map(|e| insert_event(conn, e, &e.stored_text(), None))
        .collect()
}

/// One event into the inbox with its run: queued, or already `running` under `claim`
/// (`(worker, lease until)`). A `(flow, key)` already there is a duplicate.
fn insert_event(
    conn: &Connection,
    e: &NewEvent,
    body: &str,
    claim: Option<(&str, i64)>,
) -> Result<Accepted, StoreError> {
    // Insert first and look the key up only when it was there: a new event (the usual case)
    // costs one index probe, not two.
    let inserted = conn
        .prepare_cached(
            "INSERT INTO events (flow, event_key, body, received_ms) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (flow, event_key) DO NOTHING",
        )?
        .execute(params![e.flow, e.key, body, e.received_ms])?;
    if inserted == 0 {
        let id = conn
            .prepare_cached("SELECT id FROM events WHERE flow = ?1 AND event_key = ?2")?
            .query_row(params![e.flow, e.key], |r| r.get::<_, i64>(0))?;
        return Ok(Accepted::Duplicate { event: id });
    }
    let event = conn.last_insert_rowid();
    let (state, worker, lease, attempts) = match claim {
        Some((worker, lease)) => ("running", Some(worker), lease, 1),
        None => ("queued", None, 0, 0),
    };
    conn.prepare_cached(
        "INSERT INTO runs (event_id, flow, revision, state, next_ms, ordering_key, created_ms, updated_ms, \
         worker, lease_ms, attempts) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?5, ?5, ?7, ?8, ?9)",
    )?
    .execute(params![
        event,
        e.flow,
        e.revision,
        state,
        e.received_ms,
        e.ordering_key,
        worker,
        lease,
        attempts
    ])?;
    Ok(Accepted::New {
        event,
        run: conn.last_insert_rowid(),
    })
}

/// Accept one event and claim its run at once, unless an earlier run with its ordering key is
/// unfinished (then it is queued behind it, as `claim` would order it).
pub fn accept_now(
    conn: &Connection,
    e: &NewEvent,
    worker: &str,
    now_ms: i64,
    lease_ms: i64,
) -> Result<AcceptedNow, StoreError> {
    admit(conn, e, worker, now_ms, lease_ms, true)
}

/// `accept_now`; the claimed run carries the event's body only `with_body` (a run already
/// executing has it).
fn admit(
    conn: &Connection,
    e: &NewEvent,
    worker: &str,
    now_ms: i64,
    lease_ms: i64,
    with_body: bool,
) -> Result<AcceptedNow, StoreError> {
    let blocked = match &e.ordering_key {
        Some(key) => conn
            .prepare_cached(
                "SELECT 1 FROM runs WHERE flow = ?1 AND ordering_key = ?2 \
                 AND state IN ('queued', 'waiting', 'running') LIMIT 1",
            )?
            .query_row(params![e.flow, key], |_| Ok(()))
            .optional()?
            .is_some(),
        None => false,
    };
    let claim = (!blocked).then_some((worker, now_ms + lease_ms));
    Ok(match insert_event(conn, e, &e.stored_text(), claim)? {
        Accepted::Duplicate { event } => AcceptedNow::Duplicate { event },
        Accepted::New { event, run } if blocked => AcceptedNow::Queued { event, run },
        Accepted::New { event, run } => AcceptedNow::Running(Box::new(Claimed::admitted(
            e, event, run, worker, with_body,
        ))),
    })
}

pub fn claim(
    conn: &Connection,
    worker: &str,
    now_ms: i64,
    lease_ms: i64,
    limit: usize,
) -> Result<Vec<Claimed>, StoreError> {
    // Three indexed queries instead of one with an OR (which scans) or one sorted union
    // (which filters the whole backlog before its LIMIT): due retries first, then queued runs
    // in arrival order, then runs whose lease expired. Each stops as soon as it has enough.
    const BLOCKED: &str = "NOT EXISTS (SELECT 1 FROM runs p WHERE p.flow = r.flow \
         AND p.ordering_key = r.ordering_key AND p.state IN ('queued', 'waiting', 'running') \
         AND p.id < r.id)";
    let queries = [
        format!(
            "SELECT r.id FROM runs r WHERE r.state = 'waiting' AND r.next_ms <= ?1 AND {BLOCKED} ORDER BY r.next_ms, r.id LIMIT ?2"
        ),
        // `INDEXED BY`: without statistics SQLite may prefer `runs_due (state, ...)` and sort
        // every queued run to take the first few (0.2 s per claim with a million queued).
        format!(
            "SELECT r.id FROM runs r INDEXED BY runs_queued WHERE r.state = 'queued' AND ?1 = ?1 AND {BLOCKED} ORDER BY r.id LIMIT ?2"
        ),
        format!(
            "SELECT r.id FROM runs r INDEXED BY runs_running WHERE r.state = 'running' AND r.lease_ms < ?1 AND {BLOCKED} ORDER BY r.id LIMIT ?2"
        ),
    ];
    let mut ids: Vec<i64> = Vec::new();
    for q in &queries {
        let want = limit.saturating_sub(ids.len());
        if want == 0 {
            break;
        }
        let mut stmt = conn.prepare_cached(q)?;
        let found = stmt
            .query_map(params![now_ms, want as i64], |r| r.get::<_, i64>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        ids.extend(found);
    }
    let mut claimed = Vec::with_capacity(ids.len());
    {
        let mut take = conn.prepare_cached(
            "UPDATE runs SET state = 'running', worker = ?2, lease_ms = ?3, attempts = attempts + 1, \
             updated_ms = ?4 WHERE id = ?1",
        )?;
        let mut read = conn.prepare_cached(&format!(
            "SELECT {RUN_COLUMNS}, e.event_key, e.body FROM runs r JOIN events e ON e.id = r.event_id WHERE r.id = ?1"
        ))?;
        for id in ids {
            take.execute(params![id, worker, now_ms + lease_ms, now_ms])?;
            let (run, key, body) = read.query_row(params![id], |r| {
                Ok((
                    run_row(r)?,
                    r.get::<_, String>(EVENT_KEY_COLUMN)?,
                    r.get::<_, String>(EVENT_BODY_COLUMN)?,
                ))
            })?;
            claimed.push(Claimed {
                run,
                event_key: key,
                body: parse_json("events", &body)?,
            });
        }
    }
    Ok(claimed)
}

pub fn recover_running(conn: &Connection) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "UPDATE runs SET state = 'queued', lease_ms = 0, worker = NULL WHERE state = 'running'",
        [],
    )?)
}

pub fn journal(conn: &Connection, run: i64) -> Result<Vec<JournalEntry>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT run_id, seq, step, call, attempt, outcome, input, output, idempotency_key, started_ms, updated_ms, history \
         FROM journal WHERE run_id = ?1 ORDER BY seq",
    )?;
    let rows = stmt
        .query_map(params![run], journal_row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(mut e, input, output, history)| {
            e.input = parse_json("journal", &input)?;
            e.output = parse_json("journal", &output)?;
            e.history = parse_json("journal", &history)?;
            Ok(e)
        })
        .collect()
}

pub fn record_step(conn: &Connection, e: &JournalEntry) -> Result<(), StoreError> {
    record_step_as(conn, e, e.run)
}

/// `record_step` under `run` (an entry written with its run's acceptance has run 0).
fn record_step_as(conn: &Connection, e: &JournalEntry, run: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO journal (run_id, seq, step, call, attempt, outcome, input, output, idempotency_key, started_ms, updated_ms, history) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) \
         ON CONFLICT (run_id, seq) DO UPDATE SET step = excluded.step, call = excluded.call, \
         attempt = excluded.attempt, outcome = excluded.outcome, input = excluded.input, \
         output = excluded.output, idempotency_key = excluded.idempotency_key, updated_ms = excluded.updated_ms, \
         history = excluded.history",
    )?
    .execute(params![
        run,
        e.seq,
        e.step,
        e.call,
        e.attempt,
        e.outcome,
        text(&e.input),
        text(&e.output),
        e.idempotency_key,
        e.started_ms,
        e.updated_ms,
        if e.history.is_null() { "[]".to_string() } else { text(&e.history) }
    ])?;
    Ok(())
}

pub fn finish(conn: &Connection, run: i64, end: &RunEnd, now_ms: i64) -> Result<(), StoreError> {
    let (state, step, reason) = end.parts();
    let next = match end {
        RunEnd::Waiting { next_ms, .. } => *next_ms,
        _ => now_ms,
    };
    conn.prepare_cached(
        "UPDATE runs SET state = ?2, step = ?3, reason = ?4, next_ms = ?5, lease_ms = 0, \
         updated_ms = ?6 WHERE id = ?1",
    )?
    .execute(params![run, state.as_str(), step, reason, next, now_ms])?;
    if let RunEnd::DeadLettered { step, reason } = end {
        conn.execute(
            "INSERT INTO dead_letters (run_id, flow, step, reason, revision, state, at_ms) \
             SELECT id, flow, ?2, ?3, revision, 'open', ?4 FROM runs WHERE id = ?1 \
             ON CONFLICT (run_id) DO UPDATE SET step = excluded.step, reason = excluded.reason, \
             revision = excluded.revision, state = 'open', at_ms = excluded.at_ms",
            params![run, step, reason, now_ms],
        )?;
    }
    Ok(())
}

pub fn idempotent_result(
    conn: &Connection,
    flow: &str,
    key: &str,
) -> Result<Option<Value>, StoreError> {
    let text: Option<String> = conn
        .prepare_cached("SELECT result FROM idempotency WHERE flow = ?1 AND idem_key = ?2")?
        .query_row(params![flow, key], |r| r.get(0))
        .optional()?;
    text.map(|t| parse_json("idempotency", &t)).transpose()
}

pub fn remember_result(
    conn: &Connection,
    flow: &str,
    key: &str,
    result: &Value,
    now_ms: i64,
) -> Result<(), StoreError> {
    remember_text(conn, flow, key, &text(result), now_ms)
}

fn remember_text(
    conn: &Connection,
    flow: &str,
    key: &str,
    result: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO idempotency (flow, idem_key, result, created_ms) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (flow, idem_key) DO NOTHING",
    )?
    .execute(params![flow, key, result, now_ms])?;
    Ok(())
}

pub fn run(conn: &Connection, id: i64) -> Result<Option<RunDetail>, StoreError> {
    let row = {
        conn.prepare_cached(&format!(
            "SELECT {RUN_COLUMNS}, e.event_key, e.body FROM runs r JOIN events e ON e.id = r.event_id WHERE r.id = ?1"
        ))?
        .query_row(params![id], |r| {
            Ok((run_row(r)?, r.get::<_, String>(EVENT_KEY_COLUMN)?, r.get::<_, String>(EVENT_BODY_COLUMN)?))
        })
        .optional()?
    };
    let Some((run, event_key, body)) = row else {
        return Ok(None);
    };
    let journal = journal(conn, id)?;
    let dead_letter = {
        conn.prepare_cached(&format!("{DLQ_SELECT} WHERE d.run_id = ?1"))?
            .query_row(params![id], dead_letter_row)
            .optional()?
    };
    Ok(Some(RunDetail {
        run,
        event_key,
        event: parse_json("events", &body)?,
        journal,
        dead_letter,
    }))
}

pub fn runs(conn: &Connection, filter: &RunFilter) -> Result<Vec<RunRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {RUN_COLUMNS} FROM runs r WHERE (?1 IS NULL OR r.flow = ?1) AND (?2 IS NULL OR r.state = ?2) \
         ORDER BY r.id DESC LIMIT ?3"
    ))?;
    let limit = if filter.limit == 0 { 100 } else { filter.limit } as i64;
    let rows = stmt
        .query_map(
            params![filter.flow, filter.state.map(RunState::as_str), limit],
            run_row,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn dead_letters(conn: &Connection, filter: &DlqFilter) -> Result<Vec<DeadLetter>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "{DLQ_SELECT} WHERE (?1 IS NULL OR d.flow = ?1) AND (?2 IS NULL OR d.step = ?2) \
         AND (?3 = 0 OR d.state = 'open') ORDER BY d.at_ms DESC, d.run_id DESC LIMIT ?4"
    ))?;
    let limit = if filter.limit == 0 { 100 } else { filter.limit } as i64;
    let rows = stmt
        .query_map(
            params![filter.flow, filter.step, i64::from(filter.open_only), limit],
            dead_letter_row,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn requeue(
    conn: &Connection,
    run: i64,
    revision: &str,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let n = conn.execute(
        "UPDATE dead_letters SET state = 'replayed' WHERE run_id = ?1 AND state = 'open'",
        params![run],
    )?;
    if n == 1 {
        conn.execute(
            "UPDATE runs SET state = 'queued', revision = ?2, next_ms = ?3, step = NULL, reason = NULL, \
             updated_ms = ?3 WHERE id = ?1",
            params![run, revision, now_ms],
        )?;
        // Calls that succeeded stay (they are not made again); failed ones are tried anew.
        conn.execute(
            "DELETE FROM journal WHERE run_id = ?1 AND outcome IS NOT NULL AND outcome <> 'ok'",
            params![run],
        )?;
    }
    Ok(n == 1)
}

pub fn discard(conn: &Connection, run: i64, now_ms: i64) -> Result<bool, StoreError> {
    let n = conn.execute(
        "UPDATE dead_letters SET state = 'discarded' WHERE run_id = ?1 AND state = 'open'",
        params![run],
    )?;
    if n == 1 {
        conn.execute(
            "UPDATE runs SET state = 'discarded', next_ms = ?2, updated_ms = ?2 WHERE id = ?1",
            params![run, now_ms],
        )?;
    }
    Ok(n == 1)
}

/// Whether any run is queued, running or waiting: index probes, however many runs there are
/// (`counts` reads every run's index entry).
pub fn has_unfinished(conn: &Connection) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM runs INDEXED BY runs_queued WHERE state = 'queued') \
             OR EXISTS (SELECT 1 FROM runs INDEXED BY runs_running WHERE state = 'running') \
             OR EXISTS (SELECT 1 FROM runs WHERE state = 'waiting')",
        )?
        .query_row([], |r| r.get::<_, bool>(0))?)
}

pub fn counts(conn: &Connection) -> Result<BTreeMap<String, i64>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT state, COUNT(*) FROM runs GROUP BY state")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
        .collect::<Result<BTreeMap<_, _>, _>>()?;
    Ok(rows)
}

pub fn cursor(conn: &Connection, name: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT value FROM cursors WHERE name = ?1")?
        .query_row(params![name], |r| r.get(0))
        .optional()?)
}

pub fn set_cursor(
    conn: &Connection,
    name: &str,
    value: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO cursors (name, value, updated_ms) VALUES (?1, ?2, ?3) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms",
    )?
    .execute(params![name, value, now_ms])?;
    Ok(())
}

pub fn save_revision(
    conn: &Connection,
    flow: &str,
    revision: &str,
    source: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO revisions (flow, revision, source, loaded_ms) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (flow, revision) DO NOTHING",
    )?
    .execute(params![flow, revision, source, now_ms])?;
    Ok(())
}

pub fn audit(conn: &Connection, action: &str, detail: &str, now_ms: i64) -> Result<(), StoreError> {
    conn.prepare_cached("INSERT INTO audit (at_ms, action, detail) VALUES (?1, ?2, ?3)")?
        .execute(params![now_ms, action, detail])?;
    Ok(())
}

pub fn audit_log(
    conn: &Connection,
    limit: usize,
) -> Result<Vec<(i64, String, String)>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT at_ms, action, detail FROM audit ORDER BY id DESC LIMIT ?1")?;
    let rows = stmt
        .query_map(params![limit as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Start a call: with `ledger_key`, a result already remembered under that key is returned
/// instead (and nothing is written); otherwise the entry is written.
pub fn begin_call(
    conn: &Connection,
    entry: &JournalEntry,
    flow: &str,
    ledger_key: Option<&str>,
) -> Result<Option<Value>, StoreError> {
    begin_call_as(conn, entry, entry.run, flow, ledger_key)
}

fn begin_call_as(
    conn: &Connection,
    entry: &JournalEntry,
    run: i64,
    flow: &str,
    ledger_key: Option<&str>,
) -> Result<Option<Value>, StoreError> {
    if let Some(key) = ledger_key
        && let Some(v) = idempotent_result(conn, flow, key)?
    {
        return Ok(Some(v));
    }
    record_step_as(conn, entry, run)?;
    Ok(None)
}

/// End a call: its outcome, and its result under its idempotency key when it succeeded.
pub fn end_call(
    conn: &Connection,
    entry: &JournalEntry,
    flow: &str,
    remember: Option<&str>,
) -> Result<(), StoreError> {
    end_call_as(conn, entry, entry.run, flow, remember)
}

fn end_call_as(
    conn: &Connection,
    entry: &JournalEntry,
    run: i64,
    flow: &str,
    remember: Option<&str>,
) -> Result<(), StoreError> {
    // The row written at the call's start keeps its input; only what the end changed is set
    // (no second copy of the input to serialize and write).
    let output = text(&entry.output);
    let changed = conn
        .prepare_cached(
            "UPDATE journal SET attempt = ?3, outcome = ?4, output = ?5, updated_ms = ?6, history = ?7 \
             WHERE run_id = ?1 AND seq = ?2",
        )?
        .execute(params![
            run,
            entry.seq,
            entry.attempt,
            entry.outcome,
            output,
            entry.updated_ms,
            if entry.history.is_null() { "[]".to_string() } else { text(&entry.history) }
        ])?;
    if changed == 0 {
        // Not begun through this store (a backfilled entry): written whole.
        record_step_as(conn, &entry.whole(), run)?;
    }
    if let Some(key) = remember {
        // A call's remembered result is its output: serialized once for both rows.
        remember_text(conn, flow, key, &output, entry.updated_ms)?;
    }
    Ok(())
}

/// Retention (see `StateStore::prune`). An ended run's `next_ms` is the time it ended
/// (`finish` and `discard` set it), so the `(state, next_ms)` index lists each ended state's
/// runs by end time and a pass reads only what it removes, however the ids are ordered (a
/// dead letter replayed weeks late does not hold back the runs after it). The ledger and the
/// audit log are in insertion order, so their old rows come first and the scan stops at
/// `limit`.
pub fn prune(conn: &Connection, before_ms: i64, limit: usize) -> Result<Pruned, StoreError> {
    let mut runs: Vec<(i64, i64)> = Vec::new();
    for state in ["completed", "skipped", "failed", "discarded"] {
        let want = limit.saturating_sub(runs.len());
        if want == 0 {
            break;
        }
        let mut stmt = conn.prepare_cached(
            "SELECT id, event_id FROM runs WHERE state = ?1 AND next_ms < ?2 AND updated_ms < ?2 \
             ORDER BY next_ms LIMIT ?3",
        )?;
        let found = stmt
            .query_map(params![state, before_ms, want as i64], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        runs.extend(found);
    }
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    for (run, event) in &runs {
        conn.prepare_cached("DELETE FROM journal WHERE run_id = ?1")?
            .execute(params![run])?;
        conn.prepare_cached("DELETE FROM dead_letters WHERE run_id = ?1")?
            .execute(params![run])?;
        conn.prepare_cached("DELETE FROM runs WHERE id = ?1")?
            .execute(params![run])?;
        conn.prepare_cached("DELETE FROM events WHERE id = ?1")?
            .execute(params![event])?;
    }
    let ledger = conn
        .prepare_cached(
            "DELETE FROM idempotency WHERE rowid IN \
             (SELECT rowid FROM idempotency WHERE created_ms < ?1 LIMIT ?2)",
        )?
        .execute(params![before_ms, limit])?;
    let audit = conn
        .prepare_cached(
            "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at_ms < ?1 ORDER BY id LIMIT ?2)",
        )?
        .execute(params![before_ms, limit])?;
    Ok(Pruned {
        runs: runs.len(),
        ledger,
        audit,
    })
}

/// One hot-path write, with the call outcome deferred to it, in the caller's transaction.
pub fn apply(conn: &Connection, write: &Write) -> Result<Written, StoreError> {
    super::apply::apply_as(&mut Sqlite(conn), write, None)
}

/// The SQLite statements for `apply` (`store/apply.rs`).
struct Sqlite<'c>(&'c Connection);

impl super::apply::RunWrites for Sqlite<'_> {
    fn admit(
        &mut self,
        e: &NewEvent,
        worker: &str,
        now_ms: i64,
        lease_ms: i64,
        with_body: bool,
    ) -> Result<AcceptedNow, StoreError> {
        admit(self.0, e, worker, now_ms, lease_ms, with_body)
    }

    fn begin_call(
        &mut self,
        entry: &JournalEntry,
        run: i64,
        flow: &str,
        ledger_key: Option<&str>,
    ) -> Result<Option<Value>, StoreError> {
        begin_call_as(self.0, entry, run, flow, ledger_key)
    }

    fn record_step(&mut self, entry: &JournalEntry, run: i64) -> Result<(), StoreError> {
        record_step_as(self.0, entry, run)
    }

    fn end_call(
        &mut self,
        entry: &JournalEntry,
        run: i64,
        flow: &str,
        remember: Option<&str>,
    ) -> Result<(), StoreError> {
        end_call_as(self.0, entry, run, flow, remember)
    }

    fn finish(&mut self, run: i64, end: &RunEnd, now_ms: i64) -> Result<(), StoreError> {
        finish(self.0, run, end, now_ms)
    }
}

pub fn cursors_like(conn: &Connection, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT name, value FROM cursors WHERE substr(name, 1, length(?1)) = ?1 ORDER BY name",
    )?;
    let rows = stmt
        .query_map(params![prefix], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
