//! Sage Pro facade emulator: the `/api/*` REST facade Ledgerlink's `sagepro` connector talks to
//! (customers, invoices, orders, payments, journal entries, credit memos, GL accounts), over a
//! SQLite ledger shaped after the Sage Pro tables and seeded deterministically. Bearer tokens
//! with a short TTL, Idempotency-Key on every POST, RowVersion on every PUT, one error shape.
//! Documented in `docs/sandbox-sagepro.md`.

mod auth;
mod control;
mod creditmemos;
mod customers;
mod db;
mod error;
mod input;
mod invoice_totals;
mod invoices;
mod journal;
mod orders;
mod payment_request;
mod payments;
mod post;
mod query;
mod refunds;
mod seed;

use super::clock::Clock;
use axum::Router;
use axum::routing::{get, post};
use rusqlite::Connection;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

pub use auth::{CLIENT_ID, CLIENT_SECRET};
use error::ApiError;

/// Emulator state: the ledger connection, issued tokens and the emulator clock.
pub struct State {
    pub seed: u64,
    pub clock: Clock,
    db: Mutex<Connection>,
    tokens: Mutex<HashMap<String, chrono::DateTime<chrono::Utc>>>,
    token_seq: AtomicU64,
    /// Access-token lifetime in seconds (default 300).
    token_ttl: AtomicU64,
}

impl State {
    /// Open (or create) the ledger; `None` keeps it in memory. A new ledger is seeded.
    pub fn open(db: Option<&Path>, seed: u64, clock: Clock) -> Result<Self, String> {
        let conn = match db {
            Some(p) => Connection::open(p),
            None => Connection::open_in_memory(),
        }
        .map_err(|e| format!("cannot open Sage Pro ledger: {e}"))?;
        if db.is_some() {
            conn.pragma_update(None, "journal_mode", "WAL")
                .and_then(|_| conn.pragma_update(None, "synchronous", "NORMAL"))
                .map_err(|e| format!("cannot set WAL: {e}"))?;
        }
        db::create_schema(&conn).map_err(|e| format!("cannot create schema: {e}"))?;
        seed::seed_if_empty(&conn, seed, clock.now())
            .map_err(|e| format!("cannot seed: {}", e.message))?;
        Ok(State {
            seed,
            clock,
            db: Mutex::new(conn),
            tokens: Mutex::new(HashMap::new()),
            token_seq: AtomicU64::new(1),
            token_ttl: AtomicU64::new(auth::DEFAULT_TTL_S),
        })
    }

    /// Run `f` in one transaction, committed when it succeeds.
    pub(crate) fn tx<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        // A panic inside `f` (an arithmetic overflow on an extreme amount) must cost only its
        // own request: it is caught here, its transaction rolled back, and the lock is not
        // left poisoned for every later call.
        let mut conn = self
            .db
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let tx = conn.transaction()?;
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&tx))).map_err(|_| {
            ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "the request could not be processed (an amount out of range?); nothing was written",
            )
        })??;
        tx.commit()?;
        Ok(out)
    }

    pub(crate) fn now_stamp(&self) -> String {
        db::stamp(self.clock.now())
    }
}

/// The emulator's routes, state applied.
pub fn router(state: Arc<State>) -> Router {
    let api = Router::new()
        .route(
            "/api/customers",
            get(customers::list).post(customers::create),
        )
        .route(
            "/api/customers/{id}",
            get(customers::one).put(customers::update),
        )
        .route("/api/invoices", get(invoices::list).post(invoices::create))
        .route(
            "/api/invoices/{id}",
            get(invoices::one).put(invoices::update),
        )
        .route("/api/orders", get(orders::list).post(orders::create))
        .route("/api/orders/{id}", get(orders::one).put(orders::update))
        .route("/api/payments", get(payments::list).post(payments::create))
        .route("/api/payments/{id}", get(payments::one))
        .route(
            "/api/journalentries",
            get(journal::list).post(journal::create),
        )
        .route("/api/journalentries/{id}", get(journal::one))
        .route(
            "/api/creditmemos",
            get(creditmemos::list).post(creditmemos::create),
        )
        .route("/api/creditmemos/{id}", get(creditmemos::one))
        .route("/api/glaccounts", get(journal::accounts))
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            auth::require,
        ));
    Router::new()
        .route("/api/health", get(|| async { "ok" }))
        .route("/api/auth/token", post(auth::token))
        .merge(api)
        .merge(control::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(not_allowed)
        .with_state(state)
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found("RouteNotFound", format!("No route for {}.", uri.path()))
}

async fn not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        format!("{method} is not allowed on {}.", uri.path()),
    )
}
