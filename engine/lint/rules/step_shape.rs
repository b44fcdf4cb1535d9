//! LL019 step-shape: a step has no kind or several (`map` and `call` together), call-only
//! fields without `call`, a malformed `switch`, or a webhook signature without its parts.

use super::{Rule, rule_code};
use crate::diag::Diagnostic;
use crate::lint::FlowCx;
use crate::model::{STEP_KINDS, SignatureScheme, TRIGGER_KINDS};

rule_code!(
    "LL019",
    "step-shape",
    "a step's keys do not make one valid step"
);

impl Rule for Check {
    fn code(&self) -> crate::diag::Code {
        CODE
    }

    fn check(&self, cx: &FlowCx<'_>, out: &mut Vec<Diagnostic>) {
        for at in &cx.steps {
            let (s, p) = (at.step, &at.pointer);
            let kinds = s.kinds();
            match kinds.len() {
                0 => out.push(
                    cx.key_error(
                        CODE,
                        &format!("{p}/id"),
                        format!("step `{}` does nothing", s.id),
                    )
                    .with_help(format!("give it one of: {}", STEP_KINDS.join(", "))),
                ),
                1 => {}
                _ => out.push(
                    cx.key_error(
                        CODE,
                        &format!("{p}/{}", kinds[1]),
                        format!("step `{}` is both `{}` and `{}`", s.id, kinds[0], kinds[1]),
                    )
                    .with_help("a step does one thing; split it into two steps"),
                ),
            }
            if s.call.is_none() {
                let call_only = [
                    ("with", s.with.is_some()),
                    ("idempotency_key", s.idempotency_key.is_some()),
                    ("retry", s.retry.is_some()),
                    ("on", s.on.is_some()),
                ];
                for (key, present) in call_only {
                    if present {
                        out.push(
                            cx.key_error(
                                CODE,
                                &format!("{p}/{key}"),
                                format!("`{key}` only applies to a `call` step"),
                            )
                            .with_help("move it to the step that calls the connector"),
                        );
                    }
                }
            }
            if let Some(cases) = &s.switch {
                if cases.is_empty() {
                    out.push(cx.error(CODE, &format!("{p}/switch"), "`switch` has no cases"));
                }
                for (i, case) in cases.iter().enumerate() {
                    let cp = format!("{p}/switch/{i}");
                    match (&case.goto, &case.steps) {
                        (Some(_), Some(_)) => out.push(
                            cx.key_error(
                                CODE,
                                &format!("{cp}/steps"),
                                "a case has either `goto` or `steps`, not both",
                            )
                            .with_help("end the nested steps with a step that has `goto`"),
                        ),
                        (None, None) => out.push(
                            cx.error(CODE, &cp, "a case needs `goto` or `steps`")
                                .with_help("use `goto: continue` to do nothing in this case"),
                        ),
                        (None, Some(steps)) if steps.is_empty() => {
                            out.push(cx.error(
                                CODE,
                                &format!("{cp}/steps"),
                                "a case's `steps` is empty",
                            ));
                        }
                        _ => {}
                    }
                    if case.when.is_none() && i + 1 != cases.len() {
                        out.push(
                            cx.error(
                                CODE,
                                &cp,
                                "the default case (no `when`) must be the last case",
                            )
                            .with_help("cases after it can never match"),
                        );
                    }
                }
            }
            if let Some(fe) = &s.foreach
                && fe.steps.is_empty()
            {
                out.push(cx.error(
                    CODE,
                    &format!("{p}/foreach/steps"),
                    "`foreach` has no steps",
                ));
            }
        }
        let kinds = cx.flow.trigger.kinds();
        match kinds.len() {
            0 => out.push(
                cx.key_error(CODE, "/trigger", "the trigger names no kind")
                    .with_help(format!("give it one of: {}", TRIGGER_KINDS.join(", "))),
            ),
            1 => {}
            _ => out.push(
                cx.key_error(
                    CODE,
                    &format!("/trigger/{}", kinds[1]),
                    format!("the trigger is both `{}` and `{}`", kinds[0], kinds[1]),
                )
                .with_help("a flow has one trigger; split it into two flows"),
            ),
        }
        if let Some(w) = &cx.flow.trigger.webhook {
            let sig = &w.signature;
            if sig.scheme == SignatureScheme::HmacSha256 {
                for (key, present) in [
                    ("header", sig.header.is_some()),
                    ("secret", sig.secret.is_some()),
                ] {
                    if !present {
                        out.push(
                            cx.error(CODE, "/trigger/webhook/signature", format!("`hmac_sha256` needs `{key}`"))
                                .with_help("e.g. `header: X-Signature` and `secret: ${env:PAYTRACE_WEBHOOK_SECRET}`"),
                        );
                    }
                }
            }
        }
    }
}
