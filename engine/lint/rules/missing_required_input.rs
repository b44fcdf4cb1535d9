//! LL010 missing-required-input: a required input field of the called operation is never
//! mapped (checked when the input record is visible: a `with:` mapping or `with: steps.<map>`).

use super::{Rule, resolved_calls, rule_code};
use crate::diag::Diagnostic;
use crate::lint::FlowCx;

rule_code!(
    "LL010",
    "missing-required-input",
    "a required input field of a call is never mapped"
);

impl Rule for Check {
    fn code(&self) -> crate::diag::Code {
        CODE
    }

    fn check(&self, cx: &FlowCx<'_>, out: &mut Vec<Diagnostic>) {
        if let Some(p) = &cx.flow.trigger.poll
            && let Some((_, op)) = crate::connectors::operation(&p.operation)
        {
            let present: Vec<&str> = p.with.iter().flatten().map(|(k, _)| k.as_str()).collect();
            let props = op.input_properties();
            let unknown: Vec<&str> = present
                .iter()
                .copied()
                .filter(|k| props.is_some_and(|m| !m.contains_key(*k)))
                .collect();
            let missing: Vec<&str> = op
                .required_inputs()
                .into_iter()
                .filter(|r| !present.contains(r))
                .filter(|r| crate::lint::context::closest(r, unknown.iter().copied()).is_none())
                .collect();
            if !missing.is_empty() {
                let list = missing
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let at = if p.with.is_some() {
                    "/trigger/poll/with"
                } else {
                    "/trigger/poll/operation"
                };
                out.push(
                    cx.key_error(
                        CODE,
                        at,
                        format!(
                            "`{}` requires input {list}, not given in the poll `with:`",
                            p.operation
                        ),
                    )
                    .with_help(format!("add {list} under `trigger.poll.with`")),
                );
            }
        }
        for (at, op) in resolved_calls(cx) {
            let required = op.required_inputs();
            if required.is_empty() {
                continue;
            }
            let call = at.step.call.as_deref().unwrap_or_default();
            let (present, pointer): (Vec<&str>, String) =
                match super::unknown_input_field::call_input(cx, at) {
                    Some((map, base)) => (map.keys().map(String::as_str).collect(), base),
                    None if at.step.with.is_none() => (Vec::new(), format!("{}/call", at.pointer)),
                    None => continue, // an opaque expression: checked at run time
                };
            if at.step.kinds().len() > 1 {
                continue; // LL019 reports the step's shape first
            }
            // A misspelt field is reported once, by LL009 with its did-you-mean.
            let props = op.input_properties();
            let unknown: Vec<&str> = present
                .iter()
                .copied()
                .filter(|p| props.is_some_and(|m| !m.contains_key(*p)))
                .collect();
            let missing: Vec<&str> = required
                .into_iter()
                .filter(|r| !present.contains(r))
                .filter(|r| crate::lint::context::closest(r, unknown.iter().copied()).is_none())
                .collect();
            if missing.is_empty() {
                continue;
            }
            let list = missing
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let noun = if missing.len() == 1 {
                "field"
            } else {
                "fields"
            };
            out.push(
                cx.key_error(
                    CODE,
                    &pointer,
                    format!("`{call}` requires input {noun} {list}, not mapped"),
                )
                .with_help(format!("add {list} to the record sent to `{call}`")),
            );
        }
    }
}
