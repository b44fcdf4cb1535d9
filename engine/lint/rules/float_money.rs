//! LL016 float-money (warning): a money field gets a float literal or float arithmetic
//! (`to_float`, `parse_float`, `1.05`). Money is decimal: use `money("1.05")`.

use super::{Rule, rule_code};
use crate::diag::Diagnostic;
use crate::lint::FlowCx;
use crate::lint::tokens::{Token, scan};
use crate::lint::walk::{Role, literals};
use serde_json::Value;

rule_code!(
    "LL016",
    "float-money",
    "a money field is computed with floating point"
);

const MONEY_WORDS: &[&str] = &[
    "amount", "total", "price", "tax", "fee", "balance", "subtotal", "discount", "freight",
    "credit", "debit", "cost", "paid", "due",
];

/// Whether a field name reads like money (`Amount`, `TaxTotal`, `amount_paid`).
pub fn is_money_name(name: &str) -> bool {
    let last = name.rsplit('.').next().unwrap_or(name).to_lowercase();
    !last.contains("account")
        && !last.contains("date")
        && MONEY_WORDS.iter().any(|w| last.contains(w))
}

impl Rule for Check {
    fn code(&self) -> crate::diag::Code {
        CODE
    }

    fn check(&self, cx: &FlowCx<'_>, out: &mut Vec<Diagnostic>) {
        let help =
            "money is decimal: use `money(\"12.50\")` or `money(event.amount)`, never floats";
        for expr in &cx.exprs {
            if !matches!(expr.role, Role::MapField | Role::CallInput | Role::Script) {
                continue;
            }
            let field_is_money = expr.target.as_deref().is_some_and(is_money_name);
            for (tok, line, col) in scan(expr.src) {
                let (what, len) = match &tok {
                    Token::Float(f) if field_is_money => (format!("float literal `{f}`"), f.len()),
                    Token::Call(c) if c == "to_float" || c == "parse_float" => {
                        (format!("`{c}()`"), c.len())
                    }
                    _ => continue,
                };
                if !field_is_money && !expr_mentions_money(expr.src) {
                    continue;
                }
                let span = cx.expr_span(expr, line, col, len);
                let field = expr
                    .target
                    .as_deref()
                    .map(|t| format!(" in money field `{t}`"))
                    .unwrap_or_default();
                out.push(
                    Diagnostic::warning(CODE, cx.file, span, format!("{what}{field}"))
                        .with_help(help),
                );
            }
        }
        for at in &cx.steps {
            let sources = [
                ("map", at.step.map.as_ref()),
                ("with", at.step.with.as_ref().and_then(Value::as_object)),
            ];
            for (key, map) in sources {
                let Some(map) = map else { continue };
                let mut lits = Vec::new();
                for (k, v) in map {
                    literals(
                        v,
                        format!("{}/{key}/{}", at.pointer, crate::load::escape(k)),
                        k.clone(),
                        &mut lits,
                    );
                }
                for (pointer, target, value) in lits {
                    if value.as_number().is_some_and(|n| n.is_f64()) && is_money_name(&target) {
                        out.push(
                            cx.warning(
                                CODE,
                                &pointer,
                                format!("float literal in money field `{target}`"),
                            )
                            .with_help(format!(
                                "write it as a decimal string expression: `'money(\"{value}\")'`"
                            )),
                        );
                    }
                }
            }
        }
    }
}

fn expr_mentions_money(src: &str) -> bool {
    scan(src).iter().any(|(t, _, _)| match t {
        Token::Call(c) => c == "money",
        Token::Path(p) => p.last().is_some_and(|l| is_money_name(l)),
        _ => false,
    })
}
