//! Walkers over a flow: every step with its JSON pointer, and every Rhai expression with its
//! pointer, the variables in scope and the step it belongs to. Rules use these instead of
//! re-implementing the traversal.

use crate::load::escape;
use crate::model::{Flow, Step};
use serde_json::Value;

/// A step and where it is.
pub struct StepAt<'a> {
    pub step: &'a Step,
    pub pointer: String,
    /// Loop variables in scope (from enclosing `foreach`).
    pub loop_vars: Vec<String>,
}

/// All steps, nested ones included, in document (pre-)order.
pub fn steps(flow: &Flow) -> Vec<StepAt<'_>> {
    let mut out = Vec::new();
    walk_list(&flow.steps, "/steps", &[], &mut out);
    out
}

fn walk_list<'a>(list: &'a [Step], base: &str, vars: &[String], out: &mut Vec<StepAt<'a>>) {
    for (i, step) in list.iter().enumerate() {
        let pointer = format!("{base}/{i}");
        out.push(StepAt {
            step,
            pointer: pointer.clone(),
            loop_vars: vars.to_vec(),
        });
        let mut inner = vars.to_vec();
        if let Some(fe) = &step.foreach {
            inner.push(fe.as_name.clone().unwrap_or_else(|| "item".into()));
            inner.push("index".into());
        }
        if let Some(cases) = &step.switch {
            for (c, case) in cases.iter().enumerate() {
                if let Some(steps) = &case.steps {
                    walk_list(steps, &format!("{pointer}/switch/{c}/steps"), vars, out);
                }
            }
        }
        if let Some(fe) = &step.foreach {
            walk_list(&fe.steps, &format!("{pointer}/foreach/steps"), &inner, out);
        }
    }
}

/// Where an expression sits, which decides what it may touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Filter,
    Key,
    PollInput,
    /// A `map` field; `target` is its dotted field path.
    MapField,
    Script,
    /// A `with:` input field (or the whole `with:` expression).
    CallInput,
    Condition,
    Reason,
    AlertMessage,
    LookupKey,
    Items,
}

/// One Rhai expression or block in the flow.
pub struct Expr<'a> {
    pub pointer: String,
    pub src: &'a str,
    pub block: bool,
    pub extra_vars: Vec<String>,
    pub role: Role,
    /// Dotted target field for map and call input fields (`Customer.ID`).
    pub target: Option<String>,
    /// Index into `steps()` of the owning step, if any.
    pub step: Option<usize>,
}

pub fn exprs(flow: &Flow) -> Vec<Expr<'_>> {
    let mut out = Vec::new();
    if let Some(f) = &flow.filter {
        out.push(expr("/filter".into(), f, Role::Filter, &[], None));
    }
    if let Some(k) = &flow.ordering_key {
        out.push(expr("/ordering_key".into(), k, Role::Key, &[], None));
    }
    if let Some(w) = &flow.trigger.webhook {
        out.push(expr(
            "/trigger/webhook/event_id".into(),
            &w.event_id,
            Role::Key,
            &[],
            None,
        ));
    }
    if let Some(p) = &flow.trigger.poll {
        if let Some(id) = &p.event_id {
            out.push(expr(
                "/trigger/poll/event_id".into(),
                id,
                Role::Key,
                &[],
                None,
            ));
        }
        if let Some(with) = &p.with {
            let vars = ["cursor", "window_start", "window_end", "now"].map(String::from);
            for (k, v) in with {
                let ptr = format!("/trigger/poll/with/{}", escape(k));
                fields(v, ptr, k.clone(), Role::PollInput, &vars, None, &mut out);
            }
        }
    }
    for (n, at) in steps(flow).iter().enumerate() {
        let s = at.step;
        let p = &at.pointer;
        let vars = &at.loop_vars;
        let one = |suffix: &str, src, role| expr(format!("{p}{suffix}"), src, role, vars, Some(n));
        if let Some(map) = &s.map {
            for (k, v) in map {
                let ptr = format!("{p}/map/{}", escape(k));
                fields(v, ptr, k.clone(), Role::MapField, vars, Some(n), &mut out);
            }
        }
        if let Some(script) = &s.script {
            let mut e = one("/script", script, Role::Script);
            e.block = true;
            out.push(e);
        }
        match &s.with {
            Some(Value::String(src)) => out.push(one("/with", src, Role::CallInput)),
            Some(Value::Object(map)) => {
                for (k, v) in map {
                    let ptr = format!("{p}/with/{}", escape(k));
                    fields(v, ptr, k.clone(), Role::CallInput, vars, Some(n), &mut out);
                }
            }
            _ => {}
        }
        if let Some(key) = &s.idempotency_key {
            out.push(one("/idempotency_key", key, Role::Key));
        }
        for (c, case) in s.switch.iter().flatten().enumerate() {
            if let Some(when) = &case.when {
                out.push(one(&format!("/switch/{c}/when"), when, Role::Condition));
            }
        }
        if let Some(fe) = &s.foreach {
            out.push(one("/foreach/items", &fe.items, Role::Items));
        }
        if let Some(l) = &s.lookup {
            out.push(one("/lookup/key", &l.key, Role::LookupKey));
            if let Some(d) = &l.default {
                out.push(one("/lookup/default", d, Role::LookupKey));
            }
        }
        if let Some(r) = &s.fail {
            out.push(one("/fail/reason", &r.reason, Role::Reason));
        }
        if let Some(r) = &s.dead_letter {
            out.push(one("/dead_letter/reason", &r.reason, Role::Reason));
        }
        if let Some(a) = &s.alert {
            out.push(one("/alert/message", &a.message, Role::AlertMessage));
        }
    }
    out
}

fn expr<'a>(
    pointer: String,
    src: &'a str,
    role: Role,
    vars: &[String],
    step: Option<usize>,
) -> Expr<'a> {
    Expr {
        pointer,
        src,
        block: false,
        extra_vars: vars.to_vec(),
        role,
        target: None,
        step,
    }
}

/// Expressions in a `map`/`with` value: strings are expressions, mappings nest, other scalars
/// are literals (no expression).
fn fields<'a>(
    value: &'a Value,
    pointer: String,
    target: String,
    role: Role,
    vars: &[String],
    step: Option<usize>,
    out: &mut Vec<Expr<'a>>,
) {
    match value {
        Value::String(src) => {
            let mut e = expr(pointer, src, role, vars, step);
            e.target = Some(target);
            out.push(e);
        }
        Value::Object(map) => {
            for (k, v) in map {
                let ptr = format!("{pointer}/{}", escape(k));
                fields(v, ptr, format!("{target}.{k}"), role, vars, step, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                fields(
                    v,
                    format!("{pointer}/{i}"),
                    target.clone(),
                    role,
                    vars,
                    step,
                    out,
                );
            }
        }
        _ => {}
    }
}

/// Literal (non-expression) values in a `map`/`with` value, with pointer and dotted target.
pub fn literals<'a>(
    value: &'a Value,
    pointer: String,
    target: String,
    out: &mut Vec<(String, String, &'a Value)>,
) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                literals(
                    v,
                    format!("{pointer}/{}", escape(k)),
                    format!("{target}.{k}"),
                    out,
                );
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                literals(v, format!("{pointer}/{i}"), target.clone(), out);
            }
        }
        Value::String(_) => {}
        other => out.push((pointer, target, other)),
    }
}
