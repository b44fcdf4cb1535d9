//! LL002 schema-violation: the file does not match `schemas/flow.schema.json` (unknown field,
//! wrong type, missing field). Every violation is reported at its own line and column.

use super::{Rule, rule_code};
use crate::diag::Diagnostic;
use crate::lint::context::closest;
use crate::load::{PointerIndex, SchemaViolation};
use std::sync::Arc;

rule_code!(
    "LL002",
    "schema-violation",
    "the flow does not match the flow schema"
);

impl Rule for Check {
    fn code(&self) -> crate::diag::Code {
        CODE
    }
}

pub fn diagnostic(file: &Arc<str>, index: &PointerIndex, v: SchemaViolation) -> Diagnostic {
    match v.unexpected {
        Some((name, allowed)) => {
            let d = Diagnostic::error(CODE, file, index.key_span(&v.pointer), v.message);
            match closest(&name, allowed.iter().map(String::as_str)) {
                Some(c) => d.with_help(format!("did you mean `{c}`?")),
                None if !allowed.is_empty() => {
                    d.with_help(format!("allowed here: {}", allowed.join(", ")))
                }
                None => d,
            }
        }
        None => {
            let span = if v.message.starts_with("missing required field") {
                index.key_span(&v.pointer)
            } else {
                index.span(&v.pointer)
            };
            let field = v.pointer.rsplit('/').next();
            let field = field.filter(|f| !f.is_empty() && f.parse::<usize>().is_err());
            let message = match field {
                Some(f) if !v.message.starts_with("missing") => format!("`{f}`: {}", v.message),
                _ => v.message,
            };
            Diagnostic::error(CODE, file, span, message)
        }
    }
}
