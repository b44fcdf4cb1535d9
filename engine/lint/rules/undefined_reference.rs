//! LL007 undefined-reference: an expression reads a variable that is not in scope (strict
//! variables), or `steps.<id>` of a step that does not exist or has not run yet.

use super::{Rule, rule_code};
use crate::diag::Diagnostic;
use crate::lint::FlowCx;
use crate::lint::context::closest;
use crate::lint::tokens::{Token, scan};
use crate::script::FLOW_VARIABLES;

rule_code!(
    "LL007",
    "undefined-reference",
    "an expression reads something that is not defined"
);

/// Words and spaces only (`CC`, `Payment Failed`): probably meant as literal text.
fn looks_like_text(src: &str) -> bool {
    let t = src.trim();
    !t.is_empty()
        && !t.contains('.')
        && t.chars()
            .all(|c| c.is_alphanumeric() || c == ' ' || c == '-' || c == '_' || c == ',')
}

impl Rule for Check {
    fn code(&self) -> crate::diag::Code {
        CODE
    }

    fn check(&self, cx: &FlowCx<'_>, out: &mut Vec<Diagnostic>) {
        let ids = cx.step_ids();
        for (expr, result) in cx.exprs.iter().zip(&cx.compiled) {
            if let Err(e) = result
                && let Some(name) = &e.undefined_variable
            {
                let span = cx.expr_span(expr, e.line, e.col, name.chars().count());
                let vars = FLOW_VARIABLES
                    .iter()
                    .copied()
                    .chain(expr.extra_vars.iter().map(String::as_str));
                let scope: Vec<&str> = vars.collect();
                let d =
                    Diagnostic::error(CODE, cx.file, span, format!("undefined variable `{name}`"));
                let bare_text = e.line <= 1 && e.col <= 1 && looks_like_text(expr.src);
                out.push(match closest(name, scope.iter().copied()) {
                    Some(c) => d.with_help(format!("did you mean `{c}`?")),
                    None if bare_text => d.with_help(format!(
                        "values are Rhai expressions; for the text itself write '\"{}\"'",
                        expr.src.trim()
                    )),
                    None => d.with_help(format!("in scope here: {}", scope.join(", "))),
                });
            }
            // Steps that have run before this expression: those earlier in document order.
            let earlier = &ids[..expr.step.unwrap_or(0).min(ids.len())];
            for (tok, line, col) in scan(expr.src) {
                let Token::Path(parts) = tok else { continue };
                if parts.first().map(String::as_str) != Some("steps") {
                    continue;
                }
                let Some(id) = parts.get(1) else { continue };
                let len = 6 + id.chars().count();
                let span = cx.expr_span(expr, line, col, len);
                if !ids.contains(&id.as_str()) {
                    let d = Diagnostic::error(CODE, cx.file, span, format!("no step `{id}`"));
                    out.push(match closest(id, earlier.iter().copied()) {
                        Some(c) => d.with_help(format!("did you mean `steps.{c}`?")),
                        None => d.with_help("`steps.<id>` reads the output of an earlier step"),
                    });
                } else if !earlier.contains(&id.as_str()) {
                    out.push(
                        Diagnostic::error(
                            CODE,
                            cx.file,
                            span,
                            format!("step `{id}` has not run yet here"),
                        )
                        .with_help("a step can read only the outputs of steps before it"),
                    );
                }
            }
        }
    }
}
