//! Diagnostics: where a finding is (`Span`), what it says (`Diagnostic`) and how it is shown
//! (`render`). Findings are values, never errors: lint collects them all and the CLI renders them.

mod render;
mod sarif;

pub use render::{Format, render};

use std::sync::Arc;

/// A place in a source file. Lines and columns are 1-based and counted in characters, the way
/// editors show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Span {
    pub line: usize,
    pub col: usize,
    pub end_line: usize,
    pub end_col: usize,
}

impl Span {
    pub fn point(line: usize, col: usize) -> Self {
        Span {
            line,
            col,
            end_line: line,
            end_col: col + 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A lint rule's stable identity: `LL008` and `rhai-compile`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    pub code: &'static str,
    pub name: &'static str,
    pub summary: &'static str,
}

/// One finding, with enough context to print `file:line:col`, a caret and a help line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub file: Arc<str>,
    pub span: Option<Span>,
    pub message: String,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(
        code: Code,
        file: &Arc<str>,
        span: Option<Span>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            code,
            severity: Severity::Error,
            file: Arc::clone(file),
            span,
            message: message.into(),
            help: None,
        }
    }

    pub fn warning(
        code: Code,
        file: &Arc<str>,
        span: Option<Span>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Self::error(code, file, span, message)
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Sort key: file, position, then code, so output is stable across runs.
    pub fn sort_key(&self) -> (Arc<str>, Span, &'static str) {
        (
            Arc::clone(&self.file),
            self.span.unwrap_or_default(),
            self.code.code,
        )
    }
}

/// The text of every file a diagnostic may point into, for the caret display.
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    files: Vec<(Arc<str>, Arc<str>)>,
}

impl SourceMap {
    pub fn add(&mut self, name: &Arc<str>, text: &Arc<str>) {
        self.files.push((Arc::clone(name), Arc::clone(text)));
    }

    pub fn line(&self, file: &str, line: usize) -> Option<&str> {
        let (_, text) = self.files.iter().find(|(name, _)| &**name == file)?;
        lines(text).nth(line.checked_sub(1)?)
    }
}

/// Lines as YAML counts them, so a finding's line number finds its text: `\n`, `\r\n` and a
/// lone `\r` each end one. (`str::lines` ignores a lone `\r`: the fuzzer found a file with old
/// Mac line endings whose finding pointed past the lines the caret display could see.)
pub fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let t = rest?;
        match t.find(['\r', '\n']) {
            Some(i) => {
                let end = if t[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = Some(&t[i + end..]);
                Some(&t[..i])
            }
            None => {
                rest = None;
                (!t.is_empty()).then_some(t)
            }
        }
    })
}

/// Counts for the summary line and the exit code.
pub fn count(diags: &[Diagnostic]) -> (usize, usize) {
    let errors = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    (errors, diags.len() - errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_end_where_yaml_ends_them() {
        let all: Vec<&str> = lines("a\nb\r\nc\rd\r\re\n").collect();
        assert_eq!(all, ["a", "b", "c", "d", "", "e"]);
        assert_eq!(lines("").count(), 0);
        let mut map = SourceMap::default();
        map.add(&"f".into(), &"x: 1\r\ry: [\r".into());
        assert_eq!(map.line("f", 3), Some("y: ["));
    }
}
