//! Lint: every finding in a set of flow files, never stopping at the first. The driver loads
//! each file (LL001), validates it against the schema (LL002), deserialises the model, then
//! runs every rule in `rules/` (one file per rule) over each flow and over the whole set.

mod context;
pub mod rules;
pub mod tokens;
pub mod walk;

pub use context::FlowCx;

use crate::diag::{Diagnostic, SourceMap};
use crate::load::{self, SourceFile};
use crate::model::Flow;
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub struct LintOptions {
    /// Lint for this profile: flows that do not list it are reported (LL022).
    pub profile: Option<String>,
    /// The profile's contents, when known: flows are checked against its tables, secret
    /// bindings and connectors (LL023).
    pub profile_data: Option<Arc<crate::model::Profile>>,
}

/// The result of linting: all findings (sorted) and the flows that parsed.
#[derive(Debug, Default)]
pub struct Report {
    pub diagnostics: Vec<Diagnostic>,
    /// Each flow that parsed, with its file name and position index (plans reuse it).
    pub flows: Vec<(Arc<str>, Flow, load::PointerIndex)>,
    pub sources: SourceMap,
    pub files: usize,
}

impl Report {
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == crate::diag::Severity::Error)
    }
}

/// A file that parsed and matched the schema, ready for the rules.
struct Parsed {
    file: SourceFile,
    value: serde_json::Value,
    index: load::PointerIndex,
    flow: Flow,
    /// Linted without the members an LL002 named: checked by the rules, never handed on as
    /// a flow.
    repaired: bool,
    /// Lines (first, last) of the steps or top-level sections whose members were removed for
    /// a wrong value (not an unknown key): rule findings there are dropped, since a rule
    /// would see the section without the member (a "missing" finding for a value that is
    /// there but wrong).
    quiet: Vec<(usize, usize)>,
}

/// Lint files already in memory.
pub fn lint_sources(files: Vec<SourceFile>, options: &LintOptions) -> Report {
    let mut report = Report {
        files: files.len(),
        ..Report::default()
    };
    let mut parsed = Vec::new();
    for file in files {
        report.sources.add(&file.name, &file.text);
        if let Some(p) = parse_one(file, &mut report.diagnostics) {
            parsed.push(p);
        }
    }
    let engine = crate::script::engine();
    let cxs: Vec<FlowCx<'_>> = parsed
        .iter()
        .map(|p| FlowCx::new(&p.file, &p.index, &p.value, &p.flow, &engine, options))
        .collect();
    for rule in rules::RULES {
        for cx in &cxs {
            rule.check(cx, &mut report.diagnostics);
        }
        rule.check_set(&cxs, &mut report.diagnostics);
    }
    drop(cxs);
    let schema = rules::schema_violation::CODE.code;
    report.diagnostics.retain(|d| {
        d.code.code == schema
            || !parsed.iter().any(|p| {
                *p.file.name == *d.file
                    && d.span.is_some_and(|s| {
                        p.quiet
                            .iter()
                            .any(|(first, last)| (*first..=*last).contains(&s.line))
                    })
            })
    });
    report.flows = parsed
        .into_iter()
        .filter(|p| !p.repaired)
        .map(|p| (p.file.name, p.flow, p.index))
        .collect();
    report.diagnostics.sort_by_key(|d| d.sort_key());
    report.diagnostics.dedup();
    report
}

/// LL001 and LL002: YAML, then schema, then the typed model.
fn parse_one(file: SourceFile, out: &mut Vec<Diagnostic>) -> Option<Parsed> {
    let parsed = match load::parse(&file.text) {
        Ok(p) => p,
        Err(e) => {
            let mut d = Diagnostic::error(rules::yaml_syntax::CODE, &file.name, e.span, e.message);
            d.help = e.help;
            out.push(d);
            return None;
        }
    };
    let violations = load::validate(&parsed.value);
    if !violations.is_empty() {
        // A misspelt key or a wrong value must not hide the rest of the file's findings.
        // Without the members the violations name, the file may match the schema, and then the
        // rules check it as well (lines and columns are the file's own: only members were
        // removed), quiet in the sections that lost a value. A violation that is not about a
        // member (a required one missing) leaves the file to its LL002s.
        let mut repaired = parsed.value.clone();
        let mut quiet = Vec::new();
        for v in violations {
            remove_at(&mut repaired, &v.pointer);
            if v.unexpected.is_none() {
                let section = section_of(&v.pointer);
                // From the section's key (`trigger:`) to the end of its value.
                let key = parsed.index.key_span(&section).map(|k| k.line);
                quiet.extend(
                    parsed
                        .index
                        .span(&section)
                        .map(|s| (key.unwrap_or(s.line).min(s.line), s.end_line)),
                );
            }
            out.push(rules::schema_violation::diagnostic(
                &file.name,
                &parsed.index,
                v,
            ));
        }
        if !load::validate(&repaired).is_empty() {
            return None;
        }
        let flow = serde_json::from_value::<Flow>(repaired.clone()).ok()?;
        return Some(Parsed {
            file,
            value: repaired,
            index: parsed.index,
            flow,
            repaired: true,
            quiet,
        });
    }
    match serde_path_to_error::deserialize::<_, Flow>(parsed.value.clone()) {
        Ok(flow) => Some(Parsed {
            file,
            value: parsed.value,
            index: parsed.index,
            flow,
            repaired: false,
            quiet: Vec::new(),
        }),
        Err(e) => {
            // What the schema let through but the model cannot hold (an integer too large for
            // its field): reported at the value, by its path.
            let code = rules::schema_violation::CODE;
            let pointer = pointer_of(e.path());
            let span = parsed
                .index
                .span(&pointer)
                .unwrap_or(crate::diag::Span::point(1, 1));
            let inner = match e.inner().to_string() {
                // serde_json's words for an integer past its field's range.
                m if m == "invalid number" => "a number out of this field's range".to_string(),
                m => m,
            };
            let message = match e.path().iter().next() {
                Some(_) => format!("`{}`: {inner}", e.path()),
                None => inner,
            };
            out.push(Diagnostic::error(code, &file.name, Some(span), message));
            None
        }
    }
}

/// The step (`/steps/N`) or top-level section (`/trigger`) a JSON pointer is in.
fn section_of(pointer: &str) -> String {
    let mut parts = pointer.split('/').skip(1);
    match (parts.next(), parts.next()) {
        (Some("steps"), Some(n)) => format!("/steps/{n}"),
        (Some(first), _) => format!("/{first}"),
        (None, _) => String::new(),
    }
}

/// Remove the object member a JSON pointer names, if there is one.
fn remove_at(value: &mut serde_json::Value, pointer: &str) {
    let Some((parent, key)) = pointer.rsplit_once('/') else {
        return;
    };
    let key = key.replace("~1", "/").replace("~0", "~");
    if let Some(serde_json::Value::Object(map)) = value.pointer_mut(parent) {
        map.shift_remove(&key);
    }
}

/// The JSON pointer of a deserialisation path (`steps[0].retry.attempts` ->
/// `/steps/0/retry/attempts`).
fn pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|segment| match segment {
            Segment::Seq { index } => Some(format!("/{index}")),
            Segment::Map { key } => Some(format!("/{}", load::escape(key))),
            Segment::Enum { .. } | Segment::Unknown => None,
        })
        .collect()
}

/// Lint files and directories on disk. I/O problems (missing path, unreadable file) are
/// returned as errors; oversized or binary files are findings (LL001).
pub fn lint_paths(
    paths: &[std::path::PathBuf],
    options: &LintOptions,
) -> Result<Report, load::LoadError> {
    let mut files = Vec::new();
    let mut early = Vec::new();
    for path in load::discover(paths)? {
        match load::read(&path) {
            Ok(f) => files.push(f),
            Err(e) if e.is_content() => {
                let name: Arc<str> = e.path().into();
                early.push(Diagnostic::error(
                    rules::yaml_syntax::CODE,
                    &name,
                    None,
                    e.to_string(),
                ));
            }
            Err(e) => return Err(e),
        }
    }
    let extra = early.len();
    let mut report = lint_sources(files, options);
    report.files += extra;
    report.diagnostics.extend(early);
    report.diagnostics.sort_by_key(|d| d.sort_key());
    Ok(report)
}
