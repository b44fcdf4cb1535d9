//! Profile tables: `lookup`, `lookup_or`, `status_map`, and `convert` with the profile's rates.

use super::{HelperEnv, fail};
use rhai::{Dynamic, Engine, EvalAltResult, INT, ImmutableString};
use rust_decimal::{Decimal, RoundingStrategy};
use std::sync::Arc;

type R<T> = Result<T, Box<EvalAltResult>>;

fn key_text(key: &Dynamic) -> R<String> {
    if key.is_string() || key.is_int() {
        return Ok(key.to_string());
    }
    if key.is_unit() {
        return fail("lookup(): the key is missing (unit)");
    }
    fail(format!("lookup(): a `{}` cannot be a key", key.type_name()))
}

/// The value at `key` in the profile table `table` (`None`: no such key).
pub fn find(env: &HelperEnv, table: &str, key: &Dynamic) -> R<Option<Dynamic>> {
    let Some(t) = env.tables.get(table) else {
        let known: Vec<&str> = env.tables.keys().map(String::as_str).collect();
        return fail(format!(
            "lookup(): the profile has no table `{table}` (tables: {})",
            known.join(", ")
        ));
    };
    Ok(t.get(key_text(key)?.as_str()).cloned())
}

/// PayTrace response codes and statuses -> Sage Pro `PaymentStatus`.
fn default_status(code: &str) -> Option<&'static str> {
    Some(match code {
        "101" | "112" | "120" | "122" | "124" | "Approved" | "approved" | "Settled" | "settled" => {
            "Paid"
        }
        "102" | "103" | "121" | "125" | "Declined" | "declined" | "Failed" | "failed" => "Failed",
        "106" | "Refunded" | "refunded" | "Refund" | "refund" => "Refunded",
        _ => return None,
    })
}

/// `status_map(code)`: the profile's `status_map` table first, the defaults after.
pub fn status_for(env: &HelperEnv, code: &str) -> R<ImmutableString> {
    if let Some(v) = env.tables.get("status_map").and_then(|t| t.get(code)) {
        return Ok(v.to_string().into());
    }
    match default_status(code) {
        Some(s) => Ok(s.into()),
        None => fail(format!(
            "status_map(): no Sage Pro status for PayTrace `{code}`; add it to the profile table `status_map`"
        )),
    }
}

pub fn register(engine: &mut Engine, env: &Arc<HelperEnv>) {
    let e = Arc::clone(env);
    engine.register_fn("lookup", move |table: &str, key: Dynamic| -> R<Dynamic> {
        match find(&e, table, &key)? {
            Some(v) => Ok(v),
            None => fail(format!("lookup(): no `{key}` in table `{table}`")),
        }
    });
    let e = Arc::clone(env);
    engine.register_fn(
        "lookup_or",
        move |table: &str, key: Dynamic, default: Dynamic| -> R<Dynamic> {
            Ok(find(&e, table, &key)?.unwrap_or(default))
        },
    );
    let e = Arc::clone(env);
    let status = move |code: &str| status_for(&e, code);
    let s2 = status.clone();
    engine.register_fn("status_map", move |code: INT| status(&code.to_string()));
    engine.register_fn("status_map", move |code: &str| s2(code));
    let e = Arc::clone(env);
    let convert = move |amount: Decimal, from: &str, to: &str| -> R<Decimal> {
        let rate = |c: &str| -> R<Decimal> {
            match e.rates.get(c) {
                Some(r) => Ok(*r),
                None => fail(format!(
                    "convert(): no rate for currency `{c}` in the profile"
                )),
            }
        };
        let (f, t) = (rate(from)?, rate(to)?);
        if t.is_zero() {
            return fail(format!("convert(): the rate for `{to}` is zero"));
        }
        match amount.checked_mul(f).and_then(|x| x.checked_div(t)) {
            Some(v) => Ok(v.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)),
            None => fail("convert(): the amount is out of range"),
        }
    };
    let c2 = convert.clone();
    engine.register_fn("convert", convert);
    engine.register_fn("convert", move |amount: INT, from: &str, to: &str| {
        c2(Decimal::from(amount), from, to)
    });
}
