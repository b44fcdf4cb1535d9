//! Refunds: a `PaymentStatus: Refunded` payment names the Paid payment it reverses in
//! `OriginalPaymentReference`. It is bounded by what that payment has left after earlier
//! refunds (422 `ExceedsRefundable`); it reopens the invoices the original paid, newest
//! application first, then takes the rest from what the original left on account.

use super::db;
use super::error::ApiError;
use super::input::{doc_money, money, parse_money};
use super::invoices;
use super::payments::Request;
use rusqlite::{Connection, params};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

fn applications(doc: &Map<String, Value>) -> Vec<(String, Decimal)> {
    doc.get("Applications")
        .and_then(Value::as_array)
        .map(|apps| {
            apps.iter()
                .filter_map(|a| {
                    let inv = a.get("InvoiceID")?.as_str()?.to_string();
                    Some((inv, a.get("Amount").and_then(parse_money)?))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Earlier refunds of `original`: their documents.
fn earlier(conn: &Connection, original: &str) -> Result<Vec<Map<String, Value>>, ApiError> {
    let mut stmt =
        conn.prepare_cached("SELECT doc FROM arcash WHERE status = 'Refunded' AND refs LIKE ?1")?;
    let docs = stmt
        .query_map(params![format!("%,orig:{original},%")], |r| {
            r.get::<_, String>(0)
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut out = Vec::new();
    for d in docs {
        if let Value::Object(m) = serde_json::from_str(&d)? {
            out.push(m);
        }
    }
    Ok(out)
}

/// Reverse part of a Paid payment; returns (invoice reversals, amount taken from on account).
pub fn reverse(
    conn: &Connection,
    req: &Request,
    now: &str,
) -> Result<(Vec<(String, Decimal)>, Decimal), ApiError> {
    let field = "OriginalPaymentReference";
    let Some(orig_ref) = &req.original else {
        return Err(ApiError::rule(
            field,
            "Required",
            "A refund must name the Paid payment it reverses.",
        ));
    };
    let orig = db::get(conn, "arcash", orig_ref)?.ok_or_else(|| {
        ApiError::not_found(
            "PaymentNotFound",
            format!("Payment {orig_ref} was not found."),
        )
    })?;
    let text = |f: &str| {
        orig.doc
            .get(f)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    if text("PaymentStatus") != "Paid" {
        return Err(ApiError::rule(
            field,
            "OriginalNotPaid",
            format!("Payment {orig_ref} is not a Paid payment."),
        ));
    }
    if text("CustomerID") != req.customer {
        return Err(ApiError::rule(
            "CustomerID",
            "CustomerMismatch",
            format!("Payment {orig_ref} belongs to {}.", text("CustomerID")),
        ));
    }
    let prior = earlier(conn, orig_ref)?;
    let refunded: Decimal = prior.iter().map(|d| doc_money(d, "Amount")).sum();
    let refundable = doc_money(&orig.doc, "Amount") - refunded;
    if req.amount > refundable {
        return Err(ApiError::rule(
            "Amount",
            "ExceedsRefundable",
            format!(
                "Refund {} exceeds the {} left to refund on payment {orig_ref}.",
                money(req.amount),
                money(refundable)
            ),
        ));
    }
    let mut reversed: HashMap<String, Decimal> = HashMap::new();
    for d in &prior {
        for (inv, a) in applications(d) {
            *reversed.entry(inv).or_default() += a;
        }
    }
    let mut left = req.amount;
    let mut out = Vec::new();
    for (inv, applied) in applications(&orig.doc).into_iter().rev() {
        let room = applied - reversed.get(&inv).copied().unwrap_or_default();
        let take = room.min(left);
        if take <= Decimal::ZERO {
            continue;
        }
        let mut rec = invoices::require(conn, &inv)?;
        let paid = doc_money(&rec.doc, "AmountPaid") - take;
        rec.doc.insert("AmountPaid".into(), json!(money(paid)));
        invoices::recompute(&mut rec.doc);
        invoices::save(conn, &rec, now)?;
        left -= take;
        out.push((inv, take));
    }
    Ok((out, left))
}
