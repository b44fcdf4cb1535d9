//! LL011 missing-idempotency-key: a call of an operation that is not idempotent by itself has
//! no `idempotency_key`, so a retry or a replay could post twice (error); a Sage Pro write has
//! none, so only a natural key would stop a double post after a lost response (warning).

use super::{Rule, resolved_calls, rule_code};
use crate::diag::Diagnostic;
use crate::lint::FlowCx;

rule_code!(
    "LL011",
    "missing-idempotency-key",
    "a non-idempotent call has no idempotency key"
);

impl Rule for Check {
    fn code(&self) -> crate::diag::Code {
        CODE
    }

    fn check(&self, cx: &FlowCx<'_>, out: &mut Vec<Diagnostic>) {
        for (at, op) in resolved_calls(cx) {
            if at.step.idempotency_key.is_some() {
                continue;
            }
            let call = at.step.call.as_deref().unwrap_or_default();
            if op.idempotent && op.writes && call.starts_with("sagepro.") {
                // Sage Pro dedupes on the Idempotency-Key header; without one only a natural key
                // (PaymentReference, CustomerID) protects against a lost response + retry.
                out.push(
                    cx.warning(CODE, &format!("{}/call", at.pointer), format!("`{call}` writes without an `idempotency_key`"))
                        .with_help("add `idempotency_key:` from the source record's id; if a response is lost and the call is retried, Sage Pro then returns the first result instead of posting twice"),
                );
                continue;
            }
            if op.idempotent {
                continue;
            }
            out.push(
                cx.error(CODE, &format!("{}/call", at.pointer), format!("`{call}` is not idempotent and this call has no `idempotency_key`"))
                    .with_help("add `idempotency_key:` built from the source record's id, e.g. `\"paytrace-sale-\" + event.transaction_id`, so a retry or replay never runs it twice"),
            );
        }
    }
}
