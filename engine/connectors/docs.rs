//! The connector reference pages (`docs/connectors/<name>.md`), generated from each catalog
//! plus the connector's settings text, so the documentation lists exactly the operations,
//! inputs, outputs and outcomes the code has. A test keeps the committed pages fresh.

use super::{Catalog, Operation};
use serde_json::Value;
use std::fmt::Write;

/// What each outcome means to a flow, for every page.
const OUTCOME_MEANING: &[(&str, &str)] = &[
    ("ok", "the call succeeded; the step's output is the answer"),
    (
        "declined",
        "the processor refused the payment (a business answer, not an error)",
    ),
    ("not_found", "the record the call names does not exist"),
    (
        "duplicate",
        "the record already exists (its stored copy is in `existing` when known)",
    ),
    (
        "validation",
        "the input was refused; `details` lists every field or code",
    ),
    (
        "conflict",
        "a concurrent change or a reused key: the record changed since it was read",
    ),
];

/// The page for `catalog`, with `settings` (markdown) describing the profile section.
pub fn page(catalog: &Catalog, settings: &str) -> String {
    let mut s = String::new();
    let name = &catalog.connector;
    let _ = writeln!(s, "# `{name}` connector\n");
    let _ = writeln!(
        s,
        "<!-- Generated from engine/connectors/{name}/catalog.yaml by `BLESS=1 cargo test connector_docs`; do not edit. -->\n"
    );
    let _ = writeln!(s, "{}\n", catalog.description.trim());
    let _ = writeln!(s, "## Settings\n\n{}\n", settings.trim());
    let _ = writeln!(s, "## Outcomes\n");
    let _ = writeln!(
        s,
        "Flows route on these with `on:`. Any other failure is `error`: retryable ones (timeouts, 429, 5xx) are retried by the runtime with the server's Retry-After, the rest go to the dead-letter queue.\n"
    );
    for (o, meaning) in OUTCOME_MEANING {
        if catalog
            .operations
            .iter()
            .any(|op| op.outcomes.iter().any(|x| x == o))
        {
            let _ = writeln!(s, "- `{o}`: {meaning}");
        }
    }
    let _ = writeln!(s, "\n## Operations\n");
    let _ = writeln!(
        s,
        "| Operation | Call | Writes | Safe to resend | Outcomes |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|");
    for op in &catalog.operations {
        let _ = writeln!(
            s,
            "| [`{}`](#{}) | `{} {}` | {} | {} | {} |",
            op.name,
            op.name,
            op.method,
            op.path,
            yes(op.writes),
            yes(op.idempotent),
            op.outcomes.join(", ")
        );
    }
    for op in &catalog.operations {
        operation(&mut s, name, op);
    }
    s
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn operation(s: &mut String, connector: &str, op: &Operation) {
    let _ = writeln!(s, "\n### {}\n", op.name);
    let _ = writeln!(s, "`{connector}.{}`: {}\n", op.name, op.summary.trim());
    let _ = writeln!(
        s,
        "`{} {}`; writes: {}; safe to resend: {}; outcomes: {}.\n",
        op.method,
        op.path,
        yes(op.writes),
        yes(op.idempotent),
        op.outcomes
            .iter()
            .map(|o| format!("`{o}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let required: Vec<&str> = op
        .input
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    table(s, "Input", &op.input, &required);
    table(s, "Output", &op.output, &[]);
}

fn table(s: &mut String, title: &str, schema: &Value, required: &[&str]) {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    if props.is_empty() {
        let _ = writeln!(s, "{title}: none.\n");
        return;
    }
    let _ = writeln!(s, "{title}:\n");
    let _ = writeln!(s, "| Field | Type | | Description |");
    let _ = writeln!(s, "|---|---|---|---|");
    for (field, p) in props {
        let mut notes = Vec::new();
        if required.contains(&field.as_str()) {
            notes.push("required");
        }
        if p.get("x-card-data").and_then(Value::as_bool) == Some(true) {
            notes.push("card data");
        }
        let description = p
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .replace('|', "\\|");
        let _ = writeln!(
            s,
            "| `{field}` | {} | {} | {description} |",
            type_of(p),
            notes.join(", ")
        );
    }
    let _ = writeln!(s);
}

fn type_of(p: &Value) -> String {
    let base = match p.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "any".into(),
    };
    let mut out = match p.get("format").and_then(Value::as_str) {
        Some("money") => "money (decimal)".to_string(),
        Some(f) => format!("{base} ({f})"),
        None => base,
    };
    if let Some(values) = p.get("enum").and_then(Value::as_array) {
        let list: Vec<String> = values
            .iter()
            .map(|v| v.to_string().replace('"', "`"))
            .collect();
        out = format!("{out}: {}", list.join(", "));
    }
    out
}

/// Settings text of each connector with a client.
pub fn settings(connector: &str) -> &'static str {
    match connector {
        "paytrace" => super::paytrace::config::SETTINGS_DOC,
        "sagepro" => super::sagepro::config::SETTINGS_DOC,
        "http" => super::http::client::SETTINGS_DOC,
        _ => {
            "No settings: the mock connector is scripted by tests (`--replies`, scenario folders)."
        }
    }
}
