//! Compiling flow expressions to Rhai ASTs, once per plan. A `map` (or a `with:` mapping) is
//! compiled together into ONE expression building the whole record, each field on its own
//! lines so a runtime error's line still names the field it came from.

use crate::diag::Span;
use crate::load::{PointerIndex, escape};
use rhai::{AST, Engine, Scope};
use serde_json::Value;

/// One compiled expression (or record template) and how to map its positions back to YAML.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub ast: AST,
    /// For an expression that only reads a field of the event (`event.transaction_id`): the
    /// field's path, so intake can read it straight from the JSON without building the Rhai
    /// event first (the webhook's hot path).
    pub event_path: Option<Vec<String>>,
    /// The top-level event fields this source reads, when it reads the event only as
    /// `event.field` (or `event?.field`); `None` when it may read it any other way.
    pub event_fields: Option<Vec<String>>,
    /// The same source as a simple expression the executor may evaluate without Rhai
    /// (`script::native`), when it is one.
    pub native: Option<std::sync::Arc<crate::script::native::Expr>>,
    /// (first line in the compiled source, line count, JSON pointer of the YAML string).
    pieces: Vec<(usize, usize, String)>,
    /// How many evaluations of this source in a row took long enough to hold up other tasks;
    /// once it reaches `runtime::executor::SLOW_AFTER`, later evaluations run off the async
    /// workers.
    pub slow: std::sync::Arc<std::sync::atomic::AtomicU8>,
}

impl Compiled {
    /// The YAML position of a (line, col) reported by Rhai for this compiled source.
    pub fn locate(
        &self,
        index: &PointerIndex,
        text: &str,
        line: usize,
        col: usize,
    ) -> Option<Span> {
        let (start, _, pointer) = self
            .pieces
            .iter()
            .find(|(s, n, _)| line >= *s && line < s + n)?;
        index.expr_position(text, pointer, line - start + 1, col.max(1))
    }

    /// The JSON pointer of the YAML value this source was compiled from (for a record
    /// template, the mapping holding its fields).
    pub fn pointer(&self) -> String {
        let mut pointers = self.pieces.iter().map(|(_, _, p)| p.as_str());
        let Some(first) = pointers.next() else {
            return String::new();
        };
        let mut common: Vec<&str> = first.split('/').collect();
        for p in pointers {
            let same = common
                .iter()
                .zip(p.split('/'))
                .take_while(|(a, b)| *a == b)
                .count();
            common.truncate(same);
        }
        common.join("/")
    }

    /// The JSON pointer of the YAML value holding the source at `line`.
    pub fn pointer_at(&self, line: usize) -> Option<&str> {
        self.pieces
            .iter()
            .find(|(s, n, _)| line >= *s && line < s + n)
            .map(|(_, _, p)| p.as_str())
    }
}

/// Compile one expression (`block == false`) or script block.
pub fn expression(
    engine: &Engine,
    scope: &Scope<'_>,
    src: &str,
    pointer: &str,
    block: bool,
) -> Result<Compiled, String> {
    let ast = if block {
        engine.compile_with_scope(scope, src)
    } else {
        engine.compile_expression_with_scope(scope, src)
    }
    .map_err(|e| e.to_string())?;
    let lines = src.lines().count().max(1);
    Ok(Compiled {
        ast,
        event_path: (!block).then(|| event_path(src)).flatten(),
        event_fields: event_fields(src),
        native: (!block)
            .then(|| crate::script::native::parse(src, &native_locals(scope)?))
            .flatten()
            .map(std::sync::Arc::new),
        pieces: vec![(1, lines, pointer.to_string())],
        slow: Default::default(),
    })
}

/// The variables `scope` holds beyond the flow variables (a step's loop variables), for native
/// evaluation; `None` when one hides `event` or `steps`, which native evaluation reads from the
/// run itself.
fn native_locals(scope: &Scope<'_>) -> Option<Vec<String>> {
    let locals: Vec<String> = scope
        .iter_raw()
        .skip(crate::script::FLOW_VARIABLES.len())
        .map(|(name, ..)| name.to_string())
        .collect();
    (!locals.iter().any(|l| l == "event" || l == "steps")).then_some(locals)
}

/// `event.a.b` as `["a", "b"]`; `None` for anything else.
fn event_path(src: &str) -> Option<Vec<String>> {
    let mut parts = src.trim().split('.');
    if parts.next() != Some("event") {
        return None;
    }
    let path: Vec<String> = parts.map(str::to_string).collect();
    let plain = |p: &String| {
        p.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    (!path.is_empty() && path.iter().all(plain)).then_some(path)
}

/// Compile a record template (`map:` or `with:` mapping): strings are expressions, mappings
/// and lists nest, other scalars are literals.
pub fn template(
    engine: &Engine,
    scope: &Scope<'_>,
    value: &Value,
    pointer: &str,
) -> Result<Compiled, String> {
    let mut src = String::new();
    let mut pieces = Vec::new();
    write_value(value, pointer, &mut src, &mut pieces);
    let ast = engine
        .compile_expression_with_scope(scope, &src)
        .map_err(|e| e.to_string())?;
    Ok(Compiled {
        ast,
        event_path: None,
        event_fields: event_fields(&src),
        native: native_locals(scope)
            .and_then(|locals| crate::script::native::template(value, &locals))
            .map(std::sync::Arc::new),
        pieces,
        slow: Default::default(),
    })
}

/// The top-level fields of `event` that `src` reads, when every mention of the word `event`
/// is `event.field` or `event?.field`; `None` otherwise (`event["x"]`, `event` passed on, the
/// word in a string or comment, or an `eval`, which could read anything). Conservative: a
/// `None` only means the run converts the whole event for its scripts.
fn event_fields(src: &str) -> Option<Vec<String>> {
    let bytes = src.as_bytes();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let word_at = |i: usize, w: &str| {
        src[i..].starts_with(w)
            && (i == 0 || !is_word(bytes[i - 1]))
            && bytes.get(i + w.len()).is_none_or(|b| !is_word(*b))
    };
    let mut fields: Vec<String> = Vec::new();
    for (i, _) in src.match_indices("eval") {
        if word_at(i, "eval") {
            return None;
        }
    }
    for (i, _) in src.match_indices("event") {
        if !word_at(i, "event") {
            continue;
        }
        // A property of something else (`x.event`) is not the event.
        let before = src[..i].trim_end();
        if before.ends_with('.') && !before.ends_with("..") {
            continue;
        }
        let rest = src[i + "event".len()..].trim_start();
        let rest = rest
            .strip_prefix("?.")
            .or_else(|| rest.strip_prefix('.'))?
            .trim_start();
        let name: String = rest
            .chars()
            .take_while(|c| is_word(*c as u8) && c.is_ascii())
            .collect();
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        if !fields.contains(&name) {
            fields.push(name);
        }
    }
    Some(fields)
}

fn line_no(src: &str) -> usize {
    src.matches('\n').count() + 1
}

fn write_value(
    value: &Value,
    pointer: &str,
    src: &mut String,
    pieces: &mut Vec<(usize, usize, String)>,
) {
    match value {
        Value::String(expr) => {
            src.push_str("(\n");
            let start = line_no(src);
            src.push_str(expr);
            src.push_str("\n)");
            pieces.push((start, expr.lines().count().max(1), pointer.to_string()));
        }
        Value::Object(map) => {
            src.push_str("#{");
            for (k, v) in map {
                src.push_str(&format!("{:?}: ", k));
                write_value(v, &format!("{pointer}/{}", escape(k)), src, pieces);
                src.push_str(",\n");
            }
            src.push('}');
        }
        Value::Array(items) => {
            src.push('[');
            for (i, v) in items.iter().enumerate() {
                write_value(v, &format!("{pointer}/{i}"), src, pieces);
                src.push_str(",\n");
            }
            src.push(']');
        }
        Value::Number(n) => {
            let text = n.to_string();
            // Rhai (no_float) reads `12.5` as an exact decimal; exponents it cannot read.
            match text.parse::<rust_decimal::Decimal>() {
                Ok(d) if text.contains(['e', 'E']) => src.push_str(&d.to_string()),
                _ => src.push_str(&text),
            }
        }
        Value::Bool(b) => src.push_str(if *b { "true" } else { "false" }),
        Value::Null => src.push_str("()"),
    }
}

#[cfg(test)]
mod event_field_tests {
    use super::event_fields;

    #[test]
    fn fields_read_as_event_dot_name_are_listed() {
        assert_eq!(
            event_fields(
                r#"#{ A: event.amount, B: event?.credit_card == (), C: event . created.at, D: steps.x.event }"#
            ),
            Some(vec![
                "amount".into(),
                "credit_card".into(),
                "created".into()
            ])
        );
        assert_eq!(event_fields("1 + 2"), Some(vec![]));
        assert_eq!(event_fields("my_event.x + event_id"), Some(vec![]));
    }

    #[test]
    fn any_other_use_of_the_event_needs_all_of_it() {
        for src in [
            "event",
            "event[\"amount\"]",
            "keys(event)",
            "event.amount + eval(\"event.x\")",
            "\"the event\"",
            "event.0",
        ] {
            assert_eq!(event_fields(src), None, "{src}");
        }
    }

    #[test]
    fn a_template_is_placed_at_the_mapping_holding_its_fields() {
        let at = |pointers: &[&str]| {
            super::Compiled {
                ast: rhai::AST::empty(),
                event_path: None,
                event_fields: None,
                native: None,
                pieces: pointers.iter().map(|p| (1, 1, p.to_string())).collect(),
                slow: Default::default(),
            }
            .pointer()
        };
        assert_eq!(at(&["/steps/0/script"]), "/steps/0/script");
        assert_eq!(
            at(&["/steps/0/with/Memo2", "/steps/0/with/Memo"]),
            "/steps/0/with"
        );
        assert_eq!(
            at(&["/steps/0/with/Memo", "/steps/0/with/Memo2"]),
            "/steps/0/with"
        );
        assert_eq!(
            at(&["/steps/0/with/Ä/x", "/steps/0/with/Ö"]),
            "/steps/0/with"
        );
    }
}
