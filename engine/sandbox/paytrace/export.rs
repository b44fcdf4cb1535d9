//! Transaction exports: by id and by date range (`MM/DD/YYYY`, whole days in Pacific time,
//! inclusive, filtered by transaction id, type, customer id and free text), and the export
//! record shape shared with batch transaction lists: masked card, `created{through, at, by,
//! from_ip}` with PayTrace's `4/10/2015 4:06:30 PM` timestamps, status code and text, and
//! `settled` (empty until the batch closes). Check (ACH) transactions are not in these exports.

use super::USERNAME;
use super::input::{self, Body};
use super::model::{Inner, Status, Txn, pacific_text};
use super::reply::{Errors, Reply, codes, export_head};
use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::America::Los_Angeles;
use serde_json::{Map, Value, json};

/// One transaction as the export methods show it.
pub fn record(t: &Txn, include_bin: bool) -> Value {
    let mut m = Map::new();
    m.insert("transaction_id".into(), json!(t.id));
    if let Some(card) = &t.card {
        let number = if include_bin { &card.bin } else { &card.masked };
        m.insert(
            "credit_card".into(),
            json!({
                "masked_number": number,
                "expiration_month": card.exp_month,
                "expiration_year": card.exp_year % 100,
            }),
        );
    }
    m.insert("transaction_type".into(), json!(t.kind.label()));
    let field = |k: &str| t.fields.get(k).cloned().unwrap_or_else(|| json!(""));
    m.insert("description".into(), field("description"));
    m.insert("amount".into(), Value::Number(money_number(t.amount)));
    m.insert("invoice_id".into(), field("invoice_id"));
    m.insert(
        "shipping_address".into(),
        address(t.fields.get("shipping_address")),
    );
    m.insert(
        "billing_address".into(),
        address(t.fields.get("billing_address")),
    );
    m.insert("receipt_emailed_to".into(), field("email"));
    m.insert("tax_amount".into(), field("tax_amount"));
    m.insert(
        "customer_reference_id".into(),
        field("customer_reference_id"),
    );
    m.insert("approval_code".into(), json!(t.approval_code));
    m.insert("approval_message".into(), json!(t.approval_message));
    m.insert("avs_response".into(), json!(t.avs_response));
    m.insert("csc_response".into(), json!(t.csc_response));
    m.insert("status_code".into(), json!(t.response_code));
    m.insert("status_message".into(), json!(t.status.label()));
    m.insert(
        "created".into(),
        json!({
            "through": "API",
            "at": pacific_text(t.created),
            "by": USERNAME,
            "from_ip": "127.0.0.1",
        }),
    );
    m.insert(
        "settled".into(),
        json!(t.settled.map(pacific_text).unwrap_or_default()),
    );
    m.insert("customer_id".into(), json!(t.customer_id));
    m.insert("external_transaction_id".into(), json!(""));
    Value::Object(m)
}

/// A money amount as a JSON number with its exact decimal text.
pub fn money_number(d: rust_decimal::Decimal) -> serde_json::Number {
    serde_json::from_str::<serde_json::Number>(&d.normalize().to_string())
        .unwrap_or_else(|_| serde_json::Number::from(0))
}

fn address(a: Option<&Value>) -> Value {
    let mut out = Map::new();
    for k in [
        "name",
        "street_address",
        "street_address2",
        "city",
        "state",
        "zip",
        "country",
    ] {
        let v = a
            .and_then(|a| a.get(k))
            .cloned()
            .unwrap_or_else(|| json!(""));
        out.insert(k.into(), v);
    }
    Value::Object(out)
}

fn include_bin(b: &Body) -> bool {
    matches!(b.get("include_bin"), Some(Value::Bool(true)))
        || input::text(b, "include_bin").is_some_and(|s| s.eq_ignore_ascii_case("true"))
}

fn list(records: Vec<Value>) -> Reply {
    let mut m = export_head();
    m.insert("transactions".into(), Value::Array(records));
    Reply::Ok(Value::Object(m))
}

pub fn by_id(inner: &mut Inner, b: &Body, _now: DateTime<Utc>) -> Reply {
    let mut errs = Errors::default();
    let Some(id) = input::transaction_id(b, &mut errs) else {
        return errs.reply();
    };
    match inner.txns.get(&id) {
        Some(t) if !t.kind.is_check() => list(vec![record(t, include_bin(b))]),
        _ => Errors::one(
            codes::TRANSACTION_ID,
            "Please provide a valid Transaction ID.",
        ),
    }
}

/// Start of a `MM/DD/YYYY` day in Pacific time, as UTC.
pub fn day_start(text: &str) -> Option<DateTime<Utc>> {
    let date = NaiveDate::parse_from_str(text.trim(), "%m/%d/%Y").ok()?;
    let local = date.and_time(NaiveTime::MIN);
    Los_Angeles
        .from_local_datetime(&local)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// `[start of start_date, start of the day after end_date)` in Pacific time, or errors.
pub fn range(b: &Body, errs: &mut Errors) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let start = input::text(b, "start_date").and_then(|s| day_start(&s));
    if start.is_none() {
        errs.add(
            codes::START_DATE,
            "Please provide a valid Start Date (MM/DD/YYYY).",
        );
    }
    let end = input::text(b, "end_date")
        .and_then(|s| day_start(&s))
        .and_then(|d| {
            let next = d.with_timezone(&Los_Angeles).date_naive().succ_opt()?;
            day_start(&next.format("%m/%d/%Y").to_string())
        });
    if end.is_none() {
        errs.add(
            codes::END_DATE,
            "Please provide a valid End Date (MM/DD/YYYY).",
        );
    }
    Some((start?, end?))
}

fn type_matches(t: &Txn, wanted: &str) -> bool {
    match wanted.to_ascii_uppercase().as_str() {
        "SETTLED" => t.status == Status::Settled,
        "PENDING" => t.status == Status::PendingSettlement,
        "DECLINED" => t.status == Status::Declined,
        "VOID" => t.status == Status::Voided,
        "STR/FWD" => false,
        other => t.kind.label() == other,
    }
}

fn text_matches(t: &Txn, needle: &str) -> bool {
    let needle = needle.to_lowercase();
    let hay = |v: &Value| match v {
        Value::String(s) => s.to_lowercase().contains(&needle),
        Value::Object(m) => m.values().any(|x| {
            x.as_str()
                .is_some_and(|s| s.to_lowercase().contains(&needle))
        }),
        _ => false,
    };
    t.fields.values().any(hay) || t.customer_id.to_lowercase().contains(&needle)
}

pub fn by_date_range(inner: &mut Inner, b: &Body, _now: DateTime<Utc>) -> Reply {
    let mut errs = Errors::default();
    let Some((start, end)) = range(b, &mut errs) else {
        return errs.reply();
    };
    let id = input::id(b, "transaction_id");
    let kind = input::text(b, "transaction_type");
    let customer = input::text(b, "customer_id");
    let text = input::text(b, "including_text");
    let bin = include_bin(b);
    let records = inner
        .txns
        .values()
        .filter(|t| !t.kind.is_check() && t.created >= start && t.created < end)
        .filter(|t| id.is_none_or(|id| t.id == id))
        .filter(|t| kind.as_deref().is_none_or(|k| type_matches(t, k)))
        .filter(|t| customer.as_deref().is_none_or(|c| t.customer_id == c))
        .filter(|t| text.as_deref().is_none_or(|s| text_matches(t, s)))
        .map(|t| record(t, bin))
        .collect();
    list(records)
}
