//! YAML text -> `serde_json::Value` plus a `PointerIndex`, in one pass over saphyr's `MarkedYaml`.
//! This is the only place that parses YAML (clippy's `disallowed-methods` enforces it).

use super::index::{Node, PointerIndex, Style, escape};
use crate::diag::Span;
use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};
use serde_json::{Map, Number, Value};

/// Deepest nesting accepted; flows are shallow and a deep file is an attack or an accident.
pub const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub span: Option<Span>,
    pub message: String,
    pub help: Option<String>,
}

impl YamlError {
    fn at(span: Span, message: impl Into<String>) -> Self {
        YamlError {
            span: Some(span),
            message: message.into(),
            help: None,
        }
    }
}

pub struct Parsed {
    pub value: Value,
    pub index: PointerIndex,
}

/// Parse one YAML document. Multi-document files, tags and non-string keys are refused with a
/// message that says what to do instead.
pub fn parse(text: &str) -> Result<Parsed, YamlError> {
    if let Some((line, col)) = flow_nesting_too_deep(text) {
        return Err(YamlError::at(
            Span::point(line, col),
            format!("nesting deeper than {MAX_DEPTH} levels"),
        ));
    }
    #[allow(clippy::disallowed_methods)] // this is the span-aware loader
    let docs = MarkedYaml::load_from_str(text).map_err(|e| {
        if let Some(tab) = tab_indentation(text) {
            return tab;
        }
        let m = e.marker();
        let mut err = YamlError::at(Span::point(m.line(), m.col() + 1), e.info().to_string());
        if err.message.contains("quoted scalar") {
            err.help = Some("a quoted value must be closed on its line or continued with deeper indentation; check for a missing closing quote".into());
        }
        err
    })?;
    let mut docs = docs.into_iter();
    let Some(doc) = docs.next() else {
        return Err(YamlError {
            span: None,
            message: "file is empty".into(),
            help: Some("a flow file starts with `flow: <id>`".into()),
        });
    };
    if let Some(second) = docs.next() {
        let s = span_of(&second);
        let marker = text
            .lines()
            .take(s.line)
            .enumerate()
            .filter(|(_, l)| l.starts_with("---"))
            .map(|(n, _)| n + 1)
            .last()
            .unwrap_or(s.line);
        return Err(YamlError {
            span: Some(Span::point(marker, 1)),
            message: "a flow file holds one YAML document, found a second one".into(),
            help: Some("move each `---` document into its own file".into()),
        });
    }
    let lines: Vec<&str> = text.lines().collect();
    let mut index = PointerIndex::default();
    let value = convert(&doc, String::new(), None, 0, &lines, &mut index)?;
    Ok(Parsed { value, index })
}

/// YAML forbids tabs in indentation; saphyr's error then points elsewhere, so name the tab.
fn tab_indentation(text: &str) -> Option<YamlError> {
    for (n, line) in text.lines().enumerate() {
        let indent: String = line
            .chars()
            .take_while(|c| *c == ' ' || *c == '\t')
            .collect();
        if let Some(col) = indent.chars().position(|c| c == '\t') {
            return Some(YamlError {
                span: Some(Span::point(n + 1, col + 1)),
                message: "tab character in indentation".into(),
                help: Some("YAML indents with spaces only; replace the tab with spaces".into()),
            });
        }
    }
    None
}

fn span_of(node: &MarkedYaml<'_>) -> Span {
    let (s, e) = (node.span.start, node.span.end);
    Span {
        line: s.line(),
        col: s.col() + 1,
        end_line: e.line(),
        end_col: e.col() + 1,
    }
}

fn style_of(span: Span, lines: &[&str]) -> Style {
    let line = lines
        .get(span.line.wrapping_sub(1))
        .copied()
        .unwrap_or_default();
    // saphyr starts a block scalar's span at its content; the `|` or `>` indicator ends the
    // nearest non-blank line above.
    let at_line_start = line.chars().take(span.col - 1).all(char::is_whitespace);
    if at_line_start && span.line > 1 {
        let above = lines[..span.line - 1]
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty());
        let indicator = above.and_then(|l| {
            let t = l.trim_end();
            let t = t.trim_end_matches(|c: char| c == '-' || c == '+' || c.is_ascii_digit());
            t.chars().last().filter(|c| *c == '|' || *c == '>')
        });
        if let Some(ind) = indicator {
            return Style::Block {
                indent: span.col - 1,
                folded: ind == '>',
            };
        }
    }
    match line.chars().nth(span.col - 1) {
        Some('"') => Style::DoubleQuoted,
        Some('\'') => Style::SingleQuoted,
        _ => Style::Plain,
    }
}

fn convert(
    node: &MarkedYaml<'_>,
    pointer: String,
    key: Option<Span>,
    depth: usize,
    lines: &[&str],
    index: &mut PointerIndex,
) -> Result<Value, YamlError> {
    let span = span_of(node);
    if depth > MAX_DEPTH {
        return Err(YamlError::at(
            span,
            format!("nesting deeper than {MAX_DEPTH} levels"),
        ));
    }
    let (value, style) = match &node.data {
        YamlData::Value(scalar) => (scalar_to_json(scalar, span, lines), style_of(span, lines)),
        YamlData::Representation(text, _, _) => {
            (Value::String(text.to_string()), style_of(span, lines))
        }
        YamlData::Sequence(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(convert(
                    item,
                    format!("{pointer}/{i}"),
                    None,
                    depth + 1,
                    lines,
                    index,
                )?);
            }
            (Value::Array(out), Style::Collection)
        }
        YamlData::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let kspan = span_of(k);
                let name = match &k.data {
                    YamlData::Value(Scalar::String(s)) => s.to_string(),
                    YamlData::Value(Scalar::Integer(i)) => i.to_string(),
                    YamlData::Value(Scalar::Boolean(b)) => b.to_string(),
                    _ => {
                        return Err(YamlError::at(kspan, "mapping keys must be plain strings"));
                    }
                };
                let child = format!("{pointer}/{}", escape(&name));
                let v = convert(v, child, Some(kspan), depth + 1, lines, index)?;
                out.insert(name, v);
            }
            (Value::Object(out), Style::Collection)
        }
        YamlData::Tagged(tag, _) => {
            return Err(YamlError {
                span: Some(span),
                message: format!("YAML tags are not supported (found `!{}`)", tag.suffix),
                help: Some("write the value without a tag; expressions are plain strings".into()),
            });
        }
        YamlData::Alias(_) | YamlData::BadValue => {
            return Err(YamlError::at(span, "this value could not be read"));
        }
    };
    index.insert(
        pointer,
        Node {
            value: span,
            key,
            style,
        },
    );
    Ok(value)
}

fn scalar_to_json(scalar: &Scalar<'_>, span: Span, lines: &[&str]) -> Value {
    match scalar {
        Scalar::Null => Value::Null,
        Scalar::Boolean(b) => Value::Bool(*b),
        Scalar::Integer(i) => Value::Number((*i).into()),
        // Keep the digits as written (`250.00` stays 250.00, not 250.0): amounts in flows and
        // flow tests are decimals, and a float round trip would change their scale.
        Scalar::FloatingPoint(f) => match serde_json::from_str::<Number>(&source_text(span, lines))
            .ok()
            .filter(|n| n.as_f64() == Some(f.into_inner()))
            .or_else(|| Number::from_f64(f.into_inner()))
        {
            Some(n) => Value::Number(n),
            // .inf and .nan have no JSON form: keep the text so the schema names the field.
            None => Value::String(source_text(span, lines)),
        },
        Scalar::String(s) => Value::String(s.to_string()),
    }
}

fn source_text(span: Span, lines: &[&str]) -> String {
    lines
        .get(span.line.wrapping_sub(1))
        .map(|l| {
            l.chars()
                .skip(span.col - 1)
                .take_while(|c| !c.is_whitespace() && !matches!(c, ',' | ']' | '}' | '#'))
                .collect()
        })
        .unwrap_or_default()
}

/// The YAML parser recurses on flow collections (`[[[[...`); refuse absurd nesting before it.
/// Counts brackets outside quotes and comments; generous, so it never rejects a real flow.
fn flow_nesting_too_deep(text: &str) -> Option<(usize, usize)> {
    let mut depth = 0usize;
    for (n, line) in text.lines().enumerate() {
        let mut quote: Option<char> = None;
        for (c, ch) in line.chars().enumerate() {
            match (quote, ch) {
                (Some(q), _) if ch == q => quote = None,
                (Some(_), _) => {}
                (None, '"') | (None, '\'') => quote = Some(ch),
                (None, '#') => break,
                (None, '[') | (None, '{') => {
                    depth += 1;
                    if depth > 4 * MAX_DEPTH {
                        return Some((n + 1, c + 1));
                    }
                }
                (None, ']') | (None, '}') => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_keep_their_digits() {
        let p = parse("a: 250.00\nb: { c: 12.50, d: [0.10] }\ne: 1.5e3\n").unwrap();
        assert_eq!(
            p.value.to_string(),
            r#"{"a":250.00,"b":{"c":12.50,"d":[0.10]},"e":1.5e+3}"#
        );
    }

    #[test]
    fn indexes_keys_and_values() {
        let p = parse("flow: a\nsteps:\n  - id: x\n    map: { A: \"1\" }\n").unwrap();
        assert_eq!(p.value["steps"][0]["id"], "x");
        let n = p.index.node("/steps/0/id").unwrap();
        assert_eq!((n.value.line, n.value.col), (3, 9));
        assert_eq!(
            p.index.key_span("/steps/0/id").map(|s| (s.line, s.col)),
            Some((3, 5))
        );
        assert_eq!(
            p.index.node("/steps/0/map/A").unwrap().style,
            Style::DoubleQuoted
        );
    }

    #[test]
    fn refuses_second_document() {
        let e = parse("flow: a\n---\nflow: b\n").err().unwrap();
        assert!(e.message.contains("second"), "{e:?}");
    }

    #[test]
    fn block_scalar_positions() {
        let p = parse("script: |\n  let a = 1;\n  a +\n").unwrap();
        assert_eq!(
            p.index.node("/script").unwrap().style,
            Style::Block {
                indent: 2,
                folded: false
            }
        );
        assert_eq!(
            p.index
                .expr_position("script: |\n  let a = 1;\n  a +\n", "/script", 2, 3)
                .map(|s| (s.line, s.col)),
            Some((3, 5))
        );
    }
}
