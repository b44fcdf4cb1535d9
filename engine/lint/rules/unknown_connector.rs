//! LL003 unknown-connector: a `call` or poll `operation` names a connector that is not
//! registered.

use super::{Rule, rule_code};
use crate::connectors::{REGISTRY, catalog};
use crate::diag::Diagnostic;
use crate::lint::FlowCx;
use crate::lint::context::closest;

rule_code!(
    "LL003",
    "unknown-connector",
    "a call names a connector that does not exist"
);

/// Every `connector.operation` reference in a flow with its pointer.
pub fn operation_refs<'a>(cx: &'a FlowCx<'a>) -> Vec<(String, &'a str)> {
    let mut refs: Vec<(String, &str)> = cx
        .steps
        .iter()
        .filter_map(|at| {
            at.step
                .call
                .as_deref()
                .map(|c| (format!("{}/call", at.pointer), c))
        })
        .collect();
    if let Some(p) = &cx.flow.trigger.poll {
        refs.insert(0, ("/trigger/poll/operation".into(), &p.operation));
    }
    refs
}

impl Rule for Check {
    fn code(&self) -> crate::diag::Code {
        CODE
    }

    fn check(&self, cx: &FlowCx<'_>, out: &mut Vec<Diagnostic>) {
        for (pointer, qualified) in operation_refs(cx) {
            let Some((connector, _)) = qualified.split_once('.') else {
                out.push(
                    cx.error(
                        CODE,
                        &pointer,
                        format!("`{qualified}` is not `connector.operation`"),
                    )
                    .with_help("for example `sagepro.create_payment`"),
                );
                continue;
            };
            if catalog(connector).is_none() {
                let names = REGISTRY.iter().map(|r| r.name);
                let mut d = cx.error(CODE, &pointer, format!("unknown connector `{connector}`"));
                d = match closest(connector, names) {
                    Some(c) => d.with_help(format!("did you mean `{c}`?")),
                    None => d.with_help(format!(
                        "connectors: {}",
                        REGISTRY
                            .iter()
                            .map(|r| r.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                };
                out.push(d);
            }
        }
    }
}
