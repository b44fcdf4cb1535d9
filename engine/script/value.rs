//! JSON <-> Rhai values. Numbers with a fraction become exact `Decimal`s from their text (the
//! engine is built with `no_float`, so Rhai has no floating point at all); integers stay `INT`.

use rhai::{Array, Dynamic, Map};
use rust_decimal::Decimal;
use serde_json::{Number, Value};
use std::str::FromStr;

/// Convert a JSON value for scripts. Fails only on numbers outside the decimal range.
pub fn to_dynamic(value: &Value) -> Result<Dynamic, String> {
    Ok(match value {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => Dynamic::from_bool(*b),
        Value::Number(n) => number(n)?,
        Value::String(s) => Dynamic::from(s.clone()),
        Value::Array(items) => {
            let arr: Result<Array, String> = items.iter().map(to_dynamic).collect();
            Dynamic::from_array(arr?)
        }
        Value::Object(map) => {
            let mut m = Map::new();
            for (k, v) in map {
                m.insert(
                    k.as_str().into(),
                    to_dynamic(v).map_err(|e| at_field(k, e))?,
                );
            }
            Dynamic::from_map(m)
        }
    })
}

/// An error from inside field `key`, naming where it is: `amount: number ...`,
/// `lines.total: ...`.
fn at_field(key: &str, error: String) -> String {
    let key = crate::pci::redact_text(key).unwrap_or_else(|| key.to_string());
    match error.strip_prefix(FIELD_MARK) {
        Some(rest) => format!("{FIELD_MARK}{key}.{rest}"),
        None => format!("{FIELD_MARK}{key}: {error}"),
    }
}
const FIELD_MARK: &str = "field ";

/// `to_dynamic` of an event object, keeping only `fields` when given (the fields a flow's
/// expressions read, `Plan::event_fields`); a field missing from the event is left out, as
/// reading it would give `()` either way.
pub fn event_to_dynamic(event: &Value, fields: Option<&[String]>) -> Result<Dynamic, String> {
    match (fields, event) {
        (Some(fields), Value::Object(map)) => {
            let mut m = Map::new();
            for f in fields {
                if let Some(v) = map.get(f) {
                    m.insert(
                        f.as_str().into(),
                        to_dynamic(v).map_err(|e| at_field(f, e))?,
                    );
                }
            }
            Ok(Dynamic::from_map(m))
        }
        _ => to_dynamic(event),
    }
}

fn number(n: &Number) -> Result<Dynamic, String> {
    if let Some(i) = n.as_i64() {
        return Ok(Dynamic::from_int(i));
    }
    let text = n.to_string();
    Decimal::from_str(&text)
        .or_else(|_| Decimal::from_scientific(&text))
        .map(Dynamic::from_decimal)
        .map_err(|_| {
            // The number itself is shown only masked and short: it may be a card number, and
            // a `1e400` written out in full would be a 400-digit message.
            let shown = crate::pci::redact_text(&text).unwrap_or(text);
            let shown = match shown.char_indices().nth(40) {
                Some((cut, _)) => format!("{}...", &shown[..cut]),
                None => shown,
            };
            format!("number `{shown}` is outside the decimal range (at most 28 digits, or 79228162514264337593543950335)")
        })
}

/// Deepest nesting of arrays and maps a script result may have. The store reads JSON back with
/// serde_json's recursion limit (128); a deeper output would be written but could not be read
/// again (the run's record unreadable, a resumed run stuck), so it fails its step instead.
pub const MAX_DEPTH: usize = 64;

/// Convert a script result back to JSON. Decimals become JSON numbers with their exact digits.
pub fn to_json(value: &Dynamic) -> Result<Value, String> {
    to_json_at(value, 0)
}

fn to_json_at(value: &Dynamic, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "the value is nested more than {MAX_DEPTH} levels deep (arrays and maps inside each other)"
        ));
    }
    if value.is_unit() {
        return Ok(Value::Null);
    }
    if let Ok(b) = value.as_bool() {
        return Ok(Value::Bool(b));
    }
    if let Ok(i) = value.as_int() {
        return Ok(Value::Number(i.into()));
    }
    if let Ok(d) = value.as_decimal() {
        return decimal_to_json(d);
    }
    if let Ok(s) = value.as_immutable_string_ref() {
        return Ok(Value::String(s.as_str().to_string()));
    }
    if value.is_char() {
        return Ok(Value::String(value.to_string()));
    }
    if value.is_array() {
        let arr = value.read_lock::<Array>().ok_or("array is locked")?;
        return arr
            .iter()
            .map(|v| to_json_at(v, depth + 1))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array);
    }
    if value.is_map() {
        let map = value.read_lock::<Map>().ok_or("map is locked")?;
        let mut out = serde_json::Map::new();
        for (k, v) in map.iter() {
            out.insert(k.to_string(), to_json_at(v, depth + 1)?);
        }
        return Ok(Value::Object(out));
    }
    Err(format!(
        "a `{}` cannot be sent or stored; convert it to a string",
        value.type_name()
    ))
}

/// An amount from JSON: a number (exact digits) or decimal text; anything else is `None`.
pub fn decimal_of(v: &Value) -> Option<Decimal> {
    match v {
        Value::Number(n) => Decimal::from_str(&n.to_string())
            .or_else(|_| Decimal::from_scientific(&n.to_string()))
            .ok(),
        Value::String(s) => Decimal::from_str(s.trim()).ok(),
        _ => None,
    }
}

/// A decimal as a JSON number keeping its exact digits (`12.50` stays `12.50`).
pub fn decimal_to_json(d: Decimal) -> Result<Value, String> {
    d.to_string()
        .parse::<Number>()
        .map(Value::Number)
        .map_err(|e| format!("decimal `{d}` cannot be written as JSON: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_nested_too_deep_to_read_back_are_refused() {
        let engine = crate::script::engine();
        let deep: Dynamic = engine
            .eval("let m = #{}; for i in 0..200 { m = #{ a: m }; } m")
            .unwrap();
        let err = to_json(&deep).unwrap_err();
        assert!(err.contains("nested more than 64 levels"), "{err}");
        let fine: Dynamic = engine
            .eval("let m = [1]; for i in 0..60 { m = [m]; } m")
            .unwrap();
        assert!(to_json(&fine).is_ok());
    }

    #[test]
    fn round_trips_exact_decimals() {
        let v: Value =
            serde_json::from_str(r#"{"a": 0.1, "b": 12.50, "c": 3, "d": [true, null, "x"]}"#)
                .unwrap();
        let d = to_dynamic(&v).unwrap();
        let back = to_json(&d).unwrap();
        assert_eq!(
            back.to_string(),
            r#"{"a":0.1,"b":12.50,"c":3,"d":[true,null,"x"]}"#
        );
    }
}
