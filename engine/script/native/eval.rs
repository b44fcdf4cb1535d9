//! Evaluating a native tree: Rhai's value, or `None` to leave the source to Rhai.

use super::{Comparison, Expr, Helper, Method, Root};
use crate::script::helpers::{self, HelperEnv};
use crate::script::limits::{MAX_ARRAY_SIZE, MAX_MAP_SIZE, MAX_STRING_SIZE};
use rhai::{Dynamic, ImmutableString, Map};

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
            Expr::Method(method, base, args) => {
                call_method(*method, &base.eval(inputs)?, &eval_all(args, inputs)?)
            }
            Expr::Call(helper, args) => call(*helper, inputs.env, eval_all(args, inputs)?),
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
            Expr::List(items) => Some(Dynamic::from_array(eval_all(items, inputs)?)),
        }
    }
}

/// Every expression's value, or `None` when one has none.
fn eval_all(exprs: &[Expr], inputs: &Inputs<'_>) -> Option<Vec<Dynamic>> {
    exprs.iter().map(|e| e.eval(inputs)).collect()
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

/// A helper on arguments of the types its Rust function takes (the parser fixed their number).
fn call(helper: Helper, env: &HelperEnv, args: Vec<Dynamic>) -> Option<Dynamic> {
    match (helper, args.as_slice()) {
        (Helper::Money, [v]) => {
            if let Some(s) = text_of(v) {
                helpers::money_from_text(&s).ok().map(Dynamic::from_decimal)
            } else if let Ok(i) = v.as_int() {
                Some(Dynamic::from_decimal(i.into()))
            } else {
                v.is_decimal().then(|| v.clone())
            }
        }
        (Helper::PacificDate, [v]) => helpers::pacific_date(&text_of(v)?).ok().map(Dynamic::from),
        (Helper::SageDate, [v]) => helpers::sage_date(&text_of(v)?).ok().map(Dynamic::from),
        (Helper::Lookup, [table, key]) => helpers::table_value(env, &text_of(table)?, key).ok()?,
        (Helper::LookupOr, [table, key, default]) => Some(
            helpers::table_value(env, &text_of(table)?, key)
                .ok()?
                .unwrap_or_else(|| default.clone()),
        ),
        (Helper::StatusMap, [code]) => {
            let code = match code.as_int() {
                Ok(i) => i.to_string(),
                Err(_) => text_of(code)?.to_string(),
            };
            helpers::status_for(env, &code).ok().map(Dynamic::from)
        }
        _ => None,
    }
}

/// A method of text or a number, as Rhai's standard library answers it; any other receiver
/// or argument type is Rhai's.
fn call_method(method: Method, base: &Dynamic, args: &[Dynamic]) -> Option<Dynamic> {
    let text = || text_of(base);
    let arg = || args.first().and_then(text_of);
    Some(match method {
        Method::Abs => match base.as_int() {
            Ok(i) => Dynamic::from_int(i.checked_abs()?),
            Err(_) => Dynamic::from_decimal(base.as_decimal().ok()?.abs()),
        },
        Method::Len => Dynamic::from_int(i64::try_from(text()?.chars().count()).ok()?),
        Method::StartsWith => Dynamic::from_bool(text()?.starts_with(arg()?.as_str())),
        Method::EndsWith => Dynamic::from_bool(text()?.ends_with(arg()?.as_str())),
        Method::Contains => Dynamic::from_bool(text()?.contains(arg()?.as_str())),
        Method::ToUpper => Dynamic::from(text()?.to_uppercase()),
        Method::ToLower => Dynamic::from(text()?.to_lowercase()),
    })
}
