//! The published JSON documents: `schemas/flow.schema.json` and `schemas/profile.schema.json`
//! (from the model types) and
//! `schemas/connectors/<name>.json` (from each connector's catalog). Tests compare the
//! committed files with these so they never go stale.

/// Pretty JSON of the flow schema, as committed.
pub fn flow_schema_text() -> String {
    pretty(&crate::load::flow_schema())
}

/// Pretty JSON of the profile schema, as committed.
pub fn profile_schema_text() -> String {
    pretty(&crate::load::profile_schema())
}

/// Pretty JSON of a connector's catalog, as committed.
pub fn connector_schema_text(name: &str) -> Option<String> {
    let cat = crate::connectors::catalog(name)?;
    Some(pretty(&serde_json::to_value(cat).ok()?))
}

fn pretty(v: &serde_json::Value) -> String {
    format!("{}\n", serde_json::to_string_pretty(v).unwrap_or_default())
}
