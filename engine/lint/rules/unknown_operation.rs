//! LL004 unknown-operation: the connector exists but has no operation of that name; the help
//! names the closest one.

use super::{Rule, rule_code};
use crate::connectors::catalog;
use crate::diag::Diagnostic;
use crate::lint::FlowCx;
use crate::lint::context::closest;

rule_code!(
    "LL004",
    "unknown-operation",
    "a call names an operation its connector does not have"
);

impl Rule for Check {
    fn code(&self) -> crate::diag::Code {
        CODE
    }

    fn check(&self, cx: &FlowCx<'_>, out: &mut Vec<Diagnostic>) {
        for (pointer, qualified) in super::unknown_connector::operation_refs(cx) {
            let Some((connector, op)) = qualified.split_once('.') else {
                continue;
            };
            let Some(cat) = catalog(connector) else {
                continue;
            };
            if cat.operation(op).is_some() {
                continue;
            }
            let names = cat.operations.iter().map(|o| o.name.as_str());
            let d = cx.error(
                CODE,
                &pointer,
                format!("connector `{connector}` has no operation `{op}`"),
            );
            out.push(match closest(op, names) {
                Some(c) => d.with_help(format!("did you mean `{connector}.{c}`?")),
                None => d.with_help(format!("see `ledgerlink schema --connector {connector}`")),
            });
        }
    }
}
