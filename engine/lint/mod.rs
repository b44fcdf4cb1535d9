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
        // A misspelt key, a wrong value or a missing one must not hide the rest of the file's
        // findings. The file is repaired (`repair`) until it matches the schema, and then the
        // rules check it as well (lines and columns are the file's own: members were only
        // removed or added), quiet in the sections that lost a value.
        let mut repaired = parsed.value.clone();
        let mut quiet = Vec::new();
        let mut fix = |repaired: &mut serde_json::Value, v: &load::SchemaViolation| {
            if repair(repaired, v, &file.name) {
                quiet.extend(quiet_lines(&parsed.index, &v.pointer));
            }
        };
        for v in violations {
            fix(&mut repaired, &v);
            out.push(rules::schema_violation::diagnostic(
                &file.name,
                &parsed.index,
                v,
            ));
        }
        // A repair can leave another violation behind (a webhook whose `signature` went for
        // want of its `scheme` now lacks a signature): repaired too, not reported, since the
        // finding already made names its cause.
        for _ in 0..MAX_REPAIR_ROUNDS {
            let left = load::validate(&repaired);
            if left.is_empty() {
                break;
            }
            for v in &left {
                fix(&mut repaired, v);
            }
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

/// The stand-in for a webhook's missing `path` (valid, so the trigger is still checked; the
/// file's own LL002 names what is missing).
pub const MISSING_WEBHOOK_PATH: &str = "/~missing-path~";

/// Rounds of repairs after the first, for violations that repairs uncover.
const MAX_REPAIR_ROUNDS: usize = 4;

/// Change `value` so that it no longer has violation `v`: a member with a wrong value, or an
/// unknown one, is removed; a missing one the rules can do without gets a placeholder (a
/// step's id, the flow's id, a manual trigger, no steps, a `foreach` over nothing, an empty
/// reason or alert text, a lookup's empty table and `()` key, a webhook's stand-in path); an
/// object missing any other member
/// is removed with it. True when the section lost something the rules would miss (its
/// findings are then dropped); false for an unknown key or a placeholder, which leave what
/// the file says for the rules to check.
fn repair(value: &mut serde_json::Value, v: &load::SchemaViolation, file: &str) -> bool {
    use serde_json::json;
    let Some(member) = v.missing.as_deref() else {
        remove_at(value, &v.pointer);
        return v.unexpected.is_none();
    };
    let placeholder = match (v.pointer.as_str(), member) {
        ("", "flow") => Some(json!(unnamed_flow(file))),
        ("", "trigger") => Some(json!({ "manual": {} })),
        ("", "steps") => Some(json!([])),
        // `/steps/0/foreach/steps/1` -> `unnamed_step_0_1`.
        (step, "id") if is_step(step) => Some(json!(
            step.split('/')
                .filter(|s| s.parse::<usize>().is_ok())
                .fold("unnamed_step".to_string(), |id, n| id + "_" + n)
        )),
        // Expressions no rule has anything to say about, so the step's body and its other
        // members are still checked (a `foreach` without `items` keeps its nested steps'
        // findings). A missing `foreach` body is not stood in for: an empty one is a finding
        // of its own (LL019).
        (kind, "items") if step_kind(kind) == Some("foreach") => Some(json!("[]")),
        (kind, "reason") if matches!(step_kind(kind), Some("fail" | "dead_letter")) => {
            Some(json!("\"\""))
        }
        (kind, "message") if step_kind(kind) == Some("alert") => Some(json!("\"\"")),
        // A lookup without its table or key, a webhook without its path: an empty table name
        // (the profile check passes over it) and a key of `()`; a path no flow can have (the
        // duplicate path check passes over it), so the rest of the step or trigger is still
        // checked.
        (kind, "table") if step_kind(kind) == Some("lookup") => Some(json!("")),
        (kind, "key") if step_kind(kind) == Some("lookup") => Some(json!("()")),
        ("/trigger/webhook", "path") => Some(json!(MISSING_WEBHOOK_PATH)),
        _ => None,
    };
    match (placeholder, value.pointer_mut(&v.pointer)) {
        (Some(p), Some(serde_json::Value::Object(map))) => {
            map.insert(member.to_string(), p);
            false
        }
        _ => {
            remove_at(value, &v.pointer);
            true
        }
    }
}

/// A flow id for a file that gives none, from its name (`payments.yaml` ->
/// `unnamed-payments`), so two such files are not reported as one flow defined twice.
fn unnamed_flow(file: &str) -> String {
    let stem = std::path::Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let stem: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(50)
        .collect();
    format!("unnamed-{stem}")
}

/// The kind a JSON pointer names when it is a step's member (`/steps/2/foreach` ->
/// `foreach`).
fn step_kind(pointer: &str) -> Option<&str> {
    let (step, kind) = pointer.rsplit_once('/')?;
    is_step(step).then_some(kind)
}

/// Whether a JSON pointer names a step (`/steps/2`, `/steps/0/foreach/steps/1`).
fn is_step(pointer: &str) -> bool {
    let mut back = pointer.rsplit('/');
    matches!(
        (back.next(), back.next()),
        (Some(n), Some("steps")) if n.parse::<usize>().is_ok()
    )
}

/// The lines (first, last) of the step or top-level section a violation is in, from the
/// section's key (`trigger:`) to the end of its value; none for the file as a whole. A
/// violation inside a step's `retry` quiets only the `retry`: the step without it is still a
/// whole step (its default retry policy), so its other findings stand.
fn quiet_lines(index: &load::PointerIndex, pointer: &str) -> Option<(usize, usize)> {
    let section = retry_of(pointer).map_or_else(|| section_of(pointer), str::to_string);
    if section.is_empty() {
        return None;
    }
    let key = index.key_span(&section).map(|k| k.line);
    index
        .span(&section)
        .map(|s| (key.unwrap_or(s.line).min(s.line), s.end_line))
}

/// The step's `retry` a JSON pointer is in (`/steps/2/retry/attempts` -> `/steps/2/retry`).
fn retry_of(pointer: &str) -> Option<&str> {
    let at = pointer.find("/retry")?;
    let (retry, after) = pointer.split_at(at + "/retry".len());
    (is_step(&pointer[..at]) && (after.is_empty() || after.starts_with('/'))).then_some(retry)
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
