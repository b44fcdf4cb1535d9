//! LL017 pci-card-data: a card number, CVV or track field (by name, or a literal that passes
//! the Luhn check) flows into something that is written down: a Sage Pro or other non-PayTrace
//! call, a `map` or `script` output (run records are stored), an alert, a reason, a key.
//! Card data may only travel into PayTrace operations' card fields.

use super::{Rule, rule_code};
use crate::diag::Diagnostic;
use crate::lint::FlowCx;
use crate::lint::tokens::{Token, scan};
use crate::lint::walk::{Expr, Role, literals};
use crate::pci::{card_field, card_number_in, is_card_number, mask};
use serde_json::Value;

rule_code!(
    "LL017",
    "pci-card-data",
    "card data would reach the ERP, a log, an alert or the store"
);

/// Where an expression's value ends up, when that place keeps data.
fn sink(cx: &FlowCx<'_>, expr: &Expr<'_>) -> Option<String> {
    let step = expr.step.and_then(|n| cx.steps.get(n)).map(|at| at.step);
    match expr.role {
        Role::MapField => Some("a `map` output, which is kept in the run record".into()),
        Role::Script => Some("a `script` output, which is kept in the run record".into()),
        Role::AlertMessage => Some("an alert".into()),
        Role::Reason => Some("a failure reason, which is logged and stored".into()),
        Role::Key => Some("a key, which is stored".into()),
        Role::CallInput => {
            let call = step.and_then(|s| s.call.as_deref()).unwrap_or_default();
            if !call.starts_with("paytrace.") {
                return Some(format!("the input of `{call}`"));
            }
            let target = expr.target.as_deref().unwrap_or_default();
            let op = crate::connectors::operation(call).map(|(_, op)| op)?;
            (!is_card_input(&op.input, target))
                .then(|| format!("`{target}` of `{call}`, which is not a card field"))
        }
        _ => None,
    }
}

/// Whether the dotted input field `target` (or a parent of it) is marked `x-card-data`.
fn is_card_input(schema: &Value, target: &str) -> bool {
    let mut node = schema;
    for part in target.split('.') {
        match node.get("properties").and_then(|p| p.get(part)) {
            Some(sub) => {
                node = sub
                    .get("items")
                    .filter(|_| sub.get("properties").is_none())
                    .unwrap_or(sub)
            }
            None => return false,
        }
        if node.get("x-card-data") == Some(&Value::Bool(true)) {
            return true;
        }
    }
    false
}

impl Rule for Check {
    fn code(&self) -> crate::diag::Code {
        CODE
    }

    fn check(&self, cx: &FlowCx<'_>, out: &mut Vec<Diagnostic>) {
        let help = "keep card data in PayTrace: store the PayTrace customer id (token) or `last4(...)`/`mask(...)`";
        for expr in &cx.exprs {
            let Some(sink) = sink(cx, expr) else { continue };
            let tokens = scan(expr.src);
            for (n, (tok, line, col)) in tokens.iter().enumerate() {
                let (line, col) = (*line, *col);
                // `mask(...)`, `last4(...)`, `is_luhn(...)` of a card field are safe.
                let wrapped = n > 0
                    && matches!(&tokens[n - 1].0, Token::Call(c) if c == "mask" || c == "last4" || c == "is_luhn");
                let (what, len) = match &tok {
                    Token::Path(parts) => match card_field(parts) {
                        Some(f) => (format!("card field `{f}`"), f.len()),
                        None => continue,
                    },
                    Token::Str(s) => match card_number_in(s) {
                        Some(n) => (format!("card number `{}`", mask(&n)), s.chars().count() + 2),
                        None => continue,
                    },
                    _ => continue,
                };
                // Reading card data only to mask it is fine.
                if wrapped || masked_in(expr.src) {
                    continue;
                }
                let span = cx.expr_span(expr, line, col, len);
                out.push(
                    Diagnostic::error(CODE, cx.file, span, format!("{what} flows into {sink}"))
                        .with_help(help),
                );
            }
        }
        for at in &cx.steps {
            let call = at.step.call.as_deref().unwrap_or_default();
            let sources = [
                ("map", at.step.map.as_ref()),
                ("with", at.step.with.as_ref().and_then(Value::as_object)),
            ];
            for (key, map) in sources {
                let Some(map) = map else { continue };
                if key == "with" && call.starts_with("paytrace.") {
                    continue;
                }
                let mut lits = Vec::new();
                for (k, v) in map {
                    literals(
                        v,
                        format!("{}/{key}/{}", at.pointer, crate::load::escape(k)),
                        k.clone(),
                        &mut lits,
                    );
                }
                for (pointer, _, value) in lits {
                    let text = match value {
                        Value::Number(n) => n.to_string(),
                        _ => continue,
                    };
                    if is_card_number(&text) {
                        out.push(
                            cx.error(
                                CODE,
                                &pointer,
                                format!("card number `{}` written into the flow", mask(&text)),
                            )
                            .with_help(help),
                        );
                    }
                }
            }
        }
    }
}

/// `mask(...)` or `last4(...)` wraps the whole expression.
fn masked_in(src: &str) -> bool {
    let t = src.trim();
    (t.starts_with("mask(") || t.starts_with("last4(")) && t.ends_with(')')
}
