//! The embedded store: one SQLite file in WAL mode. Every method is one transaction; with
//! `Durability::Full` (the default) a commit is on disk before the method returns, so an event
//! is durable before its trigger answers and a step's outcome before the next step starts.
//! `accept` takes a batch so many events share one commit (group commit). One connection
//! behind a mutex: SQLite has one writer anyway, and the statements are short.

use super::StateStore;
use super::schema::MIGRATIONS;
use super::types::*;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// How hard a commit waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=FULL`: a commit survives a power cut.
    Full,
    /// `synchronous=NORMAL`: survives a crash of the process, not of the machine.
    Normal,
}

pub struct SqliteStore {
    conn: Mutex<Connection>,
}

const RUN_COLUMNS: &str = "r.id, r.event_id, r.flow, r.revision, r.state, r.attempts, r.next_ms, \
     r.ordering_key, r.step, r.reason, r.created_ms, r.updated_ms";

impl SqliteStore {
    /// Open (creating if needed) the store at `path`, migrating it to the current schema.
    pub fn open(path: &Path, durability: Durability) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
        }
        let conn = Connection::open(path).map_err(|e| StoreError::Open {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let sync = match durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        conn.execute_batch(&format!(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous={sync}; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000;"
        ))
        .map_err(|e| StoreError::Open {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::ready(conn)
    }

    /// A store in memory (tests).
    pub fn memory() -> Result<SqliteStore, StoreError> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch("PRAGMA foreign_keys=ON;")?;
        Self::ready(conn)
    }

    fn ready(mut conn: Connection) -> Result<SqliteStore, StoreError> {
        migrate(&mut conn)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves no half-done transaction (rusqlite rolls back
        // on drop), so the connection is still good.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL)",
    )?;
    let tx = conn.transaction()?;
    let current: i64 = tx.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?;
    for (version, sql) in MIGRATIONS {
        if *version > current {
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_ms) VALUES (?1, ?2)",
                params![version, super::now_ms()],
            )?;
        }
    }
    tx.commit()?;
    Ok(())
}

fn redacted(v: &Value) -> String {
    let mut copy = v.clone();
    crate::pci::redact(&mut copy);
    copy.to_string()
}

fn parse_json(table: &str, text: &str) -> Result<Value, StoreError> {
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
    })
}

fn journal_row(r: &Row<'_>) -> rusqlite::Result<(JournalEntry, String, String)> {
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
        },
        r.get(6)?,
        r.get(7)?,
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

impl StateStore for SqliteStore {
    fn accept(&self, events: &[NewEvent]) -> Result<Vec<Accepted>, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let mut out = Vec::with_capacity(events.len());
        {
            let mut find =
                tx.prepare_cached("SELECT id FROM events WHERE flow = ?1 AND event_key = ?2")?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO events (flow, event_key, body, received_ms) VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut run = tx.prepare_cached(
                "INSERT INTO runs (event_id, flow, revision, state, next_ms, ordering_key, created_ms, updated_ms) \
                 VALUES (?1, ?2, ?3, 'queued', ?4, ?5, ?4, ?4)",
            )?;
            for e in events {
                if let Some(id) = find
                    .query_row(params![e.flow, e.key], |r| r.get::<_, i64>(0))
                    .optional()?
                {
                    out.push(Accepted::Duplicate { event: id });
                    continue;
                }
                insert.execute(params![e.flow, e.key, redacted(&e.body), e.received_ms])?;
                let event = tx.last_insert_rowid();
                run.execute(params![
                    event,
                    e.flow,
                    e.revision,
                    e.received_ms,
                    e.ordering_key
                ])?;
                out.push(Accepted::New {
                    event,
                    run: tx.last_insert_rowid(),
                });
            }
        }
        tx.commit()?;
        Ok(out)
    }

    fn claim(
        &self,
        worker: &str,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<Claimed>, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let ids: Vec<i64> = {
            let mut due = tx.prepare_cached(
                "SELECT r.id FROM runs r \
                 WHERE ((r.state IN ('queued', 'waiting') AND r.next_ms <= ?1) \
                        OR (r.state = 'running' AND r.lease_ms < ?1)) \
                   AND NOT EXISTS (SELECT 1 FROM runs p WHERE p.flow = r.flow \
                        AND p.ordering_key = r.ordering_key AND p.id < r.id \
                        AND p.state IN ('queued', 'waiting', 'running')) \
                 ORDER BY r.next_ms, r.id LIMIT ?2",
            )?;
            due.query_map(params![now_ms, limit as i64], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        let mut claimed = Vec::with_capacity(ids.len());
        {
            let mut take = tx.prepare_cached(
                "UPDATE runs SET state = 'running', worker = ?2, lease_ms = ?3, attempts = attempts + 1, \
                 updated_ms = ?4 WHERE id = ?1",
            )?;
            let mut read = tx.prepare_cached(&format!(
                "SELECT {RUN_COLUMNS}, e.event_key, e.body FROM runs r JOIN events e ON e.id = r.event_id WHERE r.id = ?1"
            ))?;
            for id in ids {
                take.execute(params![id, worker, now_ms + lease_ms, now_ms])?;
                let (run, key, body) = read.query_row(params![id], |r| {
                    Ok((
                        run_row(r)?,
                        r.get::<_, String>(12)?,
                        r.get::<_, String>(13)?,
                    ))
                })?;
                claimed.push(Claimed {
                    run,
                    event_key: key,
                    body: parse_json("events", &body)?,
                });
            }
        }
        tx.commit()?;
        Ok(claimed)
    }

    fn recover_running(&self) -> Result<usize, StoreError> {
        let conn = self.lock();
        Ok(conn.execute(
            "UPDATE runs SET state = 'queued', lease_ms = 0, worker = NULL WHERE state = 'running'",
            [],
        )?)
    }

    fn journal(&self, run: i64) -> Result<Vec<JournalEntry>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT run_id, seq, step, call, attempt, outcome, input, output, idempotency_key, started_ms, updated_ms \
             FROM journal WHERE run_id = ?1 ORDER BY seq",
        )?;
        let rows = stmt
            .query_map(params![run], journal_row)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(mut e, input, output)| {
                e.input = parse_json("journal", &input)?;
                e.output = parse_json("journal", &output)?;
                Ok(e)
            })
            .collect()
    }

    fn record_step(&self, e: &JournalEntry) -> Result<(), StoreError> {
        let conn = self.lock();
        conn.prepare_cached(
            "INSERT INTO journal (run_id, seq, step, call, attempt, outcome, input, output, idempotency_key, started_ms, updated_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
             ON CONFLICT (run_id, seq) DO UPDATE SET step = excluded.step, call = excluded.call, \
             attempt = excluded.attempt, outcome = excluded.outcome, input = excluded.input, \
             output = excluded.output, idempotency_key = excluded.idempotency_key, updated_ms = excluded.updated_ms",
        )?
        .execute(params![
            e.run,
            e.seq,
            e.step,
            e.call,
            e.attempt,
            e.outcome,
            redacted(&e.input),
            redacted(&e.output),
            e.idempotency_key,
            e.started_ms,
            e.updated_ms
        ])?;
        Ok(())
    }

    fn finish(&self, run: i64, end: &RunEnd, now_ms: i64) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let (state, step, reason, next) = match end {
            RunEnd::Completed => ("completed", None, None, now_ms),
            RunEnd::Skipped { reason } => ("skipped", None, Some(reason), now_ms),
            RunEnd::Failed { step, reason } => ("failed", Some(step), Some(reason), now_ms),
            RunEnd::DeadLettered { step, reason } => {
                ("dead_lettered", Some(step), Some(reason), now_ms)
            }
            RunEnd::Waiting {
                step,
                reason,
                next_ms,
            } => ("waiting", Some(step), Some(reason), *next_ms),
        };
        tx.execute(
            "UPDATE runs SET state = ?2, step = ?3, reason = ?4, next_ms = ?5, lease_ms = 0, worker = NULL, \
             updated_ms = ?6 WHERE id = ?1",
            params![run, state, step, reason, next, now_ms],
        )?;
        if let RunEnd::DeadLettered { step, reason } = end {
            tx.execute(
                "INSERT INTO dead_letters (run_id, flow, step, reason, revision, state, at_ms) \
                 SELECT id, flow, ?2, ?3, revision, 'open', ?4 FROM runs WHERE id = ?1 \
                 ON CONFLICT (run_id) DO UPDATE SET step = excluded.step, reason = excluded.reason, \
                 revision = excluded.revision, state = 'open', at_ms = excluded.at_ms",
                params![run, step, reason, now_ms],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn idempotent_result(&self, flow: &str, key: &str) -> Result<Option<Value>, StoreError> {
        let conn = self.lock();
        let text: Option<String> = conn
            .prepare_cached("SELECT result FROM idempotency WHERE flow = ?1 AND idem_key = ?2")?
            .query_row(params![flow, key], |r| r.get(0))
            .optional()?;
        text.map(|t| parse_json("idempotency", &t)).transpose()
    }

    fn remember_result(
        &self,
        flow: &str,
        key: &str,
        result: &Value,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let conn = self.lock();
        conn.prepare_cached(
            "INSERT INTO idempotency (flow, idem_key, result, created_ms) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (flow, idem_key) DO NOTHING",
        )?
        .execute(params![flow, key, redacted(result), now_ms])?;
        Ok(())
    }

    fn run(&self, id: i64) -> Result<Option<RunDetail>, StoreError> {
        let row = {
            let conn = self.lock();
            conn.prepare_cached(&format!(
                "SELECT {RUN_COLUMNS}, e.event_key, e.body FROM runs r JOIN events e ON e.id = r.event_id WHERE r.id = ?1"
            ))?
            .query_row(params![id], |r| {
                Ok((run_row(r)?, r.get::<_, String>(12)?, r.get::<_, String>(13)?))
            })
            .optional()?
        };
        let Some((run, event_key, body)) = row else {
            return Ok(None);
        };
        let journal = self.journal(id)?;
        let dead_letter = {
            let conn = self.lock();
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

    fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRow>, StoreError> {
        let conn = self.lock();
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

    fn dead_letters(&self, filter: &DlqFilter) -> Result<Vec<DeadLetter>, StoreError> {
        let conn = self.lock();
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

    fn requeue(&self, run: i64, revision: &str, now_ms: i64) -> Result<bool, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let n = tx.execute(
            "UPDATE dead_letters SET state = 'replayed' WHERE run_id = ?1 AND state = 'open'",
            params![run],
        )?;
        if n == 1 {
            tx.execute(
                "UPDATE runs SET state = 'queued', revision = ?2, next_ms = ?3, step = NULL, reason = NULL, \
                 updated_ms = ?3 WHERE id = ?1",
                params![run, revision, now_ms],
            )?;
            // Calls that succeeded stay (they are not made again); failed ones are tried anew.
            tx.execute(
                "DELETE FROM journal WHERE run_id = ?1 AND outcome IS NOT NULL AND outcome <> 'ok'",
                params![run],
            )?;
        }
        tx.commit()?;
        Ok(n == 1)
    }

    fn discard(&self, run: i64, now_ms: i64) -> Result<bool, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let n = tx.execute(
            "UPDATE dead_letters SET state = 'discarded' WHERE run_id = ?1 AND state = 'open'",
            params![run],
        )?;
        if n == 1 {
            tx.execute(
                "UPDATE runs SET state = 'discarded', updated_ms = ?2 WHERE id = ?1",
                params![run, now_ms],
            )?;
        }
        tx.commit()?;
        Ok(n == 1)
    }

    fn counts(&self) -> Result<BTreeMap<String, i64>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached("SELECT state, COUNT(*) FROM runs GROUP BY state")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
            .collect::<Result<BTreeMap<_, _>, _>>()?;
        Ok(rows)
    }

    fn cursor(&self, name: &str) -> Result<Option<String>, StoreError> {
        let conn = self.lock();
        Ok(conn
            .prepare_cached("SELECT value FROM cursors WHERE name = ?1")?
            .query_row(params![name], |r| r.get(0))
            .optional()?)
    }

    fn set_cursor(&self, name: &str, value: &str, now_ms: i64) -> Result<(), StoreError> {
        let conn = self.lock();
        conn.prepare_cached(
            "INSERT INTO cursors (name, value, updated_ms) VALUES (?1, ?2, ?3) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms",
        )?
        .execute(params![name, value, now_ms])?;
        Ok(())
    }

    fn save_revision(
        &self,
        flow: &str,
        revision: &str,
        source: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let conn = self.lock();
        conn.prepare_cached(
            "INSERT INTO revisions (flow, revision, source, loaded_ms) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (flow, revision) DO NOTHING",
        )?
        .execute(params![flow, revision, source, now_ms])?;
        Ok(())
    }

    fn audit(&self, action: &str, detail: &str, now_ms: i64) -> Result<(), StoreError> {
        let conn = self.lock();
        conn.prepare_cached("INSERT INTO audit (at_ms, action, detail) VALUES (?1, ?2, ?3)")?
            .execute(params![now_ms, action, detail])?;
        Ok(())
    }

    fn audit_log(&self, limit: usize) -> Result<Vec<(i64, String, String)>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached("SELECT at_ms, action, detail FROM audit ORDER BY id DESC LIMIT ?1")?;
        let rows = stmt
            .query_map(params![limit as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}
