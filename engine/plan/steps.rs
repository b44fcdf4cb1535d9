//! Laying flow steps out as one indexed program: nested steps follow their parent (pre-order),
//! every step knows where the run goes next, every route is an index. Then each step's
//! expressions are compiled.

use super::compile::{self, Compiled};
use super::{
    ErrorPolicy, POLL_VARIABLES, Plan, PlanError, RetryPolicy, StepMap, base_scope, retry_policy,
};
use crate::connectors::{self, Operation};
use crate::load::{PointerIndex, SourceFile};
use crate::model::{AlertSeverity, Flow, OnError, Profile, Step};
use crate::script::helpers::HelperEnv;
use crate::script::value::to_dynamic;
use rhai::{Dynamic, Engine, Scope};
use serde_json::Value;
use std::sync::Arc;

/// Where the run goes after a step that falls through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Step(usize),
    /// The flow is done.
    End,
    /// One `foreach` iteration is done.
    EndOfBody,
}

/// A route's destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Step(usize),
    Continue,
    DeadLetter,
    Fail,
    Complete,
}

pub struct Case {
    pub when: Option<Compiled>,
    pub goto: Option<Target>,
    /// First step of the case's nested steps.
    pub body: Option<usize>,
}

pub enum Kind {
    Map(Compiled),
    Script(Compiled),
    Call {
        connector: String,
        operation: &'static Operation,
        with: Option<Compiled>,
        idempotency_key: Option<Compiled>,
        /// The operation's input schema, checked before anything is sent.
        validator: Option<Arc<jsonschema::Validator>>,
    },
    Switch(Vec<Case>),
    Foreach {
        items: Compiled,
        var: String,
        body: usize,
    },
    Lookup {
        table: String,
        key: Compiled,
        default: Option<Compiled>,
    },
    Fail(Compiled),
    DeadLetter(Compiled),
    Alert {
        message: Compiled,
        severity: AlertSeverity,
        channel: Option<String>,
    },
}

impl Kind {
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Map(_) => "map",
            Kind::Script(_) => "script",
            Kind::Call { .. } => "call",
            Kind::Switch(_) => "switch",
            Kind::Foreach { .. } => "foreach",
            Kind::Lookup { .. } => "lookup",
            Kind::Fail(_) => "fail",
            Kind::DeadLetter(_) => "dead_letter",
            Kind::Alert { .. } => "alert",
        }
    }
}

pub struct PlanStep {
    pub id: String,
    pub pointer: String,
    pub kind: Kind,
    pub next: Next,
    pub goto: Option<Target>,
    /// Outcome -> route, for calls.
    pub on: Vec<(String, Target)>,
    pub retry: Option<RetryPolicy>,
    pub on_error: Option<ErrorPolicy>,
    /// Loop variables in scope (from enclosing `foreach`).
    pub loop_vars: Vec<String>,
    /// The innermost `foreach` step whose body holds this step.
    pub within: Option<usize>,
}

enum After {
    End,
    EndOfBody,
    NextOf(usize),
}

struct Slot<'a> {
    step: &'a Step,
    within: Option<usize>,
    pointer: String,
    vars: Vec<String>,
    after: Option<After>,
    case_bodies: Vec<Option<usize>>,
    foreach_body: Option<usize>,
}

fn layout<'a>(
    within: Option<usize>,
    list: &'a [Step],
    base: &str,
    vars: &[String],
    after: After,
    slots: &mut Vec<Slot<'a>>,
) -> Option<usize> {
    let mut mine = Vec::new();
    for (i, step) in list.iter().enumerate() {
        let me = slots.len();
        let pointer = format!("{base}/{i}");
        slots.push(Slot {
            step,
            within,
            pointer: pointer.clone(),
            vars: vars.to_vec(),
            after: None,
            case_bodies: Vec::new(),
            foreach_body: None,
        });
        mine.push(me);
        if let Some(cases) = &step.switch {
            for (c, case) in cases.iter().enumerate() {
                let first = case.steps.as_ref().and_then(|s| {
                    layout(
                        within,
                        s,
                        &format!("{pointer}/switch/{c}/steps"),
                        vars,
                        After::NextOf(me),
                        slots,
                    )
                });
                slots[me].case_bodies.push(first);
            }
        }
        if let Some(fe) = &step.foreach {
            let mut inner = vars.to_vec();
            inner.push(fe.as_name.clone().unwrap_or_else(|| "item".into()));
            inner.push("index".into());
            let first = layout(
                Some(me),
                &fe.steps,
                &format!("{pointer}/foreach/steps"),
                &inner,
                After::EndOfBody,
                slots,
            );
            slots[me].foreach_body = first;
        }
    }
    let mut after = Some(after);
    for (k, &idx) in mine.iter().enumerate().rev() {
        slots[idx].after = if k + 1 < mine.len() {
            Some(After::NextOf(usize::MAX - mine[k + 1]))
        } else {
            after.take()
        };
    }
    mine.first().copied()
}

fn resolve(slots: &[Slot<'_>], i: usize, depth: usize) -> Next {
    if depth > slots.len() + 1 {
        return Next::End;
    }
    match slots[i].after {
        Some(After::End) | None => Next::End,
        Some(After::EndOfBody) => Next::EndOfBody,
        // usize::MAX - j encodes "the step j itself"; a plain index means "the next of j".
        Some(After::NextOf(j)) if j > slots.len() => Next::Step(usize::MAX - j),
        Some(After::NextOf(j)) => resolve(slots, j, depth + 1),
    }
}

fn target(name: &str, ids: &StepMap) -> Target {
    match name {
        "continue" => Target::Continue,
        "dead_letter" => Target::DeadLetter,
        "fail" => Target::Fail,
        "complete" => Target::Complete,
        id => ids.get(id).map_or(Target::Fail, |i| Target::Step(*i)),
    }
}

fn error_policy(o: &Option<OnError>, ids: &StepMap) -> Option<ErrorPolicy> {
    o.as_ref().map(|o| ErrorPolicy {
        retry: retry_policy(&o.retry),
        then: o
            .then
            .as_deref()
            .map_or(Target::DeadLetter, |t| target(t, ids)),
    })
}

pub(super) fn compile(
    flow: Flow,
    source: SourceFile,
    index: PointerIndex,
    (engine, helpers): (Engine, Arc<HelperEnv>),
    profile: Profile,
    hash: String,
) -> Result<Plan, PlanError> {
    let mut slots = Vec::new();
    layout(None, &flow.steps, "/steps", &[], After::End, &mut slots);
    let ids: StepMap = slots
        .iter()
        .enumerate()
        .map(|(i, s)| (s.step.id.clone(), i))
        .collect();
    let err = |pointer: &str, message: String| PlanError::Compile {
        flow: flow.flow.clone(),
        pointer: match index.span(pointer) {
            Some(sp) => format!("{}:{}:{}", source.name, sp.line, sp.col),
            None => source.name.to_string(),
        },
        message,
    };
    let mut steps = Vec::with_capacity(slots.len());
    for (i, slot) in slots.iter().enumerate() {
        let mut scope: Scope<'static> = base_scope();
        for v in &slot.vars {
            scope.push_dynamic(v.clone(), Dynamic::UNIT);
        }
        let s = slot.step;
        let p = &slot.pointer;
        let expr = |src: &str, suffix: &str| {
            compile::expression(&engine, &scope, src, &format!("{p}{suffix}"), false)
                .map_err(|m| err(&format!("{p}{suffix}"), m))
        };
        let kind = if let Some(map) = &s.map {
            let v = Value::Object(map.clone());
            Kind::Map(
                compile::template(&engine, &scope, &v, &format!("{p}/map"))
                    .map_err(|m| err(p, m))?,
            )
        } else if let Some(script) = &s.script {
            Kind::Script(
                compile::expression(&engine, &scope, script, &format!("{p}/script"), true)
                    .map_err(|m| err(p, m))?,
            )
        } else if let Some(call) = &s.call {
            let Some((cat, operation)) = connectors::operation(call) else {
                return Err(err(p, format!("unknown operation `{call}`")));
            };
            let with = match &s.with {
                None => None,
                Some(Value::String(src)) => Some(expr(src, "/with")?),
                Some(v) => Some(
                    compile::template(&engine, &scope, v, &format!("{p}/with"))
                        .map_err(|m| err(p, m))?,
                ),
            };
            let idempotency_key = s
                .idempotency_key
                .as_deref()
                .map(|k| expr(k, "/idempotency_key"))
                .transpose()?;
            let validator = jsonschema::validator_for(&operation.input)
                .ok()
                .map(Arc::new);
            Kind::Call {
                connector: cat.connector.clone(),
                operation,
                with,
                idempotency_key,
                validator,
            }
        } else if let Some(cases) = &s.switch {
            let mut out = Vec::new();
            for (c, case) in cases.iter().enumerate() {
                out.push(Case {
                    when: case
                        .when
                        .as_deref()
                        .map(|w| expr(w, &format!("/switch/{c}/when")))
                        .transpose()?,
                    goto: case.goto.as_deref().map(|g| target(g, &ids)),
                    body: slot.case_bodies.get(c).copied().flatten(),
                });
            }
            Kind::Switch(out)
        } else if let Some(fe) = &s.foreach {
            let Some(body) = slot.foreach_body else {
                return Err(err(p, "`foreach` has no steps".into()));
            };
            Kind::Foreach {
                items: expr(&fe.items, "/foreach/items")?,
                var: fe.as_name.clone().unwrap_or_else(|| "item".into()),
                body,
            }
        } else if let Some(l) = &s.lookup {
            if !profile.tables.contains_key(&l.table) {
                let known: Vec<&str> = profile.tables.keys().map(String::as_str).collect();
                return Err(err(
                    &format!("{p}/lookup/table"),
                    format!(
                        "profile `{}` has no table `{}` (tables: {})",
                        profile.profile,
                        l.table,
                        known.join(", ")
                    ),
                ));
            }
            Kind::Lookup {
                table: l.table.clone(),
                key: expr(&l.key, "/lookup/key")?,
                default: l
                    .default
                    .as_deref()
                    .map(|d| expr(d, "/lookup/default"))
                    .transpose()?,
            }
        } else if let Some(r) = &s.fail {
            Kind::Fail(expr(&r.reason, "/fail/reason")?)
        } else if let Some(r) = &s.dead_letter {
            Kind::DeadLetter(expr(&r.reason, "/dead_letter/reason")?)
        } else if let Some(a) = &s.alert {
            Kind::Alert {
                message: expr(&a.message, "/alert/message")?,
                severity: a.severity.unwrap_or(AlertSeverity::Warning),
                channel: a.channel.clone(),
            }
        } else {
            return Err(err(p, format!("step `{}` has no kind", s.id)));
        };
        steps.push(PlanStep {
            id: s.id.clone(),
            pointer: p.clone(),
            kind,
            next: resolve(&slots, i, 0),
            goto: s.goto.as_deref().map(|g| target(g, &ids)),
            on: s
                .on
                .iter()
                .flatten()
                .map(|(o, t)| (o.clone(), target(t, &ids)))
                .collect(),
            retry: retry_policy(&s.retry),
            on_error: error_policy(&s.on_error, &ids),
            loop_vars: slot.vars.clone(),
            within: slot.within,
        });
    }
    let scope = base_scope();
    let top = |src: &Option<String>, pointer: &str| {
        src.as_deref()
            .map(|s| {
                compile::expression(&engine, &scope, s, pointer, false).map_err(|m| err(pointer, m))
            })
            .transpose()
    };
    let filter = top(&flow.filter, "/filter")?;
    let ordering_key = top(&flow.ordering_key, "/ordering_key")?;
    let poll_input = match flow.trigger.poll.as_ref().and_then(|p| p.with.as_ref()) {
        Some(with) => {
            let mut poll_scope = base_scope();
            for v in POLL_VARIABLES {
                poll_scope.push_dynamic(*v, rhai::Dynamic::UNIT);
            }
            let pointer = "/trigger/poll/with";
            Some(
                compile::template(&engine, &poll_scope, &Value::Object(with.clone()), pointer)
                    .map_err(|m| err(pointer, m))?,
            )
        }
        None => None,
    };
    let event_id = match (&flow.trigger.webhook, &flow.trigger.poll) {
        (Some(w), _) => top(&Some(w.event_id.clone()), "/trigger/webhook/event_id")?,
        (None, Some(p)) => top(&p.event_id.clone(), "/trigger/poll/event_id")?,
        _ => None,
    };
    let on_error = error_policy(&flow.on_error, &ids).unwrap_or(ErrorPolicy {
        retry: None,
        then: Target::DeadLetter,
    });
    let profile_values = to_dynamic(&Value::Object(profile.values.clone()))
        .map_err(|m| err("/profile", m))?
        .into_shared();
    drop(scope);
    let mut plan = Plan {
        flow: Arc::new(flow),
        hash,
        source: Arc::new(source),
        index: Arc::new(index),
        engine: Arc::new(engine),
        helpers,
        profile: Arc::new(profile),
        profile_values,
        filter,
        ordering_key,
        event_id,
        poll_input,
        steps,
        on_error,
        event_fields: None,
    };
    plan.event_fields = plan.event_fields_read();
    Ok(plan)
}
