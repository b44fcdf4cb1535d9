//! LL018 inline-secret: a secret (webhook signing secret, password, API key, token,
//! authorization header) is written into the flow instead of a `${secret:NAME}` (bound by the
//! profile), `${env:NAME}` or `${file:/path}` reference. The finding never repeats the secret.

use super::{Rule, rule_code};
use crate::diag::Diagnostic;
use crate::lint::FlowCx;
use crate::lint::tokens::{Token, scan};
use crate::lint::walk::Role;

rule_code!(
    "LL018",
    "inline-secret",
    "a secret is written inline instead of referenced"
);

const SECRET_WORDS: &[&str] = &[
    "secret",
    "password",
    "passwd",
    "api_key",
    "apikey",
    "token",
    "authorization",
    "private_key",
    "client_secret",
];

pub fn is_reference(value: &str) -> bool {
    let v = value.trim();
    crate::load::secrets::is_reference(v)
}

/// Whether a string literal carries a credential itself (not only a reference or a prefix
/// such as `"Bearer "` that is joined with a profile value).
fn carries_credential(text: &str) -> bool {
    if text.contains("${env:") || text.contains("${file:") || text.contains("${secret:") {
        return false;
    }
    let rest = text
        .strip_prefix("Bearer ")
        .or_else(|| text.strip_prefix("Basic "))
        .unwrap_or(text);
    !rest.trim().is_empty()
}

fn is_secret_name(name: &str) -> bool {
    let last = name
        .rsplit('.')
        .next()
        .unwrap_or(name)
        .to_lowercase()
        .replace('-', "_");
    SECRET_WORDS.iter().any(|w| last.contains(w))
        && !last.ends_with("_ref")
        && !last.contains("token_type")
}

impl Rule for Check {
    fn code(&self) -> crate::diag::Code {
        CODE
    }

    fn check(&self, cx: &FlowCx<'_>, out: &mut Vec<Diagnostic>) {
        let help = "reference it: `${secret:NAME}` (bound in each profile's `secrets:`), `${env:NAME}` or `${file:/run/secrets/name}`; secrets never live in flow files";
        if let Some(w) = &cx.flow.trigger.webhook
            && let Some(secret) = &w.signature.secret
            && !is_reference(secret)
        {
            out.push(
                cx.error(
                    CODE,
                    "/trigger/webhook/signature/secret",
                    "webhook secret written inline",
                )
                .with_help(help),
            );
        }
        for expr in &cx.exprs {
            if !matches!(
                expr.role,
                Role::CallInput | Role::PollInput | Role::MapField
            ) {
                continue;
            }
            let secret_field = expr.target.as_deref().is_some_and(is_secret_name);
            let src = expr.src.trim();
            if src.starts_with("Bearer ") || src.starts_with("Basic ") {
                // Written as bare text (not even a Rhai string): still a credential.
                let field = expr.target.as_deref().unwrap_or("value");
                let span = cx.index.span(&expr.pointer);
                let d = Diagnostic::error(
                    CODE,
                    cx.file,
                    span,
                    format!("secret written inline in `{field}`"),
                );
                out.push(d.with_help(help));
                continue;
            }
            for (tok, line, col) in scan(expr.src) {
                let Token::Str(s) = tok else { continue };
                let bearer = s.starts_with("Bearer ") || s.starts_with("Basic ");
                if (secret_field || bearer) && carries_credential(&s) {
                    let field = expr.target.as_deref().unwrap_or("value");
                    let span = cx.expr_span(expr, line, col, s.chars().count() + 2);
                    out.push(
                        Diagnostic::error(
                            CODE,
                            cx.file,
                            span,
                            format!("secret written inline in `{field}`"),
                        )
                        .with_help(help),
                    );
                }
            }
        }
    }
}
