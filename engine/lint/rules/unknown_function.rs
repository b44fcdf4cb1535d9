//! LL024 unknown-function: an expression or script calls a function or method that neither
//! the helper library, Rhai's standard library nor the script itself defines, or calls one
//! with a number of arguments it does not take. Rhai resolves calls only when they run, so
//! without this rule `mony(event.amount)` or `money(event.amount, 2, "USD")` passes lint and
//! fails every event at run time.
//!
//! A call of a pure helper whose arguments are all literals (`money("ten")`,
//! `add_days("2026-01-01", "3")`, `today("Pacific")`) fails or succeeds the same way for every
//! event, so the rule makes that one call, with the operation limits of any script, and reports
//! its error. This is the only evaluation lint does; helpers that read the profile (`lookup`,
//! `status_map`, `convert`) are not called.

use super::{Rule, rule_code};
use crate::diag::Diagnostic;
use crate::lint::FlowCx;
use rhai::{ASTNode, Dynamic, Expr};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

rule_code!(
    "LL024",
    "unknown-function",
    "a call names a function that does not exist, passes the wrong number of arguments, or passes literals the helper refuses"
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

/// Every function the runtime engine knows, by name, with the numbers of arguments its
/// overloads take: the helper library (bound to an empty profile: the names do not depend on
/// it) and Rhai's packages.
fn known() -> &'static BTreeMap<String, BTreeSet<usize>> {
    static KNOWN: OnceLock<BTreeMap<String, BTreeSet<usize>>> = OnceLock::new();
    KNOWN.get_or_init(|| {
        let env = std::sync::Arc::new(crate::script::helpers::HelperEnv::default());
        let mut known: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
        let functions = crate::script::runtime_engine(&env).collect_fn_metadata(
            None,
            |f| Some((f.metadata.name.to_string(), f.metadata.num_params)),
            true,
        );
        for (name, params) in functions {
            known.entry(name).or_default().insert(params);
        }
        known
    })
}

/// A call in a compiled expression: its name, how many arguments it passes (a method call
/// passes its object too) and where it is (line, column in the expression).
struct Call {
    name: String,
    args: usize,
    method: bool,
    line: usize,
    col: usize,
    /// The arguments when every one is a literal (a plain call only).
    literals: Option<Vec<Dynamic>>,
}

/// Helpers whose result depends on their arguments alone (and the clock): a call with literal
/// arguments is made at lint time.
const PURE_HELPERS: &[&str] = &[
    "money",
    "decimal",
    "round",
    "pacific_date",
    "sage_date",
    "paytrace_date",
    "to_iso",
    "format_date",
    "today",
    "days_between",
    "add_days",
    "mask",
    "last4",
];

/// The value of a literal argument.
fn literal(arg: &Expr) -> Option<Dynamic> {
    match arg {
        Expr::StringConstant(s, _) => Some(Dynamic::from(s.clone())),
        Expr::IntegerConstant(i, _) => Some(Dynamic::from_int(*i)),
        Expr::BoolConstant(b, _) => Some(Dynamic::from_bool(*b)),
        Expr::CharConstant(c, _) => Some(Dynamic::from_char(*c)),
        Expr::Unit(_) => Some(Dynamic::UNIT),
        _ => None,
    }
}

/// Why `name(args..)` fails, when it does: the helper's own message, or the argument types no
/// overload takes.
fn fails(name: &str, args: &[Dynamic]) -> Option<String> {
    static ENGINE: OnceLock<rhai::Engine> = OnceLock::new();
    let engine = ENGINE.get_or_init(|| {
        let env = std::sync::Arc::new(crate::script::helpers::HelperEnv::default());
        crate::script::runtime_engine(&env)
    });
    let mut scope = rhai::Scope::new();
    let mut names = Vec::new();
    for (i, v) in args.iter().enumerate() {
        let n = format!("arg{i}");
        scope.push_dynamic(n.clone(), v.clone());
        names.push(n);
    }
    let call = format!("{name}({})", names.join(", "));
    let err = engine.eval_with_scope::<Dynamic>(&mut scope, &call).err()?;
    let mut e = &*err;
    while let rhai::EvalAltResult::ErrorInFunctionCall(_, _, inner, _) = e {
        e = inner;
    }
    Some(match e {
        rhai::EvalAltResult::ErrorFunctionNotFound(..) => {
            let types: Vec<&str> = args.iter().map(Dynamic::type_name).collect();
            format!(
                "no `{name}` takes ({}): the call fails when it runs",
                types.join(", ")
            )
        }
        rhai::EvalAltResult::ErrorRuntime(v, _) => {
            format!("this call fails for every event: {v}")
        }
        other => format!("this call fails for every event: {other}"),
    })
}

/// The plain calls of `ast` (no operators, no module paths), function bodies included.
fn calls(ast: &rhai::AST) -> Vec<Call> {
    let mut found = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        let (call, pos, method) = match path.last() {
            Some(ASTNode::Expr(Expr::FnCall(x, pos))) => (x, *pos, false),
            Some(ASTNode::Expr(Expr::MethodCall(x, pos))) => (x, *pos, true),
            _ => return true,
        };
        if call.op_token.is_none() && call.namespace.is_empty() {
            found.push(Call {
                name: call.name.to_string(),
                args: call.args.len() + usize::from(method),
                method,
                line: pos.line().unwrap_or(0),
                col: pos.position().unwrap_or(0),
                literals: (!method)
                    .then(|| call.args.iter().map(literal).collect::<Option<Vec<_>>>())
                    .flatten(),
            });
        }
        true
    });
    found
}

/// "1 argument", "1 or 2 arguments", "0, 1 or 3 arguments".
fn counts(taken: &BTreeSet<usize>) -> String {
    let numbers: Vec<String> = taken.iter().map(usize::to_string).collect();
    let list = match numbers.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => "no".into(),
    };
    let noun = if taken.len() == 1 && taken.contains(&1) {
        "argument"
    } else {
        "arguments"
    };
    format!("{list} {noun}")
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
            let Ok(ast) = compiled else {
                continue; // LL007 / LL008
            };
            let defined = defined_in(expr.src);
            let ours = |name: &str| {
                defined.contains(name)
                    || KEYWORDS.contains(&name)
                    || expr.extra_vars.iter().any(|v| v == name)
            };
            for call in calls(ast) {
                if ours(&call.name) {
                    continue;
                }
                let span = cx.expr_span(expr, call.line, call.col, call.name.chars().count());
                let Some(taken) = known.get(&call.name) else {
                    let mut d = Diagnostic::error(
                        CODE,
                        cx.file,
                        span,
                        format!("no function `{}`: the call fails when it runs", call.name),
                    );
                    if let Some(near) =
                        crate::lint::context::closest(&call.name, known.keys().map(String::as_str))
                    {
                        d = d.with_help(format!("did you mean `{near}`?"));
                    }
                    out.push(d);
                    continue;
                };
                if taken.contains(&call.args) {
                    let failure = call
                        .literals
                        .as_deref()
                        .filter(|_| PURE_HELPERS.contains(&call.name.as_str()))
                        .and_then(|args| fails(&call.name, args));
                    if let Some(message) = failure {
                        // A literal may be card data: the message shows what the helper said.
                        let message = crate::pci::redact_text(&message).unwrap_or(message);
                        out.push(Diagnostic::error(CODE, cx.file, span, message));
                    }
                    continue;
                }
                // `obj.f(a)` calls the closure in `obj`'s property `f` when it has one, which
                // lint cannot see through: a map literal with a key of that name is trusted.
                if call.method && map_key_in(expr.src, &call.name) {
                    continue;
                }
                let message = if call.method {
                    // Counted as written: the value before the dot is not an argument there.
                    let after_dot: BTreeSet<usize> =
                        taken.iter().filter_map(|n| n.checked_sub(1)).collect();
                    format!(
                        "`.{}(..)` takes {} after the dot, not {}: the call fails when it runs",
                        call.name,
                        counts(&after_dot),
                        call.args - 1
                    )
                } else {
                    format!(
                        "`{}` takes {}, not {}: the call fails when it runs",
                        call.name,
                        counts(taken),
                        call.args
                    )
                };
                let mut d = Diagnostic::error(CODE, cx.file, span, message);
                if call.method {
                    d = d.with_help(format!(
                        "`x.{0}(a)` is `{0}(x, a)`: the value before the dot is the first argument",
                        call.name
                    ));
                }
                out.push(d);
            }
        }
    }
}

/// Whether `src` has a map literal (`#{ .. }`) with the key `name` (`name:` or `"name":`).
fn map_key_in(src: &str, name: &str) -> bool {
    if !src.contains("#{") {
        return false;
    }
    src.match_indices(name).any(|(at, _)| {
        let before = src[..at].chars().next_back();
        let after = src[at + name.len()..].trim_start_matches(['"', ' ', '\t']);
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
            && after.starts_with(':')
            && !after.starts_with("::")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_helper_library_and_rhai_functions_are_known() {
        for name in ["money", "lookup", "to_upper", "len", "contains", "round"] {
            assert!(known().contains_key(name), "{name}");
        }
        assert!(!known().contains_key("mony"));
    }

    #[test]
    fn definitions_and_variables_count_as_known() {
        let d = defined_in("fn fee(x) { x * 2 } let f = Fn(\"fee\"); const k = 1;");
        assert!(d.contains("fee") && d.contains("f") && d.contains("k"));
    }

    fn args_of(src: &str) -> Vec<(String, usize)> {
        let engine = crate::script::engine();
        let ast = crate::script::check(&engine, src, true, &[]).unwrap();
        calls(&ast).into_iter().map(|c| (c.name, c.args)).collect()
    }

    #[test]
    fn a_method_call_counts_its_object() {
        assert_eq!(
            args_of("let s = \"a\"; s.to_upper(); s.sub_string(1, 2)"),
            [("to_upper".to_string(), 1), ("sub_string".to_string(), 3)]
        );
        assert_eq!(args_of("len([1, 2])"), [("len".to_string(), 1)]);
        assert!(args_of("1 + 2").is_empty(), "operators are not calls");
    }

    #[test]
    fn a_map_key_holding_a_closure_is_trusted_as_a_method() {
        assert!(map_key_in(
            "let f = #{ money: |x| x }; f.money(1, 2)",
            "money"
        ));
        assert!(map_key_in("let f = #{ \"pad\" : |x| x }; f.pad(1)", "pad"));
        assert!(!map_key_in(
            "let f = #{ mymoney: 1 }; f.money(1, 2)",
            "money"
        ));
        assert!(!map_key_in("money(1, 2)", "money"));
    }

    #[test]
    fn a_pure_helper_with_literal_arguments_is_called() {
        let s = |v: &str| Dynamic::from(v.to_string());
        let money = fails("money", &[s("ten")]).unwrap();
        assert!(money.contains("`ten` is not a decimal amount"), "{money}");
        assert_eq!(fails("money", &[s("10.50")]), None);
        let types = fails("add_days", &[s("2026-01-01"), s("3")]).unwrap();
        assert!(
            types.starts_with("no `add_days` takes (string, string)"),
            "{types}"
        );
        assert_eq!(
            fails("add_days", &[s("2026-01-01"), Dynamic::from_int(3)]),
            None
        );
        assert!(fails("today", &[s("Mars/Olympus")]).is_some());
        let with_literals = |src: &str| -> Vec<Option<usize>> {
            let engine = crate::script::engine();
            let ast = crate::script::check(&engine, src, true, &[]).unwrap();
            calls(&ast)
                .iter()
                .map(|c| c.literals.as_ref().map(Vec::len))
                .collect()
        };
        assert_eq!(with_literals("money(\"1\")"), [Some(1)]);
        assert_eq!(with_literals("money(event.amount)"), [None]);
        assert_eq!(with_literals("now()"), [Some(0)]);
    }

    #[test]
    fn counts_read_as_english() {
        assert_eq!(counts(&BTreeSet::from([1])), "1 argument");
        assert_eq!(counts(&BTreeSet::from([1, 2])), "1 or 2 arguments");
        assert_eq!(counts(&BTreeSet::from([0, 1, 3])), "0, 1 or 3 arguments");
    }
}
