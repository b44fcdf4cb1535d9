//! Card data (PAN, CVV, track data) recognition, masking and redaction. Used by lint (LL017)
//! and by the runtime, which refuses to send card data anywhere but PayTrace card fields and
//! redacts it from run records, logs and errors.

use serde_json::{Map, Number, Value};

/// Field names that hold card data wherever they appear, compared without case and without
/// `_`, `-`, `.` or spaces (`card_number`, `cardNumber` and `card-number` are one name).
const CARD_FIELDS: &[&str] = &[
    "ccnumber",
    "ccnum",
    "cardnumber",
    "cardno",
    "pan",
    "primaryaccountnumber",
    "csc",
    "cvv",
    "cvv2",
    "cvc",
    "cvc2",
    "cvn",
    "cid",
    "cvvcode",
    "cvccode",
    "securitycode",
    "seccode",
    "cardcode",
    "cardverificationvalue",
    "trackdata",
    "track1",
    "track2",
    "track1data",
    "track2data",
    "swipe",
    "encryptednumber",
    "encryptedcsc",
    "encryptedswipe",
    "accountnumber",
    "pin",
];
/// Endings that make a name a card field too (`card_cvv`, `billing_card_number`,
/// `card_security_code`). Kept to names nothing else ends with: not `pan` (`japan`), not
/// `cid` (`acid`), and no prefixes (`csc_response` is PayTrace's verdict, not the code).
const CARD_FIELD_ENDINGS: &[&str] = &[
    "cvv",
    "cvv2",
    "cvc",
    "cvc2",
    "csc",
    "securitycode",
    "cardnumber",
    "ccnumber",
];
/// Parents under which `number` is a card number.
const CARD_PARENTS: &[&str] = &["credit_card", "card", "cc", "payment_card"];

/// A field name's letters and digits, lowercase: what card field names are compared on
/// (`card_number`, `cardNumber` and `card-number` are one name). Made once per key, on the
/// stack for names up to 64 bytes: this runs on every key of every event and output.
struct Name {
    short: [u8; 64],
    len: usize,
    long: Vec<u8>,
}

impl Name {
    fn of(key: &str) -> Name {
        let mut name = Name {
            short: [0; 64],
            len: 0,
            long: Vec::new(),
        };
        let bytes = key
            .bytes()
            .filter(|b| !matches!(b, b'_' | b'-' | b'.' | b' '))
            .map(|b| b.to_ascii_lowercase());
        if key.len() <= name.short.len() {
            for b in bytes {
                name.short[name.len] = b;
                name.len += 1;
            }
        } else {
            name.long = bytes.collect();
        }
        name
    }

    fn bytes(&self) -> &[u8] {
        if self.long.is_empty() {
            &self.short[..self.len]
        } else {
            &self.long
        }
    }

    fn contains(&self, part: &str) -> bool {
        self.bytes()
            .windows(part.len())
            .any(|w| w == part.as_bytes())
    }
}

/// Whether the key `key` (under `parent`) holds card data. No allocation for keys up to 64
/// bytes: runs on every output the runtime records.
pub fn is_card_key(key: &str, parent: Option<&str>) -> bool {
    let name = Name::of(key);
    let bytes = name.bytes();
    CARD_FIELDS.iter().any(|f| bytes == f.as_bytes())
        || (CARD_FIELD_ENDINGS
            .iter()
            .any(|end| bytes.ends_with(end.as_bytes()))
            && !names_a_safe_form(&name))
        || (key.eq_ignore_ascii_case("number")
            && parent.is_some_and(|p| CARD_PARENTS.iter().any(|c| c.eq_ignore_ascii_case(p))))
}

/// Words that make a card-like name a safe form of it (`masked_card_number`,
/// `card_number_last4`, `card_number_token`): those fields hold what may be kept.
const SAFE_FORMS: &[&str] = &["mask", "last4", "lastfour", "first6", "token", "hash"];

fn names_a_safe_form(name: &Name) -> bool {
    SAFE_FORMS.iter().any(|w| name.contains(w))
}

/// Whether the key names a card number (rather than a code, a PIN or track data): its value
/// is masked as first six and last four, everything else wholly.
fn is_pan_key(key: &str, parent: Option<&str>) -> bool {
    let name = Name::of(key);
    [
        &b"ccnumber"[..],
        b"ccnum",
        b"cardnumber",
        b"cardno",
        b"pan",
        b"primaryaccountnumber",
        b"accountnumber",
    ]
    .iter()
    .any(|n| name.bytes().ends_with(n))
        || (key.eq_ignore_ascii_case("number") && parent.is_some())
}

/// The card field a dotted path reads, if any.
pub fn card_field(parts: &[String]) -> Option<String> {
    let i = (0..parts.len())
        .find(|&i| is_card_key(&parts[i], i.checked_sub(1).map(|p| parts[p].as_str())))?;
    Some(parts[..=i].join("."))
}

/// Luhn's checksum over the digits of `text` (spaces and dashes allowed between them), any
/// length: what the `is_luhn` script helper answers.
pub fn passes_luhn(text: &str) -> bool {
    let t = text.trim();
    if t.is_empty()
        || !t
            .chars()
            .all(|c| c.is_ascii_digit() || c == ' ' || c == '-')
    {
        return false;
    }
    let sum: u32 = t
        .chars()
        .filter_map(|c| c.to_digit(10))
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                if d * 2 > 9 { d * 2 - 9 } else { d * 2 }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// A card number: 13 to 19 digits (spaces and dashes allowed between them) that pass Luhn
/// and start the way a card brand's numbers start, at a length that brand issues. The brand
/// check matters as much as Luhn: one number in ten passes Luhn, and order ids, customer
/// ids and invoice numbers of 13+ digits are common; masking one of those would corrupt it
/// (and two orders masked alike would look like one). No brand issues numbers starting
/// with 0 or 7, a 13-digit Mastercard or a 14-digit Amex.
pub fn is_card_number(text: &str) -> bool {
    if !passes_luhn(text) {
        return false;
    }
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_digit).collect();
    issued_by_a_brand(&digits)
}

/// Whether a brand issues card numbers with these leading digits at this length (ISO/IEC
/// 7812 issuer ranges of the networks PayTrace and its peers accept).
fn issued_by_a_brand(digits: &[u8]) -> bool {
    let len = digits.len();
    if !(13..=19).contains(&len) {
        return false;
    }
    let prefix = |n: usize| -> u32 {
        digits[..n]
            .iter()
            .fold(0, |acc, d| acc * 10 + u32::from(d - b'0'))
    };
    match digits[0] {
        // UATP (airline) cards.
        b'1' => len == 15,
        // Mir 2200-2204; Mastercard 2221-2720.
        b'2' => match prefix(4) {
            2200..=2204 => len >= 16,
            2221..=2720 => len == 16,
            _ => false,
        },
        // Amex 34/37; Diners 300-305, 309, 36, 38, 39; JCB 3528-3589.
        b'3' => match prefix(2) {
            34 | 37 => len == 15,
            36 | 38 | 39 => len >= 14,
            30 => matches!(prefix(3), 300..=305 | 309) && len >= 14,
            35 => (3528..=3589).contains(&prefix(4)) && len >= 16,
            _ => false,
        },
        // Visa.
        b'4' => true,
        // Mastercard 51-55; Maestro 50, 56-59.
        b'5' => match prefix(2) {
            51..=55 => len == 16,
            _ => true,
        },
        // Discover, UnionPay, Maestro, RuPay, Verve.
        b'6' => true,
        // UnionPay and RuPay 81, 82.
        b'8' => matches!(prefix(2), 81 | 82) && len >= 16,
        // Troy.
        b'9' => prefix(4) == 9792 && len == 16,
        _ => false,
    }
}

/// A digit's value: ASCII digits and their full-width forms (`４１１１`), which some
/// keyboards and copy-pastes produce and which spell a card number just as well.
fn digit_value(c: char) -> Option<u8> {
    match c {
        '0'..='9' => Some(c as u8 - b'0'),
        '\u{FF10}'..='\u{FF19}' => Some((c as u32 - 0xFF10) as u8),
        _ => None,
    }
}

/// How many digits `text` holds, counting full-width ones, stopping at `enough`: the cheap
/// test that lets most strings skip the search.
fn digit_count(text: &str, enough: usize) -> usize {
    let ascii = text.bytes().filter(u8::is_ascii_digit).take(enough).count();
    if ascii >= enough || text.is_ascii() {
        return ascii;
    }
    ascii
        + text
            .chars()
            .filter(|c| matches!(c, '\u{FF10}'..='\u{FF19}'))
            .count()
}

/// A card number inside free text (`"use 4111 1111 1111 1111 to test"`), if any.
pub fn card_number_in(text: &str) -> Option<String> {
    card_numbers_in(text)
        .into_iter()
        .next()
        .map(|r| text[r].to_string())
}

/// Every card number inside free text, as byte ranges. Digits are read in groups separated by
/// a few separator characters; a card number is 13 to 19 digits passing Luhn and the brand
/// check made of whole groups, the longest from each starting group. Reading whole groups
/// (rather than one run of everything digit-like) finds two numbers written side by side
/// (`4111111111111111 5454545454545454`) and a number after other digits
/// (`order 12 4012-0000-9876-5439`); a single digit string longer than 19 is an id, not a
/// card, and is left alone.
pub fn card_numbers_in(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut found = Vec::new();
    if digit_count(text, 13) < 13 || longest_chain_digits(text) < 13 {
        return found;
    }
    for chain in digit_chains(text) {
        let mut i = 0;
        while i < chain.len() {
            let mut digits = String::new();
            let mut best = None;
            for (j, group) in chain.iter().enumerate().skip(i) {
                digits.extend(
                    text[group.clone()]
                        .chars()
                        .filter_map(digit_value)
                        .map(|d| char::from(b'0' + d)),
                );
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

/// What may stand between the digit groups of one card number: spaces (also no-break and
/// tabs or a line break), dashes, dots, underscores and slashes, as people write and as
/// forms and copy-pastes produce them.
fn is_group_separator(c: char) -> bool {
    matches!(
        c,
        ' ' | '-' | '.' | '_' | '/' | '\t' | '\n' | '\r' | '\u{A0}' | '\u{202F}' | '\u{2009}'
    )
}

/// Digit groups (byte ranges), chained while at most three separator characters stand
/// between them.
fn digit_chains(text: &str) -> Vec<Vec<std::ops::Range<usize>>> {
    let mut chains: Vec<Vec<std::ops::Range<usize>>> = Vec::new();
    let mut current: Vec<std::ops::Range<usize>> = Vec::new();
    each_digit_group(text, |group, chain_ends| {
        current.push(group);
        if chain_ends {
            chains.push(std::mem::take(&mut current));
        }
    });
    if !current.is_empty() {
        chains.push(current);
    }
    chains
}

/// The most digits in one chain of digit groups (as `digit_chains` chains them), without
/// building the chains: text whose longest chain has fewer than 13 digits holds no card
/// number (a date and time like `11/25/2026 11:42:10` is checked with no allocation).
fn longest_chain_digits(text: &str) -> usize {
    let (mut longest, mut current) = (0, 0);
    each_digit_group(text, |group, chain_ends| {
        current += text[group]
            .chars()
            .filter(|c| digit_value(*c).is_some())
            .count();
        if chain_ends {
            longest = longest.max(current);
            current = 0;
        }
    });
    longest
}

/// Every run of digits in `text` in order, with whether it ends its chain: a chain goes on
/// while at most three separator characters and then a digit follow a group.
fn each_digit_group(text: &str, mut group: impl FnMut(std::ops::Range<usize>, bool)) {
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if digit_value(c).is_none() {
            continue;
        }
        let mut end = start + c.len_utf8();
        while let Some(&(i, d)) = chars.peek() {
            if digit_value(d).is_none() {
                break;
            }
            end = i + d.len_utf8();
            chars.next();
        }
        let mut separators = 0;
        while let Some(&(_, s)) = chars.peek() {
            if !is_group_separator(s) || separators == 3 {
                break;
            }
            separators += 1;
            chars.next();
        }
        let digit_follows = chars.peek().is_some_and(|&(_, d)| digit_value(d).is_some());
        group(start..end, separators == 0 || !digit_follows);
    }
}

/// `text` with every card number masked and every CVV written after its name (`cvv 123`,
/// `CSC: 1234`, `security code 999`, `cvv is 737`) starred; `None` when there is nothing to
/// hide. Free text (notes, decline messages) carries both, and neither may be stored or
/// shown.
pub fn redact_text(text: &str) -> Option<String> {
    // A card number or a CVV needs at least three digits: most strings (names, codes, dates
    // are checked too) are passed without a copy or a search. Every stored value and log
    // line comes through here.
    if digit_count(text, 3) < 3 {
        return None;
    }
    let cvvs = cvvs_in(text);
    let cards = card_numbers_in(text);
    if cvvs.is_empty() && cards.is_empty() {
        return None;
    }
    // One edit per range, applied from the end so earlier ranges keep their offsets. A card
    // number that takes in a CVV's digits (`cvv 412 5454 5454 5454 5454` read as one
    // 19-digit number) is starred whole: masking it would show the CVV in its first six.
    let mut edits: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    for card in &cards {
        let holds_cvv = cvvs
            .iter()
            .any(|c| c.start < card.end && card.start < c.end);
        let shown = if holds_cvv {
            "*".repeat(text[card.clone()].chars().filter_map(digit_value).count())
        } else {
            mask(&text[card.clone()])
        };
        edits.push((card.clone(), shown));
    }
    for cvv in cvvs {
        if !cards.iter().any(|c| c.start < cvv.end && cvv.start < c.end) {
            let stars = "*".repeat(cvv.len());
            edits.push((cvv, stars));
        }
    }
    edits.sort_by_key(|(range, _)| std::cmp::Reverse(range.start));
    let mut out = text.to_string();
    for (range, shown) in edits {
        out.replace_range(range, &shown);
    }
    Some(out)
}

/// Whether `text` may hold one of `CVV_WORDS` (each starts with `c` followed by `v`, `s`,
/// `i` or `a`, or is `security code` or `sec code`): one pass without a copy, so that texts
/// naming none skip the search.
fn may_name_a_cvv(text: &str) -> bool {
    text.as_bytes().windows(2).any(|w| {
        let (a, b) = (w[0].to_ascii_lowercase(), w[1].to_ascii_lowercase());
        (a == b'c' && matches!(b, b'v' | b's' | b'i' | b'a')) || (a == b's' && b == b'e')
    })
}

/// Names a CVV goes by in free text, lowercase, longer forms first.
const CVV_WORDS: &[&str] = &[
    "cvv2",
    "cvc2",
    "csc2",
    "cvv",
    "cvc",
    "csc",
    "cvn",
    "cid",
    "security code",
    "sec code",
    "card code",
];
/// Words allowed between a CVV's name and its digits (`cvv is 737`, `CVV code: 123`).
const CVV_FILLERS: &[&str] = &["is", "was", "code", "no", "number", "num", "value", "of"];

/// Byte ranges of 3 or 4 digit codes that follow a CVV name, a few separator characters and
/// at most two filler words apart.
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
            // The name is a word of its own (not `xcvv`); `card_cvv` counts.
            if start > 0 && bytes[start - 1].is_ascii_alphanumeric() {
                continue;
            }
            let Some(code) = code_after(bytes, from) else {
                continue;
            };
            if !found.contains(&code) {
                found.push(code);
            }
        }
    }
    found.sort_by_key(|r| r.start);
    found
}

/// The 3 or 4 digits a CVV name at `from` introduces, if that is what follows it.
fn code_after(bytes: &[u8], mut i: usize) -> Option<std::ops::Range<usize>> {
    let mut fillers = 0;
    loop {
        let gap = i;
        while i < bytes.len()
            && i - gap < 4
            && matches!(
                bytes[i],
                b' ' | b':' | b'=' | b'#' | b'"' | b'\'' | b'-' | b'\t' | b'(' | b'_'
            )
        {
            i += 1;
        }
        let word = bytes[i..]
            .iter()
            .take_while(|b| b.is_ascii_alphabetic())
            .count();
        if word == 0 {
            break;
        }
        if fillers == 2
            || !CVV_FILLERS
                .iter()
                .any(|f| f.as_bytes() == &bytes[i..i + word])
        {
            return None;
        }
        fillers += 1;
        i += word;
    }
    let digits = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    (3..=4).contains(&digits).then_some(i..i + digits)
}

/// First six and last four only, as PCI DSS allows for display; fewer than ten digits are
/// starred whole.
pub fn mask(text: &str) -> String {
    let digits: String = text
        .chars()
        .filter_map(digit_value)
        .map(|d| char::from(b'0' + d))
        .collect();
    let n = digits.len();
    if n < 10 {
        return "*".repeat(n.max(1));
    }
    format!("{}{}{}", &digits[..6], "*".repeat(n - 10), &digits[n - 4..])
}

/// Replace card data in `value` in place: card fields by name (and everything inside them)
/// and card numbers found in any string, number or key become masked text. Returns how many
/// values were redacted.
pub fn redact(value: &mut Value) -> usize {
    redact_at(value, None, false)
}

/// `inside_card`: `value` sits under a card field (`{"cvv": {"value": "737"}}`), so every
/// scalar in it is card data whatever its own name.
fn redact_at(value: &mut Value, parent: Option<&str>, inside_card: bool) -> usize {
    match value {
        Value::Object(map) => {
            let renamed = redact_keys(map);
            renamed
                + map
                    .iter_mut()
                    .map(|(k, v)| {
                        let card_key = inside_card || is_card_key(k, parent);
                        match v {
                            Value::Object(_) | Value::Array(_) => redact_at(v, Some(k), card_key),
                            Value::Null => 0,
                            _ if card_key && !is_masked(v, k, parent) => {
                                *v = Value::String(mask(&scalar_text(v)));
                                1
                            }
                            _ => redact_at(v, Some(k), false),
                        }
                    })
                    .sum::<usize>()
        }
        Value::Array(items) => items
            .iter_mut()
            .map(|v| match v {
                Value::Object(_) | Value::Array(_) | Value::Null => {
                    redact_at(v, parent, inside_card)
                }
                _ if inside_card && !is_masked(v, parent.unwrap_or(""), None) => {
                    *v = Value::String(mask(&scalar_text(v)));
                    1
                }
                _ => redact_at(v, parent, false),
            })
            .sum(),
        Value::String(s) => match redact_text(s) {
            Some(clean) => {
                *s = clean;
                1
            }
            None => 0,
        },
        Value::Number(n) => match number_as_card(n) {
            Some(digits) => {
                *value = Value::String(mask(&digits));
                1
            }
            None => 0,
        },
        _ => 0,
    }
}

/// Mask card data written as an object's keys (`{"4111111111111111": "visa"}`), keeping the
/// keys' order. Copies the map only when a key holds some.
fn redact_keys(map: &mut Map<String, Value>) -> usize {
    if !map.keys().any(|k| redact_text(k).is_some()) {
        return 0;
    }
    let mut renamed = 0;
    let old = std::mem::take(map);
    for (k, v) in old {
        let k = match redact_text(&k) {
            Some(clean) => {
                renamed += 1;
                clean
            }
            None => k,
        };
        map.insert(k, v);
    }
    renamed
}

/// The digits of a JSON number that is a card number, however written: `4111111111111111`,
/// `4111111111111111.0` or `4.111111111111111e15` (the store keeps numbers' own text).
fn number_as_card(n: &Number) -> Option<String> {
    // The number's own text (`arbitrary_precision`): no copy for the many short numbers.
    let text = n.as_str();
    if !may_write_a_card_number(text) {
        return None;
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return is_card_number(text).then(|| text.to_string());
    }
    let d = text
        .parse::<rust_decimal::Decimal>()
        .or_else(|_| rust_decimal::Decimal::from_scientific(text))
        .ok()?;
    if !d.fract().is_zero() {
        return None;
    }
    let whole = d.abs().trunc().normalize().to_string();
    is_card_number(&whole).then_some(whole)
}

/// Whether a JSON number's text is long enough (or in exponent form) to be a card number;
/// shorter ones are never looked at further.
fn may_write_a_card_number(text: &str) -> bool {
    text.len() >= 13 || text.contains(['e', 'E'])
}

/// The JSON path of the first card data in `value`, if any (never the data itself: a key
/// holding a card number is shown masked).
pub fn find(value: &Value) -> Option<String> {
    find_at(value, None, false).map(|mut parts| {
        parts.reverse();
        let path = parts.join(".").replace(".[", "[");
        if path.is_empty() {
            "(value)".to_string()
        } else {
            path
        }
    })
}

fn find_at(value: &Value, parent: Option<&str>, inside_card: bool) -> Option<Vec<String>> {
    match value {
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let card_key = inside_card || is_card_key(k, parent);
            let mut path = match v {
                Value::Object(_) | Value::Array(_) => find_at(v, Some(k), card_key),
                Value::Null => None,
                _ if card_key && !is_masked(v, k, parent) => Some(Vec::new()),
                _ => find_at(v, Some(k), false),
            }
            .or_else(|| redact_text(k).map(|_| Vec::new()))?;
            path.push(redact_text(k).unwrap_or_else(|| k.clone()));
            Some(path)
        }),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| {
            let mut path = match v {
                Value::Object(_) | Value::Array(_) | Value::Null => find_at(v, parent, inside_card),
                _ if inside_card && !is_masked(v, parent.unwrap_or(""), None) => Some(Vec::new()),
                _ => find_at(v, parent, false),
            }?;
            path.push(format!("[{i}]"));
            Some(path)
        }),
        Value::String(s) => card_number_in(s)
            .is_some()
            .then(Vec::new)
            .or_else(|| (!cvvs_in(s).is_empty()).then(Vec::new)),
        Value::Number(n) => number_as_card(n).map(|_| Vec::new()),
        _ => None,
    }
}

/// Already masked text under the card field `key`: redacting again would change nothing
/// real. A card number's mask keeps at most ten digits (`411111******1111`); a code's
/// (`***`) keeps none, so `*737` is not masked.
fn is_masked(v: &Value, key: &str, parent: Option<&str>) -> bool {
    let Some(s) = v.as_str() else {
        return false;
    };
    if !s.contains('*') || card_number_in(s).is_some() {
        return false;
    }
    let digits = digit_count(s, 11);
    let keeps_digits = is_pan_key(key, parent) || {
        let name = Name::of(key);
        ["track", "swipe", "encrypted"]
            .iter()
            .any(|w| name.contains(w))
    };
    if keeps_digits {
        digits <= 10
    } else {
        digits == 0
    }
}

/// Whether the JSON text `text` surely holds no card data, read straight from the text: `true`
/// only when `redact` would change nothing in its parse. Conservative: any escaped string
/// (an escape could spell anything), any key that names card data under some parent, any
/// string or key `redact_text` would change, and any number long enough (or in exponent
/// form) to be a card number give `false`. A webhook whose body passes can be stored as it
/// came, without being parsed whole, masked and written again. Text nested deeper than
/// `MAX_CLEAN_DEPTH` gives `false` too: a whole parse refuses it (serde_json stops at 128
/// levels), so the fast path must not take it.
pub fn json_text_is_clean(text: &str) -> bool {
    let bytes = text.as_bytes();
    let (mut i, mut depth) = (0, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_CLEAN_DEPTH {
                    return false;
                }
                i += 1;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'"' => {
                let start = i + 1;
                let Some(len) = bytes[start..].iter().position(|&b| b == b'"' || b == b'\\') else {
                    return false;
                };
                let end = start + len;
                if bytes[end] == b'\\' {
                    return false;
                }
                // Both ends are `"` bytes, so char boundaries.
                let s = &text[start..end];
                let after = bytes[end + 1..].iter().find(|b| !b.is_ascii_whitespace());
                // A key is read as if under a card parent, where every name that is card
                // data under some parent is (`number`).
                let names_card_data = after == Some(&b':') && is_card_key(s, Some(CARD_PARENTS[0]));
                if names_card_data || redact_text(s).is_some() {
                    return false;
                }
                i = end + 1;
            }
            b'-' | b'0'..=b'9' => {
                let len = bytes[i..]
                    .iter()
                    .take_while(|b| matches!(b, b'-' | b'+' | b'.' | b'0'..=b'9' | b'e' | b'E'))
                    .count();
                if may_write_a_card_number(&text[i..i + len]) {
                    return false;
                }
                i += len;
            }
            _ => i += 1,
        }
    }
    true
}

/// Deepest nesting `json_text_is_clean` passes.
pub const MAX_CLEAN_DEPTH: usize = 64;

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

#[cfg(test)]
mod review_tests {
    //! Cases from the adversarial review of session 8: ids that pass Luhn, and card data
    //! written in ways the first version did not read.
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_that_pass_luhn_are_not_cards() {
        // Both pass Luhn; no brand issues a 13-digit number starting 55 or any starting 7.
        for id in ["5523740040213", "5523740120213", "7200110060042"] {
            assert!(passes_luhn(id), "{id}");
            assert!(!is_card_number(id), "{id}");
            assert_eq!(redact_text(&format!("order {id}")), None, "{id}");
        }
        let mut v = json!({"order_id": 5523740040213u64, "customer": {"id": "7200110060042"}});
        assert_eq!(redact(&mut v), 0);
        // Real test cards of every brand PayTrace takes are still cards.
        for pan in [
            "4111111111111111",
            "5454545454545454",
            "2223000048400011",
            "378282246310005",
            "6011000993026909",
            "3530111333300000",
            "36148900647913",
        ] {
            assert!(is_card_number(pan), "{pan}");
        }
    }

    #[test]
    fn separators_people_and_forms_write() {
        for text in [
            "4111.1111.1111.1111",
            "4111_1111_1111_1111",
            "4111/1111/1111/1111",
            "4111\t1111\t1111\t1111",
            "4111\n1111\n1111\n1111",
            "4111\u{A0}1111\u{A0}1111\u{A0}1111",
            "\u{FF14}\u{FF11}\u{FF11}\u{FF11}\u{FF11}\u{FF11}\u{FF11}\u{FF11}\u{FF11}\u{FF11}\u{FF11}\u{FF11}\u{FF11}\u{FF11}\u{FF11}\u{FF11}",
        ] {
            let clean = redact_text(&format!("card {text} ok")).unwrap_or_default();
            assert_eq!(clean, "card 411111******1111 ok", "{text:?}");
        }
    }

    #[test]
    fn card_numbers_as_floats_and_keys() {
        let mut v: Value = serde_json::from_str(
            r#"{"a": 4111111111111111.0, "b": 4.111111111111111e15, "c": {"5454545454545454": "mc"}}"#,
        )
        .unwrap();
        assert!(find(&v).is_some());
        redact(&mut v);
        let text = v.to_string();
        assert!(!text.contains("4111111111111111"), "{text}");
        assert!(!text.contains("4.111111111111111"), "{text}");
        assert!(!text.contains("5454545454545454"), "{text}");
        assert_eq!(v["c"]["545454******5454"], "mc");
        assert_eq!(find(&v), None);
        assert_eq!(
            find(&json!({"c": {"5454545454545454": "mc"}})).as_deref(),
            Some("c.545454******5454")
        );
    }

    #[test]
    fn cvv_fields_by_any_common_name_or_shape() {
        let mut v = json!({
            "card_cvv": "737", "security_code": "738", "cvc2": "739", "sec_code": "740",
            "cardCvv": 741, "nested": {"cvv": {"value": "742"}}, "list": {"cvv": ["743"]},
            "starred": {"cvv": "*744"}, "csc_response": "Match"
        });
        redact(&mut v);
        let text = v.to_string();
        for code in 737..=744 {
            assert!(!text.contains(&code.to_string()), "{code}: {text}");
        }
        assert_eq!(v["csc_response"], "Match");
        assert!(!is_card_key("masked_card_number", None));
        assert!(!is_card_key("card_number_last4", None));
        assert_eq!(v["starred"]["cvv"], "***");
        assert_eq!(find(&v), None);
        assert_eq!(
            find(&json!({"x": {"cvv": {"value": "742"}}})).as_deref(),
            Some("x.cvv.value")
        );
    }

    /// The executor skips `find` on a call's input when masking a copy changed nothing: every
    /// value `find` reports must be one `redact` changes.
    #[test]
    fn whatever_find_reports_redact_masks() {
        let values: Vec<Value> = vec![
            json!({"credit_card": {"number": "4111111111111111"}}),
            json!({"memo": "card 5454545454545454 used"}),
            json!({"note": "cvv 737"}),
            json!({"cvv": "737"}),
            json!({"cvv": "*737"}),
            json!({"x": {"cvv": {"value": "742"}}}),
            json!({"list": {"cvv": ["743"]}}),
            json!({"c": {"5454545454545454": "mc"}}),
            json!([{"a": [4111111111111111u64]}]),
            serde_json::from_str(r#"{"a": 4.111111111111111e15}"#).unwrap(),
            json!({"masked_number": "xxxxxxxxxxxx5454", "cvv": "***"}),
            json!({"order_id": 5523740040213u64, "customer": {"id": "7200110060042"}}),
            json!({"PaymentReference": "W1-500123", "Amount": "10.00", "card_number": null}),
            json!("4111 1111 1111 1111"),
        ];
        for v in values {
            let found = find(&v);
            let masked = redact(&mut v.clone());
            assert_eq!(
                found.is_some(),
                masked > 0,
                "{v}: find {found:?}, masked {masked}"
            );
        }
    }

    #[test]
    fn the_longest_chain_is_counted_as_the_chains_are_built() {
        for text in [
            "",
            "no digits",
            "11/25/2026 11:42:10 PM",
            "4111 1111 1111 1111",
            "order 12 4012-0000-9876-5439",
            "4111111111111111 5454545454545454",
            "1 2 3 4 5 6 7 8 9 0 1 2 3 4",
            "12 - - - 34",
            "１２３４ ５６７８-9012.3456",
        ] {
            let built = digit_chains(text)
                .iter()
                .map(|chain| {
                    chain
                        .iter()
                        .map(|g| {
                            text[g.clone()]
                                .chars()
                                .filter(|c| digit_value(*c).is_some())
                                .count()
                        })
                        .sum::<usize>()
                })
                .max()
                .unwrap_or(0);
            assert_eq!(longest_chain_digits(text), built, "{text}");
        }
    }

    #[test]
    fn text_called_clean_holds_nothing_redact_would_change() {
        // The bench's W1 sale: what the webhook's fast path is for.
        let w1 = r#"{"transaction_id":500123,"transaction_type":"SALE","status_code":101,
            "status_message":"Your transaction was successfully approved.","amount":"133.23",
            "invoice_id":"INV-20123","customer_id":"pt-cust-1003","customer_reference_id":"",
            "credit_card":{"masked_number":"xxxxxxxxxxxx5454","expiration_month":12,"expiration_year":28},
            "approval_code":"TAS610","approval_message":"  NO  MATCH - Approved and completed",
            "avs_response":"No Match","csc_response":"Match","description":"Order 81234 web checkout",
            "billing_address":{"name":"Ada Lovelace","street_address":"8320 Main Street","city":"Spokane","state":"WA","zip":"99201"},
            "created":{"at":"11/25/2026 11:42:10 PM","through":"API","by":"ledgerlink","from_ip":"127.0.0.1"},
            "settled":"","tax_amount":"","receipt_emailed_to":"ada@example.com"}"#;
        let clean = [
            w1,
            r#"{"id": "T-1", "amount": "10.00", "note": "order 81234", "n": -12.5}"#,
            r#"{"credit_card": {"masked_number": "xxxxxxxxxxxx5454"}, "csc_response": "Match"}"#,
            r#"[1, 2, {"a": [true, null, "é"]}]"#,
        ];
        let dirty = [
            r#"{"note": "card 4111 1111 1111 1111"}"#,
            r#"{"note": "cvv is 737"}"#,
            r#"{"cvv": "737"}"#,
            r#"{"Card-Number": null}"#,
            r#"{"credit_card": {"number": "xxxx"}}"#,
            r#"{"n": 4111111111111111}"#,
            r#"{"n": 4.111111111111111e15}"#,
            r#"{"4111111111111111": "visa"}"#,
            r#"{"note": "41111111\u00311111111"}"#,
            r#"{"note": "4111１１１１11111111"}"#,
        ];
        for text in clean {
            assert!(json_text_is_clean(text), "{text}");
        }
        for text in clean.iter().chain(dirty.iter()) {
            let Ok(mut v) = serde_json::from_str::<Value>(text) else {
                continue;
            };
            let changed = redact(&mut v);
            assert!(
                !json_text_is_clean(text) || changed == 0,
                "called clean, but redact changed {changed}: {text}"
            );
        }
        for text in dirty {
            assert!(!json_text_is_clean(text), "{text}");
        }
        let deep = format!("{}1{}", "[".repeat(65), "]".repeat(65));
        assert!(!json_text_is_clean(&deep));
        assert!(json_text_is_clean(&deep[1..deep.len() - 1]));
    }

    #[test]
    fn cvvs_in_free_text() {
        assert_eq!(
            redact_text("cvc2 737, CVV-738, cvv is 739, CVV code: 7401").as_deref(),
            Some("cvc2 ***, CVV-***, cvv is ***, CVV code: ****")
        );
        // The CVV's digits are not shown as a card number's first six.
        let clean = redact_text("cvv 737 5454-5454-5454-5454").unwrap();
        assert!(!clean.contains("737"), "{clean}");
        assert!(!clean.contains("5454-5454"), "{clean}");
        let clean = redact_text("cvv 4111 1111 1111 1111").unwrap();
        assert!(!clean.contains("1111 1111"), "{clean}");
        // Words that are not fillers end the search.
        assert_eq!(redact_text("cvv matched for order 1234"), None);
    }
}
