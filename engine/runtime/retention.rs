//! Retention: ended runs are removed from the store once they are older than the profile's
//! `runtime.retention` (default 90 days; `forever` keeps everything), with their event,
//! journal and closed dead letter, and so are idempotency results and audit entries of that
//! age. Runs still queued, running, waiting or dead-lettered are never removed. `ledgerlink run`
//! prunes shortly after it starts and then hourly, in batches so webhooks are not held up;
//! `ledgerlink runs prune` does it on demand.

use crate::store::{Pruned, StateStore, StoreError, now_ms};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Used when the profile names no retention.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(90 * 24 * 3600);

/// Runs removed per commit.
const BATCH: usize = 2000;

/// The profile's `runtime.retention` (or a command's option, named by `setting`): `None` keeps
/// everything (`forever`).
pub fn parse(text: Option<&str>, setting: &str) -> Result<Option<Duration>, String> {
    match text.map(str::trim) {
        None => Ok(Some(DEFAULT_RETENTION)),
        Some("forever") => Ok(None),
        Some(t) => match humantime::parse_duration(t) {
            Ok(d) if d >= Duration::from_secs(3600) => Ok(Some(d)),
            Ok(_) => Err(format!(
                "{setting} `{t}` is shorter than an hour; runs and the idempotency ledger would vanish before anyone could look at them"
            )),
            Err(_) => Err(format!(
                "{setting} `{t}` is not a duration: write one such as `90d` or `36h`, or `forever`"
            )),
        },
    }
}

/// A retention as a person writes it: `90d`, `36h` (humantime would say "2months 29days ...").
pub fn describe(keep: Duration) -> String {
    let s = keep.as_secs();
    match s {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        _ => humantime::format_duration(keep).to_string(),
    }
}

/// Everything older than `keep`, batch by batch.
pub fn prune_older_than(store: &dyn StateStore, keep: Duration) -> Result<Pruned, StoreError> {
    let before = now_ms() - i64::try_from(keep.as_millis()).unwrap_or(i64::MAX);
    let mut all = Pruned::default();
    loop {
        let pass = store.prune(before, BATCH)?;
        all.runs += pass.runs;
        all.ledger += pass.ledger;
        all.audit += pass.audit;
        if pass.runs < BATCH && pass.ledger < BATCH && pass.audit < BATCH {
            return Ok(all);
        }
    }
}

/// Prune a minute after start, then every `every`, until `stop`.
pub async fn watch(
    store: Arc<dyn StateStore>,
    keep: Duration,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut wait = Duration::from_secs(60).min(every);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        wait = every;
        let store = Arc::clone(&store);
        match tokio::task::spawn_blocking(move || prune_older_than(store.as_ref(), keep)).await {
            Ok(Ok(p)) if p.total() > 0 => tracing::info!(
                runs = p.runs,
                ledger = p.ledger,
                audit = p.audit,
                "retention: removed what is older than {}",
                describe(keep)
            ),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "retention: cannot prune the store"),
            Err(e) => tracing::error!(error = %e, "retention task failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_is_a_duration_or_forever() {
        assert_eq!(
            parse(None, "runtime.retention"),
            Ok(Some(DEFAULT_RETENTION))
        );
        assert_eq!(parse(Some("forever"), "runtime.retention"), Ok(None));
        assert_eq!(
            parse(Some("30d"), "runtime.retention"),
            Ok(Some(Duration::from_secs(30 * 86400)))
        );
        assert!(
            parse(Some("5m"), "runtime.retention")
                .unwrap_err()
                .contains("shorter than an hour")
        );
        assert!(
            parse(Some("soon"), "runtime.retention")
                .unwrap_err()
                .contains("`90d`")
        );
        assert_eq!(describe(DEFAULT_RETENTION), "90d");
        assert_eq!(describe(Duration::from_secs(36 * 3600)), "36h");
    }
}
