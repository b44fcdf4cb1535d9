//! The PostgreSQL store's tables, as numbered migrations applied in order and recorded in
//! `schema_migrations` (under an advisory lock, so engines starting together migrate once).
//! The same tables as the SQLite store (`store/schema.rs`) in their current shape: BIGINT for
//! every id, count and millisecond time, TEXT for JSON (kept exactly as the SQLite store keeps
//! it). Never edit a published migration: add the next one.

/// `(version, statements)`.
pub const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        r#"
CREATE TABLE events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    flow TEXT NOT NULL,
    event_key TEXT NOT NULL,
    body TEXT NOT NULL,
    received_ms BIGINT NOT NULL,
    UNIQUE (flow, event_key)
);
CREATE TABLE runs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id BIGINT NOT NULL REFERENCES events(id),
    flow TEXT NOT NULL,
    revision TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_ms BIGINT NOT NULL,
    lease_ms BIGINT NOT NULL DEFAULT 0,
    worker TEXT,
    ordering_key TEXT,
    step TEXT,
    reason TEXT,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE INDEX runs_due ON runs (state, next_ms);
CREATE INDEX runs_key_state ON runs (flow, ordering_key, state, id) WHERE ordering_key IS NOT NULL;
CREATE INDEX runs_queued ON runs (id) WHERE state = 'queued';
CREATE INDEX runs_running ON runs (id) WHERE state = 'running';
CREATE INDEX runs_event ON runs (event_id);
CREATE TABLE journal (
    run_id BIGINT NOT NULL REFERENCES runs(id),
    seq BIGINT NOT NULL,
    step TEXT NOT NULL,
    call TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    outcome TEXT,
    input TEXT NOT NULL,
    output TEXT NOT NULL,
    idempotency_key TEXT,
    started_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    history TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE idempotency (
    flow TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    result TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (flow, idem_key)
);
CREATE INDEX idempotency_created ON idempotency (created_ms);
CREATE TABLE cursors (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE TABLE dead_letters (
    run_id BIGINT PRIMARY KEY REFERENCES runs(id),
    flow TEXT NOT NULL,
    step TEXT NOT NULL,
    reason TEXT NOT NULL,
    revision TEXT NOT NULL,
    state TEXT NOT NULL,
    at_ms BIGINT NOT NULL
);
CREATE TABLE revisions (
    flow TEXT NOT NULL,
    revision TEXT NOT NULL,
    source TEXT NOT NULL,
    loaded_ms BIGINT NOT NULL,
    PRIMARY KEY (flow, revision)
);
CREATE TABLE audit (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
"#,
    ),
    (
        2,
        // Engines sharing the database say they are alive; the runs an engine left running
        // are taken over once it has been silent for its timeout.
        r#"
CREATE TABLE engines (
    id TEXT PRIMARY KEY,
    heartbeat_ms BIGINT NOT NULL,
    started_ms BIGINT NOT NULL
);
"#,
    ),
    (
        3,
        // Each engine is judged by its own timeout (it writes its heartbeat every sixth of
        // it), not by the timeout of the engine looking.
        r#"
ALTER TABLE engines ADD COLUMN timeout_ms BIGINT NOT NULL DEFAULT 30000;
"#,
    ),
    (
        4,
        // Work one engine does for all (a poll trigger's requests) goes to the engine holding
        // its lease.
        r#"
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until_ms BIGINT NOT NULL
);
"#,
    ),
];
