//! The PostgreSQL store's statements, one function per operation, each run inside the
//! transaction its caller (`postgres/mod.rs`) owns. They do what the SQLite statements in
//! `store/sql.rs` do; where they differ, it is for several engines sharing one database:
//! claims take rows `FOR UPDATE SKIP LOCKED` (two engines never claim one run), an ordering
//! key is locked (`pg_advisory_xact_lock`) while a run with it is inserted, a run left
//! `running` is taken back only once its engine is gone (`abandoned`), and an engine writes
//! for a run only while it holds it (`check_held`). Leases and heartbeats use the database's
//! clock. Values arrive with card data already masked.

use crate::store::types::json_text as text;
use crate::store::types::*;
use postgres::Row;
use postgres::types::ToSql;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// A statement's parameters.
type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// One transaction, with the connection's prepared statements (prepared once per connection:
/// each later use is one round trip, not two).
pub struct Db<'a, 'c> {
    pub tx: &'a mut postgres::Transaction<'c>,
    pub cache: &'a mut HashMap<String, postgres::Statement>,
    /// The run this transaction has checked it holds (and locked), or inserted itself as
    /// running: later writes for it in the same transaction need not check again.
    pub held: Option<i64>,
}

impl Db<'_, '_> {
    fn statement(&mut self, sql: &str) -> Result<postgres::Statement, StoreError> {
        if let Some(s) = self.cache.get(sql) {
            return Ok(s.clone());
        }
        let s = self.tx.prepare(sql)?;
        self.cache.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    fn execute(&mut self, sql: &str, params: Params<'_>) -> Result<u64, StoreError> {
        let s = self.statement(sql)?;
        Ok(self.tx.execute(&s, params)?)
    }

    fn query(&mut self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, StoreError> {
        let s = self.statement(sql)?;
        Ok(self.tx.query(&s, params)?)
    }

    fn query_opt(&mut self, sql: &str, params: Params<'_>) -> Result<Option<Row>, StoreError> {
        let s = self.statement(sql)?;
        Ok(self.tx.query_opt(&s, params)?)
    }

    fn query_one(&mut self, sql: &str, params: Params<'_>) -> Result<Row, StoreError> {
        let s = self.statement(sql)?;
        Ok(self.tx.query_one(&s, params)?)
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        // `as_db_error` gives the server's message without the values PostgreSQL may add in
        // its detail line (the values are masked already; this keeps messages short).
        match e.as_db_error() {
            Some(db) => StoreError::Sql(format!(
                "PostgreSQL: {} ({})",
                db.message(),
                db.code().code()
            )),
            None => StoreError::Sql(format!("PostgreSQL: {e}")),
        }
    }
}

const RUN_COLUMNS: &str = "r.id, r.event_id, r.flow, r.revision, r.state, r.attempts, r.next_ms, \
     r.ordering_key, r.step, r.reason, r.created_ms, r.updated_ms, r.worker";
/// The columns a query selects after `RUN_COLUMNS`: the event's key, then its body.
const EVENT_KEY_COLUMN: usize = 13;
const EVENT_BODY_COLUMN: usize = 14;

const DLQ_SELECT: &str = "SELECT d.run_id, d.flow, d.step, d.reason, d.revision, d.state, d.at_ms, e.event_key \
     FROM dead_letters d JOIN runs r ON r.id = d.run_id JOIN events e ON e.id = r.event_id";

fn history_text(history: &Value) -> String {
    if history.is_null() {
        "[]".to_string()
    } else {
        text(history)
    }
}

fn parse_json(table: &str, text: &str) -> Result<Value, StoreError> {
    crate::store::sql::parse_json(table, text)
}

fn run_row(r: &Row) -> Result<RunRow, StoreError> {
    let state: String = r.try_get(4)?;
    Ok(RunRow {
        id: r.try_get(0)?,
        event: r.try_get(1)?,
        flow: r.try_get(2)?,
        revision: r.try_get(3)?,
        state: RunState::parse(&state).unwrap_or(RunState::Failed),
        attempts: r.try_get(5)?,
        next_ms: r.try_get(6)?,
        ordering_key: r.try_get(7)?,
        step: r.try_get(8)?,
        reason: r.try_get(9)?,
        created_ms: r.try_get(10)?,
        updated_ms: r.try_get(11)?,
        worker: r.try_get(12)?,
    })
}

fn dead_letter_row(r: &Row) -> Result<DeadLetter, StoreError> {
    Ok(DeadLetter {
        run: r.try_get(0)?,
        flow: r.try_get(1)?,
        step: r.try_get(2)?,
        reason: r.try_get(3)?,
        revision: r.try_get(4)?,
        state: r.try_get(5)?,
        at_ms: r.try_get(6)?,
        event_key: r.try_get(7)?,
    })
}

pub fn accept(db: &mut Db, events: &[NewEvent]) -> Result<Vec<Accepted>, StoreError> {
    // Every ordering key of the batch locked first, in one order, so two batches sharing keys
    // wait for each other instead of deadlocking.
    let keys: std::collections::BTreeSet<(&str, &str)> = events
        .iter()
        .filter_map(|e| Some((e.flow.as_str(), e.ordering_key.as_deref()?)))
        .collect();
    for (flow, key) in keys {
        lock_ordering_key(db, flow, key)?;
    }
    events.iter().map(|e| insert_event(db, e, None)).collect()
}

/// Hold `(flow, key)` until the transaction ends. Runs with an ordering key get their ids
/// under this lock, so ids follow commit order: a claim that sees a run sees every earlier
/// run with its key (without it, a run inserted earlier but committed later would have the
/// lower id and be claimed after the later one had started). Both inserting paths (`accept`
/// and `admit`) take it before `insert_event`.
fn lock_ordering_key(db: &mut Db, flow: &str, key: &str) -> Result<(), StoreError> {
    db.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1 || chr(31) || $2, 0))",
        &[&flow, &key],
    )?;
    Ok(())
}

/// One event into the inbox with its run: queued, or already `running` under `claim`
/// (`(engine, lease in ms)`). A `(flow, key)` already there is a duplicate (an engine
/// inserting the same key at the same moment waits for this one's commit, then sees it).
fn insert_event(
    db: &mut Db,
    e: &NewEvent,
    claim: Option<(&str, i64)>,
) -> Result<Accepted, StoreError> {
    // Its ordering key, if any, is locked already (`accept`, `admit`).
    let body = e.stored_text();
    let inserted = db.query_opt(
        "INSERT INTO events (flow, event_key, body, received_ms) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (flow, event_key) DO NOTHING RETURNING id",
        &[&e.flow, &e.key, &body.as_ref(), &e.received_ms],
    )?;
    let Some(row) = inserted else {
        let id: i64 = db
            .query_one(
                "SELECT id FROM events WHERE flow = $1 AND event_key = $2",
                &[&e.flow, &e.key],
            )?
            .try_get(0)?;
        return Ok(Accepted::Duplicate { event: id });
    };
    let event: i64 = row.try_get(0)?;
    let (state, worker, lease, attempts) = match claim {
        Some((worker, lease)) => ("running", Some(worker), lease, 1_i64),
        None => ("queued", None, 0, 0),
    };
    let run: i64 = db
        .query_one(
            &format!(
                "INSERT INTO runs (event_id, flow, revision, state, next_ms, ordering_key, created_ms, \
                 updated_ms, worker, lease_ms, attempts) VALUES ($1, $2, $3, $4, $5, $6, $5, $5, $7, \
                 CASE WHEN $7::TEXT IS NULL THEN 0 ELSE {DB_NOW} + $8 END, $9) RETURNING id"
            ),
            &[
                &event,
                &e.flow,
                &e.revision,
                &state,
                &e.received_ms,
                &e.ordering_key,
                &worker,
                &lease,
                &attempts,
            ],
        )?
        .try_get(0)?;
    Ok(Accepted::New { event, run })
}

/// `accept_now`; the claimed run carries the event's body only `with_body` (a run already
/// executing has it). The ordering key is locked for the rest of the transaction, so two
/// engines admitting events with one key at once see each other's run.
pub fn admit(
    db: &mut Db,
    e: &NewEvent,
    worker: &str,
    lease_ms: i64,
    with_body: bool,
) -> Result<AcceptedNow, StoreError> {
    let blocked = match &e.ordering_key {
        Some(key) => {
            lock_ordering_key(db, &e.flow, key)?;
            db.query_opt(
                "SELECT 1 FROM runs WHERE flow = $1 AND ordering_key = $2 \
                 AND state IN ('queued', 'waiting', 'running') LIMIT 1",
                &[&e.flow, key],
            )?
            .is_some()
        }
        None => false,
    };
    let claim = (!blocked).then_some((worker, lease_ms));
    Ok(match insert_event(db, e, claim)? {
        Accepted::Duplicate { event } => AcceptedNow::Duplicate { event },
        Accepted::New { event, run } if blocked => AcceptedNow::Queued { event, run },
        Accepted::New { event, run } => AcceptedNow::Running(Box::new(Claimed::admitted(
            e, event, run, worker, with_body,
        ))),
    })
}

pub fn claim(
    db: &mut Db,
    engine: &str,
    now_ms: i64,
    lease_ms: i64,
    limit: usize,
    flows: Option<&[String]>,
) -> Result<Vec<Claimed>, StoreError> {
    // As in SQLite: due retries, then queued runs in arrival order, then runs whose engine is
    // gone. `SKIP LOCKED`: a run another engine is claiming right now is left to it; a run it
    // claimed and committed no longer matches the state (PostgreSQL checks the row again).
    const BLOCKED: &str = "NOT EXISTS (SELECT 1 FROM runs p WHERE p.flow = r.flow \
         AND p.ordering_key = r.ordering_key AND p.state IN ('queued', 'waiting', 'running') \
         AND p.id < r.id)";
    // `$2` (`$3` in the first): the flows this engine runs, or NULL for all.
    const MINE: &str = "($2::TEXT[] IS NULL OR r.flow = ANY($2::TEXT[]))";
    let due = format!(
        "SELECT r.id FROM runs r WHERE r.state = 'waiting' AND r.next_ms <= $1 AND {} AND {BLOCKED} \
         ORDER BY r.next_ms, r.id LIMIT $2 FOR UPDATE SKIP LOCKED",
        MINE.replace("$2", "$3")
    );
    let queued = format!(
        "SELECT r.id FROM runs r WHERE r.state = 'queued' AND {MINE} AND {BLOCKED} \
         ORDER BY r.id LIMIT $1 FOR UPDATE SKIP LOCKED"
    );
    let orphaned = format!(
        "SELECT r.id FROM runs r WHERE r.state = 'running' AND {} AND {MINE} AND {BLOCKED} \
         ORDER BY r.id LIMIT $1 FOR UPDATE SKIP LOCKED",
        abandoned("r")
    );
    let flows: Option<Vec<String>> = flows.map(<[String]>::to_vec);
    let mut ids: Vec<i64> = Vec::new();
    for (n, q) in [due, queued, orphaned].iter().enumerate() {
        let want = limit.saturating_sub(ids.len());
        if want == 0 {
            break;
        }
        let want = want as i64;
        let rows = if n == 0 {
            db.query(q, &[&now_ms, &want, &flows])?
        } else {
            db.query(q, &[&want, &flows])?
        };
        let before = ids.len();
        for row in rows {
            ids.push(row.try_get(0)?);
        }
        if n == 2 && ids.len() > before {
            tracing::warn!(
                runs = ?&ids[before..],
                "taking over runs left running by an engine that stopped, went silent past its engine_timeout, or whose lease expired; calls they had in flight are reconciled"
            );
        }
    }
    let mut claimed = Vec::with_capacity(ids.len());
    for id in ids {
        db.execute(
            &format!(
                "UPDATE runs SET state = 'running', worker = $2, lease_ms = {DB_NOW} + $3, \
                 attempts = attempts + 1, updated_ms = $4 WHERE id = $1"
            ),
            &[&id, &engine, &lease_ms, &now_ms],
        )?;
        let row = db.query_one(
            &format!(
                "SELECT {RUN_COLUMNS}, e.event_key, e.body FROM runs r JOIN events e ON e.id = r.event_id WHERE r.id = $1"
            ),
            &[&id],
        )?;
        let body: String = row.try_get(EVENT_BODY_COLUMN)?;
        claimed.push(Claimed {
            run: run_row(&row)?,
            event_key: row.try_get(EVENT_KEY_COLUMN)?,
            body: parse_json("events", &body)?,
        });
    }
    Ok(claimed)
}

/// The database's clock in milliseconds: leases and heartbeats are written and judged by
/// one clock, so clocks that differ between hosts do not matter.
const DB_NOW: &str = "(extract(epoch from clock_timestamp()) * 1000)::BIGINT";

/// A running run whose engine is gone: its lease expired, or its engine has not said it is
/// alive within its own timeout (it crashed, or stopped without finishing the run).
fn abandoned(run: &str) -> String {
    format!(
        "({run}.lease_ms < {DB_NOW} OR NOT EXISTS (SELECT 1 FROM engines g WHERE g.id = {run}.worker \
         AND g.heartbeat_ms + g.timeout_ms >= {DB_NOW}))"
    )
}

/// The lease a write renews: the worker's (`WorkerConfig::lease`, 5 minutes).
const LEASE_RENEWAL_MS: i64 = 300_000;

/// Refuse a write for `run` unless this engine holds it (running, in its name), and hold the
/// row until the write commits so no other engine takes it over meanwhile. An engine that
/// was silent past its timeout may find its run taken over: it must stop, not overwrite the
/// other engine's journal or end the run under it. Each write also renews the run's lease,
/// so a long run that keeps writing (a `foreach` of calls) is not taken for abandoned.
fn check_held(db: &mut Db, run: i64, engine: &str) -> Result<(), StoreError> {
    if db.held == Some(run) {
        return Ok(());
    }
    let held = db
        .query_opt(
            &format!(
                "UPDATE runs SET lease_ms = GREATEST(lease_ms, {DB_NOW} + $3) \
                 WHERE id = $1 AND worker = $2 AND state = 'running' RETURNING 1"
            ),
            &[&run, &engine, &LEASE_RENEWAL_MS],
        )?
        .is_some();
    if held {
        db.held = Some(run);
        Ok(())
    } else {
        Err(StoreError::NotHeld { run })
    }
}

/// Runs left `running` by engines that are gone (see `abandoned`): queued again. Runs of
/// engines that are alive are theirs and are left alone.
pub fn recover_running(db: &mut Db) -> Result<usize, StoreError> {
    // Engines silent for a day are long gone (killed, never signed off): forget them.
    db.execute(
        &format!("DELETE FROM engines WHERE heartbeat_ms < {DB_NOW} - 86400000"),
        &[],
    )?;
    // The rows are taken in id order, skipping any another engine is taking now, so two
    // engines starting at once do not deadlock.
    Ok(db.execute(
        &format!(
            "UPDATE runs SET state = 'queued', lease_ms = 0, worker = NULL WHERE id IN \
             (SELECT r.id FROM runs r WHERE r.state = 'running' AND {} \
              ORDER BY r.id FOR UPDATE SKIP LOCKED)",
            abandoned("r")
        ),
        &[],
    )? as usize)
}

/// This engine is alive (now, by the database's clock).
pub fn heartbeat(db: &mut Db, engine: &str, timeout_ms: i64) -> Result<(), StoreError> {
    db.execute(
        &format!(
            "INSERT INTO engines (id, heartbeat_ms, started_ms, timeout_ms) \
             VALUES ($1, {DB_NOW}, {DB_NOW}, $2) \
             ON CONFLICT (id) DO UPDATE SET heartbeat_ms = excluded.heartbeat_ms"
        ),
        &[&engine, &timeout_ms],
    )?;
    Ok(())
}

/// The engines that wrote a heartbeat (and did not sign off), oldest first.
pub fn engines(db: &mut Db) -> Result<Vec<EngineRow>, StoreError> {
    db.query(
        &format!(
            "SELECT g.id, g.started_ms, {DB_NOW} - g.heartbeat_ms, g.timeout_ms, \
             (SELECT COUNT(*) FROM runs r WHERE r.state = 'running' AND r.worker = g.id) \
             FROM engines g ORDER BY g.started_ms, g.id"
        ),
        &[],
    )?
    .iter()
    .map(|r| {
        Ok(EngineRow {
            id: r.try_get(0)?,
            started_ms: r.try_get(1)?,
            silent_ms: r.try_get(2)?,
            timeout_ms: r.try_get(3)?,
            running: r.try_get(4)?,
        })
    })
    .collect()
}

/// This engine stopped (its runs, if any are left running, are taken over at once).
pub fn sign_off(db: &mut Db, engine: &str) -> Result<(), StoreError> {
    db.execute("DELETE FROM engines WHERE id = $1", &[&engine])?;
    Ok(())
}

pub fn journal(db: &mut Db, run: i64) -> Result<Vec<JournalEntry>, StoreError> {
    let rows = db.query(
        "SELECT run_id, seq, step, call, attempt, outcome, input, output, idempotency_key, \
         started_ms, updated_ms, history FROM journal WHERE run_id = $1 ORDER BY seq",
        &[&run],
    )?;
    rows.iter()
        .map(|r| {
            let (input, output, history): (String, String, String) =
                (r.try_get(6)?, r.try_get(7)?, r.try_get(11)?);
            Ok(JournalEntry {
                run: r.try_get(0)?,
                seq: r.try_get(1)?,
                step: r.try_get(2)?,
                call: r.try_get(3)?,
                attempt: r.try_get(4)?,
                outcome: r.try_get(5)?,
                input: parse_json("journal", &input)?,
                output: parse_json("journal", &output)?,
                idempotency_key: r.try_get(8)?,
                started_ms: r.try_get(9)?,
                updated_ms: r.try_get(10)?,
                history: parse_json("journal", &history)?,
            })
        })
        .collect()
}

/// Insert or replace one journal entry, under `run` (an entry written with its run's
/// acceptance has run 0).
pub fn record_step_as(
    db: &mut Db,
    engine: &str,
    e: &JournalEntry,
    run: i64,
) -> Result<(), StoreError> {
    check_held(db, run, engine)?;
    db.execute(
        "INSERT INTO journal (run_id, seq, step, call, attempt, outcome, input, output, \
         idempotency_key, started_ms, updated_ms, history) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (run_id, seq) DO UPDATE SET step = excluded.step, call = excluded.call, \
         attempt = excluded.attempt, outcome = excluded.outcome, input = excluded.input, \
         output = excluded.output, idempotency_key = excluded.idempotency_key, \
         updated_ms = excluded.updated_ms, history = excluded.history",
        &[
            &run,
            &e.seq,
            &e.step,
            &e.call,
            &e.attempt,
            &e.outcome,
            &text(&e.input),
            &text(&e.output),
            &e.idempotency_key,
            &e.started_ms,
            &e.updated_ms,
            &history_text(&e.history),
        ],
    )?;
    Ok(())
}

pub fn finish(
    db: &mut Db,
    engine: &str,
    run: i64,
    end: &RunEnd,
    now_ms: i64,
) -> Result<(), StoreError> {
    check_held(db, run, engine)?;
    let (state, step, reason) = end.parts();
    let next = match end {
        RunEnd::Waiting { next_ms, .. } => *next_ms,
        _ => now_ms,
    };
    db.execute(
        "UPDATE runs SET state = $2, step = $3, reason = $4, next_ms = $5, lease_ms = 0, \
         updated_ms = $6 WHERE id = $1",
        &[&run, &state.as_str(), &step, &reason, &next, &now_ms],
    )?;
    if let RunEnd::DeadLettered { step, reason } = end {
        db.execute(
            "INSERT INTO dead_letters (run_id, flow, step, reason, revision, state, at_ms) \
             SELECT id, flow, $2, $3, revision, 'open', $4 FROM runs WHERE id = $1 \
             ON CONFLICT (run_id) DO UPDATE SET step = excluded.step, reason = excluded.reason, \
             revision = excluded.revision, state = 'open', at_ms = excluded.at_ms",
            &[&run, step, reason, &now_ms],
        )?;
    }
    Ok(())
}

pub fn idempotent_result(db: &mut Db, flow: &str, key: &str) -> Result<Option<Value>, StoreError> {
    let row = db.query_opt(
        "SELECT result FROM idempotency WHERE flow = $1 AND idem_key = $2",
        &[&flow, &key],
    )?;
    match row {
        Some(r) => {
            let t: String = r.try_get(0)?;
            parse_json("idempotency", &t).map(Some)
        }
        None => Ok(None),
    }
}

pub fn remember_text(
    db: &mut Db,
    flow: &str,
    key: &str,
    result: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO idempotency (flow, idem_key, result, created_ms) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (flow, idem_key) DO NOTHING",
        &[&flow, &key, &result, &now_ms],
    )?;
    Ok(())
}

pub fn run(db: &mut Db, id: i64) -> Result<Option<RunDetail>, StoreError> {
    let row = db.query_opt(
        &format!(
            "SELECT {RUN_COLUMNS}, e.event_key, e.body FROM runs r JOIN events e ON e.id = r.event_id WHERE r.id = $1"
        ),
        &[&id],
    )?;
    let Some(row) = row else {
        return Ok(None);
    };
    let body: String = row.try_get(EVENT_BODY_COLUMN)?;
    let journal = journal(db, id)?;
    let dead_letter = db
        .query_opt(&format!("{DLQ_SELECT} WHERE d.run_id = $1"), &[&id])?
        .map(|r| dead_letter_row(&r))
        .transpose()?;
    Ok(Some(RunDetail {
        run: run_row(&row)?,
        event_key: row.try_get(EVENT_KEY_COLUMN)?,
        event: parse_json("events", &body)?,
        journal,
        dead_letter,
    }))
}

pub fn runs(db: &mut Db, filter: &RunFilter) -> Result<Vec<RunRow>, StoreError> {
    let limit = if filter.limit == 0 { 100 } else { filter.limit } as i64;
    let rows = db.query(
        &format!(
            "SELECT {RUN_COLUMNS} FROM runs r WHERE ($1::TEXT IS NULL OR r.flow = $1) \
             AND ($2::TEXT IS NULL OR r.state = $2) ORDER BY r.id DESC LIMIT $3"
        ),
        &[&filter.flow, &filter.state.map(RunState::as_str), &limit],
    )?;
    rows.iter().map(run_row).collect()
}

pub fn dead_letters(db: &mut Db, filter: &DlqFilter) -> Result<Vec<DeadLetter>, StoreError> {
    let limit = if filter.limit == 0 { 100 } else { filter.limit } as i64;
    let rows = db.query(
        &format!(
            "{DLQ_SELECT} WHERE ($1::TEXT IS NULL OR d.flow = $1) AND ($2::TEXT IS NULL OR d.step = $2) \
             AND (NOT $3::BOOLEAN OR d.state = 'open') ORDER BY d.at_ms DESC, d.run_id DESC LIMIT $4"
        ),
        &[&filter.flow, &filter.step, &filter.open_only, &limit],
    )?;
    rows.iter().map(dead_letter_row).collect()
}

pub fn requeue(db: &mut Db, run: i64, revision: &str, now_ms: i64) -> Result<bool, StoreError> {
    let n = db.execute(
        "UPDATE dead_letters SET state = 'replayed' WHERE run_id = $1 AND state = 'open'",
        &[&run],
    )?;
    if n == 1 {
        db.execute(
            "UPDATE runs SET state = 'queued', revision = $2, next_ms = $3, step = NULL, \
             reason = NULL, updated_ms = $3 WHERE id = $1",
            &[&run, &revision, &now_ms],
        )?;
        // Calls that succeeded stay (they are not made again); failed ones are tried anew.
        db.execute(
            "DELETE FROM journal WHERE run_id = $1 AND outcome IS NOT NULL AND outcome <> 'ok'",
            &[&run],
        )?;
    }
    Ok(n == 1)
}

pub fn discard(db: &mut Db, run: i64, now_ms: i64) -> Result<bool, StoreError> {
    let n = db.execute(
        "UPDATE dead_letters SET state = 'discarded' WHERE run_id = $1 AND state = 'open'",
        &[&run],
    )?;
    if n == 1 {
        db.execute(
            "UPDATE runs SET state = 'discarded', next_ms = $2, updated_ms = $2 WHERE id = $1",
            &[&run, &now_ms],
        )?;
    }
    Ok(n == 1)
}

/// The highest migration applied to the store's tables.
pub fn schema_version(db: &mut Db) -> Result<i64, StoreError> {
    Ok(db
        .query_one(
            "SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_migrations",
            &[],
        )?
        .try_get(0)?)
}

/// Whether the store's tables are there (in the connection's search path).
pub fn has_tables(db: &mut Db) -> Result<bool, StoreError> {
    Ok(db
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])?
        .try_get(0)?)
}

pub fn has_unfinished(db: &mut Db) -> Result<bool, StoreError> {
    Ok(db
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM runs WHERE state IN ('queued', 'running', 'waiting'))",
            &[],
        )?
        .try_get(0)?)
}

pub fn counts(db: &mut Db) -> Result<BTreeMap<String, i64>, StoreError> {
    db.query("SELECT state, COUNT(*) FROM runs GROUP BY state", &[])?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// `StateStore::take_lease`: insert the lease, or take it over when it is this engine's, has
/// run out, or its holder is silent past its own timeout (on the database's clock).
pub fn take_lease(db: &mut Db, name: &str, engine: &str, ttl_ms: i64) -> Result<bool, StoreError> {
    let taken = db.query_opt(
        &format!(
            "INSERT INTO leases (name, holder, until_ms) VALUES ($1, $2, {DB_NOW} + $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until_ms = excluded.until_ms \
             WHERE leases.holder = excluded.holder OR leases.until_ms < {DB_NOW} \
             OR NOT EXISTS (SELECT 1 FROM engines g WHERE g.id = leases.holder \
             AND g.heartbeat_ms + g.timeout_ms >= {DB_NOW}) \
             RETURNING holder"
        ),
        &[&name, &engine, &ttl_ms],
    )?;
    Ok(taken.is_some())
}

pub fn release_lease(db: &mut Db, name: &str, engine: &str) -> Result<(), StoreError> {
    db.execute(
        "DELETE FROM leases WHERE name = $1 AND holder = $2",
        &[&name, &engine],
    )?;
    Ok(())
}

pub fn cursor(db: &mut Db, name: &str) -> Result<Option<String>, StoreError> {
    db.query_opt("SELECT value FROM cursors WHERE name = $1", &[&name])?
        .map(|r| r.try_get(0).map_err(StoreError::from))
        .transpose()
}

pub fn set_cursor(db: &mut Db, name: &str, value: &str, now_ms: i64) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO cursors (name, value, updated_ms) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms",
        &[&name, &value, &now_ms],
    )?;
    Ok(())
}

pub fn cursors_like(db: &mut Db, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
    db.query(
        "SELECT name, value FROM cursors WHERE left(name, length($1::TEXT)) = $1 ORDER BY name",
        &[&prefix],
    )?
    .iter()
    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
    .collect()
}

pub fn save_revision(
    db: &mut Db,
    flow: &str,
    revision: &str,
    source: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO revisions (flow, revision, source, loaded_ms) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (flow, revision) DO NOTHING",
        &[&flow, &revision, &source, &now_ms],
    )?;
    Ok(())
}

pub fn audit(db: &mut Db, action: &str, detail: &str, now_ms: i64) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO audit (at_ms, action, detail) VALUES ($1, $2, $3)",
        &[&now_ms, &action, &detail],
    )?;
    Ok(())
}

pub fn audit_log(db: &mut Db, limit: usize) -> Result<Vec<(i64, String, String)>, StoreError> {
    db.query(
        "SELECT at_ms, action, detail FROM audit ORDER BY id DESC LIMIT $1",
        &[&(limit as i64)],
    )?
    .iter()
    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
    .collect()
}

/// Start a call under `run`: with `ledger_key`, a result already remembered under that key is
/// returned instead (and nothing is written); otherwise the entry is written.
pub fn begin_call_as(
    db: &mut Db,
    engine: &str,
    entry: &JournalEntry,
    run: i64,
    flow: &str,
    ledger_key: Option<&str>,
) -> Result<Option<Value>, StoreError> {
    check_held(db, run, engine)?;
    if let Some(key) = ledger_key
        && let Some(v) = idempotent_result(db, flow, key)?
    {
        return Ok(Some(v));
    }
    record_step_as(db, engine, entry, run)?;
    Ok(None)
}

/// End a call under `run`: its outcome, and its result under its idempotency key when it
/// succeeded.
pub fn end_call_as(
    db: &mut Db,
    engine: &str,
    entry: &JournalEntry,
    run: i64,
    flow: &str,
    remember: Option<&str>,
) -> Result<(), StoreError> {
    check_held(db, run, engine)?;
    let output = text(&entry.output);
    let changed = db.execute(
        "UPDATE journal SET attempt = $3, outcome = $4, output = $5, updated_ms = $6, history = $7 \
         WHERE run_id = $1 AND seq = $2",
        &[
            &run,
            &entry.seq,
            &entry.attempt,
            &entry.outcome,
            &output,
            &entry.updated_ms,
            &history_text(&entry.history),
        ],
    )?;
    if changed == 0 {
        // Not begun through this store (a backfilled entry): written whole.
        record_step_as(db, engine, &entry.whole(), run)?;
    }
    if let Some(key) = remember {
        // A call's remembered result is its output: serialized once for both rows.
        remember_text(db, flow, key, &output, entry.updated_ms)?;
    }
    Ok(())
}

/// Retention (see `StateStore::prune`), as in SQLite: ended runs by end time, then the oldest
/// ledger results and audit entries.
pub fn prune(db: &mut Db, before_ms: i64, limit: usize) -> Result<Pruned, StoreError> {
    let mut runs: Vec<(i64, i64)> = Vec::new();
    for state in ["completed", "skipped", "failed", "discarded"] {
        let want = limit.saturating_sub(runs.len());
        if want == 0 {
            break;
        }
        for r in db.query(
            "SELECT id, event_id FROM runs WHERE state = $1 AND next_ms < $2 AND updated_ms < $2 \
             ORDER BY next_ms, id LIMIT $3 FOR UPDATE SKIP LOCKED",
            &[&state, &before_ms, &(want as i64)],
        )? {
            runs.push((r.try_get(0)?, r.try_get(1)?));
        }
    }
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    for (run, event) in &runs {
        db.execute("DELETE FROM journal WHERE run_id = $1", &[run])?;
        db.execute("DELETE FROM dead_letters WHERE run_id = $1", &[run])?;
        db.execute("DELETE FROM runs WHERE id = $1", &[run])?;
        db.execute("DELETE FROM events WHERE id = $1", &[event])?;
    }
    let ledger = db.execute(
        "DELETE FROM idempotency WHERE (flow, idem_key) IN \
         (SELECT flow, idem_key FROM idempotency WHERE created_ms < $1 ORDER BY created_ms LIMIT $2)",
        &[&before_ms, &limit],
    )? as usize;
    let audit = db.execute(
        "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at_ms < $1 ORDER BY id LIMIT $2)",
        &[&before_ms, &limit],
    )? as usize;
    Ok(Pruned {
        runs: runs.len(),
        ledger,
        audit,
    })
}

/// One hot-path write, with the call outcome deferred to it (`store/apply.rs`), made by
/// `engine`, which must hold the run (an acceptance claims it in `engine`'s name).
pub fn apply(db: &mut Db, engine: &str, write: &Write) -> Result<Written, StoreError> {
    crate::store::apply::apply_as(&mut Postgres { db, engine }, write, None)
}

/// The PostgreSQL statements for `apply`, as `engine`.
struct Postgres<'d, 'a, 'c> {
    db: &'d mut Db<'a, 'c>,
    engine: &'d str,
}

impl crate::store::apply::RunWrites for Postgres<'_, '_, '_> {
    fn admit(
        &mut self,
        e: &NewEvent,
        _worker: &str,
        _now_ms: i64,
        lease_ms: i64,
        with_body: bool,
    ) -> Result<AcceptedNow, StoreError> {
        // Leases run on the database's clock.
        admit(self.db, e, self.engine, lease_ms, with_body)
    }

    fn admitted(&mut self, run: i64) {
        // Inserted running in this engine's name by this very transaction.
        self.db.held = Some(run);
    }

    fn begin_call(
        &mut self,
        entry: &JournalEntry,
        run: i64,
        flow: &str,
        ledger_key: Option<&str>,
    ) -> Result<Option<Value>, StoreError> {
        begin_call_as(self.db, self.engine, entry, run, flow, ledger_key)
    }

    fn record_step(&mut self, entry: &JournalEntry, run: i64) -> Result<(), StoreError> {
        record_step_as(self.db, self.engine, entry, run)
    }

    fn end_call(
        &mut self,
        entry: &JournalEntry,
        run: i64,
        flow: &str,
        remember: Option<&str>,
    ) -> Result<(), StoreError> {
        end_call_as(self.db, self.engine, entry, run, flow, remember)
    }

    fn finish(&mut self, run: i64, end: &RunEnd, now_ms: i64) -> Result<(), StoreError> {
        finish(self.db, self.engine, run, end, now_ms)
    }
}
