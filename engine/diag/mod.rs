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
        text.lines().nth(line.checked_sub(1)?)
    }
}

/// Counts for the summary line and the exit code.
pub fn count(diags: &[Diagnostic]) -> (usize, usize) {
    let errors = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    (errors, diags.len() - errors)
}
