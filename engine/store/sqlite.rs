//! The embedded store: one SQLite file in WAL mode, written by one thread that commits in
//! groups. Every write is a job sent to that thread; the thread runs whatever jobs are waiting
//! (each inside a savepoint, so one failing job does not undo the others) in one transaction,
//! commits once, and only then answers each job. So a caller still returns only after its write
//! is durable (`Durability::Full`: on disk), but concurrent runs share the cost of a commit.
//! Reads use their own connection (WAL readers never wait for the writer); an in-memory store
//! (tests) has one connection, so its reads go through the writer too. Statements: `sql.rs`.
//! Card data is masked here, at the door, on the caller's thread, before a job is queued.

use super::StateStore;
use super::schema::MIGRATIONS;
use super::sql;
use super::types::*;
use rusqlite::{Connection, params};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// How hard a commit waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=FULL`: a commit survives a power cut.
    Full,
    /// `synchronous=NORMAL`: survives a crash of the process, not of the machine.
    Normal,
}

/// Most jobs in one commit.
const MAX_GROUP: usize = 512;

/// A write waiting for the writer.
type Job = Box<dyn Pending>;

/// A write's statements (which can run again: see `writer_loop`) and its caller's answer.
trait Pending: Send {
    /// Run the statements on the writer's connection, keeping the result; false if they failed.
    fn run(&mut self, conn: &Connection) -> bool;
    /// The group's commit is done (or failed): answer the caller.
    fn answer(self: Box<Self>, commit: Result<(), String>);
}

struct Queued<T, F, R> {
    statements: F,
    reply: R,
    result: Option<Result<T, StoreError>>,
}

impl<T, F, R> Pending for Queued<T, F, R>
where
    T: Send,
    F: Fn(&Connection) -> Result<T, StoreError> + Send,
    R: FnOnce(Result<T, StoreError>) + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let result = (self.statements)(conn);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn answer(self: Box<Self>, commit: Result<(), String>) {
        let result = self
            .result
            .unwrap_or_else(|| Err(StoreError::Sql("the write did not run".into())));
        (self.reply)(match commit {
            Ok(()) => result,
            Err(e) => Err(StoreError::Sql(format!("commit failed: {e}"))),
        });
    }
}

pub struct SqliteStore {
    jobs: Option<SyncSender<Job>>,
    writer: Option<std::thread::JoinHandle<()>>,
    /// Reads; `None` for in-memory stores (reads go through the writer).
    reader: Option<Mutex<Connection>>,
}

impl Drop for SqliteStore {
    /// Close in order: no more jobs, the writer finishes its group and closes its connection
    /// (SQLite checkpoints the WAL), then the reader closes.
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

impl SqliteStore {
    /// Open (creating if needed) the store at `path`, migrating it to the current schema.
    pub fn open(path: &Path, durability: Durability) -> Result<SqliteStore, StoreError> {
        let open_error = |message: String| StoreError::Open {
            path: path.display().to_string(),
            message,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| open_error(e.to_string()))?;
        }
        let sync = match durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        let connect = || -> Result<Connection, StoreError> {
            let conn = Connection::open(path).map_err(|e| open_error(e.to_string()))?;
            conn.execute_batch(&format!(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous={sync}; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000;"
            ))
            .map_err(|e| open_error(e.to_string()))?;
            Ok(conn)
        };
        let mut writer = connect()?;
        migrate(&mut writer)?;
        let reader = connect()?;
        let (jobs, writer) = spawn_writer(writer)?;
        Ok(SqliteStore {
            jobs: Some(jobs),
            writer: Some(writer),
            reader: Some(Mutex::new(reader)),
        })
    }

    /// A store in memory (tests).
    pub fn memory() -> Result<SqliteStore, StoreError> {
        let mut conn = Connection::open_in_memory()?;
        conn.execute_batch("PRAGMA foreign_keys=ON;")?;
        migrate(&mut conn)?;
        let (jobs, writer) = spawn_writer(conn)?;
        Ok(SqliteStore {
            jobs: Some(jobs),
            writer: Some(writer),
            reader: None,
        })
    }

    /// Run `f` on the writer, in the next group commit; return once it is committed.
    fn write<T: Send + 'static>(
        &self,
        f: impl Fn(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = sync_channel::<Result<T, StoreError>>(1);
        self.enqueue(f, move |result| {
            let _ = tx.send(result);
        });
        rx.recv()
            .map_err(|_| StoreError::Sql("the store's writer thread has stopped".into()))?
    }

    /// Queue `f` for the writer's next group commit; `reply` gets its result once committed
    /// (from the writer thread).
    fn enqueue<T: Send + 'static>(
        &self,
        f: impl Fn(&Connection) -> Result<T, StoreError> + Send + 'static,
        reply: impl FnOnce(Result<T, StoreError>) + Send + 'static,
    ) {
        let job: Job = Box::new(Queued {
            statements: f,
            reply,
            result: None,
        });
        match &self.jobs {
            // A job the writer never runs is dropped with its reply, which callers see as
            // "stopped" (their channel closes).
            Some(jobs) => {
                let _ = jobs.send(job);
            }
            None => drop(job),
        }
    }

    /// Run a read on the reader connection (or, in memory, on the writer).
    fn read<T: Send + 'static>(
        &self,
        f: impl Fn(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        match &self.reader {
            Some(r) => {
                // A panic holding the lock leaves no half-done transaction behind.
                let conn = r.lock().unwrap_or_else(|e| e.into_inner());
                f(&conn)
            }
            None => self.write(f),
        }
    }
}

/// The writer thread: one transaction per group of waiting jobs.
fn spawn_writer(
    conn: Connection,
) -> Result<(SyncSender<Job>, std::thread::JoinHandle<()>), StoreError> {
    let (tx, rx) = sync_channel::<Job>(4096);
    let handle = std::thread::Builder::new()
        .name("ledgerlink-store-writer".into())
        .spawn(move || writer_loop(conn, rx))
        .map_err(|e| StoreError::Sql(format!("cannot start the store's writer thread: {e}")))?;
    Ok((tx, handle))
}

/// Take every waiting job (up to `MAX_GROUP`), run them in one transaction and commit once.
/// Jobs run bare: a job whose statements fail is rare (the statements check before they
/// write), so rather than wrap every job in a savepoint, a group with a failure is rolled back
/// and run again with a savepoint per job, so that only the failing one is undone.
fn writer_loop(conn: Connection, jobs: Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut group: Vec<Job> = Vec::with_capacity(16);
        group.push(first);
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let mut commit = exec_cached(&conn, "BEGIN IMMEDIATE");
        if commit.is_ok() {
            let clean = group.iter_mut().all(|job| job.run(&conn));
            if !clean {
                let _ = exec_cached(&conn, "ROLLBACK");
                commit = exec_cached(&conn, "BEGIN IMMEDIATE").map(|()| {
                    for job in &mut group {
                        let _ = exec_cached(&conn, "SAVEPOINT job");
                        if !job.run(&conn) {
                            let _ = exec_cached(&conn, "ROLLBACK TO job");
                        }
                        let _ = exec_cached(&conn, "RELEASE job");
                    }
                });
            }
            if commit.is_ok() {
                commit = exec_cached(&conn, "COMMIT");
                if commit.is_err() {
                    let _ = exec_cached(&conn, "ROLLBACK");
                }
            }
        }
        for job in group {
            job.answer(commit.clone());
        }
    }
}

/// A statement without parameters, prepared once per connection.
fn exec_cached(conn: &Connection, sql: &str) -> Result<(), String> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.execute([]))
        .map(|_| ())
        .map_err(|e| e.to_string())
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

impl StateStore for SqliteStore {
    fn accept(&self, events: &[NewEvent]) -> Result<Vec<Accepted>, StoreError> {
        let mut events = events.to_vec();
        for e in &mut events {
            e.mask();
        }
        self.write(move |c| sql::accept(c, &events))
    }

    fn accept_now(
        &self,
        event: &NewEvent,
        worker: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<AcceptedNow, StoreError> {
        let (mut event, worker) = (event.clone(), worker.to_string());
        event.mask();
        self.write(move |c| sql::accept_now(c, &event, &worker, now_ms, lease_ms))
    }

    fn claim(
        &self,
        worker: &str,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<Claimed>, StoreError> {
        let worker = worker.to_string();
        self.write(move |c| sql::claim(c, &worker, now_ms, lease_ms, limit))
    }

    fn recover_running(&self) -> Result<usize, StoreError> {
        self.write(sql::recover_running)
    }

    fn journal(&self, run: i64) -> Result<Vec<JournalEntry>, StoreError> {
        self.read(move |c| sql::journal(c, run))
    }

    fn record_step(&self, entry: &JournalEntry) -> Result<(), StoreError> {
        let mut entry = entry.clone();
        entry.redact();
        self.write(move |c| sql::record_step(c, &entry))
    }

    fn begin_call(
        &self,
        entry: &JournalEntry,
        flow: &str,
        ledger_key: Option<&str>,
    ) -> Result<Option<Value>, StoreError> {
        let (mut entry, flow, key) = (
            entry.clone(),
            flow.to_string(),
            ledger_key.map(str::to_string),
        );
        entry.redact();
        self.write(move |c| sql::begin_call(c, &entry, &flow, key.as_deref()))
    }

    fn end_call(
        &self,
        entry: &JournalEntry,
        flow: &str,
        remember: Option<(&str, &Value)>,
    ) -> Result<(), StoreError> {
        let mut end = CallEnd {
            entry: entry.clone(),
            flow: flow.to_string(),
            remember: remember.map(|(k, v)| (k.to_string(), v.clone())),
        };
        end.redact();
        let CallEnd {
            entry,
            flow,
            remember,
        } = end;
        self.write(move |c| {
            sql::end_call(
                c,
                &entry,
                &flow,
                remember.as_ref().map(|(k, v)| (k.as_str(), v)),
            )
        })
    }

    fn finish(&self, run: i64, end: &RunEnd, now_ms: i64) -> Result<(), StoreError> {
        let end = end.clone();
        self.write(move |c| sql::finish(c, run, &end, now_ms))
    }

    fn submit(&self, mut write: Write, reply: Reply) {
        write.redact();
        self.enqueue(move |c| sql::apply(c, &write), reply);
    }

    fn queues_writes(&self) -> bool {
        true
    }

    fn apply(&self, mut write: Write) -> Result<Written, StoreError> {
        write.redact();
        self.write(move |c| sql::apply(c, &write))
    }

    fn idempotent_result(&self, flow: &str, key: &str) -> Result<Option<Value>, StoreError> {
        let (flow, key) = (flow.to_string(), key.to_string());
        self.read(move |c| sql::idempotent_result(c, &flow, &key))
    }

    fn remember_result(
        &self,
        flow: &str,
        key: &str,
        result: &Value,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let (flow, key, mut result) = (flow.to_string(), key.to_string(), result.clone());
        crate::pci::redact(&mut result);
        self.write(move |c| sql::remember_result(c, &flow, &key, &result, now_ms))
    }

    fn run(&self, id: i64) -> Result<Option<RunDetail>, StoreError> {
        self.read(move |c| sql::run(c, id))
    }

    fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRow>, StoreError> {
        let filter = filter.clone();
        self.read(move |c| sql::runs(c, &filter))
    }

    fn dead_letters(&self, filter: &DlqFilter) -> Result<Vec<DeadLetter>, StoreError> {
        let filter = filter.clone();
        self.read(move |c| sql::dead_letters(c, &filter))
    }

    fn requeue(&self, run: i64, revision: &str, now_ms: i64) -> Result<bool, StoreError> {
        let revision = revision.to_string();
        self.write(move |c| sql::requeue(c, run, &revision, now_ms))
    }

    fn discard(&self, run: i64, now_ms: i64) -> Result<bool, StoreError> {
        self.write(move |c| sql::discard(c, run, now_ms))
    }

    fn prune(&self, before_ms: i64, limit: usize) -> Result<Pruned, StoreError> {
        self.write(move |c| sql::prune(c, before_ms, limit))
    }

    fn counts(&self) -> Result<BTreeMap<String, i64>, StoreError> {
        self.read(sql::counts)
    }

    fn has_unfinished(&self) -> Result<bool, StoreError> {
        self.read(sql::has_unfinished)
    }

    fn cursor(&self, name: &str) -> Result<Option<String>, StoreError> {
        let name = name.to_string();
        self.read(move |c| sql::cursor(c, &name))
    }

    fn set_cursor(&self, name: &str, value: &str, now_ms: i64) -> Result<(), StoreError> {
        let (name, value) = (name.to_string(), value.to_string());
        self.write(move |c| sql::set_cursor(c, &name, &value, now_ms))
    }

    fn cursors_like(&self, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
        let prefix = prefix.to_string();
        self.read(move |c| sql::cursors_like(c, &prefix))
    }

    fn save_revision(
        &self,
        flow: &str,
        revision: &str,
        source: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let (flow, revision, source) = (flow.to_string(), revision.to_string(), source.to_string());
        self.write(move |c| sql::save_revision(c, &flow, &revision, &source, now_ms))
    }

    fn audit(&self, action: &str, detail: &str, now_ms: i64) -> Result<(), StoreError> {
        let (action, detail) = (action.to_string(), detail.to_string());
        self.write(move |c| sql::audit(c, &action, &detail, now_ms))
    }

    fn audit_log(&self, limit: usize) -> Result<Vec<(i64, String, String)>, StoreError> {
        self.read(move |c| sql::audit_log(c, limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store made by an earlier release (schema version 4) keeps its runs and journal
    /// through today's migrations.
    #[test]
    fn a_version_4_store_migrates_with_its_journal() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL)",
        )
        .unwrap();
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v <= 4) {
            conn.execute_batch(sql).unwrap();
            conn.execute(
                "INSERT INTO schema_migrations (version, applied_ms) VALUES (?1, 0)",
                params![version],
            )
            .unwrap();
        }
        conn.execute_batch(
            "INSERT INTO events (id, flow, event_key, body, received_ms) VALUES (1, 'f', 'k', '{}', 0);
             INSERT INTO runs (id, event_id, flow, revision, state, next_ms, created_ms, updated_ms)
               VALUES (1, 1, 'f', 'r', 'queued', 0, 0, 0);
             INSERT INTO journal (run_id, seq, step, call, attempt, outcome, input, output, started_ms, updated_ms, history)
               VALUES (1, 0, 'post', 'sagepro.create_payment', 1, 'ok', '{\"a\":1}', '{\"b\":2}', 0, 0, '[]');",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let entries = sql::journal(&conn, 1).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].output, serde_json::json!({"b": 2}));
        let claimed = sql::claim(&conn, "w", 10, 1000, 5).unwrap();
        assert_eq!(
            claimed.len(),
            1,
            "the queued run is found through the new index"
        );
        let version: i64 = conn
            .query_row("SELECT MAX(version) FROM schema_migrations", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
    }
}
