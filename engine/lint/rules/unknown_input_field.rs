//! LL009 unknown-input-field: a `with:` field (or a field of the `map` step passed whole as
//! `with: steps.<id>`) is not in the operation's input schema; the help names the closest.

use super::{Rule, resolved_calls, rule_code};
use crate::diag::Diagnostic;
use crate::lint::FlowCx;
use crate::lint::context::closest;
use crate::lint::walk::StepAt;
use crate::load::escape;
use serde_json::{Map, Value};

rule_code!(
    "LL009",
    "unknown-input-field",
    "a call input field is not in the operation's schema"
);

/// The record a call sends, when lint can see it: the `with:` mapping, or the `map` of the
/// step named by `with: steps.<id>`. Returns the fields and the pointer they live under.
pub fn call_input<'a>(
    cx: &'a FlowCx<'a>,
    at: &StepAt<'a>,
) -> Option<(&'a Map<String, Value>, String)> {
    match &at.step.with {
        Some(Value::Object(map)) => Some((map, format!("{}/with", at.pointer))),
        Some(Value::String(src)) => {
            let id = src.trim().strip_prefix("steps.")?;
            if !id.chars().all(|c| c.is_alphanumeric() || c == '_') {
                return None;
            }
            let target = cx.steps.iter().find(|s| s.step.id == id)?;
            let map = target.step.map.as_ref()?;
            Some((map, format!("{}/map", target.pointer)))
        }
        _ => None,
    }
}

impl Rule for Check {
    fn code(&self) -> crate::diag::Code {
        CODE
    }

    fn check(&self, cx: &FlowCx<'_>, out: &mut Vec<Diagnostic>) {
        if let Some(p) = &cx.flow.trigger.poll
            && let (Some((_, op)), Some(with)) =
                (crate::connectors::operation(&p.operation), &p.with)
        {
            check_object(cx, &p.operation, with, &op.input, "/trigger/poll/with", out);
        }
        for (at, op) in resolved_calls(cx) {
            let Some((fields, base)) = call_input(cx, at) else {
                continue;
            };
            let call = at.step.call.as_deref().unwrap_or_default();
            check_object(cx, call, fields, &op.input, &base, out);
        }
    }
}

fn check_object(
    cx: &FlowCx<'_>,
    call: &str,
    fields: &Map<String, Value>,
    schema: &Value,
    base: &str,
    out: &mut Vec<Diagnostic>,
) {
    let props = schema.get("properties").and_then(Value::as_object);
    let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
    for (name, value) in fields {
        let pointer = format!("{base}/{}", escape(name));
        match props.and_then(|p| p.get(name)) {
            Some(sub) => match value {
                Value::Object(inner) => check_object(cx, call, inner, sub, &pointer, out),
                Value::Array(items) => {
                    let item_schema = sub.get("items").unwrap_or(&Value::Null);
                    for (i, item) in items.iter().enumerate() {
                        if let Value::Object(inner) = item {
                            let at = format!("{pointer}/{i}");
                            check_object(cx, call, inner, item_schema, &at, out);
                        }
                    }
                }
                _ => {}
            },
            None if closed => {
                let names = props.into_iter().flat_map(|p| p.keys().map(String::as_str));
                let d = cx.key_error(
                    CODE,
                    &pointer,
                    format!("`{call}` has no input field `{name}`"),
                );
                out.push(match closest(name, names) {
                    Some(c) => d.with_help(format!("did you mean `{c}`?")),
                    None => d.with_help(format!(
                        "see `ledgerlink schema --connector {}`",
                        connector(call)
                    )),
                });
            }
            None => {}
        }
    }
}

fn connector(call: &str) -> &str {
    call.split('.').next().unwrap_or(call)
}
