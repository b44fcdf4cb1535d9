//! Plans: a lint-clean flow, compiled once per revision (keyed by content hash) for one profile:
//! every expression an AST, every `map` one record expression, every operation resolved, every
//! route a step index. The runtime never sees YAML.

pub mod compile;
mod steps;

pub use compile::Compiled;
pub use steps::{Case, Kind, Next, PlanStep, Target};

use crate::diag::Diagnostic;
use crate::lint::{LintOptions, lint_sources};
use crate::load::{PointerIndex, SourceFile};
use crate::model::{Flow, Profile, Retry};
use crate::script::helpers::{Clock, HelperEnv};
use rhai::{Dynamic, Engine, Scope};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("flow `{file}` does not lint clean ({}); run `{command}`", summary(.diagnostics))]
    Invalid {
        file: String,
        diagnostics: Vec<Diagnostic>,
        /// The lint command that shows the findings: with the profile's name, since some
        /// findings (a table or secret the profile lacks) only appear under it.
        command: String,
    },
    #[error("flow `{flow}` at {pointer}: {message}")]
    Compile {
        flow: String,
        pointer: String,
        message: String,
    },
    #[error("profile `{profile}`: {message}")]
    Profile { profile: String, message: String },
}

/// The first findings, one line each, for error messages.
fn summary(diagnostics: &[Diagnostic]) -> String {
    let mut parts: Vec<String> = diagnostics
        .iter()
        .take(3)
        .map(|d| {
            let at = d
                .span
                .map(|s| format!("{}:{}: ", s.line, s.col))
                .unwrap_or_default();
            format!("{at}{}[{}] {}", d.severity.as_str(), d.code.code, d.message)
        })
        .collect();
    if diagnostics.len() > 3 {
        parts.push(format!("and {} more", diagnostics.len() - 3));
    }
    parts.join("; ")
}

/// Retry policy with defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub backoff: Duration,
    pub max_delay: Duration,
    pub jitter: bool,
}

impl RetryPolicy {
    /// Used when neither the step nor the flow says: a few quick retries for blips.
    pub const DEFAULT: RetryPolicy = RetryPolicy {
        attempts: 3,
        backoff: Duration::from_secs(1),
        max_delay: Duration::from_secs(30),
        jitter: true,
    };

    fn from_model(r: &Retry) -> RetryPolicy {
        let d = |s: &Option<String>, default| {
            s.as_deref()
                .and_then(crate::lint::rules::invalid_duration::parse)
                .unwrap_or(default)
        };
        RetryPolicy {
            attempts: r.attempts.clamp(1, 20),
            backoff: d(&r.backoff, Self::DEFAULT.backoff),
            max_delay: d(&r.max_delay, Self::DEFAULT.max_delay),
            jitter: r.jitter.unwrap_or(true),
        }
    }

    /// Delay before attempt `n + 1` after `n` failed attempts, without jitter.
    pub fn delay(&self, failed: u32) -> Duration {
        let factor = 2u32.saturating_pow(failed.saturating_sub(1).min(30));
        self.backoff.saturating_mul(factor).min(self.max_delay)
    }
}

/// Error handling for a step or the flow.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorPolicy {
    pub retry: Option<RetryPolicy>,
    pub then: Target,
}

/// An executable flow.
pub struct Plan {
    pub flow: Arc<Flow>,
    /// Hex of the content hash of the flow file: plans are rebuilt only when it changes.
    pub hash: String,
    pub source: Arc<SourceFile>,
    pub index: Arc<PointerIndex>,
    pub engine: Arc<Engine>,
    /// What the engine's helpers read from the profile, for native evaluation
    /// (`script::native`) to call the same helpers.
    pub helpers: Arc<HelperEnv>,
    pub profile: Arc<Profile>,
    /// `profile.*` as scripts see it.
    pub profile_values: Dynamic,
    pub filter: Option<Compiled>,
    pub ordering_key: Option<Compiled>,
    /// The trigger's `event_id` expression (webhook, poll): deduplicates events.
    pub event_id: Option<Compiled>,
    /// A poll trigger's `with:` as one record expression over `POLL_VARIABLES`.
    pub poll_input: Option<Compiled>,
    pub steps: Vec<PlanStep>,
    pub on_error: ErrorPolicy,
    /// The top-level event fields the flow's expressions read, when they read the event only
    /// field by field: a run converts just these to Rhai (a 1 KB event whose mapping reads
    /// seven fields need not become a whole Rhai map). `None`: the whole event.
    pub event_fields: Option<Vec<String>>,
}

impl Plan {
    /// Every compiled expression of the plan.
    fn compiled(&self) -> Vec<&Compiled> {
        let mut all: Vec<&Compiled> = [
            &self.filter,
            &self.ordering_key,
            &self.event_id,
            &self.poll_input,
        ]
        .into_iter()
        .flatten()
        .collect();
        for step in &self.steps {
            match &step.kind {
                Kind::Map(c) | Kind::Script(c) | Kind::Fail(c) | Kind::DeadLetter(c) => all.push(c),
                Kind::Call {
                    with,
                    idempotency_key,
                    ..
                } => all.extend(with.iter().chain(idempotency_key.iter())),
                Kind::Switch(cases) => all.extend(cases.iter().filter_map(|c| c.when.as_ref())),
                Kind::Foreach { items, .. } => all.push(items),
                Kind::Lookup { key, default, .. } => {
                    all.push(key);
                    all.extend(default.iter());
                }
                Kind::Alert { message, .. } => all.push(message),
            }
        }
        all
    }

    /// The union of the event fields every expression reads (see `event_fields`).
    fn event_fields_read(&self) -> Option<Vec<String>> {
        let mut fields: Vec<String> = Vec::new();
        for c in self.compiled() {
            for f in c.event_fields.as_ref()? {
                if !fields.contains(f) {
                    fields.push(f.clone());
                }
            }
        }
        Some(fields)
    }
}

/// Variables a poll trigger's `with:` may read besides the flow variables: the last cursor
/// value and the poll window (RFC 3339 text), and the poll time.
pub const POLL_VARIABLES: &[&str] = &["cursor", "window_start", "window_end", "now"];

/// Variables every expression of a flow may read, in scope order.
pub fn base_scope() -> Scope<'static> {
    let mut scope = Scope::new();
    for v in crate::script::FLOW_VARIABLES {
        scope.push_dynamic(*v, Dynamic::UNIT);
    }
    scope
}

/// Build a plan: lint the file (any error stops here), then compile everything once.
/// Connectors and lookup tables may come from elsewhere (a test's clients); see
/// `build_for_profile` for the engine's own check.
pub fn build(source: SourceFile, profile: Profile, clock: Clock) -> Result<Plan, PlanError> {
    build_with(source, profile, clock, false)
}

/// `build`, also refusing a flow that uses a lookup table, secret or connector the profile
/// lacks (LL023): such a flow would fail every run, so the engine (`run`, reload, `run-once`)
/// refuses it at start instead.
pub fn build_for_profile(
    source: SourceFile,
    profile: Profile,
    clock: Clock,
) -> Result<Plan, PlanError> {
    build_with(source, profile, clock, true)
}

fn build_with(
    source: SourceFile,
    profile: Profile,
    clock: Clock,
    check_profile: bool,
) -> Result<Plan, PlanError> {
    let options = LintOptions {
        profile: Some(profile.profile.clone()),
        profile_data: check_profile.then(|| Arc::new(profile.clone())),
    };
    let report = lint_sources(vec![source.clone()], &options);
    let errors: Vec<Diagnostic> = report
        .diagnostics
        .into_iter()
        .filter(|d| d.severity == crate::diag::Severity::Error)
        .collect();
    let invalid = || PlanError::Invalid {
        file: source.name.to_string(),
        diagnostics: errors.clone(),
        command: if profile.profile.is_empty() {
            format!("ledgerlink lint {}", source.name)
        } else {
            format!(
                "ledgerlink lint --profile {} {}",
                profile.profile, source.name
            )
        },
    };
    if !errors.is_empty() {
        return Err(invalid());
    }
    let Some((_, flow, index)) = report.flows.into_iter().next() else {
        return Err(invalid());
    };
    let env = Arc::new(helper_env(&profile, clock)?);
    let engine = crate::script::runtime_engine(&env);
    let hash = content_hash(&source.text);
    steps::compile(flow, source, index, (engine, env), profile, hash)
}

fn helper_env(profile: &Profile, clock: Clock) -> Result<HelperEnv, PlanError> {
    let mut rates = BTreeMap::new();
    if let Some(c) = &profile.currency {
        rates.insert(c.base.clone(), Decimal::ONE);
        for (code, v) in &c.rates {
            let text = v
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| v.to_string());
            let rate = text
                .trim()
                .parse::<Decimal>()
                .map_err(|_| PlanError::Profile {
                    profile: profile.profile.clone(),
                    message: format!("rate for `{code}` is not a decimal: `{text}`"),
                })?;
            rates.insert(code.clone(), rate);
        }
    }
    let tables = HelperEnv::tables_from(&profile.tables).map_err(|message| PlanError::Profile {
        profile: profile.profile.clone(),
        message,
    })?;
    Ok(HelperEnv {
        tables,
        rates,
        clock,
    })
}

/// FNV-1a over the file text: stable across runs and builds (unlike `DefaultHasher`).
pub fn content_hash(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

impl Plan {
    /// Where a Rhai error at (line, col) of `compiled` is in the flow file, as `file:line:col`.
    pub fn locate(&self, compiled: &Compiled, line: usize, col: usize) -> String {
        match compiled.locate(&self.index, &self.source.text, line, col) {
            Some(s) => format!("{}:{}:{}", self.source.name, s.line, s.col),
            None => self.source.name.to_string(),
        }
    }

    pub fn step_index(&self, id: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.id == id)
    }
}

pub(crate) fn retry_policy(r: &Option<Retry>) -> Option<RetryPolicy> {
    r.as_ref().map(RetryPolicy::from_model)
}

pub(crate) type StepMap = BTreeMap<String, usize>;

#[cfg(test)]
mod native_tests {
    use super::Kind;

    /// The payment-posting flow is the one with the traffic: its mappings and call inputs are
    /// evaluated without Rhai (`script::native`). A change to the flow or to the native
    /// grammar that loses that shows up here, not only as a slower benchmark.
    #[test]
    fn the_shipped_payment_flow_maps_and_calls_natively() {
        let profile = crate::load::read_profile(std::path::Path::new("profiles/dev.yaml"))
            .unwrap_or_else(|e| panic!("{e}"));
        let name = "flows/paytrace-payment-posting.yaml";
        let text = std::fs::read(name).unwrap_or_else(|e| panic!("{e}"));
        let source = crate::load::from_bytes(name, text).unwrap_or_else(|e| panic!("{e}"));
        let plan = super::build(source, profile, crate::script::helpers::system_clock())
            .unwrap_or_else(|e| panic!("{e}"));
        let mut checked = 0;
        for step in &plan.steps {
            let sources = match &step.kind {
                Kind::Map(c) => vec![c],
                Kind::Call {
                    with,
                    idempotency_key,
                    ..
                } => with.iter().chain(idempotency_key.iter()).collect(),
                _ => continue,
            };
            for c in sources {
                assert!(c.native.is_some(), "{} is evaluated by Rhai", c.pointer());
                checked += 1;
            }
        }
        assert!(checked >= 5, "only {checked} sources checked");
    }
}
