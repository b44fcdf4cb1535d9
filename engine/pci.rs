//! Card data (PAN, CVV, track data) recognition, masking and redaction. Used by lint (LL017)
//! and by the runtime, which refuses to send card data anywhere but PayTrace card fields and
//! redacts it from run records, logs and errors.

use serde_json::Value;

/// Field names that hold card data wherever they appear.
pub const CARD_FIELDS: &[&str] = &[
    "cc_number",
    "card_number",
    "cardnumber",
    "ccnumber",
    "pan",
    "csc",
    "cvv",
    "cvv2",
    "cvc",
    "cid",
    "track_data",
    "track1",
    "track2",
    "track1_data",
    "track2_data",
    "swipe",
    "encrypted_number",
    "encrypted_csc",
    "encrypted_swipe",
    "account_number",
    "pin",
];
/// Parents under which `number` is a card number.
const CARD_PARENTS: &[&str] = &["credit_card", "card", "cc", "payment_card"];

/// Whether the key `key` (under `parent`) holds card data. No allocation: runs on every
/// output the runtime records.
pub fn is_card_key(key: &str, parent: Option<&str>) -> bool {
    CARD_FIELDS.iter().any(|f| f.eq_ignore_ascii_case(key))
        || (key.eq_ignore_ascii_case("number")
            && parent.is_some_and(|p| CARD_PARENTS.iter().any(|c| c.eq_ignore_ascii_case(p))))
}

/// The card field a dotted path reads, if any.
pub fn card_field(parts: &[String]) -> Option<String> {
    let i = (0..parts.len())
        .find(|&i| is_card_key(&parts[i], i.checked_sub(1).map(|p| parts[p].as_str())))?;
    Some(parts[..=i].join("."))
}

/// Luhn check over 13 to 19 digits (spaces and dashes allowed between them).
pub fn is_card_number(text: &str) -> bool {
    let t = text.trim();
    if !t
        .chars()
        .all(|c| c.is_ascii_digit() || c == ' ' || c == '-')
    {
        return false;
    }
    let digits: Vec<u32> = t.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                if d * 2 > 9 { d * 2 - 9 } else { d * 2 }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

/// A card number inside free text (`"use 4111 1111 1111 1111 to test"`), if any.
pub fn card_number_in(text: &str) -> Option<String> {
    card_numbers_in(text)
        .into_iter()
        .next()
        .map(|r| text[r].to_string())
}

/// Every card number inside free text, as byte ranges. Digits are read in groups separated by
/// spaces or dashes; a card number is 13 to 19 digits passing Luhn made of whole groups, the
/// longest from each starting group. Reading whole groups (rather than one run of everything
/// digit-like) finds two numbers written side by side (`4111111111111111 5454545454545454`)
/// and a number after other digits (`order 12 4012-0000-9876-5439`); a single digit string
/// longer than 19 is an id, not a card, and is left alone.
pub fn card_numbers_in(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut found = Vec::new();
    if text.bytes().filter(u8::is_ascii_digit).count() < 13 {
        return found;
    }
    for chain in digit_chains(text) {
        let mut i = 0;
        while i < chain.len() {
            let mut digits = String::new();
            let mut best = None;
            for (j, group) in chain.iter().enumerate().skip(i) {
                digits.push_str(&text[group.clone()]);
                if digits.len() > 19 {
                    break;
                }
                if digits.len() >= 13 && is_card_number(&digits) {
                    best = Some(j);
                }
            }
            match best {
                Some(j) => {
                    found.push(chain[i].start..chain[j].end);
                    i = j + 1;
                }
                None => i += 1,
            }
        }
    }
    found
}

/// Digit groups (byte ranges), chained while only spaces or dashes stand between them.
fn digit_chains(text: &str) -> Vec<Vec<std::ops::Range<usize>>> {
    let bytes = text.as_bytes();
    let mut chains: Vec<Vec<std::ops::Range<usize>>> = Vec::new();
    let mut current: Vec<std::ops::Range<usize>> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            current.push(start..i);
            let gap = i;
            while i < bytes.len() && matches!(bytes[i], b' ' | b'-') {
                i += 1;
            }
            if i == gap || !bytes.get(i).is_some_and(u8::is_ascii_digit) {
                chains.push(std::mem::take(&mut current));
            }
        } else {
            i += 1;
        }
    }
    if !current.is_empty() {
        chains.push(current);
    }
    chains
}

/// `text` with every card number masked and every CVV written after its name (`cvv 123`,
/// `CSC: 1234`, `security code 999`) starred; `None` when there is nothing to hide. Free text
/// (notes, decline messages) carries both, and neither may be stored or shown.
pub fn redact_text(text: &str) -> Option<String> {
    // A card number or a CVV needs at least three digits: most strings (names, codes, dates
    // are checked too) are passed without a copy or a search. Every stored value and log
    // line comes through here.
    if text.bytes().filter(u8::is_ascii_digit).take(3).count() < 3 {
        return None;
    }
    // Copied only once something is found: most texts with digits (dates, amounts,
    // addresses) hold neither.
    let mut out: Option<String> = None;
    let cards = card_numbers_in(text);
    if !cards.is_empty() {
        let mut masked_text = text.to_string();
        for range in cards.into_iter().rev() {
            let masked = mask(&text[range.clone()]);
            masked_text.replace_range(range, &masked);
        }
        out = Some(masked_text);
    }
    let cvvs = cvvs_in(out.as_deref().unwrap_or(text));
    if cvvs.is_empty() {
        return out;
    }
    let mut starred = out.unwrap_or_else(|| text.to_string());
    for range in cvvs.into_iter().rev() {
        let stars = "*".repeat(range.len());
        starred.replace_range(range, &stars);
    }
    Some(starred)
}

/// Whether `text` may hold one of `CVV_WORDS` (each starts with `c` followed by `v`, `s` or
/// `i`, or is `security code`): one pass without a copy, so that texts naming none skip
/// the search.
fn may_name_a_cvv(text: &str) -> bool {
    text.as_bytes().windows(2).any(|w| {
        let (a, b) = (w[0].to_ascii_lowercase(), w[1].to_ascii_lowercase());
        (a == b'c' && matches!(b, b'v' | b's' | b'i')) || (a == b's' && b == b'e')
    })
}

/// Names a CVV goes by in free text, lowercase.
const CVV_WORDS: &[&str] = &["cvv2", "cvv", "cvc", "csc", "cid", "security code"];

/// Byte ranges of 3 or 4 digit codes that follow a CVV name, a few separator characters apart.
fn cvvs_in(text: &str) -> Vec<std::ops::Range<usize>> {
    if !may_name_a_cvv(text) {
        return Vec::new();
    }
    let lower = text.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let mut found = Vec::new();
    for word in CVV_WORDS {
        let mut from = 0;
        while let Some(at) = lower[from..].find(word) {
            let start = from + at;
            from = start + word.len();
            // The name is a word of its own (not `xcvv`).
            if start > 0 && bytes[start - 1].is_ascii_alphanumeric() {
                continue;
            }
            let mut i = from;
            while i < bytes.len()
                && i - from < 4
                && matches!(bytes[i], b' ' | b':' | b'=' | b'#' | b'"' | b'\'')
            {
                i += 1;
            }
            let digits = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
            if (3..=4).contains(&digits) && !found.contains(&(i..i + digits)) {
                found.push(i..i + digits);
            }
        }
    }
    found.sort_by_key(|r| r.start);
    found
}

/// First six and last four only, as PCI DSS allows for display.
pub fn mask(text: &str) -> String {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let n = digits.len();
    if n < 10 {
        return "*".repeat(n);
    }
    format!("{}{}{}", &digits[..6], "*".repeat(n - 10), &digits[n - 4..])
}

/// Replace card data in `value` in place: card fields by name and card numbers found in any
/// string become masked text. Returns how many values were redacted.
pub fn redact(value: &mut Value) -> usize {
    redact_at(value, None)
}

fn redact_at(value: &mut Value, parent: Option<&str>) -> usize {
    match value {
        Value::Object(map) => map
            .iter_mut()
            .map(|(k, v)| {
                if is_card_key(k, parent) && !v.is_null() && !v.is_object() && !is_masked(v) {
                    *v = Value::String(mask(&scalar_text(v)));
                    1
                } else {
                    redact_at(v, Some(k))
                }
            })
            .sum(),
        Value::Array(items) => items.iter_mut().map(|v| redact_at(v, parent)).sum(),
        Value::String(s) => match redact_text(s) {
            Some(clean) => {
                *s = clean;
                1
            }
            None => 0,
        },
        Value::Number(n) if is_card_number(&n.to_string()) => {
            *value = Value::String(mask(&n.to_string()));
            1
        }
        _ => 0,
    }
}

/// The JSON path of the first card data in `value`, if any (never the data itself).
pub fn find(value: &Value) -> Option<String> {
    find_at(value, None).map(|mut parts| {
        parts.reverse();
        let path = parts.join(".").replace(".[", "[");
        if path.is_empty() {
            "(value)".to_string()
        } else {
            path
        }
    })
}

fn find_at(value: &Value, parent: Option<&str>) -> Option<Vec<String>> {
    match value {
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let hit = is_card_key(k, parent) && !v.is_null() && !v.is_object() && !is_masked(v);
            let mut path = if hit {
                Some(Vec::new())
            } else {
                find_at(v, Some(k))
            }?;
            path.push(k.clone());
            Some(path)
        }),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| {
            let mut path = find_at(v, parent)?;
            path.push(format!("[{i}]"));
            Some(path)
        }),
        Value::String(s) => card_number_in(s).map(|_| Vec::new()),
        Value::Number(n) => {
            let t = n.to_string();
            (t.len() >= 13 && is_card_number(&t)).then(Vec::new)
        }
        _ => None,
    }
}

/// Already masked text (`411111******1111`, `***`): redacting again would change nothing real.
fn is_masked(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.contains('*') && card_number_in(s).is_none())
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn luhn_and_mask() {
        assert!(is_card_number("4111111111111111"));
        assert!(is_card_number("4111 1111 1111 1111"));
        assert!(!is_card_number("4111111111111112"));
        assert!(!is_card_number("12345"));
        assert_eq!(mask("4111111111111111"), "411111******1111");
        assert_eq!(
            card_number_in("use 4111 1111 1111 1111 now").as_deref(),
            Some("4111 1111 1111 1111")
        );
    }

    #[test]
    fn card_fields_by_name() {
        let p = |s: &str| s.split('.').map(String::from).collect::<Vec<_>>();
        assert_eq!(
            card_field(&p("event.credit_card.number")).as_deref(),
            Some("event.credit_card.number")
        );
        assert_eq!(card_field(&p("event.csc")).as_deref(), Some("event.csc"));
        assert_eq!(card_field(&p("event.invoice.number")), None);
    }

    #[test]
    fn redacts_by_name_and_by_luhn() {
        let mut v = json!({
            "credit_card": { "number": "4111111111111111", "expiration_month": 12 },
            "csc": "999",
            "memo": "card 5454545454545454 used",
            "amount": 10,
            "invoice": { "number": "INV-1" }
        });
        assert_eq!(find(&v).as_deref(), Some("credit_card.number"));
        assert_eq!(redact(&mut v), 3);
        let text = v.to_string();
        assert!(
            !text.contains("4111111111111111") && !text.contains("5454545454545454"),
            "{text}"
        );
        assert!(!text.contains("\"999\""), "{text}");
        assert_eq!(v["invoice"]["number"], "INV-1");
        assert_eq!(find(&v), None);
    }

    #[test]
    fn every_card_number_in_a_text_is_found() {
        // Regression (leak scan): two numbers side by side were read as one 32-digit run and
        // neither was masked; a number after other digits failed Luhn as part of the run.
        let text = "cards 4111111111111111 5454545454545454, order 12 4012-0000-9876-5439";
        let found: Vec<&str> = card_numbers_in(text)
            .into_iter()
            .map(|r| &text[r])
            .collect();
        assert_eq!(
            found,
            [
                "4111111111111111",
                "5454545454545454",
                "4012-0000-9876-5439"
            ]
        );
        let clean = redact_text(text).unwrap();
        assert_eq!(
            clean,
            "cards 411111******1111 545454******5454, order 12 401200******5439"
        );
        // Amex groups, and ids that are not cards.
        assert_eq!(
            card_number_in("amex 3782 822463 10005.").as_deref(),
            Some("3782 822463 10005")
        );
        assert!(card_numbers_in("invoice 2026-11-25 ref 12345678901234567890123").is_empty());
        assert_eq!(redact_text("nothing 12 here"), None);
    }

    #[test]
    fn cvvs_after_their_name_are_starred() {
        assert_eq!(
            redact_text("exp 12/28 cvv 8317, CSC: 731; cvv2=123 security code 999").as_deref(),
            Some("exp 12/28 cvv ****, CSC: ***; cvv2=*** security code ***")
        );
        assert_eq!(
            redact_text(r#"{"cvv": "8317"}"#).as_deref(),
            Some(r#"{"cvv": "****"}"#)
        );
        // Not a CVV: a word containing the letters, or a longer number.
        assert_eq!(redact_text("xcvv 123, cvv 12345, cid"), None);
        assert_eq!(
            redact_text("SECURITY CODE 4321").as_deref(),
            Some("SECURITY CODE ****")
        );
        // Digits alone are not card data: these come back untouched, without a copy.
        for plain in [
            "8320 Main Street",
            "11/25/2026 11:42:10 PM",
            "Order 81234 web checkout",
        ] {
            assert_eq!(redact_text(plain), None, "{plain}");
        }
        let mut v = serde_json::json!({"note": "declined, card 4012 0000 9876 5439 cvv 731"});
        assert_eq!(redact(&mut v), 1);
        assert_eq!(v["note"], "declined, card 401200******5439 cvv ***");
    }
}
