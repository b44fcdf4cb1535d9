//! The PostgreSQL store, for several engines sharing one state: `runtime.store:
//! postgres://user@host:port/database` in the profile (or `--store`). Same trait, same
//! contract suite (`tests/it/store_contract.rs`) as the SQLite store.
//!
//! A pool of connections (up to 16, added while every one is busy), each owned by its own
//! thread (the synchronous `postgres` client runs its own small tokio runtime, so it must not
//! run on the engine's). Every store
//! call is a job sent to the pool; a job is one transaction, committed before its caller is
//! answered. PostgreSQL shares the WAL flush between concurrent commits itself, so jobs are
//! not grouped here. Statements: `sql.rs`; tables: `schema.rs`. Card data is masked at the
//! door, on the caller's thread, as in the SQLite store.
//!
//! What several engines on one database rely on: an event key is taken once (a unique
//! index: the second engine gets `duplicate`); a run is claimed by one engine (`FOR UPDATE
//! SKIP LOCKED`); runs with one ordering key run one at a time across engines (an advisory
//! lock while a run is admitted); each engine writes a heartbeat (`engines` table, by the
//! database's clock) every few seconds, and the runs an engine left `running` are taken over
//! by the others once it has been silent for its timeout (`runtime.engine_timeout`, 30 s by
//! default) or their lease (5 minutes) has expired; their in-flight calls are reconciled as
//! after any crash. An engine that stops cleanly signs off, so its leftovers are taken at once.

mod schema;
mod sql;

use super::StateStore;
use super::types::*;
use serde_json::Value;
use sql::Db;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

/// Most connections (and threads) per engine, made as the work needs them. W1 at c64 does
/// the same 1,900 events/s with 8 or 32 (it is bound by the database's CPU per statement on
/// a 2-core machine it shares) while each connection costs about 2 MiB: 16 leaves room for
/// a database on its own host.
const CONNECTIONS: usize = 16;

/// How long an engine may be silent before the others take over its running runs.
pub const DEFAULT_ENGINE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A job for a pool thread: run in one transaction on that thread's connection.
type Job = Box<dyn FnOnce(&mut Session) + Send>;

/// A pool thread's connection and its prepared statements.
struct Session {
    client: Option<postgres::Client>,
    cache: HashMap<String, postgres::Statement>,
    config: postgres::Config,
}

impl Session {
    /// Run `f` in one transaction, reconnecting first when the connection was lost. A
    /// connection found dead at `BEGIN` (a database restart, a failover) is made again and
    /// the job tried once more: nothing of it was sent.
    fn transaction<T>(
        &mut self,
        f: &dyn Fn(&mut Db) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut retried = false;
        loop {
            if self.client.as_ref().is_none_or(postgres::Client::is_closed) {
                self.cache.clear();
                self.client = Some(connect(&self.config)?);
            }
            let Some(client) = self.client.as_mut() else {
                return Err(StoreError::Sql("PostgreSQL: not connected".into()));
            };
            let began = match client.transaction() {
                Ok(mut tx) => Ok(f(&mut Db {
                    tx: &mut tx,
                    cache: &mut self.cache,
                    held: None,
                })
                .and_then(|v| tx.commit().map(|()| v).map_err(StoreError::from))),
                Err(e) => Err(StoreError::from(e)),
            };
            let failed = match began {
                Ok(result) => {
                    // Dropping an unfinished transaction rolled it back. A statement prepared
                    // before a newer engine changed a table may no longer fit (0A000):
                    // prepare again next time.
                    if let Err(StoreError::Sql(m)) = &result {
                        if m.contains("(0A000)") {
                            self.cache.clear();
                        }
                        // A server in recovery after a failover (25006: read-only), shutting
                        // down (57P0x) or a broken connection (08xxx): connect again next time
                        // (perhaps to the new primary) rather than fail every job on it.
                        if ["(25006)", "(57P0", "(08"].iter().any(|c| m.contains(c)) {
                            self.client = None;
                        }
                    }
                    return result;
                }
                Err(failed) => failed,
            };
            if retried || !self.client.as_ref().is_none_or(postgres::Client::is_closed) {
                return Err(failed);
            }
            retried = true;
        }
    }
}

/// libpq's `sslmode=verify-full` and `verify-ca`, which the client library does not accept,
/// as its `require`: here `require` already verifies the certificate and the host name.
fn with_libpq_ssl_modes(url: &str) -> std::borrow::Cow<'_, str> {
    if url.contains("sslmode=verify-") {
        url.replace("sslmode=verify-full", "sslmode=require")
            .replace("sslmode=verify-ca", "sslmode=require")
            .into()
    } else {
        url.into()
    }
}

/// Defaults for what a URL does not set, so a database that stops answering fails a call
/// within seconds instead of holding a thread for the kernel's TCP timeouts (minutes).
fn with_timeouts(mut config: postgres::Config) -> postgres::Config {
    use std::time::Duration;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    if config.get_tcp_user_timeout().is_none() {
        config.tcp_user_timeout(Duration::from_secs(30));
    }
    config.keepalives_idle(Duration::from_secs(30));
    config
}

/// Connect: in plain text by default (`sslmode` unset, `prefer` or `disable`), over TLS with
/// `sslmode=require`, and then with the server's certificate verified against the system's
/// trusted roots (stricter than libpq's `require`, which does not verify: add a private CA to
/// the system's store).
fn connect(config: &postgres::Config) -> Result<postgres::Client, StoreError> {
    let connected = match config.get_ssl_mode() {
        postgres::config::SslMode::Require => config.connect(tls()?),
        _ => config.connect(postgres::NoTls),
    };
    let mut client = connected
        .map_err(|e| StoreError::Sql(format!("PostgreSQL: cannot connect: {}", cause(&e))))?;
    // No statement or open transaction may hold a connection for long, unless the URL's
    // `options` say otherwise.
    let options = config.get_options().unwrap_or_default();
    for (setting, value) in [
        ("statement_timeout", "60s"),
        ("idle_in_transaction_session_timeout", "60s"),
    ] {
        if !options.contains(setting) {
            client.batch_execute(&format!("SET {setting} = '{value}'"))?;
        }
    }
    Ok(client)
}

/// rustls on the `ring` provider (as for HTTP: `connectors::transport`), with the platform's
/// certificate verifier.
fn tls() -> Result<tokio_postgres_rustls::MakeRustlsConnect, StoreError> {
    use rustls_platform_verifier::ConfigVerifierExt;
    // Fails only when a provider is installed already, which serves as well.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = rustls::ClientConfig::with_platform_verifier()
        .map_err(|e| StoreError::Sql(format!("PostgreSQL: cannot set up TLS: {e}")))?;
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// An error with its causes (`postgres::Error` shows only its kind, such as "error
/// connecting to server", and keeps the reason in its source).
fn cause(e: &postgres::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text = format!("{text}: {next}");
        }
        source = s.source();
    }
    text
}

pub struct PostgresStore {
    jobs: Option<SyncSender<Job>>,
    pool: Pool,
    /// This engine's name in `engines` and in the `worker` of the runs it holds.
    engine: String,
    timeout_ms: i64,
    /// Dropped to stop the heartbeat.
    heartbeat: Option<(SyncSender<()>, std::thread::JoinHandle<()>)>,
}

impl Drop for PostgresStore {
    /// Stop the heartbeat, sign off (what this engine left running is taken over at once),
    /// then let the pool finish its jobs and close.
    fn drop(&mut self) {
        if let Some((stop, thread)) = self.heartbeat.take() {
            drop(stop);
            let _ = thread.join();
            // Only an engine that wrote a heartbeat signs off (a store that failed to open
            // never connected; a read-only command never took runs).
            // Bounded: a database that stopped answering must not hold the engine's exit
            // (the others take its runs over after its timeout anyway).
            let engine = self.engine.clone();
            let (tx, rx) = sync_channel::<()>(1);
            self.enqueue(
                move |db| sql::sign_off(db, &engine),
                move |_| {
                    let _ = tx.send(());
                },
            );
            let _ = rx.recv_timeout(std::time::Duration::from_secs(5));
        }
        self.jobs.take();
        let threads =
            std::mem::take(&mut *self.pool.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
            let _ = t.join();
        }
    }
}

/// A name no other engine has: host, process and start time.
fn engine_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{host}/{}/{nanos:x}", std::process::id())
}

/// Whether a `--store` or `runtime.store` value names a PostgreSQL database.
pub fn is_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// `user@host:port/database` from a connection URL, without its password.
pub fn shown(config: &postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            postgres::config::Host::Tcp(name) => name.clone(),
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}@{host}:{port}/{}",
        config.get_user().unwrap_or("postgres"),
        config.get_dbname().unwrap_or("postgres")
    )
}

impl PostgresStore {
    /// Connect to the database at `url`, creating or migrating the tables, with the default
    /// engine timeout.
    pub fn open(url: &str) -> Result<PostgresStore, StoreError> {
        Self::open_with(url, DEFAULT_ENGINE_TIMEOUT)
    }

    /// `open`; the runs of an engine silent for `engine_timeout` are taken over.
    pub fn open_with(
        url: &str,
        engine_timeout: std::time::Duration,
    ) -> Result<PostgresStore, StoreError> {
        Self::connect_to(url, engine_timeout, true)
    }

    /// `open_with`, for commands that only read or change runs: a database without the
    /// store's tables is an error (a mistyped database name), not a new empty store.
    pub fn open_existing(
        url: &str,
        engine_timeout: std::time::Duration,
    ) -> Result<PostgresStore, StoreError> {
        Self::connect_to(url, engine_timeout, false)
    }

    fn connect_to(
        url: &str,
        engine_timeout: std::time::Duration,
        create: bool,
    ) -> Result<PostgresStore, StoreError> {
        let config: postgres::Config =
            with_libpq_ssl_modes(url)
                .parse()
                .map_err(|e| StoreError::Open {
                    path: "postgres://…".into(),
                    message: format!("not a PostgreSQL connection URL: {}", cause(&e)),
                })?;
        if config
            .get_hosts()
            .iter()
            .any(|h| matches!(h, postgres::config::Host::Tcp(name) if name.contains('@')))
        {
            return Err(StoreError::Open {
                path: "postgres://…".into(),
                message: "the URL has a second `@`: write an `@` in the password as `%40`".into(),
            });
        }
        let config = with_timeouts(config);
        let shown = shown(&config);
        let open_error = |message: String| StoreError::Open {
            path: shown.clone(),
            message,
        };
        // Connections are made on the pool's threads: the synchronous client runs a runtime
        // of its own, which cannot start on a thread that is inside the engine's runtime, as
        // `run`'s main thread is. Threads are added as the work needs them (`enqueue`).
        let (tx, rx) = sync_channel::<Job>(4096);
        let pool = Pool {
            jobs: Arc::new(Mutex::new(rx)),
            idle: Arc::new(AtomicUsize::new(0)),
            threads: Mutex::new(Vec::new()),
            config: config.clone(),
        };
        pool.grow().map_err(open_error)?;
        let mut store = PostgresStore {
            jobs: Some(tx),
            pool,
            engine: engine_name(),
            timeout_ms: i64::try_from(engine_timeout.as_millis()).unwrap_or(i64::MAX),
            heartbeat: None,
        };
        let (engine, timeout_ms) = (store.engine.clone(), store.timeout_ms);
        store
            .call(move |db| {
                if !create && !sql::has_tables(db)? {
                    return Err(StoreError::Sql(
                        "this database has no Ledgerlink store: `ledgerlink send` or `ledgerlink run` creates it; check the database name".into(),
                    ));
                }
                let latest = schema::MIGRATIONS.last().map_or(0, |(v, _)| *v);
                let version = if create { 0 } else { sql::schema_version(db)? };
                if version > latest {
                    return Err(StoreError::Sql(format!(
                        "the store's tables are at version {version}, made by a newer Ledgerlink (this one knows {latest}): use that release"
                    )));
                }
                // A read-only command on a current store makes no DDL (a role that may only
                // read can list runs); an engine, or an older store, migrates.
                if create || version < latest {
                    migrate(db)?;
                }
                if create {
                    sql::heartbeat(db, &engine, timeout_ms)?;
                }
                Ok(())
            })
            .map_err(|e| match e {
                // Not "store: " twice.
                StoreError::Sql(message) => open_error(message),
                other => open_error(other.to_string()),
            })?;
        if create {
            store.heartbeat = Some(start_heartbeat(
                config,
                store.engine.clone(),
                timeout_ms,
                (engine_timeout / 6).max(std::time::Duration::from_millis(100)),
            )?);
        }
        Ok(store)
    }

    /// This engine's name: the `worker` of the runs it holds.
    pub fn engine(&self) -> &str {
        &self.engine
    }

    /// Runs are held in this engine's name (whatever worker the runtime names), which is what
    /// the heartbeat vouches for.
    fn take_as_engine(&self, write: &mut Write) {
        if let Write::AcceptNow { worker, .. } = write {
            worker.clone_from(&self.engine);
        }
    }

    /// Queue `f` for the pool; `reply` gets its result once committed (from a pool thread).
    fn enqueue<T: Send + 'static>(
        &self,
        f: impl Fn(&mut Db) -> Result<T, StoreError> + Send + 'static,
        reply: impl FnOnce(Result<T, StoreError>) + Send + 'static,
    ) {
        let job: Job = Box::new(move |session: &mut Session| reply(session.transaction(&f)));
        if let Some(jobs) = &self.jobs {
            // A job no thread runs is dropped with its reply: the caller sees "stopped".
            let _ = jobs.send(job);
            if self.pool.idle.load(Ordering::SeqCst) == 0 {
                // Every thread is busy: one more, up to `CONNECTIONS` (a failure to start one
                // leaves the job to the threads there are).
                let _ = self.pool.grow();
            }
        }
    }

    /// Run `f` in its own transaction on a pool thread; return once it is committed.
    fn call<T: Send + 'static>(
        &self,
        f: impl Fn(&mut Db) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = sync_channel::<Result<T, StoreError>>(1);
        self.enqueue(f, move |result| {
            let _ = tx.send(result);
        });
        rx.recv()
            .map_err(|_| StoreError::Sql("the store's connection threads have stopped".into()))?
    }
}

/// Say this engine is alive every `every`, on a connection of its own (a pool busy with a
/// backlog must not make the engine look dead), until the sender is dropped.
fn start_heartbeat(
    config: postgres::Config,
    engine: String,
    timeout_ms: i64,
    every: std::time::Duration,
) -> Result<(SyncSender<()>, std::thread::JoinHandle<()>), StoreError> {
    let (stop, stopped) = sync_channel::<()>(0);
    let mut session = Session {
        client: None,
        cache: HashMap::new(),
        config,
    };
    let thread = std::thread::Builder::new()
        .name("ledgerlink-store-pg-heartbeat".into())
        .spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                stopped.recv_timeout(every)
            {
                if let Err(e) = session.transaction(&|db| sql::heartbeat(db, &engine, timeout_ms)) {
                    tracing::warn!(error = %e, "cannot write this engine's heartbeat to PostgreSQL");
                }
            }
        })
        .map_err(|e| StoreError::Sql(format!("cannot start the heartbeat thread: {e}")))?;
    Ok((stop, thread))
}

/// The store's threads, each with its own connection, sharing one queue of jobs.
struct Pool {
    jobs: Arc<Mutex<Receiver<Job>>>,
    /// Threads waiting for a job.
    idle: Arc<AtomicUsize>,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    config: postgres::Config,
}

impl Pool {
    /// Start one more thread, unless there are `CONNECTIONS` already.
    fn grow(&self) -> Result<(), String> {
        let mut threads = self.threads.lock().unwrap_or_else(|e| e.into_inner());
        if threads.len() >= CONNECTIONS {
            return Ok(());
        }
        let session = Session {
            client: None,
            cache: HashMap::new(),
            config: self.config.clone(),
        };
        let (jobs, idle) = (Arc::clone(&self.jobs), Arc::clone(&self.idle));
        // Counted idle from the start, so jobs queued before it runs do not start more.
        idle.fetch_add(1, Ordering::SeqCst);
        let handle = std::thread::Builder::new()
            .name(format!("ledgerlink-store-pg-{}", threads.len()))
            .spawn(move || serve(session, &jobs, &idle))
            .map_err(|e| {
                self.idle.fetch_sub(1, Ordering::SeqCst);
                format!("cannot start a store thread: {e}")
            })?;
        threads.push(handle);
        Ok(())
    }
}

/// A pool thread: take jobs until the store is dropped.
fn serve(mut session: Session, jobs: &Mutex<Receiver<Job>>, idle: &AtomicUsize) {
    loop {
        let job = {
            let rx = jobs.lock().unwrap_or_else(|e| e.into_inner());
            rx.recv()
        };
        idle.fetch_sub(1, Ordering::SeqCst);
        match job {
            Ok(job) => job(&mut session),
            Err(_) => return,
        }
        idle.fetch_add(1, Ordering::SeqCst);
    }
}

/// Apply the migrations not yet applied, in one transaction holding an advisory lock, so
/// that engines starting at the same time do not both apply one.
fn migrate(db: &mut Db) -> Result<(), StoreError> {
    const LOCK: i64 = 0x4c65_6467_6572; // "Ledger"
    // A migration may rebuild an index on a large table: no statement timeout for it.
    db.tx.batch_execute("SET LOCAL statement_timeout = 0")?;
    db.tx
        .execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK])?;
    db.tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_ms BIGINT NOT NULL)",
    )?;
    let current: i64 = db
        .tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_migrations",
            &[],
        )?
        .try_get(0)?;
    for (version, statements) in schema::MIGRATIONS {
        if *version > current {
            db.tx.batch_execute(statements)?;
            db.tx.execute(
                "INSERT INTO schema_migrations (version, applied_ms) VALUES ($1, $2)",
                &[version, &super::now_ms()],
            )?;
        }
    }
    Ok(())
}

impl StateStore for PostgresStore {
    fn accept(&self, events: &[NewEvent]) -> Result<Vec<Accepted>, StoreError> {
        let mut events = events.to_vec();
        for e in &mut events {
            e.mask();
        }
        self.call(move |db| sql::accept(db, &events))
    }

    fn accept_now(
        &self,
        event: &NewEvent,
        _worker: &str,
        _now_ms: i64, // leases run on the database's clock
        lease_ms: i64,
    ) -> Result<AcceptedNow, StoreError> {
        let (mut event, engine) = (event.clone(), self.engine.clone());
        event.mask();
        self.call(move |db| sql::admit(db, &event, &engine, lease_ms, true))
    }

    fn submit(&self, mut write: Write, reply: Reply) {
        write.redact();
        self.take_as_engine(&mut write);
        let engine = self.engine.clone();
        self.enqueue(move |db| sql::apply(db, &engine, &write), reply);
    }

    fn queues_writes(&self) -> bool {
        true
    }

    fn apply(&self, mut write: Write) -> Result<Written, StoreError> {
        write.redact();
        self.take_as_engine(&mut write);
        let engine = self.engine.clone();
        self.call(move |db| sql::apply(db, &engine, &write))
    }

    fn claim(
        &self,
        _worker: &str,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<Claimed>, StoreError> {
        let engine = self.engine.clone();
        self.call(move |db| sql::claim(db, &engine, now_ms, lease_ms, limit, None))
    }

    fn claim_for(
        &self,
        _worker: &str,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
        flows: &[String],
    ) -> Result<Vec<Claimed>, StoreError> {
        let (engine, flows) = (self.engine.clone(), flows.to_vec());
        self.call(move |db| sql::claim(db, &engine, now_ms, lease_ms, limit, Some(&flows)))
    }

    /// Only the runs of engines that are gone: on a shared database, the running runs of
    /// engines that are alive are theirs.
    fn recover_running(&self) -> Result<usize, StoreError> {
        self.call(sql::recover_running)
    }

    fn journal(&self, run: i64) -> Result<Vec<JournalEntry>, StoreError> {
        self.call(move |db| sql::journal(db, run))
    }

    fn record_step(&self, entry: &JournalEntry) -> Result<(), StoreError> {
        let mut entry = entry.clone();
        entry.redact();
        let engine = self.engine.clone();
        self.call(move |db| sql::record_step_as(db, &engine, &entry, entry.run))
    }

    fn finish(&self, run: i64, end: &RunEnd, now_ms: i64) -> Result<(), StoreError> {
        let end = end.clone();
        let engine = self.engine.clone();
        self.call(move |db| sql::finish(db, &engine, run, &end, now_ms))
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
        let engine = self.engine.clone();
        self.call(move |db| {
            sql::begin_call_as(db, &engine, &entry, entry.run, &flow, key.as_deref())
        })
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
        let engine = self.engine.clone();
        self.call(move |db| {
            sql::end_call_as(
                db,
                &engine,
                &end.entry,
                end.entry.run,
                &end.flow,
                end.remember.as_deref(),
            )
        })
    }

    fn idempotent_result(&self, flow: &str, key: &str) -> Result<Option<Value>, StoreError> {
        let (flow, key) = (flow.to_string(), key.to_string());
        self.call(move |db| sql::idempotent_result(db, &flow, &key))
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
        self.call(move |db| sql::remember_text(db, &flow, &key, &result.to_string(), now_ms))
    }

    fn run(&self, id: i64) -> Result<Option<RunDetail>, StoreError> {
        self.call(move |db| sql::run(db, id))
    }

    fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRow>, StoreError> {
        let filter = filter.clone();
        self.call(move |db| sql::runs(db, &filter))
    }

    fn dead_letters(&self, filter: &DlqFilter) -> Result<Vec<DeadLetter>, StoreError> {
        let filter = filter.clone();
        self.call(move |db| sql::dead_letters(db, &filter))
    }

    fn requeue(&self, run: i64, revision: &str, now_ms: i64) -> Result<bool, StoreError> {
        let revision = revision.to_string();
        self.call(move |db| sql::requeue(db, run, &revision, now_ms))
    }

    fn discard(&self, run: i64, now_ms: i64) -> Result<bool, StoreError> {
        self.call(move |db| sql::discard(db, run, now_ms))
    }

    fn prune(&self, before_ms: i64, limit: usize) -> Result<Pruned, StoreError> {
        self.call(move |db| sql::prune(db, before_ms, limit))
    }

    fn counts(&self) -> Result<BTreeMap<String, i64>, StoreError> {
        self.call(sql::counts)
    }

    fn has_unfinished(&self) -> Result<bool, StoreError> {
        self.call(sql::has_unfinished)
    }

    fn engines(&self) -> Result<Vec<EngineRow>, StoreError> {
        self.call(sql::engines)
    }

    fn take_lease(&self, name: &str, ttl_ms: i64) -> Result<bool, StoreError> {
        let (name, engine) = (name.to_string(), self.engine.clone());
        self.call(move |db| sql::take_lease(db, &name, &engine, ttl_ms))
    }

    fn release_lease(&self, name: &str) -> Result<(), StoreError> {
        let (name, engine) = (name.to_string(), self.engine.clone());
        self.call(move |db| sql::release_lease(db, &name, &engine))
    }

    fn cursor(&self, name: &str) -> Result<Option<String>, StoreError> {
        let name = name.to_string();
        self.call(move |db| sql::cursor(db, &name))
    }

    fn set_cursor(&self, name: &str, value: &str, now_ms: i64) -> Result<(), StoreError> {
        let (name, value) = (name.to_string(), value.to_string());
        self.call(move |db| sql::set_cursor(db, &name, &value, now_ms))
    }

    fn cursors_like(&self, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
        let prefix = prefix.to_string();
        self.call(move |db| sql::cursors_like(db, &prefix))
    }

    fn save_revision(
        &self,
        flow: &str,
        revision: &str,
        source: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let (flow, revision, source) = (flow.to_string(), revision.to_string(), source.to_string());
        self.call(move |db| sql::save_revision(db, &flow, &revision, &source, now_ms))
    }

    fn audit(&self, action: &str, detail: &str, now_ms: i64) -> Result<(), StoreError> {
        let (action, detail) = (action.to_string(), detail.to_string());
        self.call(move |db| sql::audit(db, &action, &detail, now_ms))
    }

    fn audit_log(&self, limit: usize) -> Result<Vec<(i64, String, String)>, StoreError> {
        self.call(move |db| sql::audit_log(db, limit))
    }
}

/// Make an empty database `name` on the server at `server` (a URL without a database, such
/// as `postgres://postgres@127.0.0.1:5432`, connecting to its `postgres` database), dropping
/// one left by an earlier run; returns the new database's URL. For tests and benchmarks.
/// Runs on a thread of its own, so it may be called from async code.
pub fn create_database(server: &str, name: &str) -> Result<String, StoreError> {
    check_name(name)?;
    let (admin, sql) = (with_database(server, "postgres"), name.to_string());
    on_own_thread(move || {
        let mut client = connect(&admin.parse()?)?;
        // Separate calls: these refuse to run inside one transaction.
        client.batch_execute(&format!("DROP DATABASE IF EXISTS {sql} WITH (FORCE)"))?;
        client.batch_execute(&format!("CREATE DATABASE {sql}"))?;
        Ok(())
    })?;
    Ok(with_database(server, name))
}

/// `server` (a URL without a database, perhaps with `?options`) naming database `name`.
fn with_database(server: &str, name: &str) -> String {
    match server.split_once('?') {
        Some((base, options)) => format!("{}/{name}?{options}", base.trim_end_matches('/')),
        None => format!("{}/{name}", server.trim_end_matches('/')),
    }
}

/// Drop the database `name` (see `create_database`), closing its connections.
pub fn drop_database(server: &str, name: &str) -> Result<(), StoreError> {
    check_name(name)?;
    let (admin, sql) = (with_database(server, "postgres"), name.to_string());
    on_own_thread(move || {
        let mut client = connect(&admin.parse()?)?;
        client.batch_execute(&format!("DROP DATABASE IF EXISTS {sql} WITH (FORCE)"))?;
        Ok(())
    })
}

fn check_name(name: &str) -> Result<(), StoreError> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(StoreError::Sql(format!(
            "`{name}`: a database name here is lowercase letters, digits and `_`"
        )));
    }
    Ok(())
}

fn on_own_thread(
    f: impl FnOnce() -> Result<(), StoreError> + Send + 'static,
) -> Result<(), StoreError> {
    std::thread::spawn(f).join().unwrap_or_else(|_| {
        Err(StoreError::Sql(
            "PostgreSQL: the admin thread failed".into(),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpq_verify_modes_mean_a_verified_tls_connection() {
        for mode in ["verify-full", "verify-ca", "require"] {
            let url = format!("postgres://u@db.internal/ll?sslmode={mode}");
            let config: postgres::Config = with_libpq_ssl_modes(&url).parse().unwrap();
            assert_eq!(
                config.get_ssl_mode(),
                postgres::config::SslMode::Require,
                "{mode}"
            );
        }
        let plain: postgres::Config = with_libpq_ssl_modes("postgres://u@h/ll").parse().unwrap();
        assert_eq!(plain.get_ssl_mode(), postgres::config::SslMode::Prefer);
    }
}
