//! LL022 profile-not-allowed: linting for a profile (`--profile NAME`) that the flow's
//! `profiles:` list does not include, so the flow would not be loaded there.

use super::{Rule, rule_code};
use crate::diag::Diagnostic;
use crate::lint::FlowCx;
use crate::model::SignatureScheme;

rule_code!(
    "LL022",
    "profile-not-allowed",
    "the flow does not run under the selected profile"
);

impl Rule for Check {
    fn code(&self) -> crate::diag::Code {
        CODE
    }

    fn check(&self, cx: &FlowCx<'_>, out: &mut Vec<Diagnostic>) {
        let Some(profile) = &cx.options.profile else {
            return;
        };
        let listed = &cx.flow.profiles;
        if !listed.is_empty() && !listed.contains(profile) {
            out.push(
                cx.warning(
                    CODE,
                    "/profiles",
                    format!(
                        "flow `{}` does not run under profile `{profile}`",
                        cx.flow.flow
                    ),
                )
                .with_help(format!("it runs under: {}", listed.join(", "))),
            );
        }
        if let Some(w) = &cx.flow.trigger.webhook
            && w.signature.scheme == SignatureScheme::None
            && profile == "prod"
        {
            out.push(
                cx.error(
                    CODE,
                    "/trigger/webhook/signature/scheme",
                    "unsigned webhook under profile `prod`",
                )
                .with_help(
                    "use `scheme: hmac_sha256` with a `${env:...}` secret; `none` is for dev only",
                ),
            );
        }
    }
}
