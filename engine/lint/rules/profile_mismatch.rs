//! LL023 profile-mismatch (error): linting against a profile's contents (`--profile NAME`
//! with the profile file at hand), the flow uses a lookup table the profile does not have, a
//! `${secret:NAME}` the profile does not bind, or a connector the profile does not configure.
//! Any of these fails at run time under that profile, so it is an error: `lint --profile`
//! stops a flow that would dead-letter every event.

use super::{Rule, rule_code};
use crate::diag::Diagnostic;
use crate::lint::FlowCx;
use crate::lint::tokens::{Token, scan};

rule_code!(
    "LL023",
    "profile-mismatch",
    "the flow needs something the profile does not provide"
);

impl Rule for Check {
    fn code(&self) -> crate::diag::Code {
        CODE
    }

    fn check(&self, cx: &FlowCx<'_>, out: &mut Vec<Diagnostic>) {
        let Some(profile) = &cx.options.profile_data else {
            return;
        };
        let name = &profile.profile;
        // "did you mean `customers`?" when the name is a likely typo of one it has.
        let table_help = |table: &str| {
            let t: Vec<&str> = profile.tables.keys().map(String::as_str).collect();
            match crate::lint::context::closest(table, t.iter().copied()) {
                Some(near) => format!("did you mean `{near}`? its tables: {}", t.join(", ")),
                None if t.is_empty() => "its tables: none".to_string(),
                None => format!("its tables: {}", t.join(", ")),
            }
        };
        // An empty name stands in for a missing `table` (reported as LL002 already).
        let missing_table = |table: &str| {
            !profile.tables.contains_key(table) && table != "status_map" && !table.is_empty()
        };
        for at in &cx.steps {
            if let Some(l) = &at.step.lookup
                && missing_table(&l.table)
            {
                out.push(
                    cx.error(
                        CODE,
                        &format!("{}/lookup/table", at.pointer),
                        format!("profile `{name}` has no table `{}`", l.table),
                    )
                    .with_help(table_help(&l.table)),
                );
            }
            if let Some(call) = &at.step.call {
                let connector = call.split('.').next().unwrap_or("");
                if connector != "mock" && !profile.connectors.contains_key(connector) {
                    out.push(
                        cx.error(
                            CODE,
                            &format!("{}/call", at.pointer),
                            format!("profile `{name}` does not configure connector `{connector}`"),
                        )
                        .with_help(format!(
                            "add `connectors.{connector}` (base_url, credentials) to the profile"
                        )),
                    );
                }
            }
        }
        for expr in &cx.exprs {
            let tokens = scan(expr.src);
            for pair in tokens.windows(2) {
                if let ((Token::Call(c), ..), (Token::Str(table), line, col)) = (&pair[0], &pair[1])
                    && (c == "lookup" || c == "lookup_or")
                    && missing_table(table)
                {
                    let span = cx.expr_span(expr, *line, *col, table.len() + 2);
                    out.push(
                        Diagnostic::error(
                            CODE,
                            cx.file,
                            span,
                            format!("profile `{name}` has no table `{table}`"),
                        )
                        .with_help(table_help(table)),
                    );
                }
            }
        }
        if let Some(w) = &cx.flow.trigger.webhook {
            let secret = w.signature.secret.as_deref().unwrap_or("").trim();
            if let Some(bound) = secret
                .strip_prefix("${secret:")
                .and_then(|s| s.strip_suffix('}'))
                && !profile.secrets.contains_key(bound)
            {
                out.push(
                    cx.error(
                        CODE,
                        "/trigger/webhook/signature/secret",
                        format!("profile `{name}` binds no secret `{bound}`"),
                    )
                    .with_help(format!(
                        "add `secrets: {{ {bound}: ${{env:NAME}} }}` to the profile"
                    )),
                );
            }
        }
    }
}
