//! Comparing what a flow did with what a test expects. Objects match as subsets (extra fields
//! in the actual value are fine) unless exact; arrays match element by element and must have the
//! same length; an expected number matches the same decimal amount written as text ("12.50"
//! matches 12.5), while expected text must match exactly. A one-key object whose key starts
//! with `$` is a matcher:
//!
//! | matcher | matches |
//! |---|---|
//! | `{$any: true}` | any value, but the field must be present |
//! | `{$absent: true}` | the field is missing (or null) |
//! | `{$contains: "text"}` | a string containing the text |
//! | `{$starts_with: "text"}` | a string starting with the text |
//! | `{$decimal: "12.50"}` | a number or decimal text equal to the amount |

use serde_json::Value;

/// Every difference, as `path: expected ..., got ...` lines.
pub fn compare(expected: &Value, actual: Option<&Value>, exact: bool, path: &str) -> Vec<String> {
    let mut out = Vec::new();
    walk(expected, actual, exact, path, &mut out);
    out
}

/// `contains` shorthand: expected text must occur in the actual text; other values compare.
pub fn text_or_matcher(expected: &Value, actual: &str, path: &str) -> Vec<String> {
    match expected {
        Value::String(want) if !actual.contains(want.as_str()) => {
            vec![format!(
                "{path}: expected text containing {want:?}, got {actual:?}"
            )]
        }
        Value::String(_) => Vec::new(),
        other => compare(other, Some(&Value::String(actual.to_string())), false, path),
    }
}

fn show(v: Option<&Value>) -> String {
    match v {
        None => "nothing (absent)".into(),
        Some(v) => {
            let s = v.to_string();
            if s.chars().count() > 200 {
                format!("{}...", s.chars().take(200).collect::<String>())
            } else {
                s
            }
        }
    }
}

fn matcher(expected: &Value) -> Option<(&str, &Value)> {
    let obj = expected.as_object()?;
    if obj.len() != 1 {
        return None;
    }
    let (k, v) = obj.iter().next()?;
    k.starts_with('$').then_some((k.as_str(), v))
}

use crate::script::value::decimal_of as decimal;

fn walk(expected: &Value, actual: Option<&Value>, exact: bool, path: &str, out: &mut Vec<String>) {
    if let Some((name, arg)) = matcher(expected) {
        let ok = match name {
            "$any" => actual.is_some_and(|a| !a.is_null()),
            "$absent" => actual.is_none_or(Value::is_null),
            "$contains" | "$starts_with" => {
                let want = arg.as_str().unwrap_or_default();
                actual.and_then(Value::as_str).is_some_and(|s| {
                    if name == "$contains" {
                        s.contains(want)
                    } else {
                        s.starts_with(want)
                    }
                })
            }
            "$decimal" => match (decimal(arg), actual.and_then(decimal)) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            },
            other => {
                out.push(format!(
                    "{path}: unknown matcher `{other}` (one of $any, $absent, $contains, $starts_with, $decimal)"
                ));
                return;
            }
        };
        if !ok {
            out.push(format!(
                "{path}: expected {name} {}, got {}",
                arg,
                show(actual)
            ));
        }
        return;
    }
    let Some(actual) = actual else {
        out.push(format!(
            "{path}: expected {}, got nothing (absent)",
            show(Some(expected))
        ));
        return;
    };
    match (expected, actual) {
        (Value::Object(want), Value::Object(got)) => {
            for (k, v) in want {
                walk(v, got.get(k), exact, &format!("{path}.{k}"), out);
            }
            if exact {
                for k in got.keys().filter(|k| !want.contains_key(*k)) {
                    out.push(format!(
                        "{path}.{k}: not expected, got {}",
                        show(got.get(k))
                    ));
                }
            }
        }
        (Value::Array(want), Value::Array(got)) => {
            if want.len() != got.len() {
                out.push(format!(
                    "{path}: expected {} item(s), got {}: {}",
                    want.len(),
                    got.len(),
                    show(Some(actual))
                ));
                return;
            }
            for (i, (w, g)) in want.iter().zip(got).enumerate() {
                walk(w, Some(g), exact, &format!("{path}[{i}]"), out);
            }
        }
        (Value::Number(_), _) => {
            if decimal(expected) != decimal(actual) || decimal(actual).is_none() {
                out.push(format!(
                    "{path}: expected {expected}, got {}",
                    show(Some(actual))
                ));
            }
        }
        _ if expected == actual => {}
        // Money the flow computed is a JSON number with its scale (1234.50); written as text
        // in a test it must match that text exactly.
        (Value::String(want), Value::Number(n)) if *want == n.to_string() => {}
        _ => out.push(format!(
            "{path}: expected {expected}, got {}",
            show(Some(actual))
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subset_and_exact() {
        let got = json!({"a": 1, "b": "x"});
        assert!(compare(&json!({"a": 1}), Some(&got), false, "in").is_empty());
        let diffs = compare(&json!({"a": 1}), Some(&got), true, "in");
        assert_eq!(diffs, vec![r#"in.b: not expected, got "x""#]);
    }

    #[test]
    fn money_written_as_a_number_matches_decimal_text_but_text_must_be_exact() {
        let got = json!({"Amount": "12.50"});
        assert!(compare(&json!({"Amount": 12.5}), Some(&got), false, "in").is_empty());
        assert_eq!(
            compare(&json!({"Amount": "12.5"}), Some(&got), false, "in"),
            vec![r#"in.Amount: expected "12.5", got "12.50""#]
        );
        assert!(
            compare(
                &json!({"Amount": {"$decimal": "12.5"}}),
                Some(&got),
                false,
                "in"
            )
            .is_empty()
        );
    }

    #[test]
    fn text_matches_a_number_with_the_same_digits() {
        let got: Value = serde_json::from_str(r#"{"Amount": 1234.50}"#).unwrap();
        assert!(compare(&json!({"Amount": "1234.50"}), Some(&got), false, "in").is_empty());
        assert_eq!(
            compare(&json!({"Amount": "1234.5"}), Some(&got), false, "in").len(),
            1
        );
    }

    #[test]
    fn matchers() {
        let got = json!({"Memo": "PayTrace sale 1001", "InvoiceID": null});
        let want = json!({
            "Memo": {"$contains": "sale"},
            "InvoiceID": {"$absent": true},
            "Other": {"$absent": true},
        });
        assert!(compare(&want, Some(&got), false, "in").is_empty());
        let diffs = compare(
            &json!({"Memo": {"$starts_with": "X"}, "Z": {"$any": true}}),
            Some(&got),
            false,
            "in",
        );
        assert_eq!(diffs.len(), 2, "{diffs:?}");
        assert!(
            compare(&json!({"$nope": 1}), Some(&got), false, "in")[0].contains("unknown matcher")
        );
    }

    #[test]
    fn arrays_must_have_the_same_length() {
        let diffs = compare(&json!([1, 2]), Some(&json!([1])), false, "x");
        assert!(diffs[0].contains("expected 2 item(s), got 1"), "{diffs:?}");
    }
}
