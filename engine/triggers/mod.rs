//! Triggers: what turns the outside world into durable events. Today this holds the webhook
//! signature scheme (shared with the sandbox notifier, which signs what the webhook trigger
//! verifies); the webhook, schedule, poll and manual triggers join it with the `run` issue.

pub mod signature;
