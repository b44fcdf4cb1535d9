//! LL011 missing-idempotency-key: a call of an operation that is not idempotent by itself has
//! no `idempotency_key`, so a retry or a replay could post twice.

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
            if op.idempotent || at.step.idempotency_key.is_some() {
                continue;
            }
            let call = at.step.call.as_deref().unwrap_or_default();
            out.push(
                cx.error(CODE, &format!("{}/call", at.pointer), format!("`{call}` is not idempotent and this call has no `idempotency_key`"))
                    .with_help("add `idempotency_key:` built from the source record's id, e.g. `\"paytrace-sale-\" + event.transaction_id`, so a retry or replay never runs it twice"),
            );
        }
    }
}
