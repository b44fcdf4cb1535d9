//! Profile guards: settings that must never reach the wrong environment. A profile named
//! `prod` may not point at the sandbox (loopback or PayTrace's sandbox host), use the sandbox's
//! built-in credentials, embed the emulators or accept unsigned webhooks; a profile named `dev`
//! may not point at PayTrace's production host. Checked whenever a profile is read.

use crate::model::Profile;
use serde_json::Value;

/// PayTrace's production API host.
const PAYTRACE_PRODUCTION: &str = "api.paytrace.com";
/// Hosts that are test systems.
const SANDBOX_HOSTS: &[&str] = &[
    "127.0.0.1",
    "localhost",
    "[::1]",
    "api.sandbox.paytrace.com",
];

/// Every guard the profile breaks, as readable sentences naming the setting.
pub fn violations(profile: &Profile) -> Vec<String> {
    let mut out = Vec::new();
    let urls: Vec<(String, String)> = profile
        .connectors
        .iter()
        .filter_map(|(name, settings)| {
            let url = settings.get("base_url")?.as_str()?;
            Some((name.clone(), url.to_string()))
        })
        .collect();
    match profile.profile.as_str() {
        "prod" => {
            for (name, url) in &urls {
                if let Some(h) = SANDBOX_HOSTS.iter().find(|h| host(url) == **h) {
                    out.push(format!(
                        "connectors.{name}.base_url points at a test system (`{h}`); prod must use production endpoints"
                    ));
                }
            }
            for (path, text) in strings(&serde_json::to_value(profile).unwrap_or(Value::Null), "") {
                if text.contains("secrets/dev/") {
                    out.push(format!(
                        "{path} uses the sandbox's built-in credentials (`{text}`)"
                    ));
                }
            }
            if profile.sandbox.as_ref().is_some_and(|s| s.embedded) {
                out.push("sandbox.embedded is true; prod never starts the emulators".into());
            }
            if profile.allow_unsigned_webhooks {
                out.push(
                    "allow_unsigned_webhooks is true; prod only accepts signed webhooks".into(),
                );
            }
        }
        "dev" => {
            for (name, url) in &urls {
                if host(url) == PAYTRACE_PRODUCTION {
                    out.push(format!(
                        "connectors.{name}.base_url points at PayTrace production (`{PAYTRACE_PRODUCTION}`); dev must not charge real cards"
                    ));
                }
            }
        }
        _ => {}
    }
    out
}

/// The host of a URL (`https://api.paytrace.com/v1` -> `api.paytrace.com`).
fn host(url: &str) -> &str {
    let rest = url.split("://").nth(1).unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or("");
    if authority.starts_with('[') {
        return authority
            .split(']')
            .next()
            .map_or(authority, |h| &authority[..h.len() + 1]);
    }
    authority.split(':').next().unwrap_or(authority)
}

/// Every string in a JSON value with its dotted path.
pub fn strings(v: &Value, at: &str) -> Vec<(String, String)> {
    let join = |k: &str| {
        if at.is_empty() {
            k.to_string()
        } else {
            format!("{at}.{k}")
        }
    };
    match v {
        Value::String(s) => vec![(at.to_string(), s.clone())],
        Value::Object(m) => m.iter().flat_map(|(k, v)| strings(v, &join(k))).collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .flat_map(|(i, v)| strings(v, &join(&i.to_string())))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn profile(v: Value) -> Profile {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn prod_refuses_sandbox_endpoints_and_credentials_dev_refuses_production() {
        let prod = profile(json!({"profile": "prod", "allow_unsigned_webhooks": true,
            "connectors": {"sagepro": {"base_url": "http://127.0.0.1:8082", "client_id": "x",
                "client_secret": "${file:secrets/dev/sagepro-client-secret}"},
                "paytrace": {"base_url": "https://api.sandbox.paytrace.com"}}}));
        let v = violations(&prod);
        assert_eq!(v.len(), 4, "{v:#?}");
        assert!(v.iter().any(|m| m.contains("connectors.paytrace.base_url")));
        assert!(
            v.iter()
                .any(|m| m.contains("connectors.sagepro.client_secret"))
        );
        let dev = profile(
            json!({"profile": "dev", "connectors": {"paytrace": {"base_url": "https://api.paytrace.com/"}}}),
        );
        assert_eq!(violations(&dev).len(), 1);
        let good = profile(
            json!({"profile": "prod", "connectors": {"paytrace": {"base_url": "https://api.paytrace.com"}}}),
        );
        assert!(violations(&good).is_empty());
        assert_eq!(host("http://[::1]:8080/x"), "[::1]");
    }
}
