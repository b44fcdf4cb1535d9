//! LL024 unknown-function: an expression or script calls a function or method that neither
//! the helper library, Rhai's standard library nor the script itself defines. Rhai resolves
//! calls only when they run, so without this rule `mony(event.amount)` passes lint and fails
//! every event at run time.

use super::{Rule, rule_code};
use crate::diag::Diagnostic;
use crate::lint::FlowCx;
use crate::lint::tokens::{Token, scan};
use std::collections::BTreeSet;
use std::sync::OnceLock;

rule_code!(
    "LL024",
    "unknown-function",
    "a call names a function that does not exist"
);

/// Words Rhai reads as calls that are not functions in any library.
const KEYWORDS: &[&str] = &[
    "if",
    "while",
    "for",
    "loop",
    "switch",
    "return",
    "throw",
    "try",
    "catch",
    "fn",
    "let",
    "const",
    "in",
    "import",
    "export",
    "this",
    "Fn",
    "call",
    "curry",
    "type_of",
    "print",
    "debug",
    "is_def_var",
    "is_def_fn",
    "is_shared",
    "eval",
    "global",
];

/// Every function name the runtime engine knows: the helper library (bound to an empty
/// profile: the names do not depend on it) and Rhai's packages.
fn known() -> &'static BTreeSet<String> {
    static KNOWN: OnceLock<BTreeSet<String>> = OnceLock::new();
    KNOWN.get_or_init(|| {
        let env = std::sync::Arc::new(crate::script::helpers::HelperEnv::default());
        crate::script::runtime_engine(&env)
            .collect_fn_metadata(None, |f| Some(f.metadata.name.to_string()), true)
            .into_iter()
            .collect()
    })
}

/// Names the source itself gives a meaning: `fn name(` definitions and `let name` /
/// `const name` variables (a variable may hold a function pointer called as `name(..)`).
fn defined_in(src: &str) -> BTreeSet<String> {
    let words: Vec<&str> = src
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    words
        .windows(2)
        .filter(|w| matches!(w[0], "fn" | "let" | "const"))
        .map(|w| w[1].to_string())
        .collect()
}

impl Rule for Check {
    fn code(&self) -> crate::diag::Code {
        CODE
    }

    fn check(&self, cx: &FlowCx<'_>, out: &mut Vec<Diagnostic>) {
        let known = known();
        for (expr, compiled) in cx.exprs.iter().zip(&cx.compiled) {
            if compiled.is_err() {
                continue; // LL007 / LL008
            }
            let defined = defined_in(expr.src);
            for (token, line, col) in scan(expr.src) {
                let Token::Call(name) = token else { continue };
                if known.contains(&name)
                    || defined.contains(&name)
                    || KEYWORDS.contains(&name.as_str())
                    || expr.extra_vars.iter().any(|v| v == &name)
                {
                    continue;
                }
                let span = cx.expr_span(expr, line, col, name.chars().count());
                let mut d = Diagnostic::error(
                    CODE,
                    cx.file,
                    span,
                    format!("no function `{name}`: the call fails when it runs"),
                );
                if let Some(near) =
                    crate::lint::context::closest(&name, known.iter().map(String::as_str))
                {
                    d = d.with_help(format!("did you mean `{near}`?"));
                }
                out.push(d);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_helper_library_and_rhai_functions_are_known() {
        for name in ["money", "lookup", "to_upper", "len", "contains", "round"] {
            assert!(known().contains(name), "{name}");
        }
        assert!(!known().contains("mony"));
    }

    #[test]
    fn definitions_and_variables_count_as_known() {
        let d = defined_in("fn fee(x) { x * 2 } let f = Fn(\"fee\"); const k = 1;");
        assert!(d.contains("fee") && d.contains("f") && d.contains("k"));
    }
}
