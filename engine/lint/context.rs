//! What a rule sees for one flow: the model, the raw JSON value, the position index, the
//! walked steps and expressions, and a hardened Rhai engine for compiling.

use super::LintOptions;
use super::walk::{self, Expr, StepAt};
use crate::diag::{Code, Diagnostic, Span};
use crate::load::{PointerIndex, SourceFile};
use crate::model::Flow;
use rhai::Engine;
use serde_json::Value;
use std::sync::Arc;

pub struct FlowCx<'a> {
    pub file: &'a Arc<str>,
    /// The file's text, for mapping positions inside expressions.
    pub text: &'a str,
    pub index: &'a PointerIndex,
    pub value: &'a Value,
    pub flow: &'a Flow,
    pub steps: Vec<StepAt<'a>>,
    pub exprs: Vec<Expr<'a>>,
    /// Compile result of each entry of `exprs` (compiled once, read by LL007, LL008 and
    /// LL024).
    pub compiled: Vec<Result<rhai::AST, crate::script::CompileError>>,
    pub engine: &'a Engine,
    pub options: &'a LintOptions,
}

impl<'a> FlowCx<'a> {
    pub fn new(
        file: &'a SourceFile,
        index: &'a PointerIndex,
        value: &'a Value,
        flow: &'a Flow,
        engine: &'a Engine,
        options: &'a LintOptions,
    ) -> Self {
        let exprs = walk::exprs(flow);
        let compiled = exprs
            .iter()
            .map(|e| {
                let vars: Vec<&str> = e.extra_vars.iter().map(String::as_str).collect();
                crate::script::check(engine, e.src, e.block, &vars)
            })
            .collect();
        FlowCx {
            file: &file.name,
            text: &file.text,
            index,
            value,
            flow,
            steps: walk::steps(flow),
            exprs,
            compiled,
            engine,
            options,
        }
    }

    /// An error at the value at `pointer`.
    pub fn error(&self, code: Code, pointer: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(code, self.file, self.index.span(pointer), message)
    }

    pub fn warning(&self, code: Code, pointer: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::warning(code, self.file, self.index.span(pointer), message)
    }

    /// An error at the key of the field at `pointer` (for "unknown field" style findings).
    pub fn key_error(&self, code: Code, pointer: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(code, self.file, self.index.key_span(pointer), message)
    }

    /// The file position of (line, col) inside an expression, with the span covering `len`
    /// characters.
    pub fn expr_span(&self, expr: &Expr<'_>, line: usize, col: usize, len: usize) -> Option<Span> {
        let mut s = self
            .index
            .expr_position(self.text, &expr.pointer, line.max(1), col.max(1))?;
        s.end_col = s.col + len.max(1);
        Some(s)
    }

    /// Ids of all steps, in document order.
    pub fn step_ids(&self) -> Vec<&'a str> {
        self.steps.iter().map(|s| s.step.id.as_str()).collect()
    }
}

/// The closest candidate to `name`, if it is close enough to be a likely typo.
pub fn closest<'c>(name: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::jaro_winkler(&name.to_lowercase(), &c.to_lowercase()),
                c,
            )
        })
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}
