//! The lint rules, one file each. Codes are stable once published; add a rule by adding a file
//! and a line to `RULES`, plus a case folder under `tests/lint/`.
//!
//! | code  | rule |
//! |-------|------|
//! | LL001 | yaml-syntax |
//! | LL002 | schema-violation |
//! | LL003 | unknown-connector |
//! | LL004 | unknown-operation |
//! | LL005 | duplicate-id |
//! | LL006 | unknown-step-target |
//! | LL007 | undefined-reference |
//! | LL008 | rhai-compile |
//! | LL009 | unknown-input-field |
//! | LL010 | missing-required-input |
//! | LL011 | missing-idempotency-key |
//! | LL012 | invalid-schedule |
//! | LL013 | duplicate-webhook-path |
//! | LL014 | retry-out-of-bounds |
//! | LL015 | unreachable-step |
//! | LL016 | float-money |
//! | LL017 | pci-card-data |
//! | LL018 | inline-secret |
//! | LL019 | step-shape |
//! | LL020 | unknown-outcome |
//! | LL021 | invalid-duration |
//! | LL022 | profile-not-allowed |
//! | LL023 | profile-mismatch |

use super::FlowCx;
use crate::diag::{Code, Diagnostic};

pub mod duplicate_id;
pub mod duplicate_webhook_path;
pub mod float_money;
pub mod inline_secret;
pub mod invalid_duration;
pub mod invalid_schedule;
pub mod missing_idempotency_key;
pub mod missing_required_input;
pub mod pci_card_data;
pub mod profile_mismatch;
pub mod profile_not_allowed;
pub mod retry_out_of_bounds;
pub mod rhai_compile;
pub mod schema_violation;
pub mod step_shape;
pub mod undefined_reference;
pub mod unknown_connector;
pub mod unknown_function;
pub mod unknown_input_field;
pub mod unknown_operation;
pub mod unknown_outcome;
pub mod unknown_step_target;
pub mod unreachable_step;
pub mod yaml_syntax;

pub trait Rule: Sync {
    fn code(&self) -> Code;
    /// Findings in one flow.
    fn check(&self, _cx: &FlowCx<'_>, _out: &mut Vec<Diagnostic>) {}
    /// Findings across all flows (duplicate ids, webhook paths).
    fn check_set(&self, _flows: &[FlowCx<'_>], _out: &mut Vec<Diagnostic>) {}
}

/// Every rule, in code order. LL001 and LL002 run in the driver, before the model exists.
pub static RULES: &[&dyn Rule] = &[
    &yaml_syntax::Check,
    &schema_violation::Check,
    &unknown_connector::Check,
    &unknown_operation::Check,
    &duplicate_id::Check,
    &unknown_step_target::Check,
    &undefined_reference::Check,
    &rhai_compile::Check,
    &unknown_input_field::Check,
    &missing_required_input::Check,
    &missing_idempotency_key::Check,
    &invalid_schedule::Check,
    &duplicate_webhook_path::Check,
    &retry_out_of_bounds::Check,
    &unreachable_step::Check,
    &float_money::Check,
    &pci_card_data::Check,
    &inline_secret::Check,
    &step_shape::Check,
    &unknown_outcome::Check,
    &invalid_duration::Check,
    &profile_not_allowed::Check,
    &profile_mismatch::Check,
    &unknown_function::Check,
];

/// Declare a rule's code constant and unit struct.
macro_rules! rule_code {
    ($code:literal, $name:literal, $summary:literal) => {
        pub const CODE: crate::diag::Code = crate::diag::Code {
            code: $code,
            name: $name,
            summary: $summary,
        };
        pub struct Check;
    };
}
pub(crate) use rule_code;

/// The call steps of a flow with their resolved operation (unresolved ones are skipped: LL003
/// and LL004 report them).
pub fn resolved_calls<'a>(
    cx: &'a FlowCx<'a>,
) -> impl Iterator<
    Item = (
        &'a super::walk::StepAt<'a>,
        &'static crate::connectors::Operation,
    ),
> {
    cx.steps.iter().filter_map(|at| {
        let call = at.step.call.as_deref()?;
        crate::connectors::operation(call).map(|(_, op)| (at, op))
    })
}
