//! The JSON-pointer -> source position index built while converting YAML to JSON, so every later
//! finding (schema, lint, plan) can point at a line and column.

use crate::diag::Span;
use std::collections::HashMap;

/// How a scalar was written; needed to map a position inside an expression back to the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    /// `|` (or `>` when `folded`) block scalar; the node's span starts at its content,
    /// indented by `indent`.
    Block {
        indent: usize,
        folded: bool,
    },
    Collection,
}

#[derive(Debug, Clone, Copy)]
pub struct Node {
    pub value: Span,
    pub key: Option<Span>,
    pub style: Style,
}

#[derive(Debug, Default, Clone)]
pub struct PointerIndex {
    nodes: HashMap<String, Node>,
}

impl PointerIndex {
    pub fn insert(&mut self, pointer: String, node: Node) {
        self.nodes.insert(pointer, node);
    }

    pub fn node(&self, pointer: &str) -> Option<&Node> {
        self.nodes.get(pointer)
    }

    /// Span of the value at `pointer`, or of the nearest ancestor that has one.
    pub fn span(&self, pointer: &str) -> Option<Span> {
        let mut p = pointer;
        loop {
            if let Some(n) = self.nodes.get(p) {
                return Some(n.value);
            }
            let cut = p.rfind('/')?;
            p = &p[..cut];
        }
    }

    /// Span of the mapping key for `pointer` (falls back to the value span).
    pub fn key_span(&self, pointer: &str) -> Option<Span> {
        match self.nodes.get(pointer) {
            Some(Node { key: Some(k), .. }) => Some(*k),
            _ => self.span(pointer),
        }
    }

    /// Map a 1-based (line, column) inside the string value at `pointer` (as the program sees
    /// it, after YAML unquoting and folding) to its place in `text`, the file.
    pub fn expr_position(
        &self,
        text: &str,
        pointer: &str,
        line: usize,
        col: usize,
    ) -> Option<Span> {
        let node = self.nodes.get(pointer)?;
        let lines: Vec<&str> = text.lines().collect();
        let decoded = decode_positions(node, &lines);
        let (mut l, mut c) = (1, 1);
        for &(ch, fl, fc) in &decoded {
            if (l, c) == (line, col) || l > line {
                return Some(Span::point(fl, fc));
            }
            if ch == '\n' {
                l += 1;
                c = 1;
            } else {
                c += 1;
            }
        }
        // Past the end (an "unexpected end of input"): just after the last character.
        let last = decoded
            .last()
            .map_or((node.value.line, node.value.col), |&(_, l, c)| (l, c + 1));
        Some(Span::point(last.0, last.1))
    }
}

/// Every character of a scalar as the program sees it, with its (line, col) in the file.
fn decode_positions(node: &Node, lines: &[&str]) -> Vec<(char, usize, usize)> {
    let start = node.value;
    let end = (node.value.end_line, node.value.end_col);
    let mut out: Vec<(char, usize, usize)> = Vec::new();
    let row = |l: usize| -> Vec<char> {
        lines
            .get(l.wrapping_sub(1))
            .map(|s| s.chars().collect())
            .unwrap_or_default()
    };
    match node.style {
        Style::Block { indent, folded } => {
            let mut l = start.line;
            let mut prev_blank = true;
            while l < end.0 || (l == end.0 && end.1 > 1) {
                let chars = row(l);
                let blank = chars.iter().all(|c| c.is_whitespace());
                if !blank && chars.iter().take(indent).any(|c| !c.is_whitespace()) {
                    break; // dedent: the block ended
                }
                if folded
                    && !blank
                    && !prev_blank
                    && let Some(last) = out.last_mut()
                {
                    *last = (' ', last.1, last.2); // the line break folds into a space
                }
                for (i, ch) in chars.iter().enumerate().skip(indent) {
                    out.push((*ch, l, i + 1));
                }
                out.push(('\n', l, chars.len() + 1));
                prev_blank = blank;
                l += 1;
                if l > lines.len() {
                    break;
                }
            }
        }
        Style::Collection => {}
        Style::Plain | Style::SingleQuoted | Style::DoubleQuoted => {
            let quote = match node.style {
                Style::SingleQuoted => Some('\''),
                Style::DoubleQuoted => Some('"'),
                _ => None,
            };
            let (mut l, mut i) = (start.line, start.col - 1 + usize::from(quote.is_some()));
            let mut chars = row(l);
            loop {
                if (l, i + 1) >= end || l > lines.len() {
                    break;
                }
                let Some(&ch) = chars.get(i) else {
                    // Line break inside the scalar: folds into one space.
                    l += 1;
                    chars = row(l);
                    i = chars.iter().take_while(|c| c.is_whitespace()).count();
                    out.push((' ', l, i + 1));
                    continue;
                };
                match (quote, ch) {
                    (Some(q), c) if c == q && q == '\'' && chars.get(i + 1) == Some(&'\'') => {
                        out.push(('\'', l, i + 1));
                        i += 2;
                    }
                    (Some(q), c) if c == q => break,
                    (Some('"'), '\\') => {
                        let skip = match chars.get(i + 1) {
                            Some('x') => 4,
                            Some('u') => 6,
                            Some('U') => 10,
                            None => {
                                // Escaped line break: nothing is produced.
                                l += 1;
                                chars = row(l);
                                i = chars.iter().take_while(|c| c.is_whitespace()).count();
                                continue;
                            }
                            _ => 2,
                        };
                        out.push((chars.get(i + 1).copied().unwrap_or('\\'), l, i + 1));
                        i += skip;
                    }
                    _ => {
                        out.push((ch, l, i + 1));
                        i += 1;
                    }
                }
            }
        }
    }
    out
}

/// Escape one JSON-pointer segment (RFC 6901).
pub fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}
