//! Simple flow expressions evaluated without the script engine: field paths of `event`,
//! `steps` and loop variables, literals, `+` on text and whole numbers, comparisons, `&&`/`||`,
//! `!`, unary `-`, `??`, `if`/`else`, calls to the common helpers (`money`, `pacific_date`, `sage_date`, `lookup`, `lookup_or`, `status_map`),
//! and `map:`/`with:` records of those. Most mappings are only this, and the interpreter spends
//! more on finding functions and copying the maps a path walks through than on the mapping.
//!
//! The rule that keeps this safe: a native evaluation gives the value Rhai would give, or it
//! gives up (`None`) and the caller evaluates the same source with Rhai. It gives up at parse
//! time on anything outside the small grammar below, and at run time on any type pairing or
//! failure it does not reproduce exactly (an error's message and position come from Rhai).
//! `tests` hold the two to the same answers.

use super::helpers::{self, HelperEnv};
use super::limits::{MAX_ARRAY_SIZE, MAX_MAP_SIZE, MAX_STRING_SIZE};
use rhai::{Dynamic, INT, ImmutableString, Map};
use serde_json::Value;

/// A parsed simple expression.
#[derive(Debug, Clone)]
pub enum Expr {
    Literal(Dynamic),
    /// `event.a.b` or `steps.x.y`; each segment remembers whether it was reached with `?.`.
    Path {
        root: Root,
        segments: Vec<(String, bool)>,
    },
    Add(Box<Expr>, Box<Expr>),
    Compare {
        op: Comparison,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `!x` on a boolean.
    Not(Box<Expr>),
    /// `-x` on a whole number or a decimal.
    Negate(Box<Expr>),
    /// `a ?? b`: `b` when `a` is `()`, read only then.
    Coalesce(Box<Expr>, Box<Expr>),
    /// `&&` (`and: true`) or `||`, short-circuiting as Rhai does.
    Logic {
        and: bool,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    If {
        cond: Box<Expr>,
        then: Box<Expr>,
        otherwise: Option<Box<Expr>>,
    },
    Call(Helper, Vec<Expr>),
    Record(Vec<(String, Expr)>),
    List(Vec<Expr>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Root {
    Event,
    Steps,
    /// A `foreach` variable.
    Local(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

impl Comparison {
    fn of(p: &str) -> Option<Comparison> {
        Some(match p {
            "==" => Comparison::Eq,
            "!=" => Comparison::Ne,
            "<" => Comparison::Lt,
            ">" => Comparison::Gt,
            "<=" => Comparison::Le,
            ">=" => Comparison::Ge,
            _ => return None,
        })
    }
}

/// Helpers evaluated natively, through the same functions Rhai calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Helper {
    Money,
    PacificDate,
    SageDate,
    Lookup,
    LookupOr,
    StatusMap,
}

impl Helper {
    fn named(name: &str, arity: usize) -> Option<Helper> {
        Some(match (name, arity) {
            ("money", 1) => Helper::Money,
            ("pacific_date", 1) => Helper::PacificDate,
            ("sage_date", 1) => Helper::SageDate,
            ("lookup", 2) => Helper::Lookup,
            ("lookup_or", 3) => Helper::LookupOr,
            ("status_map", 1) => Helper::StatusMap,
            _ => return None,
        })
    }
}

// ---------------------------------------------------------------- parsing

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
            Token::Text(s) => Some(Expr::Literal(Dynamic::from(s))),
            Token::Int(i) => Some(Expr::Literal(Dynamic::from_int(i))),
            Token::Punct("(") => {
                if self.at_punct(")") {
                    self.at += 1;
                    return Some(Expr::Literal(Dynamic::UNIT));
                }
                let inner = self.expr()?;
                self.punct(")")?;
                Some(inner)
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
                    Some(Expr::Call(Helper::named(name, args.len())?, args))
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
            // `x.len()` is a method call: Rhai's.
            if self.at_punct("(") {
                return None;
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

// ---------------------------------------------------------------- evaluation

/// What a native evaluation reads: the run's `event` and `steps` (as the run's scope holds
/// them), its loop variables (the last of a name wins, as in the scope) and the helpers'
/// profile data.
pub struct Inputs<'a> {
    pub event: &'a Dynamic,
    pub steps: &'a Dynamic,
    pub locals: &'a [(String, Dynamic)],
    pub env: &'a HelperEnv,
}

impl Expr {
    /// The value Rhai would give, or `None`: evaluate with Rhai instead.
    pub fn eval(&self, inputs: &Inputs<'_>) -> Option<Dynamic> {
        match self {
            Expr::Literal(v) => Some(v.clone()),
            Expr::Path { root, segments } => {
                let root = match root {
                    Root::Event => inputs.event,
                    Root::Steps => inputs.steps,
                    Root::Local(name) => {
                        let (_, v) = inputs.locals.iter().rev().find(|(n, _)| n == name)?;
                        if segments.is_empty() {
                            return Some(v.flatten_clone());
                        }
                        v
                    }
                };
                walk(root, segments)
            }
            Expr::Add(a, b) => add(a.eval(inputs)?, b.eval(inputs)?),
            Expr::Compare { op, lhs, rhs } => {
                compare(*op, &lhs.eval(inputs)?, &rhs.eval(inputs)?).map(Dynamic::from_bool)
            }
            Expr::Not(e) => Some(Dynamic::from_bool(!e.eval(inputs)?.as_bool().ok()?)),
            Expr::Negate(e) => {
                let v = e.eval(inputs)?;
                if let Ok(i) = v.as_int() {
                    i.checked_neg().map(Dynamic::from_int)
                } else {
                    v.as_decimal().ok().map(|d| Dynamic::from_decimal(-d))
                }
            }
            Expr::Coalesce(a, b) => match a.eval(inputs)? {
                v if v.is_unit() => b.eval(inputs),
                v => Some(v),
            },
            Expr::Logic { and, lhs, rhs } => {
                // Rhai refuses a non-boolean operand; the right one is read only when needed.
                let left = lhs.eval(inputs)?.as_bool().ok()?;
                if left != *and {
                    return Some(Dynamic::from_bool(left));
                }
                Some(Dynamic::from_bool(rhs.eval(inputs)?.as_bool().ok()?))
            }
            Expr::If {
                cond,
                then,
                otherwise,
            } => {
                if cond.eval(inputs)?.as_bool().ok()? {
                    then.eval(inputs)
                } else {
                    match otherwise {
                        Some(e) => e.eval(inputs),
                        None => Some(Dynamic::UNIT),
                    }
                }
            }
            Expr::Call(helper, args) => {
                let args = args
                    .iter()
                    .map(|a| a.eval(inputs))
                    .collect::<Option<Vec<_>>>()?;
                call(*helper, inputs.env, args)
            }
            // Rhai refuses records and lists past its size limits at run time: so does this.
            Expr::Record(fields) if fields.len() > MAX_MAP_SIZE => None,
            Expr::List(items) if items.len() > MAX_ARRAY_SIZE => None,
            Expr::Record(fields) => {
                let mut map = Map::new();
                for (k, e) in fields {
                    map.insert(k.as_str().into(), e.eval(inputs)?);
                }
                Some(Dynamic::from_map(map))
            }
            Expr::List(items) => Some(Dynamic::from_array(
                items
                    .iter()
                    .map(|e| e.eval(inputs))
                    .collect::<Option<_>>()?,
            )),
        }
    }
}

/// Follow `segments` through maps without copying them; only the value at the end is cloned.
/// A missing property of a map is `()`, as in Rhai; a property of anything but a map is
/// Rhai's (a getter or an error), except `?.` on `()`.
fn walk(root: &Dynamic, segments: &[(String, bool)]) -> Option<Dynamic> {
    let Some(((name, elvis), rest)) = segments.split_first() else {
        return Some(root.clone());
    };
    if root.is_unit() {
        // `()?.x` is `()`; how far Rhai carries that past a later plain `.` is Rhai's.
        return (*elvis && rest.iter().all(|(_, e)| *e)).then_some(Dynamic::UNIT);
    }
    if !root.is_map() {
        return None;
    }
    let map = root.read_lock::<Map>()?;
    match map.get(name.as_str()) {
        Some(v) => walk(v, rest),
        None => walk(&Dynamic::UNIT, rest),
    }
}

fn add(a: Dynamic, b: Dynamic) -> Option<Dynamic> {
    let text = if let (Ok(x), Ok(y)) = (a.as_int(), b.as_int()) {
        return x.checked_add(y).map(Dynamic::from_int);
    } else if let (Some(x), Some(y)) = (text_of(&a), text_of(&b)) {
        let mut s = String::with_capacity(x.len() + y.len());
        s.push_str(&x);
        s.push_str(&y);
        s
    } else if let (Some(x), Ok(i)) = (text_of(&a), b.as_int()) {
        format!("{x}{i}")
    } else if let (Ok(i), Some(y)) = (a.as_int(), text_of(&b)) {
        format!("{i}{y}")
    } else if let (Some(x), Ok(d)) = (text_of(&a), b.as_decimal()) {
        format!("{x}{}", helpers::format_money(d))
    } else if let (Ok(d), Some(y)) = (a.as_decimal(), text_of(&b)) {
        format!("{}{y}", helpers::format_money(d))
    } else {
        return None;
    };
    (text.len() <= MAX_STRING_SIZE).then(|| Dynamic::from(text))
}

fn text_of(v: &Dynamic) -> Option<ImmutableString> {
    v.as_immutable_string_ref().ok().map(|s| s.clone())
}

/// Comparisons whose answer Rhai gives plainly: `==`/`!=` on values of different types say
/// "not equal"; text, whole numbers, decimals and booleans (and `()`, for `==`) compare by
/// value, text by its bytes. Maps, lists, mixed numbers and the rest: Rhai's.
fn compare(op: Comparison, a: &Dynamic, b: &Dynamic) -> Option<bool> {
    use std::cmp::Ordering;
    let order: Option<Ordering> = if let (Ok(x), Ok(y)) = (a.as_int(), b.as_int()) {
        Some(x.cmp(&y))
    } else if let (Ok(x), Ok(y)) = (a.as_decimal(), b.as_decimal()) {
        Some(x.cmp(&y))
    } else if let (Some(x), Some(y)) = (text_of(a), text_of(b)) {
        Some(x.as_str().cmp(y.as_str()))
    } else if let (Ok(x), Ok(y)) = (a.as_bool(), b.as_bool()) {
        // Rhai has `==` and `!=` for booleans, no ordering.
        return match op {
            Comparison::Eq => Some(x == y),
            Comparison::Ne => Some(x != y),
            _ => None,
        };
    } else {
        None
    };
    let equal = match order {
        Some(o) => o == Ordering::Equal,
        None if a.is_unit() || b.is_unit() => a.is_unit() && b.is_unit(),
        None => {
            let plain = |v: &Dynamic| v.is_int() || v.is_bool() || v.is_string();
            if !(plain(a) && plain(b)) {
                return None;
            }
            false
        }
    };
    match (op, order) {
        (Comparison::Eq, _) => Some(equal),
        (Comparison::Ne, _) => Some(!equal),
        (Comparison::Lt, Some(o)) => Some(o == Ordering::Less),
        (Comparison::Gt, Some(o)) => Some(o == Ordering::Greater),
        (Comparison::Le, Some(o)) => Some(o != Ordering::Greater),
        (Comparison::Ge, Some(o)) => Some(o != Ordering::Less),
        _ => None,
    }
}

fn call(helper: Helper, env: &HelperEnv, args: Vec<Dynamic>) -> Option<Dynamic> {
    let mut args = args.into_iter();
    let mut next = || args.next();
    match helper {
        Helper::Money => {
            let v = next()?;
            if let Some(s) = text_of(&v) {
                helpers::money_from_text(&s).ok().map(Dynamic::from_decimal)
            } else if let Ok(i) = v.as_int() {
                Some(Dynamic::from_decimal(i.into()))
            } else if v.is_decimal() {
                Some(v)
            } else {
                None
            }
        }
        Helper::PacificDate => helpers::pacific_date(&text_of(&next()?)?)
            .ok()
            .map(Dynamic::from),
        Helper::SageDate => helpers::sage_date(&text_of(&next()?)?)
            .ok()
            .map(Dynamic::from),
        Helper::Lookup => {
            let (table, key) = (text_of(&next()?)?, next()?);
            helpers::table_value(env, &table, &key).ok()?
        }
        Helper::LookupOr => {
            let (table, key, default) = (text_of(&next()?)?, next()?, next()?);
            Some(
                helpers::table_value(env, &table, &key)
                    .ok()?
                    .unwrap_or(default),
            )
        }
        Helper::StatusMap => {
            let code = next()?;
            let code = match code.as_int() {
                Ok(i) => i.to_string(),
                Err(_) => text_of(&code)?.to_string(),
            };
            helpers::status_for(env, &code).ok().map(Dynamic::from)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::value::to_dynamic;
    use serde_json::json;
    use std::sync::Arc;

    fn env() -> HelperEnv {
        let tables = json!({
            "customers": {"pt-cust-1001": "ACME01", "7": "SEVEN"},
            "gl_accounts": {"card_clearing": "1050", "ach_clearing": "1055"},
            "status_map": {"999": "Held"}
        });
        let tables = serde_json::from_value(tables).unwrap_or_default();
        HelperEnv {
            tables: HelperEnv::tables_from(&tables).unwrap_or_default(),
            ..HelperEnv::default()
        }
    }

    fn inputs() -> (Dynamic, Dynamic) {
        let event = json!({
            "transaction_id": 500123, "status_code": 101, "amount": "12.50", "amount_num": 12.5,
            "customer_id": "pt-cust-1001", "seven": 7, "flag": true, "none": null, "empty": "",
            "credit_card": {"masked_number": "xxxxxxxxxxxx5454"},
            "created": {"at": "11/25/2026 11:42:10 PM"}, "items": [1, 2], "s": "text"
        });
        let mut payment = Map::new();
        payment.insert("Amount".into(), Dynamic::from("10.5".to_string()));
        payment.insert("Ref".into(), Dynamic::from("R-1".to_string()));
        // A decimal as a map step leaves it, not as JSON would carry it.
        let money = "10.5".parse().unwrap_or_default();
        payment.insert("Money".into(), Dynamic::from_decimal(money));
        let mut steps = Map::new();
        steps.insert("payment".into(), Dynamic::from_map(payment));
        let steps = Dynamic::from_map(steps);
        let Ok(event) = to_dynamic(&event) else {
            unreachable!("the test event converts")
        };
        (event.into_shared(), steps.into_shared())
    }

    /// A `foreach` variable `inv` holding one invoice.
    fn loop_variables() -> (Vec<String>, Vec<(String, Dynamic)>) {
        let inv = json!({"invoice": "INV-7", "customer": "ACME01", "open": 3});
        let Ok(inv) = to_dynamic(&inv) else {
            unreachable!("the loop value converts")
        };
        (vec!["inv".into()], vec![("inv".into(), inv)])
    }

    /// A run's values (an event, a map step's output, a loop variable) and the profile's
    /// tables, evaluated both ways.
    struct Fixture {
        env: HelperEnv,
        event: Dynamic,
        steps: Dynamic,
        locals: Vec<String>,
        loop_values: Vec<(String, Dynamic)>,
        engine: rhai::Engine,
    }

    impl Fixture {
        fn new() -> Fixture {
            let env = env();
            let (event, steps) = inputs();
            let (locals, loop_values) = loop_variables();
            let engine = crate::script::runtime_engine(&Arc::new(env.clone()));
            Fixture {
                env,
                event,
                steps,
                locals,
                loop_values,
                engine,
            }
        }

        fn inputs(&self) -> Inputs<'_> {
            Inputs {
                event: &self.event,
                steps: &self.steps,
                locals: &self.loop_values,
                env: &self.env,
            }
        }

        /// The native answer for `src`, if it has one.
        fn native(&self, src: &str) -> Option<Dynamic> {
            parse(src, &self.locals).and_then(|e| e.eval(&self.inputs()))
        }

        /// Rhai's answer for `src` in a run's scope.
        fn rhai(&self, src: &str) -> Result<Dynamic, String> {
            let mut scope = rhai::Scope::new();
            scope.push_constant_dynamic("event", self.event.clone());
            scope.push_constant_dynamic("steps", self.steps.clone());
            scope.push_constant_dynamic("profile", Dynamic::from_map(Map::new()));
            scope.push_constant_dynamic("flow", Dynamic::from_map(Map::new()));
            for (name, v) in &self.loop_values {
                scope.push_dynamic(name.clone(), v.clone());
            }
            self.engine
                .eval_expression_with_scope::<Dynamic>(&mut scope, src)
                .map_err(|e| e.to_string())
        }
    }

    fn same(a: &Dynamic, b: &Dynamic) -> bool {
        a.type_name() == b.type_name() && format!("{a:?}") == format!("{b:?}")
    }

    /// Sources native evaluation must answer itself, with Rhai's value.
    const NATIVE: &[&str] = &[
        r#""W1-" + event.transaction_id"#,
        "pacific_date(event.created.at)",
        "money(event.amount)",
        r#"lookup("customers", event.customer_id)"#,
        r#"lookup("gl_accounts", if event.credit_card == () { "ach_clearing" } else { "card_clearing" })"#,
        r#"if event.credit_card == () { "ACH" } else { "CC" }"#,
        "status_map(event.status_code)",
        r#"status_map("999")"#,
        r#"status_map("Approved")"#,
        r#"lookup("customers", event.seven)"#,
        r#"lookup_or("customers", "nobody", "WALK-IN")"#,
        r#"lookup_or("customers", event.customer_id, ())"#,
        "money(12)",
        "money(event.amount_num)",
        "money(steps.payment.Money)",
        r#""Amount " + steps.payment.Money"#,
        r#"steps.payment.Money + " due""#,
        r#"event.transaction_id + "-x""#,
        "event.transaction_id + 1",
        r#""a" + "b" + event.s"#,
        "steps.payment.Ref",
        "steps.payment",
        "event.credit_card",
        "event.items",
        "event.missing",
        "event.none",
        "event.none == ()",
        "event.missing == ()",
        "event.missing != ()",
        "() == ()",
        "event.missing?.deeper",
        "event.credit_card.len",
        "event?.created?.at",
        "event.created?.at",
        r#"event.s == "text""#,
        r#"event.s != "text""#,
        r#""1" == 1"#,
        r#"1 == "1""#,
        "true == 1",
        "event.flag == true",
        "event.seven == 7",
        r#"if event.flag { "yes" }"#,
        r#"if event.missing == () { "no" }"#,
        r#"if event.seven == 8 { 1 } else if event.seven == 7 { 2 } else { 3 }"#,
        "(event.seven)",
        "42",
        "true",
        "()",
        r#""""#,
        r#"event.empty + "x""#,
        r#"sage_date("2026-11-25T10:00:00Z")"#,
        "event.status_code == 101 || event.status_code == 120",
        "event.status_code == 102 || event.status_code == 120",
        "event.flag && event.seven > 3",
        "event.seven >= 7",
        "event.seven <= 6",
        "event.seven < 7",
        r#"money(event.amount) > money("0")"#,
        r#"money(event.amount) == money("12.5")"#,
        r#"money(event.amount) != money("12.51")"#,
        r#""a" < "b""#,
        r#""b" >= "ab""#,
        r#"event.missing == () || event.missing == """#,
        r#"event.s == "text" && event.transaction_id > 500000 || false"#,
        "false && event.missing.deeper",
        "true || event.seven",
        "false && event.seven",
        "money(1) == money(1)",
        "true == true",
        "inv.customer",
        r#""autopay-" + inv.invoice + "-" + inv.open"#,
        "inv",
        "inv.open > 2",
        "inv.missing",
        "!event.flag",
        "!(event.seven > 3)",
        "!event.flag == false",
        "-7",
        "-event.seven",
        "event.seven + -1",
        r#"-money("1.25")"#,
        r#"event.missing ?? "none""#,
        r#"event.s ?? "none""#,
        r#"event.missing ?? event.missing ?? 0"#,
        r#"event.none ?? event.flag || false"#,
        "5 ?? 2 == 1",
        r#""café " + event.s"#,
        r#"event.s == "ünï""#,
        r#"lookup_or("customers", event.customer_id ?? "x", ())"#,
        r#"pacific_date("2026-11-26T06:30:00Z")"#,
    ];

    /// Sources that are left to Rhai: outside the grammar, or an error or type pairing that only
    /// Rhai answers (its message, its rules).
    const RHAI: &[&str] = &[
        r#""a\nb""#,
        "'c'",
        "1.5",
        "1_000",
        "event",
        r#"event["s"]"#,
        "event.s.len",
        "event.s.len()",
        "event.missing.deeper",
        "event.missing?.deeper.deepest",
        r#""a" + ()"#,
        "event.transaction_id + event.amount_num",
        "9223372036854775807 + 1",
        "if 1 { 2 } else { 3 }",
        r#"lookup("customers", "nobody")"#,
        r#"lookup("no_table", "x")"#,
        r#"status_map("0")"#,
        "money(())",
        r#"money("12e3")"#,
        "money(event.credit_card)",
        r#"pacific_date("not a date")"#,
        "pacific_date(event.created)",
        "event.items == event.items",
        "1 == 1 == true",
        "profile.x",
        "x",
        "now()",
        "1 - 1",
        "1 +",
        "event.",
        "// comment\n1",
        "event.s += 1",
        "event.seven && true",
        "true && event.seven",
        "false || event.seven",
        r#"event.seven < "x""#,
        "true < false",
        "1 < 2 < 3",
        "1 << 2",
        "event.seven > money(\"1\")",
        "event.items < event.items",
        "inv.invoice.len",
        "other.x",
        "a || b",
        "!event.seven",
        r#"-event.s"#,
        "1 -1",
        r#""a" + event.missing ?? "b""#,
        "--1",
        "!!true",
        "é",
        "event.é",
        "event.s + é",
    ];

    #[test]
    fn native_answers_what_rhai_answers() {
        let f = Fixture::new();
        for src in NATIVE {
            assert!(
                parse(src, &f.locals).is_some(),
                "`{src}` should parse natively"
            );
            let (native, rhai) = (f.native(src), f.rhai(src));
            match (&native, &rhai) {
                (Some(n), Ok(r)) => assert!(same(n, r), "`{src}`: native {n:?}, Rhai {r:?}"),
                _ => panic!("`{src}`: native {native:?}, Rhai {rhai:?}"),
            }
        }
    }

    #[test]
    fn anything_else_is_left_to_rhai() {
        let f = Fixture::new();
        for src in RHAI {
            if let Some(v) = f.native(src) {
                panic!(
                    "`{src}` was answered natively with {v:?}; Rhai says {:?}",
                    f.rhai(src)
                );
            }
        }
    }

    #[test]
    fn a_record_template_is_native_when_every_field_is() {
        let f = Fixture::new();
        let map = json!({
            "Ref": "\"W1-\" + event.transaction_id", "Lines": [{"N": 1, "On": true, "X": null}],
            "Amount": "money(event.amount)", "Nested": {"At": "event.created.at"}
        });
        let expr = template(&map, &[]).unwrap_or_else(|| panic!("the template should parse"));
        let native = expr.eval(&f.inputs()).unwrap_or_default();
        let src = r#"#{ "Ref": "W1-" + event.transaction_id, "Lines": [#{ "N": 1, "On": true, "X": () }],
            "Amount": money(event.amount), "Nested": #{ "At": event.created.at } }"#;
        let rhai = f.rhai(src).unwrap_or_default();
        assert!(same(&native, &rhai), "native {native:?}, Rhai {rhai:?}");
        assert!(template(&json!({"A": "event.x", "B": 1.5}), &[]).is_none());
        // Past Rhai's map size limit the record is Rhai's to refuse.
        let wide: serde_json::Map<String, Value> = (0..=MAX_MAP_SIZE)
            .map(|i| (format!("F{i}"), json!(1)))
            .collect();
        let wide = template(&Value::Object(wide), &[]);
        assert!(wide.is_some_and(|e| e.eval(&f.inputs()).is_none()));
        assert!(template(&json!({"A": "event.x", "B": "now()"}), &[]).is_none());
    }

    /// Random expressions over the grammar (and around it: type pairings it leaves to Rhai,
    /// operators without parentheses), each compiled by Rhai first as a plan would be. Any
    /// native answer must be Rhai's answer.
    #[test]
    fn random_expressions_agree_with_rhai() {
        let f = Fixture::new();
        // A plan's compile scope: the flow variables, then the step's loop variable.
        let mut scope = rhai::Scope::new();
        for name in crate::script::FLOW_VARIABLES.iter().chain(&["inv"]) {
            scope.push_dynamic(*name, Dynamic::UNIT);
        }
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let (mut compiled, mut answered) = (0, 0);
        for _ in 0..4000 {
            let src = random_expr(&mut seed, 3);
            if f.engine
                .compile_expression_with_scope(&scope, &src)
                .is_err()
            {
                continue;
            }
            compiled += 1;
            let Some(native) = f.native(&src) else {
                continue;
            };
            answered += 1;
            match f.rhai(&src) {
                Ok(r) => assert!(same(&native, &r), "`{src}`: native {native:?}, Rhai {r:?}"),
                Err(e) => panic!("`{src}`: native {native:?}, Rhai failed: {e}"),
            }
        }
        // The test means something only if many expressions took each road.
        assert!(
            compiled > 1500 && answered > 500,
            "{compiled} compiled, {answered} native"
        );
    }

    fn next(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    fn pick<'a>(seed: &mut u64, items: &[&'a str]) -> &'a str {
        items[(next(seed) % items.len() as u64) as usize]
    }

    fn random_expr(seed: &mut u64, depth: u32) -> String {
        const ATOMS: &[&str] = &[
            r#""""#,
            r#""a""#,
            r#""W1-""#,
            r#""text""#,
            "0",
            "7",
            "101",
            "9223372036854775807",
            "true",
            "false",
            "()",
            "event.transaction_id",
            "event.s",
            "event.seven",
            "event.flag",
            "event.none",
            "event.missing",
            "event.credit_card",
            "event.created.at",
            "event.missing?.x",
            "event.amount",
            "event.customer_id",
            "event.status_code",
            "steps.payment.Money",
            "steps.payment.Ref",
            "inv.open",
            "inv.invoice",
            "inv",
        ];
        const CALLS: &[&str] = &["money", "pacific_date", "sage_date", "status_map"];
        const OPS: &[&str] = &["+", "==", "!=", "<", ">=", "&&", "||", "??"];
        if depth == 0 || next(seed).is_multiple_of(3) {
            return pick(seed, ATOMS).to_string();
        }
        let d = depth - 1;
        match next(seed) % 8 {
            0 => format!("{}({})", pick(seed, CALLS), random_expr(seed, d)),
            7 => format!("{}{}", pick(seed, &["!", "-"]), random_expr(seed, d)),
            1 => format!(r#"lookup("customers", {})"#, random_expr(seed, d)),
            2 => format!(
                r#"lookup_or("customers", {}, {})"#,
                random_expr(seed, d),
                random_expr(seed, d)
            ),
            3 => format!(
                "if {} {{ {} }} else {{ {} }}",
                random_expr(seed, d),
                random_expr(seed, d),
                random_expr(seed, d)
            ),
            4 => format!(
                "({} {} {})",
                random_expr(seed, d),
                pick(seed, OPS),
                random_expr(seed, d)
            ),
            _ => format!(
                "{} {} {}",
                random_expr(seed, d),
                pick(seed, OPS),
                random_expr(seed, d)
            ),
        }
    }
}
