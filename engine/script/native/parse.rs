//! Reading an expression's source against the native grammar; `None` for anything else.

use super::{Comparison, Expr, Helper, Method, Root};
use rhai::{Dynamic, INT};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Text(String),
    Int(INT),
    Word(String),
    Punct(&'static str),
}

/// Tokens of `src`, or `None` at anything the grammar leaves to Rhai (escapes, comments,
/// characters, decimals, backtick strings, other operators).
fn tokens(src: &str) -> Option<Vec<Token>> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'"' => {
                let end = src[i + 1..].find('"')? + i + 1;
                let text = &src[i + 1..end];
                if text.contains(['\\', '\n', '\r']) {
                    return None;
                }
                out.push(Token::Text(text.to_string()));
                i = end + 1;
            }
            b'0'..=b'9' => {
                let start = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                // `1.5`, `1_000`, `0x1f`, `1e3`: Rhai's number forms beyond plain digits.
                if i < b.len() && (b[i] == b'.' || b[i] == b'_' || b[i].is_ascii_alphabetic()) {
                    return None;
                }
                out.push(Token::Int(src[start..i].parse().ok()?));
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                out.push(Token::Word(src[start..i].to_string()));
            }
            _ => {
                let rest = &src[i..];
                let p = [
                    "?.", "??", "==", "!=", "&&", "||", "<=", ">=", "<", ">", "(", ")", "{", "}",
                    ",", ".", "+", "-", "!",
                ]
                .into_iter()
                .find(|p| rest.starts_with(p))?;
                // `++`, `+=`, `===`, `<<`, `&&&`...: operators of Rhai's that these are the
                // start of.
                let operator = !matches!(p, "(" | ")" | "{" | "}" | "," | "." | "?.");
                if operator
                    && rest[p.len()..].starts_with(['=', '+', '-', '<', '>', '&', '|', '!', '?'])
                {
                    return None;
                }
                out.push(Token::Punct(p));
                i += p.len();
            }
        }
    }
    Some(out)
}

struct Parser<'l> {
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
    /// Loop variables in scope.
    locals: &'l [String],
}

/// Deeper nesting is left to Rhai, whose own limit (`MAX_EXPR_DEPTH`) then applies.
const MAX_DEPTH: usize = 16;

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn punct(&mut self, p: &str) -> Option<()> {
        match self.next()? {
            Token::Punct(q) if q == p => Some(()),
            _ => None,
        }
    }

    fn at_punct(&self, p: &str) -> bool {
        matches!(self.peek(), Some(Token::Punct(q)) if *q == p)
    }

    fn at_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(x)) if x == w)
    }

    /// `and ("||" and)*`. Rhai's precedence, loosest first: `||`, `&&`, `==`/`!=`, `<`...,
    /// `??`, `+`; comparisons do not chain here (Rhai reads `a < b == c`; this leaves it).
    fn expr(&mut self) -> Option<Expr> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        let or = self.left_to_right("||", Self::and, |lhs, rhs| Expr::Logic {
            and: false,
            lhs,
            rhs,
        })?;
        self.depth -= 1;
        Some(or)
    }

    /// `next (op next)*`, grouped from the left.
    fn left_to_right(
        &mut self,
        op: &str,
        next: fn(&mut Self) -> Option<Expr>,
        join: fn(Box<Expr>, Box<Expr>) -> Expr,
    ) -> Option<Expr> {
        let mut lhs = next(self)?;
        while self.at_punct(op) {
            self.at += 1;
            let rhs = next(self)?;
            lhs = join(Box::new(lhs), Box::new(rhs));
        }
        Some(lhs)
    }

    fn and(&mut self) -> Option<Expr> {
        self.left_to_right("&&", Self::comparison, |lhs, rhs| Expr::Logic {
            and: true,
            lhs,
            rhs,
        })
    }

    fn comparison_here(&self) -> Option<Comparison> {
        match self.peek() {
            Some(Token::Punct(p)) => Comparison::of(p),
            _ => None,
        }
    }

    fn comparison(&mut self) -> Option<Expr> {
        let lhs = self.coalesce()?;
        let Some(op) = self.comparison_here() else {
            return Some(lhs);
        };
        self.at += 1;
        let rhs = self.coalesce()?;
        if self.comparison_here().is_some() {
            return None;
        }
        Some(Expr::Compare {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        })
    }

    fn coalesce(&mut self) -> Option<Expr> {
        self.left_to_right("??", Self::sum, Expr::Coalesce)
    }

    fn sum(&mut self) -> Option<Expr> {
        self.left_to_right("+", Self::primary, Expr::Add)
    }

    fn primary(&mut self) -> Option<Expr> {
        match self.next()? {
            Token::Punct(op @ ("!" | "-")) => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return None;
                }
                let operand = Box::new(self.primary()?);
                self.depth -= 1;
                Some(if op == "!" {
                    Expr::Not(operand)
                } else {
                    Expr::Negate(operand)
                })
            }
            Token::Text(s) => self.postfix(Expr::Literal(Dynamic::from(s))),
            Token::Int(i) => Some(Expr::Literal(Dynamic::from_int(i))),
            Token::Punct("(") => {
                if self.at_punct(")") {
                    self.at += 1;
                    return Some(Expr::Literal(Dynamic::UNIT));
                }
                let inner = self.expr()?;
                self.punct(")")?;
                self.postfix(inner)
            }
            Token::Word(w) => match w.as_str() {
                "true" => Some(Expr::Literal(Dynamic::TRUE)),
                "false" => Some(Expr::Literal(Dynamic::FALSE)),
                "if" => self.if_rest(),
                "event" => self.path(Root::Event),
                "steps" => self.path(Root::Steps),
                name if self.locals.iter().any(|l| l == name) => {
                    self.path(Root::Local(name.to_string()))
                }
                name => {
                    let args = self.arguments()?;
                    let call = Expr::Call(Helper::named(name, args.len())?, args);
                    self.postfix(call)
                }
            },
            Token::Punct(_) => None,
        }
    }

    fn path(&mut self, root: Root) -> Option<Expr> {
        let mut segments = Vec::new();
        while self.at_punct(".") || self.at_punct("?.") {
            let elvis = self.at_punct("?.");
            self.at += 1;
            let Some(Token::Word(name)) = self.next() else {
                return None;
            };
            if self.at_punct("(") {
                // A method of what the path reached (not after `?.`, not of the whole event).
                if elvis || (segments.is_empty() && !matches!(root, Root::Local(_))) {
                    return None;
                }
                let base = Expr::Path { root, segments };
                let method = self.method(base, &name)?;
                return self.postfix(method);
            }
            segments.push((name, elvis));
        }
        // The whole `event` or `steps` map (shared values), or an index (`event["x"]`):
        // Rhai's. A loop variable may be read whole.
        if segments.is_empty() && !matches!(root, Root::Local(_)) {
            return None;
        }
        Some(Expr::Path { root, segments })
    }

    /// `(args)` after `base.name`.
    fn method(&mut self, base: Expr, name: &str) -> Option<Expr> {
        let args = self.arguments()?;
        let method = Method::named(name, args.len())?;
        Some(Expr::Method(method, Box::new(base), args))
    }

    /// Method calls after a value (`.abs()`, `.starts_with("x")`); a property of anything
    /// but a path is Rhai's.
    fn postfix(&mut self, mut base: Expr) -> Option<Expr> {
        while self.at_punct(".") {
            self.at += 1;
            let Some(Token::Word(name)) = self.next() else {
                return None;
            };
            if !self.at_punct("(") {
                return None;
            }
            base = self.method(base, &name)?;
        }
        if self.at_punct("?.") {
            return None;
        }
        Some(base)
    }

    /// `( expr, ... )`.
    fn arguments(&mut self) -> Option<Vec<Expr>> {
        self.punct("(")?;
        let mut args = Vec::new();
        if !self.at_punct(")") {
            loop {
                args.push(self.expr()?);
                if self.at_punct(",") {
                    self.at += 1;
                } else {
                    break;
                }
            }
        }
        self.punct(")")?;
        Some(args)
    }

    /// After `if`: `cond { expr } (else ({ expr } | if ...))?`.
    fn if_rest(&mut self) -> Option<Expr> {
        let cond = self.expr()?;
        self.punct("{")?;
        let then = self.expr()?;
        self.punct("}")?;
        let otherwise = if self.at_word("else") {
            self.at += 1;
            if self.at_word("if") {
                self.at += 1;
                Some(Box::new(self.if_rest()?))
            } else {
                self.punct("{")?;
                let e = self.expr()?;
                self.punct("}")?;
                Some(Box::new(e))
            }
        } else {
            None
        };
        Some(Expr::If {
            cond: Box::new(cond),
            then: Box::new(then),
            otherwise,
        })
    }
}

/// Parse one expression's source, where `locals` are the loop variables in scope; `None` when
/// it is not (entirely) in the grammar. Only called on sources Rhai has compiled (a plan's), so
/// what Rhai refuses to compile (a reserved word as a property name) never gets here.
pub fn parse(src: &str, locals: &[String]) -> Option<Expr> {
    let mut p = Parser {
        tokens: tokens(src)?,
        at: 0,
        depth: 0,
        locals,
    };
    let e = p.expr()?;
    (p.at == p.tokens.len()).then_some(e)
}

/// A `map:`/`with:` record template (strings are expressions, mappings and lists nest, other
/// scalars are literals), when every expression in it parses.
pub fn template(value: &Value, locals: &[String]) -> Option<Expr> {
    Some(match value {
        Value::String(src) => parse(src, locals)?,
        Value::Object(map) => Expr::Record(
            map.iter()
                .map(|(k, v)| Some((k.clone(), template(v, locals)?)))
                .collect::<Option<_>>()?,
        ),
        Value::Array(items) => Expr::List(
            items
                .iter()
                .map(|v| template(v, locals))
                .collect::<Option<_>>()?,
        ),
        // Rhai (no_float) reads `12.5` as a decimal: left to it.
        Value::Number(n) => Expr::Literal(Dynamic::from_int(n.as_i64()?)),
        Value::Bool(b) => Expr::Literal(Dynamic::from_bool(*b)),
        Value::Null => Expr::Literal(Dynamic::UNIT),
    })
}
