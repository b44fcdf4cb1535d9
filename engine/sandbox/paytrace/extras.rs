//! Card-present sales from swiped track data, Level 3 data (Visa, Mastercard; code 170, only on an approved unsettled sale or capture of
//! that brand) and the Protect.js stand-in: `payment_fields/token/create` hands out a client
//! key, and a test-only control call mints the one-time `{hpf_token, enc_key}` a browser would
//! get for a test card (single use, 15 minutes), so no browser is needed.

use super::cards::authorize;
use super::input::{self, Body};
use super::model::{Inner, Kind, Protect, Status};
use super::reply::{Errors, Reply, codes, export_head, head};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// `sale/swiped`: card-present sale from track data.
pub fn sale_swiped(inner: &mut Inner, b: &Body, now: DateTime<Utc>) -> Reply {
    let mut errs = Errors::default();
    let amount = input::amount(b, &mut errs, true);
    let card = input::swipe(b, &mut errs);
    let (Some(amount), Some(card), true) = (amount, card, errs.is_empty()) else {
        return errs.reply();
    };
    authorize(inner, b, now, Kind::Sale, amount, card, None, String::new())
}

pub fn level_three_visa(inner: &mut Inner, b: &Body, now: DateTime<Utc>) -> Reply {
    level_three(inner, b, now, "visa", "Visa")
}

pub fn level_three_mastercard(inner: &mut Inner, b: &Body, now: DateTime<Utc>) -> Reply {
    level_three(inner, b, now, "mastercard", "MasterCard")
}

fn level_three(
    inner: &mut Inner,
    b: &Body,
    _now: DateTime<Utc>,
    brand: &str,
    label: &str,
) -> Reply {
    let mut errs = Errors::default();
    let Some(id) = input::transaction_id(b, &mut errs) else {
        return errs.reply();
    };
    let lines = match b.get("line_items") {
        None | Some(Value::Null) => 0,
        Some(Value::Array(items)) if items.iter().all(Value::is_object) => items.len(),
        Some(_) => {
            return Errors::one(
                codes::LEVEL_THREE,
                "Please provide valid Level 3 line items.",
            );
        }
    };
    let Some(t) = inner.txns.get_mut(&id) else {
        return Errors::one(
            codes::TRANSACTION_ID,
            "Please provide a valid Transaction ID.",
        );
    };
    let eligible = matches!(t.kind, Kind::Sale | Kind::Authorization)
        && t.status == Status::PendingSettlement
        && t.card.as_ref().is_some_and(|c| c.brand() == brand);
    if !eligible {
        return Errors::one(
            codes::LEVEL_THREE,
            format!(
                "Level 3 {label} data can only be added to an approved, unsettled {label} sale or capture."
            ),
        );
    }
    t.level_three_lines = Some(lines);
    let mut m = head(true, 170);
    m.insert(
        "status_message".into(),
        json!(format!(
            "{label} enhanced data was successfully added to Transaction ID {id}. {lines} line item records were created."
        )),
    );
    m.insert("transaction_id".into(), json!(id));
    Reply::Ok(Value::Object(m))
}

pub fn payment_fields_token(inner: &mut Inner, _b: &Body, _now: DateTime<Utc>) -> Reply {
    let mut m = export_head();
    m.insert("clientKey".into(), json!(inner.hex(64)));
    Reply::Ok(Value::Object(m))
}

/// Control: mint a Protect.js token for `{"credit_card": {...}, "csc": "..."}`.
pub fn mint(inner: &mut Inner, b: &Body, now: DateTime<Utc>) -> Reply {
    let mut errs = Errors::default();
    let card = input::card(b, &mut errs, true);
    let (Some(card), true) = (card, errs.is_empty()) else {
        return errs.reply();
    };
    let h = inner.hex(32);
    let token = format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    );
    let enc_key = inner.hex(44);
    inner.protect.retain(|_, p| p.expires > now);
    inner.protect.insert(
        token.clone(),
        Protect {
            card,
            enc_key: enc_key.clone(),
            csc_given: input::text(b, "csc").is_some(),
            expires: now + chrono::Duration::minutes(15),
        },
    );
    Reply::Ok(json!({ "hpf_token": token, "enc_key": enc_key }))
}
