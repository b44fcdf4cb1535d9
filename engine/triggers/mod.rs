//! Triggers: what turns the outside world into durable events. `signature.rs` is the webhook
//! signature scheme (shared with the sandbox notifier, which signs what the webhook trigger in
//! `server/webhook.rs` verifies); `poll.rs` reads list operations on an interval with a durable
//! cursor. `schedule.rs` fires crontab schedules in time zones, each fire keyed by its instant. The
//! manual trigger is `ledgerlink send`.

pub mod poll;
pub mod schedule;
pub mod signature;

/// Run a store call from async code without stalling the runtime's other tasks while it
/// waits (a PostgreSQL store waits on the network, for seconds when the database is slow):
/// `block_in_place` on a multi-thread runtime (the engine's), directly on any other (tests).
pub(crate) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}
