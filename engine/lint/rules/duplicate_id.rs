//! LL005 duplicate-id: two steps in one flow (nested ones included), or two flows in the set,
//! share an id.

use super::{Rule, rule_code};
use crate::diag::Diagnostic;
use crate::lint::FlowCx;
use std::collections::HashMap;

rule_code!(
    "LL005",
    "duplicate-id",
    "a step id or flow id is used twice"
);

impl Rule for Check {
    fn code(&self) -> crate::diag::Code {
        CODE
    }

    fn check(&self, cx: &FlowCx<'_>, out: &mut Vec<Diagnostic>) {
        let mut first: HashMap<&str, usize> = HashMap::new();
        for at in &cx.steps {
            let id = at.step.id.as_str();
            let pointer = format!("{}/id", at.pointer);
            match first.get(id) {
                Some(line) => out.push(
                    cx.error(CODE, &pointer, format!("duplicate step id `{id}`"))
                        .with_help(format!(
                            "first defined on line {line}; step ids are unique in a flow"
                        )),
                ),
                None => {
                    let line = cx.index.span(&pointer).map_or(0, |s| s.line);
                    first.insert(id, line);
                }
            }
        }
    }

    fn check_set(&self, flows: &[FlowCx<'_>], out: &mut Vec<Diagnostic>) {
        let mut first: HashMap<&str, &FlowCx<'_>> = HashMap::new();
        for cx in flows {
            let id = cx.flow.flow.as_str();
            match first.get(id) {
                Some(other) => out.push(
                    cx.error(CODE, "/flow", format!("duplicate flow id `{id}`"))
                        .with_help(format!("also used by {}", other.file)),
                ),
                None => {
                    first.insert(id, cx);
                }
            }
        }
    }
}
