//! The embedded store: one SQLite file in WAL mode, written by one thread that commits in
//! groups. Every write is a job sent to that thread; the thread runs whatever jobs are waiting
//! (each inside a savepoint, so one failing job does not undo the others) in one transaction,
//! commits once, and only then answers each job. So a caller still returns only after its write
//! is durable (`Durability::Full`: on disk), but concurrent runs share the cost of a commit.
//! Reads use their own connection (WAL readers never wait for the writer); an in-memory store
//! (tests) has one connection, so its reads go through the writer too. Statements: `sql.rs`.
//! Card data is masked here, at the door, on the caller's thread, before a job is queued.
//!
//! With `Durability::Full` the writer does not wait for the disk itself: its connection commits
//! with `synchronous=NORMAL` (the WAL frames are written, not flushed) and hands the group to a
//! second thread, which flushes the WAL file (`fdatasync`) and only then answers the group's
//! jobs. A commit is acknowledged exactly when `synchronous=FULL` would acknowledge it (its WAL
//! frames are on disk), but the writer runs the next group's statements while the disk works.
//! While the flush thread is busy, the writer keeps its transaction open and adds the jobs that
//! arrive, committing once the flush is done: those jobs could not be flushed sooner, and one
//! commit writes the pages they share (index and table leaves) to the WAL once, not per job.

use super::StateStore;
use super::schema::MIGRATIONS;
use super::sql;
use super::types::*;
use rusqlite::{Connection, params};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

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

/// Committed groups waiting for their flush; a writer further ahead than this waits.
const UNSYNCED_GROUPS: usize = 64;

/// A write waiting for the writer.
type Job = Box<dyn Pending>;

/// What the writer thread is sent.
enum Message {
    /// A write.
    Job(Job),
    /// The flush thread has flushed groups (see `Flushes`): a group held back may commit.
    Flushed,
    /// The store is closing: finish what came before and stop.
    Stop,
}

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
    jobs: Option<SyncSender<Message>>,
    writer: Option<std::thread::JoinHandle<()>>,
    /// Reads; `None` for in-memory stores (reads go through the writer).
    reader: Option<Mutex<Connection>>,
}

impl Drop for SqliteStore {
    /// Close in order: no more jobs, the writer finishes its group and closes its connection
    /// (SQLite checkpoints the WAL), then the reader closes.
    fn drop(&mut self) {
        if let Some(jobs) = self.jobs.take() {
            let _ = jobs.send(Message::Stop);
        }
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
        // Migrations commit with `FULL`; the writer thread then flushes the WAL itself
        // (`WalFlush`) and commits with `NORMAL` (see the module doc).
        let connect = |sync: &str| -> Result<Connection, StoreError> {
            let conn = Connection::open(path).map_err(|e| open_error(e.to_string()))?;
            conn.execute_batch(&format!(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous={sync}; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000;"
            ))
            .map_err(|e| open_error(e.to_string()))?;
            Ok(conn)
        };
        let mut writer = connect("FULL")?;
        migrate(&mut writer)?;
        // A file system without WAL support leaves SQLite in its rollback journal (no `-wal`
        // file): the writer then keeps `FULL` and answers after its own commit.
        let wal = writer
            .query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0))
            .map_err(|e| open_error(e.to_string()))?
            .eq_ignore_ascii_case("wal");
        let flush = match durability {
            Durability::Full if wal => {
                Some(WalFlush::open(path).map_err(|e| open_error(format!("its WAL file: {e}")))?)
            }
            Durability::Full | Durability::Normal => None,
        };
        if flush.is_some() || durability == Durability::Normal {
            writer
                .execute_batch("PRAGMA synchronous=NORMAL;")
                .map_err(|e| open_error(e.to_string()))?;
        }
        let reader = connect("NORMAL")?;
        let (jobs, writer) = spawn_writer(writer, flush)?;
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
        let (jobs, writer) = spawn_writer(conn, None)?;
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
                let _ = jobs.send(Message::Job(job));
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

/// The writer thread: one transaction per group of waiting jobs; with `flush`, a second
/// thread flushes the WAL after each commit and answers the group's jobs.
fn spawn_writer(
    conn: Connection,
    flush: Option<WalFlush>,
) -> Result<(SyncSender<Message>, std::thread::JoinHandle<()>), StoreError> {
    let cannot =
        |e: std::io::Error| StoreError::Sql(format!("cannot start the store's threads: {e}"));
    let (tx, rx) = sync_channel::<Message>(4096);
    let answers = match flush {
        Some(flush) => {
            let (groups, committed) = sync_channel::<Committed>(UNSYNCED_GROUPS);
            let flushes = Arc::new(Flushes {
                done: AtomicU64::new(0),
                waiting: AtomicBool::new(false),
                wake: tx.clone(),
            });
            let shared = Arc::clone(&flushes);
            let flusher = std::thread::Builder::new()
                .name("ledgerlink-store-flush".into())
                .spawn(move || flush_loop(flush, committed, flushes))
                .map_err(cannot)?;
            Answers::AfterFlush {
                groups,
                flusher,
                sent: 0,
                flushes: shared,
            }
        }
        None => Answers::Now,
    };
    let handle = std::thread::Builder::new()
        .name("ledgerlink-store-writer".into())
        .spawn(move || writer_loop(conn, rx, answers))
        .map_err(cannot)?;
    Ok((tx, handle))
}

/// A committed group (or one whose commit failed) and the commit's result.
type Committed = (Vec<Job>, Result<(), String>);

/// Where the writer sends a group once its commit is done.
enum Answers {
    /// Answer at once (`Durability::Normal`, in-memory stores).
    Now,
    /// To the flush thread, which answers once the WAL is on disk.
    AfterFlush {
        groups: SyncSender<Committed>,
        flusher: std::thread::JoinHandle<()>,
        /// Groups sent to the flush thread (`flushes` counts those it flushed).
        sent: u64,
        flushes: Arc<Flushes>,
    },
}

impl Answers {
    fn send(&mut self, group: Vec<Job>, commit: Result<(), String>) {
        match self {
            // A failed commit has nothing to flush.
            Answers::AfterFlush { groups, sent, .. } if commit.is_ok() => {
                match groups.send((group, commit)) {
                    Ok(()) => *sent += 1,
                    Err(std::sync::mpsc::SendError((group, _))) => {
                        answer_all(group, Err("the store's flush thread has stopped".into()))
                    }
                }
            }
            _ => answer_all(group, commit),
        }
    }

    /// Whether the flush thread is still flushing groups sent to it; if so, it is asked for a
    /// `Message::Flushed` once it is done (asked before a second look, so that a flush ending
    /// in between is not missed). Jobs that come meanwhile could not be flushed before it is
    /// done anyway, so they wait in the open transaction and commit together once it is: one
    /// commit (its shared pages written to the WAL once) instead of one per job.
    fn wait_for_flush(&self) -> bool {
        let Answers::AfterFlush { sent, flushes, .. } = self else {
            return false;
        };
        let busy = || *sent > flushes.done.load(Ordering::SeqCst);
        if !busy() {
            return false;
        }
        flushes.waiting.store(true, Ordering::SeqCst);
        if busy() {
            return true;
        }
        flushes.waiting.store(false, Ordering::SeqCst);
        false
    }

    /// Let the flush thread answer what it holds, then return.
    fn close(self) {
        if let Answers::AfterFlush {
            groups, flusher, ..
        } = self
        {
            drop(groups);
            let _ = flusher.join();
        }
    }
}

fn answer_all(group: Vec<Job>, commit: Result<(), String>) {
    for job in group {
        job.answer(commit.clone());
    }
}

/// The store's WAL file, opened a second time so another thread can flush it.
struct WalFlush {
    path: PathBuf,
    file: std::fs::File,
}

impl WalFlush {
    /// The WAL exists once a connection has opened the store in WAL mode, and stays while one
    /// is open (the writer's is, for as long as this thread runs).
    fn open(db: &Path) -> std::io::Result<WalFlush> {
        let mut path = db.as_os_str().to_owned();
        path.push("-wal");
        let path = PathBuf::from(path);
        let file = std::fs::File::open(&path)?;
        Ok(WalFlush { path, file })
    }

    /// Flush what was written to the WAL so far. A WAL removed and made again under the same
    /// name (only possible after every connection closed) is opened again first.
    fn flush(&mut self) -> std::io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        if self.file.metadata()?.nlink() == 0 {
            self.file = std::fs::File::open(&self.path)?;
        }
        self.file.sync_data()
    }
}

/// Flush after each committed group (several at once when they queue up) and answer their
/// jobs. After a failed flush nothing is acknowledged again: the kernel may have dropped the
/// pages it could not write and report the next flush clean (PostgreSQL stops for the same
/// reason), so every later group is answered with the error too.
fn flush_loop(mut wal: WalFlush, committed: Receiver<Committed>, flushes: Arc<Flushes>) {
    let mut failed: Option<String> = None;
    while let Ok(first) = committed.recv() {
        let mut groups = vec![first];
        while let Ok(more) = committed.try_recv() {
            groups.push(more);
        }
        if failed.is_none()
            && let Err(e) = wal.flush()
        {
            tracing::error!(
                "the store could not flush its WAL file to disk ({e}); writes are refused until the engine restarts"
            );
            failed = Some(format!("the store could not flush its file to disk: {e}"));
        }
        // The writer may commit what it gathered meanwhile while these are answered.
        flushes.done(groups.len() as u64);
        for (group, commit) in groups {
            let commit = match &failed {
                Some(e) => Err(e.clone()),
                None => commit,
            };
            answer_all(group, commit);
        }
    }
}

/// The flush thread's count of flushed groups, and its way to wake the writer when it
/// waits for them (`Answers::wait_for_flush`).
struct Flushes {
    done: AtomicU64,
    waiting: AtomicBool,
    wake: SyncSender<Message>,
}

impl Flushes {
    fn done(&self, groups: u64) {
        self.done.fetch_add(groups, Ordering::SeqCst);
        // Never blocks: a full queue has jobs in it, which wake the writer anyway (it reads
        // the count after each message).
        if self.waiting.swap(false, Ordering::SeqCst) {
            let _ = self.wake.try_send(Message::Flushed);
        }
    }
}

/// Run jobs as they come in one transaction and commit once per group: a group is what
/// arrived while the previous commit was being made, plus, while the flush thread is still
/// flushing earlier groups, whatever arrives until it is done (up to `MAX_GROUP` jobs). Jobs
/// run bare: a job whose statements fail is rare (the statements check before they write), so
/// rather than wrap every job in a savepoint, a group with a failure is rolled back and run
/// again with a savepoint per job, so that only the failing one is undone.
fn writer_loop(conn: Connection, messages: Receiver<Message>, mut answers: Answers) {
    let mut stopping = false;
    while !stopping {
        let first = match messages.recv() {
            Ok(Message::Job(job)) => job,
            Ok(Message::Flushed) => continue,
            Ok(Message::Stop) | Err(_) => break,
        };
        let mut group: Vec<Job> = Vec::with_capacity(16);
        let mut commit = exec_cached(&conn, "BEGIN IMMEDIATE");
        let mut clean = true;
        let mut take = |mut job: Job, group: &mut Vec<Job>| {
            if commit.is_ok() && clean {
                clean = job.run(&conn);
            }
            group.push(job);
        };
        take(first, &mut group);
        // A transaction that did not begin gathers nothing more: its jobs get its error now.
        while commit.is_ok() && group.len() < MAX_GROUP {
            let next = match messages.try_recv() {
                Ok(m) => m,
                // Nothing waiting: commit now, unless the flush thread is busy (then this
                // group could not be flushed sooner: wait for it, or for more jobs).
                Err(_) if answers.wait_for_flush() => match messages.recv() {
                    Ok(m) => m,
                    Err(_) => break,
                },
                Err(_) => break,
            };
            match next {
                Message::Job(job) => take(job, &mut group),
                Message::Flushed => {}
                Message::Stop => {
                    stopping = true;
                    break;
                }
            }
        }
        if commit.is_ok() && !clean {
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
        answers.send(group, commit);
    }
    answers.close();
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
        remember: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut end = CallEnd {
            entry: entry.clone(),
            flow: flow.to_string(),
            remember: remember.map(str::to_string),
        };
        end.redact();
        let CallEnd {
            entry,
            flow,
            remember,
        } = end;
        self.write(move |c| sql::end_call(c, &entry, &flow, remember.as_deref()))
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

    /// While the flush thread is busy, the writer holds what arrives in its open transaction
    /// and commits it as one group once the flush ends; nothing is answered before its flush.
    #[test]
    fn jobs_that_come_while_a_flush_runs_commit_together_after_it() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (x INTEGER)").unwrap();
        let (tx, rx) = sync_channel::<Message>(64);
        let (groups, committed) = sync_channel::<Committed>(8);
        let flushes = Arc::new(Flushes {
            done: AtomicU64::new(0),
            waiting: AtomicBool::new(false),
            wake: tx.clone(),
        });
        // A flush thread whose every flush lasts until the test lets it end.
        let (end_flush, flush_ends) = std::sync::mpsc::channel::<()>();
        let (sizes_tx, sizes) = std::sync::mpsc::channel::<usize>();
        let counted = Arc::clone(&flushes);
        let flusher = std::thread::spawn(move || {
            while let Ok((group, commit)) = committed.recv() {
                sizes_tx.send(group.len()).unwrap();
                flush_ends.recv().unwrap();
                answer_all(group, commit);
                counted.done(1);
            }
        });
        let answers = Answers::AfterFlush {
            groups,
            flusher,
            sent: 0,
            flushes,
        };
        let writer = std::thread::spawn(move || writer_loop(conn, rx, answers));
        let (answered_tx, answered) = std::sync::mpsc::channel::<i64>();
        let insert = |x: i64| {
            let answered_tx = answered_tx.clone();
            let job: Job = Box::new(Queued {
                statements: move |c: &Connection| {
                    c.execute("INSERT INTO t (x) VALUES (?1)", [x])
                        .map(|_| x)
                        .map_err(StoreError::from)
                },
                reply: move |r: Result<i64, StoreError>| answered_tx.send(r.unwrap()).unwrap(),
                result: None,
            });
            tx.send(Message::Job(job)).unwrap();
        };
        insert(1);
        assert_eq!(
            sizes.recv().unwrap(),
            1,
            "nothing was flushing: committed at once"
        );
        for x in 2..=5 {
            insert(x);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(
            answered.try_recv().is_err(),
            "nothing answered before its flush"
        );
        end_flush.send(()).unwrap();
        assert_eq!(answered.recv().unwrap(), 1);
        assert_eq!(
            sizes.recv().unwrap(),
            4,
            "what came during the flush is one group"
        );
        end_flush.send(()).unwrap();
        let mut rest: Vec<i64> = (0..4).map(|_| answered.recv().unwrap()).collect();
        rest.sort();
        assert_eq!(rest, vec![2, 3, 4, 5]);
        tx.send(Message::Stop).unwrap();
        writer.join().unwrap();
    }

    /// `Durability::Full`: writes are answered by the flush thread (after the WAL is on disk)
    /// and read back on the reader connection; the flusher's handle on the WAL follows the
    /// file if it is replaced under the same name.
    #[test]
    fn a_full_store_answers_after_flushing_its_wal() {
        let dir = std::env::temp_dir().join(format!("ll-flush-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("state.db");
        let store = SqliteStore::open(&path, Durability::Full).unwrap();
        let events: Vec<NewEvent> = (0..50)
            .map(|i| NewEvent {
                flow: "f".into(),
                key: format!("k{i}"),
                body: serde_json::json!({"i": i}),
                revision: "r".into(),
                ordering_key: None,
                received_ms: 1,
                text: None,
            })
            .collect();
        let accepted = std::thread::scope(|s| {
            let handles: Vec<_> = events
                .chunks(5)
                .map(|chunk| s.spawn(|| store.accept(chunk).unwrap().len()))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .sum::<usize>()
        });
        assert_eq!(accepted, 50);
        assert_eq!(store.counts().unwrap().get("queued"), Some(&50));
        assert!(
            std::path::Path::new(&format!("{}-wal", path.display())).exists(),
            "the flusher's file is the store's WAL"
        );

        drop(store);

        let other = dir.join("other.db");
        std::fs::write(dir.join("other.db-wal"), b"frames").unwrap();
        let mut wal = WalFlush::open(&other).unwrap();
        wal.flush().unwrap();
        std::fs::remove_file(&wal.path).unwrap();
        std::fs::write(&wal.path, b"frames again").unwrap();
        wal.flush().unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            wal.file.metadata().unwrap().ino(),
            std::fs::metadata(&wal.path).unwrap().ino(),
            "a replaced WAL is opened again"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
