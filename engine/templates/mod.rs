//! Flow templates for `ledgerlink new`: each is a manifest in `templates/` naming a shipped
//! flow in `flows/`, whose text (and test file) is the starter, with parameters substituted.
//! The shipped flow is the template's tested reference, so a template cannot drift from it.

use serde::Deserialize;
use std::collections::BTreeMap;

/// One template as embedded in the binary.
pub struct Template {
    pub manifest: &'static str,
    pub flow: &'static str,
    pub tests: &'static str,
}

macro_rules! template {
    ($name:literal, $flow:literal) => {
        Template {
            manifest: include_str!(concat!("../../templates/", $name, ".yaml")),
            flow: include_str!(concat!("../../flows/", $flow, ".yaml")),
            tests: include_str!(concat!("../../flows/", $flow, ".test.yaml")),
        }
    };
}

/// Every template. Adding one adds a manifest in `templates/` and a line here.
pub const TEMPLATES: &[Template] = &[
    template!("payment-posting", "paytrace-payment-posting"),
    template!("order-to-cash", "shop-order-to-cash"),
    template!("refund-posting", "paytrace-refund-posting"),
    template!("void-reversal", "paytrace-void-reversal"),
    template!("chargeback", "paytrace-chargeback"),
    template!("customer-sync", "sagepro-customer-to-paytrace"),
    template!("vault-sync", "paytrace-vault-to-sagepro"),
    template!("settlement-reconciliation", "settlement-reconciliation"),
    template!("recurring-billing", "recurring-billing"),
];

/// Sample events the templates' tests read (`events/<file>`), written beside a new flow.
pub const EVENTS: &[(&str, &str)] = &[
    (
        "paytrace-sale-approved.json",
        include_str!("../../flows/events/paytrace-sale-approved.json"),
    ),
    (
        "paytrace-sale-voided.json",
        include_str!("../../flows/events/paytrace-sale-voided.json"),
    ),
    (
        "paytrace-refund.json",
        include_str!("../../flows/events/paytrace-refund.json"),
    ),
    (
        "chargeback-notice.json",
        include_str!("../../flows/events/chargeback-notice.json"),
    ),
    (
        "shop-order-paid.json",
        include_str!("../../flows/events/shop-order-paid.json"),
    ),
    (
        "sagepro-customer-changed.json",
        include_str!("../../flows/events/sagepro-customer-changed.json"),
    ),
    (
        "paytrace-vault-profile.json",
        include_str!("../../flows/events/paytrace-vault-profile.json"),
    ),
];

/// A template's manifest.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub template: String,
    pub summary: String,
    /// The shipped flow's id (`flows/<flow>.yaml`).
    pub flow: String,
    #[serde(default)]
    pub params: BTreeMap<String, Param>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Param {
    pub help: String,
    /// `{name}` stands for the new flow's name.
    pub default: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("no template `{0}`; `ledgerlink new --list` shows them")]
    Unknown(String),
    #[error("template `{template}` has no parameter `{param}` (it has: {known})")]
    UnknownParam {
        template: String,
        param: String,
        known: String,
    },
    #[error(
        "`{0}` is not a flow name: lower case letters, digits and dashes, starting with a letter"
    )]
    BadName(String),
    #[error("a template manifest in templates/ is broken: {0}")]
    Manifest(String),
    #[error("--set {param}=`{value}`: {why}")]
    BadValue {
        param: String,
        value: String,
        why: &'static str,
    },
}

pub fn manifest(t: &Template) -> Result<Manifest, TemplateError> {
    let parsed = crate::load::parse(t.manifest).map_err(|e| TemplateError::Manifest(e.message))?;
    serde_json::from_value(parsed.value).map_err(|e| TemplateError::Manifest(e.to_string()))
}

pub fn find(name: &str) -> Result<(&'static Template, Manifest), TemplateError> {
    for t in TEMPLATES {
        let m = manifest(t)?;
        if m.template == name {
            return Ok((t, m));
        }
    }
    Err(TemplateError::Unknown(name.to_string()))
}

/// The new flow and its tests, parameters applied.
pub struct Rendered {
    pub flow: String,
    pub tests: String,
    /// Event files the tests read, as (file name, text).
    pub events: Vec<(&'static str, &'static str)>,
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn valid_path(p: &str) -> bool {
    p.starts_with('/')
        && p.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._~/-".contains(c))
}

fn valid_table(t: &str) -> bool {
    !t.is_empty()
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Render template `t` as flow `name` with `set` overriding parameter defaults.
pub fn render(
    t: &Template,
    m: &Manifest,
    name: &str,
    set: &BTreeMap<String, String>,
) -> Result<Rendered, TemplateError> {
    if !valid_name(name) {
        return Err(TemplateError::BadName(name.to_string()));
    }
    if let Some(unknown) = set.keys().find(|k| !m.params.contains_key(*k)) {
        return Err(TemplateError::UnknownParam {
            template: m.template.clone(),
            param: unknown.clone(),
            known: m.params.keys().cloned().collect::<Vec<_>>().join(", "),
        });
    }
    for (param, value) in set {
        let why = match param.as_str() {
            "webhook_path" if !valid_path(value) => {
                Some("a path starts with `/` and holds letters, digits and . _ ~ / - only")
            }
            p if p.ends_with("_table") && !valid_table(value) => {
                Some("a table name is letters, digits, `_` and `-`")
            }
            _ => None,
        };
        if let Some(why) = why {
            return Err(TemplateError::BadValue {
                param: param.clone(),
                value: value.clone(),
                why,
            });
        }
    }
    let value = |p: &str| -> Option<String> {
        let param = m.params.get(p)?;
        Some(
            set.get(p)
                .cloned()
                .unwrap_or_else(|| param.default.replace("{name}", name)),
        )
    };
    let mut flow = String::with_capacity(t.flow.len());
    for line in t.flow.lines() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let replaced = if line.starts_with("flow: ") {
            format!("flow: {name}")
        } else if trimmed.starts_with("path: /") && indent.len() == 4 {
            match value("webhook_path") {
                Some(p) => format!("{indent}path: {p}"),
                None => line.to_string(),
            }
        } else {
            line.to_string()
        };
        flow.push_str(&replaced);
        flow.push('\n');
    }
    if let Some(gl) = value("gl_table") {
        flow = flow.replace("lookup(\"gl_accounts\"", &format!("lookup(\"{gl}\""));
    }
    if let Some(c) = value("customers_table") {
        flow = flow
            .replace("table: customers\n", &format!("table: {c}\n"))
            .replace("lookup_or(\"customers\"", &format!("lookup_or(\"{c}\""));
    }
    let tests = t.tests.to_string();
    let events = EVENTS
        .iter()
        .filter(|(file, _)| tests.contains(&format!("events/{file}")))
        .copied()
        .collect();
    Ok(Rendered {
        flow,
        tests,
        events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_manifest_parses_and_names_its_flow() {
        for t in TEMPLATES {
            let m = manifest(t).unwrap();
            assert!(
                t.flow.contains(&format!("flow: {}\n", m.flow)),
                "{}",
                m.template
            );
        }
    }

    #[test]
    fn every_event_a_template_test_reads_is_embedded() {
        for t in TEMPLATES {
            for part in t.tests.split("events/").skip(1) {
                let file: String = part.chars().take_while(|c| !c.is_whitespace()).collect();
                assert!(
                    EVENTS.iter().any(|(f, _)| *f == file),
                    "{file} is not in templates::EVENTS"
                );
            }
        }
    }

    #[test]
    fn parameters_are_substituted() {
        let (t, m) = find("payment-posting").unwrap();
        let mut set = BTreeMap::new();
        set.insert("gl_table".to_string(), "gl_eu".to_string());
        let r = render(t, &m, "eu-sales", &set).unwrap();
        assert!(r.flow.contains("flow: eu-sales\n"));
        assert!(r.flow.contains("    path: /hooks/eu-sales\n"));
        assert!(r.flow.contains("lookup(\"gl_eu\", \"card_clearing\")"));
        assert!(!r.flow.contains("gl_accounts"));
        assert_eq!(r.events[0].0, "paytrace-sale-approved.json");
        set.insert("nope".into(), "x".into());
        assert!(matches!(
            render(t, &m, "eu-sales", &set),
            Err(TemplateError::UnknownParam { .. })
        ));
        assert!(matches!(
            render(t, &m, "Bad Name", &BTreeMap::new()),
            Err(TemplateError::BadName(_))
        ));
    }
}
