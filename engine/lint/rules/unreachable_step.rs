//! LL015 unreachable-step: a step can never run, because the step before it always jumps away
//! (`goto`, `fail`, `dead_letter`, a `switch` whose every case jumps) and no route names it.

use super::{Rule, rule_code};
use crate::diag::Diagnostic;
use crate::lint::FlowCx;
use crate::model::Step;

rule_code!("LL015", "unreachable-step", "a step can never run");

/// Whether running `step` can go on to the next step in its list.
fn falls_through(step: &Step) -> bool {
    // A route to `continue` always lets the run reach the next step.
    let routes_continue = step.on.iter().flatten().any(|(_, t)| t == "continue")
        || step.on_error.as_ref().and_then(|o| o.then.as_deref()) == Some("continue");
    if routes_continue {
        return true;
    }
    if step.fail.is_some() || step.dead_letter.is_some() {
        return false;
    }
    if step.goto.as_deref().is_some_and(|g| g != "continue") {
        return false;
    }
    if let Some(cases) = &step.switch {
        let has_default = cases.iter().any(|c| c.when.is_none());
        let all_jump = cases
            .iter()
            .all(|c| c.goto.as_deref().is_some_and(|g| g != "continue"));
        if has_default && all_jump {
            return false;
        }
    }
    if step
        .on
        .as_ref()
        .is_some_and(|on| on.get("ok").is_some_and(|t| t != "continue"))
    {
        return false;
    }
    true
}

impl Rule for Check {
    fn code(&self) -> crate::diag::Code {
        CODE
    }

    fn check(&self, cx: &FlowCx<'_>, out: &mut Vec<Diagnostic>) {
        let targeted: Vec<&str> = super::unknown_step_target::targets(cx)
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        let mut lists: Vec<(String, &[Step])> =
            vec![("/steps".to_string(), cx.flow.steps.as_slice())];
        for at in &cx.steps {
            for (suffix, list) in at.step.children() {
                lists.push((format!("{}{suffix}", at.pointer), list));
            }
        }
        for (base, list) in lists {
            let mut reachable = true;
            let mut reported = false;
            for (i, step) in list.iter().enumerate() {
                if i > 0 {
                    let prev = &list[i - 1];
                    reachable =
                        (reachable && falls_through(prev)) || targeted.contains(&step.id.as_str());
                }
                if reachable {
                    reported = false;
                } else if !reported {
                    reported = true;
                    out.push(
                        cx.warning(
                            CODE,
                            &format!("{base}/{i}/id"),
                            format!("step `{}` can never run", step.id),
                        )
                        .with_help(format!(
                            "step `{}` before it always jumps away, and no route names `{}`",
                            list[i - 1].id,
                            step.id
                        )),
                    );
                }
            }
        }
    }
}
