//! Triggers: what turns the outside world into durable events. `signature.rs` is the webhook
//! signature scheme (shared with the sandbox notifier, which signs what the webhook trigger in
//! `server/webhook.rs` verifies); `poll.rs` reads list operations on an interval with a durable
//! cursor. `schedule.rs` fires crontab schedules in time zones, each fire keyed by its instant. The
//! manual trigger is `ledgerlink send`.

pub mod poll;
pub mod schedule;
pub mod signature;
