//! `money(x)`, `round(d, places, mode)` and money formatting. Amounts are `Decimal`; Rhai is
//! built without floating point, so `1.05` in a script is already an exact decimal.

use super::fail;
use rhai::{Engine, EvalAltResult, INT, ImmutableString};
use rust_decimal::{Decimal, RoundingStrategy};
use std::str::FromStr;

type R<T> = Result<T, Box<EvalAltResult>>;

/// A decimal as text with at least two places: `12.5` -> `12.50`, `0.125` stays `0.125`.
pub fn format_money(d: Decimal) -> String {
    if d.scale() < 2 {
        let mut r = d;
        r.rescale(2);
        r.to_string()
    } else {
        d.to_string()
    }
}

/// `money(text)`: an exact decimal amount, or a script error naming the text.
pub fn from_str(s: &str) -> R<Decimal> {
    let t = s.trim();
    if t.is_empty() || t.contains(['e', 'E']) {
        return fail(format!("money(): `{t}` is not a decimal amount"));
    }
    Decimal::from_str_exact(t).or_else(|_| fail(format!("money(): `{t}` is not a decimal amount")))
}

fn round(d: Decimal, places: INT, mode: &str) -> R<Decimal> {
    let Ok(places) = u32::try_from(places) else {
        return fail(format!("round(): {places} places is out of range"));
    };
    if places > 12 {
        return fail(format!(
            "round(): {places} places is out of range (0 to 12)"
        ));
    }
    let strategy = match mode {
        "half_up" => RoundingStrategy::MidpointAwayFromZero,
        "bankers" | "half_even" => RoundingStrategy::MidpointNearestEven,
        "down" => RoundingStrategy::ToZero,
        "up" => RoundingStrategy::AwayFromZero,
        other => {
            return fail(format!(
                "round(): unknown mode `{other}` (half_up, bankers, down, up)"
            ));
        }
    };
    Ok(d.round_dp_with_strategy(places, strategy))
}

pub fn register(engine: &mut Engine) {
    engine.register_fn("money", |s: &str| from_str(s));
    engine.register_fn("money", |s: ImmutableString| from_str(&s));
    engine.register_fn("money", |i: INT| Decimal::from(i));
    engine.register_fn("money", |d: Decimal| d);
    engine.register_fn("money", |_: ()| -> R<Decimal> {
        fail("money(): the amount is missing")
    });
    engine.register_fn("round", round);
    engine.register_fn("round", |i: INT, places: INT, mode: &str| {
        round(Decimal::from(i), places, mode)
    });
    engine.register_fn("to_string", format_money);
    engine.register_fn("to_money_string", format_money);
    engine.register_fn("+", |s: ImmutableString, d: Decimal| {
        format!("{s}{}", format_money(d))
    });
    engine.register_fn("+", |d: Decimal, s: ImmutableString| {
        format!("{}{s}", format_money(d))
    });
    // Parse a decimal from text for arithmetic outside money (rates, quantities).
    engine.register_fn("decimal", |s: &str| {
        Decimal::from_str(s.trim()).or_else(|_| fail(format!("decimal(): `{s}` is not a number")))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_two_places() {
        assert_eq!(format_money(Decimal::from_str("12.5").unwrap()), "12.50");
        assert_eq!(format_money(Decimal::from(3)), "3.00");
        assert_eq!(format_money(Decimal::from_str("0.125").unwrap()), "0.125");
    }

    #[test]
    fn rounding_modes() {
        let d = |s: &str| Decimal::from_str(s).unwrap();
        assert_eq!(round(d("2.345"), 2, "half_up").unwrap(), d("2.35"));
        assert_eq!(round(d("2.345"), 2, "bankers").unwrap(), d("2.34"));
        assert_eq!(round(d("-2.345"), 2, "half_up").unwrap(), d("-2.35"));
        assert!(round(d("1"), 2, "nearest").is_err());
    }
}
