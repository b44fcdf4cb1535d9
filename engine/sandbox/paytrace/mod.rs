//! PayTrace v1 emulator: OAuth password grant, card transactions (sale, authorization, capture,
//! void, refund), customer vault, ACH checks, exports, settlement batches, Level 3 and the
//! Protect.js token stub, with PayTrace's response shapes, codes and error envelope. Every
//! method but `/v1/ping` and `/oauth/token` needs a bearer token. State lives in memory behind
//! one lock; ids come from a seeded generator, time from the sandbox clock. Control routes live
//! under `/_sandbox/paytrace/`. Documented in `docs/sandbox-paytrace.md`.
//!
//! Card numbers, security codes and bank account numbers are looked at while a request is
//! handled and never stored: only masked numbers, expiry dates and trigger flags are kept.

mod auth;
mod batches;
mod cards;
mod checks;
mod control;
mod export;
mod extras;
mod input;
mod manage;
mod model;
mod reply;
mod triggers;
mod vault;

use super::clock::Clock;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use std::sync::{Arc, Mutex, MutexGuard};

pub use model::Config;

/// The sandbox credentials (`/oauth/token` with `grant_type=password`).
pub const USERNAME: &str = "ledgerlink";
pub const PASSWORD: &str = "sandbox";

/// Largest request body accepted; larger ones get the error envelope with HTTP 413.
const BODY_LIMIT: usize = 256 * 1024;

/// Emulator state.
pub struct State {
    pub seed: u64,
    pub clock: Clock,
    inner: Mutex<model::Inner>,
}

impl State {
    pub fn new(seed: u64, clock: Clock) -> Self {
        State {
            seed,
            clock,
            inner: Mutex::new(model::Inner::new(seed)),
        }
    }

    /// The data, locked. Handlers hold the lock only while they compute a reply (never across
    /// an await). A poisoned lock is still usable: every change is completed before unlocking.
    fn lock(&self) -> MutexGuard<'_, model::Inner> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        batches::close_if_due(&mut inner, self.clock.now());
        inner
    }

    /// Export records of the transactions with an id above `after`, oldest first: what the
    /// notifier announces. Masked card numbers only.
    pub fn transactions_after(&self, after: u64) -> Vec<(u64, serde_json::Value)> {
        let inner = self.lock();
        inner
            .txns
            .range(after.saturating_add(1)..)
            .map(|(id, t)| (*id, export::record(t, false)))
            .collect()
    }

    /// The current settings.
    pub fn config(&self) -> Config {
        self.lock().cfg.clone()
    }
}

/// The emulator's routes, state applied.
pub fn router(state: Arc<State>) -> Router {
    let api = Router::new()
        .route(
            "/v1/transactions/sale/keyed",
            cards::route(cards::sale_keyed),
        )
        .route(
            "/v1/transactions/sale/by_customer",
            cards::route(cards::sale_by_customer),
        )
        .route(
            "/v1/transactions/sale/swiped",
            cards::route(extras::sale_swiped),
        )
        .route(
            "/v1/transactions/sale/pt_protect",
            cards::route(cards::sale_pt_protect),
        )
        .route(
            "/v1/transactions/authorization/keyed",
            cards::route(cards::auth_keyed),
        )
        .route(
            "/v1/transactions/authorization/by_customer",
            cards::route(cards::auth_by_customer),
        )
        .route(
            "/v1/transactions/authorization/capture",
            cards::route(manage::capture),
        )
        .route("/v1/transactions/void", cards::route(manage::void))
        .route(
            "/v1/transactions/refund/for_transaction",
            cards::route(manage::refund),
        )
        .route(
            "/v1/transactions/refund/keyed",
            cards::route(cards::refund_keyed),
        )
        .route("/v1/transactions/export/by_id", cards::route(export::by_id))
        .route(
            "/v1/transactions/export/by_date_range",
            cards::route(export::by_date_range),
        )
        .route("/v1/batches/export_one", cards::route(batches::export_one))
        .route("/v1/batches/export", cards::route(batches::export))
        .route(
            "/v1/batches/transaction_list",
            cards::route(batches::transaction_list),
        )
        .route("/v1/customer/create", cards::route(vault::create))
        .route(
            "/v1/customer/create_from_transaction",
            cards::route(vault::create_from_transaction),
        )
        .route(
            "/v1/customer/pt_protect_create",
            cards::route(vault::pt_protect_create),
        )
        .route("/v1/customer/update", cards::route(vault::update))
        .route("/v1/customer/delete", cards::route(vault::delete))
        .route("/v1/customer/export", cards::route(vault::export))
        .route(
            "/v1/checks/sale/by_account",
            cards::route(checks::sale_by_account),
        )
        .route(
            "/v1/checks/sale/by_customer",
            cards::route(checks::sale_by_customer),
        )
        .route(
            "/v1/checks/hold/by_account",
            cards::route(checks::hold_by_account),
        )
        .route(
            "/v1/checks/hold/by_customer",
            cards::route(checks::hold_by_customer),
        )
        .route("/v1/checks/manage/fund", cards::route(checks::fund))
        .route("/v1/checks/manage/void", cards::route(checks::void))
        .route(
            "/v1/checks/refund/by_transaction",
            cards::route(checks::refund),
        )
        .route(
            "/v1/level_three/visa",
            cards::route(extras::level_three_visa),
        )
        .route(
            "/v1/level_three/mastercard",
            cards::route(extras::level_three_mastercard),
        )
        .route(
            "/v1/payment_fields/token/create",
            cards::route(extras::payment_fields_token),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            auth::require_token,
        ));
    Router::new()
        .route("/v1/ping", get(auth::ping))
        .route("/oauth/token", axum::routing::post(auth::token))
        .merge(api)
        .merge(control::routes())
        .fallback(reply::not_found)
        .method_not_allowed_fallback(reply::not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}
