//! LL013 duplicate-webhook-path: two flows listen on the same webhook path, so one of them
//! would never receive its events.

use super::{Rule, rule_code};
use crate::diag::Diagnostic;
use crate::lint::FlowCx;

use std::collections::HashMap;

rule_code!(
    "LL013",
    "duplicate-webhook-path",
    "two flows share a webhook path"
);

impl Rule for Check {
    fn code(&self) -> crate::diag::Code {
        CODE
    }

    fn check_set(&self, flows: &[FlowCx<'_>], out: &mut Vec<Diagnostic>) {
        let mut first: HashMap<String, &FlowCx<'_>> = HashMap::new();
        for cx in flows {
            // The stand-in for a missing path (reported as LL002 already) is no flow's path.
            let Some(w) = (cx.flow.trigger.webhook.as_ref())
                .filter(|w| w.path != crate::lint::MISSING_WEBHOOK_PATH)
            else {
                continue;
            };
            let path = w.path.trim_end_matches('/').to_string();
            match first.get(&path) {
                Some(other) => out.push(
                    cx.error(
                        CODE,
                        "/trigger/webhook/path",
                        format!(
                            "webhook path `{}` is also used by flow `{}`",
                            w.path, other.flow.flow
                        ),
                    )
                    .with_help(format!(
                        "defined in {}; give each flow its own path",
                        other.file
                    )),
                ),
                None => {
                    first.insert(path, cx);
                }
            }
        }
    }
}
