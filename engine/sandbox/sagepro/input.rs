//! Reading request bodies field by field: strings, dates, enums, booleans and money
//! (`rust_decimal::Decimal`, parsed exactly from a JSON number's text or a string, never f64).
//! Problems accumulate as details so one 422 lists all of them.

use super::error::{ApiError, Detail};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::{Map, Value};
use std::str::FromStr;

/// Parse money from a JSON number (its exact text) or a string.
pub fn parse_money(v: &Value) -> Option<Decimal> {
    let text = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        _ => return None,
    };
    Decimal::from_str(&text)
        .or_else(|_| Decimal::from_scientific(&text))
        .ok()
}

/// The largest amount a money field takes.
pub fn max_money() -> Decimal {
    Decimal::new(999_999_999_999_999, 2)
}

/// Money as returned: a string with exactly two decimals.
pub fn money(d: Decimal) -> String {
    let mut r = d.round_dp(2);
    r.rescale(2);
    r.to_string()
}

/// Money stored in a record document (absent or bad reads as zero).
pub fn doc_money(doc: &Map<String, Value>, field: &str) -> Decimal {
    doc.get(field).and_then(parse_money).unwrap_or_default()
}

/// A field reader over one JSON object; `prefix` names nested objects (`Lines[0].`).
pub struct Input<'a> {
    pub map: &'a Map<String, Value>,
    prefix: String,
    pub details: Vec<Detail>,
}

impl<'a> Input<'a> {
    pub fn new(map: &'a Map<String, Value>) -> Self {
        Input {
            map,
            prefix: String::new(),
            details: Vec::new(),
        }
    }

    pub fn nested(map: &'a Map<String, Value>, prefix: String) -> Self {
        Input {
            map,
            prefix,
            details: Vec::new(),
        }
    }

    fn name(&self, field: &str) -> String {
        format!("{}{}", self.prefix, field)
    }

    pub fn fail(&mut self, field: &str, code: &str, message: impl Into<String>) {
        let name = self.name(field);
        self.details.push(Detail::new(name, code, message));
    }

    fn present(&self, field: &str) -> Option<&'a Value> {
        self.map.get(field).filter(|v| !v.is_null())
    }

    fn missing(&mut self, field: &str, required: bool) {
        if required {
            self.fail(field, "Required", format!("{field} is required."));
        }
    }

    /// Reject fields outside `allowed` (the catalog's `additionalProperties: false`).
    pub fn only(&mut self, allowed: &[&str]) {
        let unknown: Vec<String> = self
            .map
            .keys()
            .filter(|k| !allowed.contains(&k.as_str()))
            .cloned()
            .collect();
        for k in unknown {
            self.fail(
                &k,
                "UnknownField",
                format!("{k} is not a field of this resource."),
            );
        }
    }

    pub fn string(&mut self, field: &str, required: bool, max: usize) -> Option<String> {
        match self.present(field) {
            None => {
                self.missing(field, required);
                None
            }
            Some(Value::String(s)) if s.trim().is_empty() && required => {
                self.fail(field, "Required", format!("{field} must not be empty."));
                None
            }
            Some(Value::String(s)) if s.trim().chars().count() > max => {
                self.fail(
                    field,
                    "TooLong",
                    format!("{field} is longer than {max} characters."),
                );
                None
            }
            Some(Value::String(s)) => Some(s.trim().to_string()),
            Some(_) => {
                self.fail(field, "InvalidType", format!("{field} must be a string."));
                None
            }
        }
    }

    pub fn date(&mut self, field: &str, required: bool) -> Option<NaiveDate> {
        let s = self.string(field, required, 10)?;
        let d = NaiveDate::parse_from_str(&s, "%Y-%m-%d").ok();
        if d.is_none() {
            self.fail(
                field,
                "InvalidDate",
                format!("{field} must be a date YYYY-MM-DD."),
            );
        }
        d
    }

    pub fn choice(&mut self, field: &str, allowed: &[&str], required: bool) -> Option<String> {
        let s = self.string(field, required, 40)?;
        if allowed.contains(&s.as_str()) {
            Some(s)
        } else {
            let list = allowed.join(", ");
            self.fail(
                field,
                "InvalidValue",
                format!("{field} must be one of {list}."),
            );
            None
        }
    }

    pub fn boolean(&mut self, field: &str) -> Option<bool> {
        match self.present(field) {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                self.fail(
                    field,
                    "InvalidType",
                    format!("{field} must be true or false."),
                );
                None
            }
        }
    }

    /// Money with at most two decimals; `positive` demands > 0, otherwise >= 0.
    pub fn money(&mut self, field: &str, required: bool, positive: bool) -> Option<Decimal> {
        let v = match self.present(field) {
            None => {
                self.missing(field, required);
                return None;
            }
            Some(v) => v,
        };
        let Some(d) = parse_money(v) else {
            self.fail(
                field,
                "InvalidAmount",
                format!("{field} must be a decimal amount."),
            );
            return None;
        };
        if d.normalize().scale() > 2 {
            self.fail(
                field,
                "TooManyDecimals",
                format!("{field} has more than 2 decimals."),
            );
            return None;
        }
        if d > max_money() {
            // Sums of amounts near the decimal range's end overflowed and the emulator panicked
            // holding the ledger lock; every later call failed. A ledger's money column has a
            // fixed width: 13 digits before the point.
            self.fail(
                field,
                "OutOfRange",
                format!("{field} must be at most 9999999999999.99."),
            );
            return None;
        }
        if (positive && d <= Decimal::ZERO) || d < Decimal::ZERO {
            let rule = if positive {
                "above zero"
            } else {
                "zero or more"
            };
            self.fail(field, "OutOfRange", format!("{field} must be {rule}."));
            return None;
        }
        Some(d)
    }

    /// An array of objects (`min` items at least).
    pub fn objects(
        &mut self,
        field: &str,
        required: bool,
        min: usize,
    ) -> Option<Vec<&'a Map<String, Value>>> {
        match self.present(field) {
            None => {
                self.missing(field, required);
                None
            }
            Some(Value::Array(items)) => {
                let objs: Vec<_> = items.iter().filter_map(Value::as_object).collect();
                if objs.len() != items.len() {
                    self.fail(field, "InvalidType", format!("{field} must hold objects."));
                    None
                } else if objs.len() < min {
                    self.fail(
                        field,
                        "TooFewItems",
                        format!("{field} needs at least {min} item(s)."),
                    );
                    None
                } else {
                    Some(objs)
                }
            }
            Some(_) => {
                self.fail(field, "InvalidType", format!("{field} must be an array."));
                None
            }
        }
    }

    /// Take the details of a nested reader.
    pub fn absorb(&mut self, other: Input<'_>) {
        self.details.extend(other.details);
    }

    /// 422 with every detail collected, if any.
    pub fn finish(self, message: &str) -> Result<(), ApiError> {
        if self.details.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(message, self.details))
        }
    }
}
