//! Sage Pro facade emulator (being built): `/api/*` resources over a SQLite ledger.

use super::clock::Clock;
use axum::Router;
use axum::routing::get;
use std::path::Path;
use std::sync::Arc;

/// Emulator state.
pub struct State {
    pub seed: u64,
    pub clock: Clock,
}

impl State {
    pub fn open(_db: Option<&Path>, seed: u64, clock: Clock) -> Result<Self, String> {
        Ok(State { seed, clock })
    }
}

pub fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/api/health", get(|| async { "ok" }))
        .with_state(state)
}
