//! The store's tables, as numbered migrations applied in order and recorded in
//! `schema_migrations`. The SQL sticks to what SQLite and PostgreSQL both accept (INTEGER
//! milliseconds for time, TEXT JSON), so a PostgreSQL store can run the same statements with
//! `BIGSERIAL` ids. Never edit a published migration: add the next one.

/// `(version, statements)`.
pub const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        r#"
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    flow TEXT NOT NULL,
    event_key TEXT NOT NULL,
    body TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    UNIQUE (flow, event_key)
);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    event_id INTEGER NOT NULL REFERENCES events(id),
    flow TEXT NOT NULL,
    revision TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_ms INTEGER NOT NULL,
    lease_ms INTEGER NOT NULL DEFAULT 0,
    worker TEXT,
    ordering_key TEXT,
    step TEXT,
    reason TEXT,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE INDEX runs_due ON runs (state, next_ms);
CREATE INDEX runs_order ON runs (flow, ordering_key, id);
CREATE TABLE journal (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    seq INTEGER NOT NULL,
    step TEXT NOT NULL,
    call TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    outcome TEXT,
    input TEXT NOT NULL,
    output TEXT NOT NULL,
    idempotency_key TEXT,
    started_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE idempotency (
    flow TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    result TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (flow, idem_key)
);
CREATE TABLE cursors (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE TABLE dead_letters (
    run_id INTEGER PRIMARY KEY REFERENCES runs(id),
    flow TEXT NOT NULL,
    step TEXT NOT NULL,
    reason TEXT NOT NULL,
    revision TEXT NOT NULL,
    state TEXT NOT NULL,
    at_ms INTEGER NOT NULL
);
CREATE TABLE revisions (
    flow TEXT NOT NULL,
    revision TEXT NOT NULL,
    source TEXT NOT NULL,
    loaded_ms INTEGER NOT NULL,
    PRIMARY KEY (flow, revision)
);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
"#,
    ),
    (
        2,
        // Claiming probes "an earlier unfinished run with this key": index the state too, so
        // a key with thousands of finished runs costs one seek, not a scan; queued runs are
        // claimed in id order straight from an index.
        r#"
DROP INDEX runs_order;
CREATE INDEX runs_key_state ON runs (flow, ordering_key, state, id);
CREATE INDEX runs_state_id ON runs (state, id);
"#,
    ),
    (
        3,
        // Every failed attempt of a call, not only the last, for `runs show` and dead letters.
        r#"
ALTER TABLE journal ADD COLUMN history TEXT NOT NULL DEFAULT '[]';
"#,
    ),
    (
        4,
        // Retention deletes an event after its run: the foreign key check looks up the
        // event's runs, which without this index is a scan of every run.
        r#"
CREATE INDEX runs_event ON runs (event_id);
"#,
    ),
    (
        5,
        // Fewer index entries per event (each is written with the run and again when its state
        // changes): only runs with an ordering key need `runs_key_state` (its lookups all
        // name a key, so SQLite still uses it).
        r#"
DROP INDEX runs_key_state;
CREATE INDEX runs_key_state ON runs (flow, ordering_key, state, id) WHERE ordering_key IS NOT NULL;
"#,
    ),
    (
        6,
        // Fewer pages written per commit. The claim queries' (state, id) index holds only
        // the runs they look for (queued, running): a run's entry is deleted when it ends
        // instead of moving to the ended end of a large index. The journal is keyed by
        // (run, call) with its rows in that one b-tree (no rowid table plus key index).
        r#"
DROP INDEX runs_state_id;
CREATE INDEX runs_queued ON runs (id) WHERE state = 'queued';
CREATE INDEX runs_running ON runs (id) WHERE state = 'running';
CREATE TABLE journal_keyed (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    seq INTEGER NOT NULL,
    step TEXT NOT NULL,
    call TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    outcome TEXT,
    input TEXT NOT NULL,
    output TEXT NOT NULL,
    idempotency_key TEXT,
    started_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    history TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
INSERT INTO journal_keyed SELECT run_id, seq, step, call, attempt, outcome, input, output,
    idempotency_key, started_ms, updated_ms, history FROM journal;
DROP TABLE journal;
ALTER TABLE journal_keyed RENAME TO journal;
"#,
    ),
];
