//! LL020 unknown-outcome: an `on:` route names an outcome the called operation never produces
//! (or that does not exist), so the route is dead.

use super::{Rule, resolved_calls, rule_code};
use crate::connectors::OUTCOMES;
use crate::diag::Diagnostic;
use crate::lint::FlowCx;
use crate::lint::context::closest;
use crate::load::escape;

rule_code!(
    "LL020",
    "unknown-outcome",
    "a route names an outcome the operation never produces"
);

impl Rule for Check {
    fn code(&self) -> crate::diag::Code {
        CODE
    }

    fn check(&self, cx: &FlowCx<'_>, out: &mut Vec<Diagnostic>) {
        for at in &cx.steps {
            let Some(on) = &at.step.on else { continue };
            if at.step.call.is_none() {
                continue; // LL019 reports `on` without `call`
            }
            for outcome in on.keys() {
                if OUTCOMES.contains(&outcome.as_str()) {
                    continue;
                }
                let pointer = format!("{}/on/{}", at.pointer, escape(outcome));
                let d = cx.key_error(CODE, &pointer, format!("unknown outcome `{outcome}`"));
                out.push(match closest(outcome, OUTCOMES.iter().copied()) {
                    Some(c) => d.with_help(format!("did you mean `{c}`?")),
                    None => d.with_help(format!("outcomes: {}", OUTCOMES.join(", "))),
                });
            }
        }
        for (at, op) in resolved_calls(cx) {
            let Some(on) = &at.step.on else { continue };
            let call = at.step.call.as_deref().unwrap_or_default();
            for outcome in on.keys() {
                let known = OUTCOMES.contains(&outcome.as_str());
                let produced = op.outcomes.iter().any(|o| o == outcome)
                    || outcome == "ok"
                    || outcome == "error";
                if known && !produced {
                    let pointer = format!("{}/on/{}", at.pointer, escape(outcome));
                    out.push(
                        Diagnostic::warning(
                            CODE,
                            cx.file,
                            cx.index.key_span(&pointer),
                            format!("`{call}` never ends in `{outcome}`"),
                        )
                        .with_help(format!("its outcomes: {}", op.outcomes.join(", "))),
                    );
                }
            }
        }
    }
}
