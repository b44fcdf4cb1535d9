//! Reading request bodies the way PayTrace tolerates them: JSON objects with unknown fields
//! ignored, amounts as JSON numbers or strings (parsed exactly from the number's text, never
//! through f64), ids and expiry fields as numbers or strings. Cards are checked (Luhn, expiry)
//! and reduced to masked forms here; the number itself goes no further than this file.

use super::model::Card;
use super::reply::{Errors, Reply, codes};
use crate::pci;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use rust_decimal::Decimal;
use serde_json::{Map, Value};
use std::str::FromStr;

pub type Body = Map<String, Value>;

/// Request fields kept on a transaction or profile for exports.
const KEPT: &[&str] = &[
    "invoice_id",
    "description",
    "email",
    "tax_amount",
    "customer_reference_id",
    "billing_address",
    "shipping_address",
    "phone",
    "fax",
    "discretionary_data",
];
const ADDRESS: &[&str] = &[
    "name",
    "street_address",
    "street_address2",
    "city",
    "state",
    "zip",
    "country",
    "county",
];

/// The JSON object in a request body; an empty body is an empty object.
pub fn parse(body: Result<Bytes, BytesRejection>) -> Result<Body, Reply> {
    let bytes = body.map_err(|e| {
        let too_large = e.status() == StatusCode::PAYLOAD_TOO_LARGE;
        let msg = if too_large {
            "The request body is too large."
        } else {
            "The request body could not be read."
        };
        let status = if too_large {
            StatusCode::PAYLOAD_TOO_LARGE
        } else {
            StatusCode::BAD_REQUEST
        };
        let mut errs = Errors::default();
        errs.add(codes::BODY, msg);
        Reply::Raw(status, errs.body())
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Errors::one(
            codes::BODY,
            "The request body must be a JSON object.",
        )),
        Err(_) => Err(Errors::one(
            codes::BODY,
            "The request body is not valid JSON.",
        )),
    }
}

/// The text of a scalar (strings as is, numbers in their exact text).
pub fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A present, non-empty text field.
pub fn text(b: &Body, key: &str) -> Option<String> {
    b.get(key).and_then(scalar).filter(|s| !s.is_empty())
}

/// A money amount: positive, at most two decimals.
pub fn money_value(v: &Value) -> Option<Decimal> {
    let t = scalar(v)?;
    let d = Decimal::from_str(&t)
        .or_else(|_| Decimal::from_scientific(&t))
        .ok()?;
    let d = d.normalize();
    (d > Decimal::ZERO && d.scale() <= 2 && d < Decimal::from(10_000_000)).then_some(d)
}

/// `amount`, required or optional; a bad value is an error either way.
pub fn amount(b: &Body, errs: &mut Errors, required: bool) -> Option<Decimal> {
    match b.get("amount") {
        None | Some(Value::Null) if !required => None,
        Some(v) => {
            let d = money_value(v);
            if d.is_none() {
                errs.add(codes::AMOUNT, "Please provide a valid Transaction Amount.");
            }
            d
        }
        None => {
            errs.add(codes::AMOUNT, "Please provide a valid Transaction Amount.");
            None
        }
    }
}

/// A numeric id sent as a number or a string of digits.
pub fn id(b: &Body, key: &str) -> Option<u64> {
    b.get(key)
        .and_then(scalar)
        .and_then(|s| s.parse::<u64>().ok())
}

/// `transaction_id`, with error 58 when missing or malformed.
pub fn transaction_id(b: &Body, errs: &mut Errors) -> Option<u64> {
    let id = id(b, "transaction_id");
    if id.is_none() {
        errs.add(
            codes::TRANSACTION_ID,
            "Please provide a valid Transaction ID.",
        );
    }
    id
}

/// `customer_id`, with an error when missing.
pub fn customer_id(b: &Body, errs: &mut Errors) -> Option<String> {
    let id = text(b, "customer_id");
    if id.is_none() {
        errs.add(codes::CUSTOMER_ID, "Please provide a valid Customer ID.");
    }
    id
}

/// The fields kept for exports, addresses reduced to their known text fields.
pub fn kept(b: &Body) -> Map<String, Value> {
    let mut out = Map::new();
    for key in KEPT {
        let Some(v) = b.get(*key) else { continue };
        let v = match (*key, v) {
            ("billing_address" | "shipping_address", Value::Object(a)) => Value::Object(
                ADDRESS
                    .iter()
                    .filter_map(|k| Some((k.to_string(), Value::String(scalar(a.get(*k)?)?))))
                    .collect(),
            ),
            ("discretionary_data", Value::Object(_)) => v.clone(),
            (_, other) => match scalar(other) {
                Some(s) => Value::String(s),
                None => continue,
            },
        };
        out.insert(key.to_string(), v);
    }
    // A card number typed into a free-text field is masked, never kept.
    let mut value = Value::Object(out);
    pci::redact(&mut value);
    match value {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// `credit_card{swipe | encrypted_swipe}`: the number and expiry read from track 1
/// (`%B<pan>^NAME^YYMM...`) or track 2 (`;<pan>=YYMM...`). Encrypted track data cannot be read
/// here and stands for the test Visa 4111111111111111, expiring 12/2030.
pub fn swipe(b: &Body, errs: &mut Errors) -> Option<Card> {
    let cc = b.get("credit_card").and_then(Value::as_object);
    if cc.and_then(|c| text(c, "encrypted_swipe")).is_some() {
        return Some(mask_card("4111111111111111", 12, 2030));
    }
    let track = cc.and_then(|c| text(c, "swipe")).unwrap_or_default();
    let read = || {
        let body = track.trim_start_matches(['%', ';', 'B', 'b']);
        let (pan, rest) = body.split_once('^').or_else(|| body.split_once('='))?;
        let rest = rest.rsplit_once('^').map_or(rest, |(_, r)| r);
        let yy = rest.get(..2)?.parse::<i32>().ok()?;
        let mm = rest
            .get(2..4)?
            .parse::<u32>()
            .ok()
            .filter(|m| (1..=12).contains(m))?;
        pci::is_card_number(pan).then(|| mask_card(pan, mm, 2000 + yy))
    };
    let card = read();
    if card.is_none() {
        errs.add(codes::CARD_NUMBER, "Please provide valid swiped card data.");
    }
    card
}

/// Mask a card number the way PayTrace shows it.
pub fn mask_card(digits: &str, exp_month: u32, exp_year: i32) -> Card {
    let n = digits.len();
    let last4 = &digits[n.saturating_sub(4)..];
    Card {
        masked: format!("{}{last4}", "x".repeat(n.saturating_sub(4).max(12))),
        bin: pci::mask(digits),
        exp_month,
        exp_year,
    }
}

/// `credit_card{number | encrypted_number, expiration_month, expiration_year}`. An
/// `encrypted_number` cannot be decrypted here and stands for the test Visa 4111111111111111.
pub fn card(b: &Body, errs: &mut Errors, required: bool) -> Option<Card> {
    let Some(cc) = b.get("credit_card") else {
        if required {
            errs.add(
                codes::CARD_NUMBER,
                "Please provide a valid Credit Card Number.",
            );
        }
        return None;
    };
    let Value::Object(cc) = cc else {
        errs.add(
            codes::CARD_NUMBER,
            "Please provide a valid Credit Card Number.",
        );
        return None;
    };
    let digits = match (
        cc.get("number").and_then(scalar),
        text(cc, "encrypted_number"),
    ) {
        (Some(n), _) if pci::is_card_number(&n) => {
            Some(n.chars().filter(char::is_ascii_digit).collect::<String>())
        }
        (None, Some(_)) => Some("4111111111111111".to_string()),
        _ => None,
    };
    if digits.is_none() {
        errs.add(
            codes::CARD_NUMBER,
            "Please provide a valid Credit Card Number.",
        );
    }
    let month = cc
        .get("expiration_month")
        .and_then(scalar)
        .and_then(|s| s.parse::<u32>().ok())
        .filter(|m| (1..=12).contains(m));
    if month.is_none() {
        errs.add(codes::EXP_MONTH, "Please provide a valid Expiration Month.");
    }
    let year = cc
        .get("expiration_year")
        .and_then(scalar)
        .filter(|s| s.len() == 2 || s.len() == 4)
        .and_then(|s| s.parse::<i32>().ok())
        .map(|y| if y < 100 { 2000 + y } else { y });
    if year.is_none() {
        errs.add(codes::EXP_YEAR, "Please provide a valid Expiration Year.");
    }
    Some(mask_card(&digits?, month?, year?))
}

/// The billing zip, if any.
pub fn zip(b: &Body) -> Option<String> {
    b.get("billing_address")
        .and_then(|a| a.get("zip"))
        .and_then(scalar)
}
