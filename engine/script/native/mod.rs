//! Simple flow expressions evaluated without the script engine: field paths of `event`,
//! `steps` and loop variables, literals, `+` on text and whole numbers, comparisons,
//! `&&`/`||`, `!`, unary `-`, `??`, `if`/`else`, a few methods of text and numbers (`abs`,
//! `len`, `starts_with`, `ends_with`, `contains`, `to_upper`, `to_lower`), calls to the common helpers (`money`,
//! `pacific_date`, `sage_date`, `lookup`, `lookup_or`, `status_map`), and `map:`/`with:`
//! records of those. Most mappings are only this, and the interpreter spends
//! more on finding functions and copying the maps a path walks through than on the mapping.
//!
//! The rule that keeps this safe: a native evaluation gives the value Rhai would give, or it
//! gives up (`None`) and the caller evaluates the same source with Rhai. It gives up at parse
//! time on anything outside the small grammar (`parse`), and at run time on any type pairing or
//! failure it does not reproduce exactly (an error's message and position come from Rhai).
//! `parse` reads the grammar, `eval` answers or gives up, `tests` hold the two ways to the
//! same answers.

mod eval;
mod parse;
#[cfg(test)]
mod tests;

pub use eval::Inputs;
pub use parse::{parse, template};

use rhai::Dynamic;

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
    /// `x.method(args)`.
    Method(Method, Box<Expr>, Vec<Expr>),
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

/// Methods of text and numbers that return a new value (none that change their receiver).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Abs,
    Len,
    StartsWith,
    EndsWith,
    Contains,
    ToUpper,
    ToLower,
}

impl Method {
    fn named(name: &str, arity: usize) -> Option<Method> {
        Some(match (name, arity) {
            ("abs", 0) => Method::Abs,
            ("len", 0) => Method::Len,
            ("starts_with", 1) => Method::StartsWith,
            ("ends_with", 1) => Method::EndsWith,
            ("contains", 1) => Method::Contains,
            ("to_upper", 0) => Method::ToUpper,
            ("to_lower", 0) => Method::ToLower,
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
