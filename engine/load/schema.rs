//! JSON Schema validation of a parsed flow, against the schema generated from `model::Flow`.
//! The validator is built once per process.

use crate::model::Flow;
use jsonschema::error::ValidationErrorKind;
use serde_json::Value;
use std::sync::OnceLock;

/// The flow schema, as committed in `schemas/flow.schema.json`.
pub fn flow_schema() -> Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(Flow)).unwrap_or(Value::Null);
    strip_null(&mut schema);
    schema
}

/// The JSON Schema of a profile file, for editors (`schemas/profile.schema.json`).
pub fn profile_schema() -> Value {
    let mut schema =
        serde_json::to_value(schemars::schema_for!(crate::model::Profile)).unwrap_or(Value::Null);
    strip_null(&mut schema);
    schema
}

/// Optional fields are written by leaving them out, never as `null`: drop the `null` branch
/// schemars adds for `Option<T>`, so errors name the real type instead of an `anyOf`.
fn strip_null(v: &mut Value) {
    if let Value::Object(map) = v {
        if let Some(Value::Array(types)) = map.get_mut("type") {
            types.retain(|t| t != "null");
            if types.len() == 1 {
                let only = types.remove(0);
                map.insert("type".into(), only);
            }
        }
        let null_branch = |b: &Value| b.get("type").and_then(Value::as_str) == Some("null");
        let other = match map.get("anyOf") {
            Some(Value::Array(b)) if b.len() == 2 && b.iter().any(null_branch) => {
                b.iter().find(|x| !null_branch(x)).cloned()
            }
            _ => None,
        };
        if let Some(Value::Object(other)) = other {
            map.remove("anyOf");
            for (k, val) in other {
                map.entry(k).or_insert(val);
            }
        }
        for (_, child) in map.iter_mut() {
            strip_null(child);
        }
    } else if let Value::Array(items) = v {
        items.iter_mut().for_each(strip_null);
    }
}

/// One violation: where (JSON pointer of the offending value) and what.
#[derive(Debug, Clone)]
pub struct SchemaViolation {
    pub pointer: String,
    pub message: String,
    /// For an unexpected property: its name and the names allowed there.
    pub unexpected: Option<(String, Vec<String>)>,
    /// For a required member that is absent: its name (the pointer is its object's).
    pub missing: Option<String>,
}

fn validator() -> Option<&'static jsonschema::Validator> {
    static V: OnceLock<Option<jsonschema::Validator>> = OnceLock::new();
    V.get_or_init(|| jsonschema::validator_for(&flow_schema()).ok())
        .as_ref()
}

/// Every violation in `value`, in document order.
pub fn validate(value: &Value) -> Vec<SchemaViolation> {
    let Some(v) = validator() else {
        return vec![SchemaViolation {
            pointer: String::new(),
            message: "internal error: the flow schema does not compile".into(),
            unexpected: None,
            missing: None,
        }];
    };
    let mut out = Vec::new();
    for err in v.iter_errors(value) {
        let pointer = err.instance_path().to_string();
        if let ValidationErrorKind::AdditionalProperties { unexpected } = err.kind() {
            let allowed = allowed_properties(err.schema_path().to_string().as_str());
            for name in unexpected {
                out.push(SchemaViolation {
                    pointer: format!("{pointer}/{}", super::escape(name)),
                    message: format!("unknown field `{name}`"),
                    unexpected: Some((name.clone(), allowed.clone())),
                    missing: None,
                });
            }
            continue;
        }
        let message = describe(err.kind(), err.instance(), &err.to_string());
        let missing = match err.kind() {
            ValidationErrorKind::Required { property } => property.as_str().map(str::to_string),
            _ => None,
        };
        out.push(SchemaViolation {
            pointer,
            message,
            unexpected: None,
            missing,
        });
    }
    out
}

/// The property names declared next to the `additionalProperties` keyword at `schema_path`,
/// following `$ref` segments into `$defs`.
fn allowed_properties(schema_path: &str) -> Vec<String> {
    let schema = flow_schema();
    let parent = schema_path
        .strip_suffix("/additionalProperties")
        .unwrap_or(schema_path);
    let mut node = &schema;
    for seg in parent.split('/').filter(|s| !s.is_empty()) {
        let next = if seg == "$ref" {
            node.get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix('#'))
                .and_then(|r| schema.pointer(r))
        } else if let Ok(i) = seg.parse::<usize>() {
            node.get(i).or_else(|| node.get(seg))
        } else {
            node.get(seg)
        };
        match next {
            Some(n) => node = n,
            None => return Vec::new(),
        }
    }
    node.get("properties")
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// A short, lowercase message in our style; jsonschema's own quotes whole values.
fn describe(kind: &ValidationErrorKind, instance: &Value, fallback: &str) -> String {
    use ValidationErrorKind as K;
    let v = short(instance);
    match kind {
        K::Required { property } => {
            format!(
                "missing required field `{}`",
                property.as_str().unwrap_or_default()
            )
        }
        K::Type { .. } => {
            let expected = fallback
                .split_once(" is not of type")
                .map(|(_, t)| t.trim_start_matches('s').trim().replace('"', ""))
                .unwrap_or_default();
            format!("expected {}, found {v}", expected.replace(", ", " or "))
        }
        K::Enum { options } => {
            let opts: Vec<String> = options
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|o| format!("`{}`", o.as_str().unwrap_or(&o.to_string())))
                        .collect()
                })
                .unwrap_or_default();
            format!("{v} is not one of {}", opts.join(", "))
        }
        K::Pattern { pattern } => format!("{v} does not match the pattern `{pattern}`"),
        K::Minimum { limit } => format!("{v} is below the minimum {limit}"),
        K::Maximum { limit } => format!("{v} is above the maximum {limit}"),
        K::MinItems { limit } => format!(
            "needs at least {limit} item{}",
            if *limit == 1 { "" } else { "s" }
        ),
        K::MinLength { limit } => format!("{v} is shorter than {limit} characters"),
        K::MaxLength { limit } => format!("{v} is longer than {limit} characters"),
        _ => {
            let mut m = fallback.to_string();
            if m.chars().count() > 120 {
                m = m.chars().take(117).collect::<String>() + "...";
            }
            m
        }
    }
}

/// A value as a finding shows it: text in backticks (cut at 40 characters), or its kind.
fn short(v: &Value) -> String {
    match v {
        Value::String(s) if s.chars().count() > 40 => {
            format!("`{}...`", s.chars().take(37).collect::<String>())
        }
        Value::String(s) => format!("`{s}`"),
        Value::Number(n) => format!("`{n}`"),
        Value::Bool(b) => format!("`{b}`"),
        Value::Null => "nothing (an empty value)".into(),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}
