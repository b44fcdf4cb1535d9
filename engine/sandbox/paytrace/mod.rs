//! PayTrace v1 emulator (being built): OAuth password grant, transactions, vault, checks,
//! exports, batches, with PayTrace's response shapes and codes.

use super::clock::Clock;
use axum::Router;
use axum::routing::get;
use std::sync::Arc;

/// Emulator state.
pub struct State {
    pub seed: u64,
    pub clock: Clock,
}

impl State {
    pub fn new(seed: u64, clock: Clock) -> Self {
        State { seed, clock }
    }
}

pub fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/v1/ping", get(|| async { "pong" }))
        .with_state(state)
}
