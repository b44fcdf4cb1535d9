//! LL014 retry-out-of-bounds: a retry policy outside sane bounds (1 to 20 attempts, first
//! delay at least 10ms, no delay over 1h, `backoff` not above `max_delay`).

use super::{Rule, rule_code};
use crate::diag::Diagnostic;
use crate::lint::FlowCx;
use crate::model::Retry;
use std::time::Duration;

rule_code!(
    "LL014",
    "retry-out-of-bounds",
    "a retry policy is outside the allowed bounds"
);

pub const MAX_ATTEMPTS: u32 = 20;
pub const MIN_BACKOFF: Duration = Duration::from_millis(10);
pub const MAX_DELAY: Duration = Duration::from_secs(3600);

/// Every retry policy in a flow with its pointer.
pub fn retries<'a>(cx: &'a FlowCx<'a>) -> Vec<(String, &'a Retry)> {
    let mut out = Vec::new();
    if let Some(r) = cx.flow.on_error.as_ref().and_then(|o| o.retry.as_ref()) {
        out.push(("/on_error/retry".to_string(), r));
    }
    for at in &cx.steps {
        if let Some(r) = &at.step.retry {
            out.push((format!("{}/retry", at.pointer), r));
        }
        if let Some(r) = at.step.on_error.as_ref().and_then(|o| o.retry.as_ref()) {
            out.push((format!("{}/on_error/retry", at.pointer), r));
        }
    }
    out
}

impl Rule for Check {
    fn code(&self) -> crate::diag::Code {
        CODE
    }

    fn check(&self, cx: &FlowCx<'_>, out: &mut Vec<Diagnostic>) {
        use super::invalid_duration::parse;
        for (pointer, r) in retries(cx) {
            if r.attempts == 0 || r.attempts > MAX_ATTEMPTS {
                out.push(
                    cx.error(CODE, &format!("{pointer}/attempts"), format!("{} attempts is out of bounds", r.attempts))
                        .with_help(format!("attempts counts the first try: 1 to {MAX_ATTEMPTS}; failures past that go to the dead-letter queue")),
                );
            }
            let backoff = r.backoff.as_deref().and_then(parse);
            let max = r.max_delay.as_deref().and_then(parse);
            if let Some(b) = backoff {
                if b < MIN_BACKOFF {
                    out.push(
                        cx.error(CODE, &format!("{pointer}/backoff"), "backoff under 10ms")
                            .with_help("a remote that failed needs time; start at 10ms or more"),
                    );
                }
                if b > MAX_DELAY {
                    out.push(
                        cx.error(CODE, &format!("{pointer}/backoff"), "backoff over 1h")
                            .with_help(
                                "events wait in the queue meanwhile; keep delays at 1h or less",
                            ),
                    );
                }
            }
            if let Some(m) = max {
                if m > MAX_DELAY {
                    out.push(
                        cx.error(CODE, &format!("{pointer}/max_delay"), "max_delay over 1h")
                            .with_help(
                                "events wait in the queue meanwhile; keep delays at 1h or less",
                            ),
                    );
                }
                if backoff.is_some_and(|b| b > m) {
                    out.push(
                        cx.error(
                            CODE,
                            &format!("{pointer}/max_delay"),
                            "max_delay is shorter than backoff",
                        )
                        .with_help("max_delay caps the growing delay; make it at least backoff"),
                    );
                }
            }
        }
    }
}
