//! Renderers for diagnostics: `human` (source line and caret, colour only on a terminal),
//! `short` (one line each, for editors and grep), `json` and `sarif` (for CI code scanning).

use super::{Diagnostic, Severity, SourceMap, count};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human { colour: bool },
    Short,
    Json,
    Sarif,
}

pub fn render(format: Format, diags: &[Diagnostic], sources: &SourceMap, files: usize) -> String {
    match format {
        Format::Human { colour } => human(diags, sources, files, colour),
        Format::Short => short(diags),
        Format::Json => json(diags),
        Format::Sarif => super::sarif::sarif(diags),
    }
}

struct Paint(bool);

impl Paint {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

fn human(diags: &[Diagnostic], sources: &SourceMap, files: usize, colour: bool) -> String {
    let p = Paint(colour);
    let mut out = String::new();
    for d in diags {
        let (sev_colour, sev) = match d.severity {
            Severity::Error => ("1;31", "error"),
            Severity::Warning => ("1;33", "warning"),
        };
        out.push_str(&p.wrap(sev_colour, &format!("{sev}[{}]", d.code.code)));
        out.push_str(&p.wrap("1", &format!(": {} ({})", d.message, d.code.name)));
        out.push('\n');
        let location = match d.span {
            Some(s) => format!("{}:{}:{}", d.file, s.line, s.col),
            None => d.file.to_string(),
        };
        out.push_str(&format!("  {} {location}\n", p.wrap("34", "-->")));
        if let Some(span) = d.span
            && let Some(text) = sources.line(&d.file, span.line)
        {
            let gutter = span.line.to_string();
            let pad = " ".repeat(gutter.len());
            let text = text.replace('\t', " ");
            let width = if span.end_line == span.line && span.end_col > span.col {
                span.end_col - span.col
            } else {
                text.chars().count().saturating_sub(span.col - 1).max(1)
            };
            let width = width.min(80);
            out.push_str(&format!("{pad} {}\n", p.wrap("34", "|")));
            out.push_str(&format!(
                "{} {} {text}\n",
                p.wrap("34", &gutter),
                p.wrap("34", "|")
            ));
            let caret = format!("{}{}", " ".repeat(span.col - 1), "^".repeat(width));
            out.push_str(&format!(
                "{pad} {} {}\n",
                p.wrap("34", "|"),
                p.wrap(sev_colour, &caret)
            ));
        }
        if let Some(help) = &d.help {
            out.push_str(&format!("  = {}: {help}\n", p.wrap("1", "help")));
        }
        out.push('\n');
    }
    let (errors, warnings) = count(diags);
    let noun = if files == 1 { "file" } else { "files" };
    if diags.is_empty() {
        out.push_str(&format!(
            "{} {files} {noun} checked, no findings\n",
            p.wrap("1;32", "ok:")
        ));
    } else {
        out.push_str(&format!(
            "{files} {noun} checked: {errors} error{}, {warnings} warning{}\n",
            if errors == 1 { "" } else { "s" },
            if warnings == 1 { "" } else { "s" }
        ));
    }
    out
}

fn short(diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        let (line, col) = d.span.map(|s| (s.line, s.col)).unwrap_or((1, 1));
        out.push_str(&format!(
            "{}:{line}:{col}: {}[{}] {}\n",
            d.file,
            d.severity.as_str(),
            d.code.code,
            d.message
        ));
    }
    out
}

fn json(diags: &[Diagnostic]) -> String {
    let items: Vec<serde_json::Value> = diags
        .iter()
        .map(|d| {
            serde_json::json!({
                "code": d.code.code,
                "rule": d.code.name,
                "severity": d.severity.as_str(),
                "file": &*d.file,
                "line": d.span.map(|s| s.line),
                "column": d.span.map(|s| s.col),
                "end_line": d.span.map(|s| s.end_line),
                "end_column": d.span.map(|s| s.end_col),
                "message": d.message,
                "help": d.help,
            })
        })
        .collect();
    let (errors, warnings) = count(diags);
    let doc = serde_json::json!({ "errors": errors, "warnings": warnings, "diagnostics": items });
    format!(
        "{}\n",
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    )
}
