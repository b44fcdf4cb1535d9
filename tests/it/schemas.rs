//! The committed schemas match what the code generates; regenerate with
//! `BLESS=1 cargo test schemas`.

use std::path::Path;

fn check(path: &Path, actual: &str) {
    if let Some(diff) = super::golden::check(path, actual) {
        panic!(
            "{} is stale: run `BLESS=1 cargo test schemas` and commit it\n{diff}",
            path.display()
        );
    }
}

#[test]
fn flow_schema_is_fresh() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    check(
        &root.join("schemas/flow.schema.json"),
        &ledgerlink::schemas::flow_schema_text(),
    );
}

#[test]
fn profile_schema_is_fresh() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    check(
        &root.join("schemas/profile.schema.json"),
        &ledgerlink::schemas::profile_schema_text(),
    );
}

#[test]
fn shipped_profiles_match_their_schema() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let schema = ledgerlink::load::profile_schema();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for name in ["dev", "qa", "prod"] {
        let path = root.join(format!("profiles/{name}.yaml"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# yaml-language-server: $schema=../schemas/profile.schema.json"));
        let value = ledgerlink::load::parse(&text).unwrap().value;
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");
    }
}

#[test]
fn connector_schemas_are_fresh() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for name in ledgerlink::connectors::REGISTRY.iter().map(|r| r.name) {
        let text = ledgerlink::schemas::connector_schema_text(name).unwrap();
        check(&root.join(format!("schemas/connectors/{name}.json")), &text);
    }
}

#[test]
fn every_schema_field_has_a_description() {
    let mut missing = Vec::new();
    walk(&ledgerlink::load::flow_schema(), "", &mut missing);
    walk(&ledgerlink::load::profile_schema(), "profile", &mut missing);
    assert!(
        missing.is_empty(),
        "fields without a description (editors show none): {missing:#?}"
    );
}

fn walk(v: &serde_json::Value, at: &str, missing: &mut Vec<String>) {
    if let Some(props) = v.get("properties").and_then(|p| p.as_object()) {
        for (name, sub) in props {
            let has = sub.get("description").is_some()
                || sub.get("$ref").is_some() && sub.get("description").is_some();
            if !has {
                missing.push(format!("{at}/{name}"));
            }
        }
    }
    if let Some(obj) = v.as_object() {
        for (k, sub) in obj {
            walk(sub, &format!("{at}/{k}"), missing);
        }
    }
}
