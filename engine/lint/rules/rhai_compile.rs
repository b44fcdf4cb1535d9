//! LL008 rhai-compile: an expression or script does not compile; the position Rhai reports
//! inside the expression is mapped to the YAML file's line and column.

use super::{Rule, rule_code};
use crate::diag::Diagnostic;
use crate::lint::FlowCx;

rule_code!(
    "LL008",
    "rhai-compile",
    "a Rhai expression or script does not compile"
);

impl Rule for Check {
    fn code(&self) -> crate::diag::Code {
        CODE
    }

    fn check(&self, cx: &FlowCx<'_>, out: &mut Vec<Diagnostic>) {
        for (expr, result) in cx.exprs.iter().zip(&cx.compiled) {
            let Err(e) = result else { continue };
            if e.undefined_variable.is_some() {
                continue; // LL007
            }
            let span = cx.expr_span(expr, e.line, e.col, 1);
            let what = if expr.block { "script" } else { "expression" };
            let message = format!("{what} does not compile: {}", e.message.to_lowercase());
            let mut d = Diagnostic::error(CODE, cx.file, span, message);
            if expr.src.trim().is_empty() {
                d = d.with_help("write an expression; a literal string is written `'\"text\"'`");
            } else if looks_like_bare_text(expr.src) {
                d = d.with_help(format!(
                    "values are Rhai expressions; for the text itself write '\"{}\"'",
                    expr.src
                ));
            }
            out.push(d);
        }
    }
}

/// Words with spaces and no operators: probably meant as literal text.
fn looks_like_bare_text(src: &str) -> bool {
    src.contains(' ')
        && src
            .chars()
            .all(|c| c.is_alphanumeric() || c == ' ' || c == '-' || c == ',')
}
