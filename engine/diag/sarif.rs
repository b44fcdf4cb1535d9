//! SARIF 2.1.0 output so CI systems (GitHub code scanning and others) can annotate flow files.

use super::{Diagnostic, Severity};
use serde_json::{Value, json};

pub fn sarif(diags: &[Diagnostic]) -> String {
    let mut rules: Vec<Value> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for d in diags {
        if !seen.contains(&d.code.code) {
            seen.push(d.code.code);
            rules.push(json!({
                "id": d.code.code,
                "name": d.code.name,
                "shortDescription": { "text": d.code.summary },
            }));
        }
    }
    let results: Vec<Value> = diags
        .iter()
        .map(|d| {
            let mut region = json!({});
            if let Some(s) = d.span {
                region = json!({
                    "startLine": s.line, "startColumn": s.col,
                    "endLine": s.end_line, "endColumn": s.end_col,
                });
            }
            let text = match &d.help {
                Some(h) => format!("{} (help: {h})", d.message),
                None => d.message.clone(),
            };
            json!({
                "ruleId": d.code.code,
                "level": if d.severity == Severity::Error { "error" } else { "warning" },
                "message": { "text": text },
                "locations": [{ "physicalLocation": {
                    "artifactLocation": { "uri": &*d.file },
                    "region": region,
                }}],
            })
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "ledgerlink",
                "informationUri": "https://example.invalid/ledgerlink",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    });
    format!(
        "{}\n",
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    )
}
