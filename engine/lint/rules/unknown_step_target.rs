//! LL006 unknown-step-target: a `goto`, an `on:` route, a switch case or an `on_error.then`
//! names a step that does not exist (and is not `continue`, `dead_letter`, `fail` or
//! `complete`).

use super::{Rule, rule_code};
use crate::diag::Diagnostic;
use crate::lint::FlowCx;
use crate::lint::context::closest;
use crate::model::RESERVED_TARGETS;

rule_code!(
    "LL006",
    "unknown-step-target",
    "a route names a step that does not exist"
);

/// Every route target in the flow: (pointer, target).
pub fn targets<'a>(cx: &'a FlowCx<'a>) -> Vec<(String, &'a str)> {
    let mut out = Vec::new();
    if let Some(t) = cx.flow.on_error.as_ref().and_then(|o| o.then.as_deref()) {
        out.push(("/on_error/then".to_string(), t));
    }
    for at in &cx.steps {
        let s = at.step;
        let p = &at.pointer;
        if let Some(g) = &s.goto {
            out.push((format!("{p}/goto"), g.as_str()));
        }
        if let Some(t) = s.on_error.as_ref().and_then(|o| o.then.as_deref()) {
            out.push((format!("{p}/on_error/then"), t));
        }
        for (outcome, target) in s.on.iter().flatten() {
            out.push((
                format!("{p}/on/{}", crate::load::escape(outcome)),
                target.as_str(),
            ));
        }
        for (i, case) in s.switch.iter().flatten().enumerate() {
            if let Some(g) = &case.goto {
                out.push((format!("{p}/switch/{i}/goto"), g.as_str()));
            }
        }
    }
    out
}

impl Rule for Check {
    fn code(&self) -> crate::diag::Code {
        CODE
    }

    fn check(&self, cx: &FlowCx<'_>, out: &mut Vec<Diagnostic>) {
        let ids = cx.step_ids();
        for (pointer, target) in targets(cx) {
            if RESERVED_TARGETS.contains(&target) || ids.contains(&target) {
                continue;
            }
            let d = cx.error(CODE, &pointer, format!("no step `{target}` to go to"));
            let candidates = ids.iter().copied().chain(RESERVED_TARGETS.iter().copied());
            out.push(match closest(target, candidates) {
                Some(c) => d.with_help(format!("did you mean `{c}`?")),
                None => {
                    d.with_help("name a step id, or `continue`, `dead_letter`, `fail`, `complete`")
                }
            });
        }
    }
}
