//! Triggers: what turns the outside world into durable events. `signature.rs` is the webhook
//! signature scheme (shared with the sandbox notifier, which signs what the webhook trigger in
//! `server/webhook.rs` verifies); `poll.rs` reads list operations on an interval with a durable
//! cursor. The manual trigger is `ledgerlink send`; the schedule trigger is not built yet.

pub mod poll;
pub mod signature;
