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
            // An empty path stands in for a missing one (reported as LL002 already).
            let Some(w) = cx
                .flow
                .trigger
                .webhook
                .as_ref()
                .filter(|w| !w.path.is_empty())
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
