//! AR invoices (`armast`, lines as `artran`): create, list (by customer, status, change time),
//! read, update or void with RowVersion. Totals are derived: ExtendedPrice = Quantity x
//! UnitPrice, Total = Subtotal + Tax + Freight, Balance = Total - AmountPaid - CreditsApplied,
//! Status Open / PartiallyPaid / Paid follows the balance; Void is terminal.

use super::State;
use super::customers;
use super::db::{self, Cols, Rec};
use super::error::ApiError;
use super::input::{Input, doc_money, money};
pub use super::invoice_totals::{fmt_date, recompute};
use super::invoice_totals::{lines, text};
use super::post::{self, Reply};
use super::query;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxState};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::Duration;
use rusqlite::Connection;
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;

const FIELDS: &[&str] = &[
    "InvoiceID",
    "CustomerID",
    "InvoiceDate",
    "DueDate",
    "Terms",
    "PONumber",
    "OrderID",
    "Lines",
    "Tax",
    "Freight",
    "Status",
    "RowVersion",
];

pub fn save(conn: &Connection, rec: &Rec, now: &str) -> Result<(), ApiError> {
    let cust = text(&rec.doc, "CustomerID");
    let st = text(&rec.doc, "Status");
    db::save(
        conn,
        "armast",
        &rec.key,
        &Cols {
            custno: &cust,
            status: &st,
            refs: "",
        },
        &rec.doc,
        now,
    )
}

/// The invoice, or 404 `InvoiceNotFound` (leading spaces are ignored, as `LTRIM(invno)`).
pub fn require(conn: &Connection, id: &str) -> Result<Rec, ApiError> {
    let id = id.trim();
    db::get(conn, "armast", id)?.ok_or_else(|| {
        ApiError::not_found("InvoiceNotFound", format!("Invoice {id} was not found."))
    })
}

/// Create an invoice (also used by the seed).
pub fn insert(conn: &Connection, body: &Map<String, Value>, now: &str) -> Result<Rec, ApiError> {
    let mut inp = Input::new(body);
    inp.only(&FIELDS[..10]);
    let id = inp.string("InvoiceID", false, 20);
    let cust = inp
        .string("CustomerID", true, 10)
        .map(|s| customers::custno(&s));
    let date = inp.date("InvoiceDate", true);
    let due = inp.date("DueDate", false);
    let terms = inp.string("Terms", false, 20);
    let po = inp.string("PONumber", false, 40).unwrap_or_default();
    let order = inp.string("OrderID", false, 20).unwrap_or_default();
    let tax = inp.money("Tax", false, false).unwrap_or_default();
    let freight = inp.money("Freight", false, false).unwrap_or_default();
    let lines = lines(&mut inp, true);
    inp.finish("The invoice is not valid.")?;
    let (Some(cust), Some(date), Some(lines)) = (cust, date, lines) else {
        return Err(ApiError::validation(
            "The invoice is not valid.",
            Vec::new(),
        ));
    };
    let customer = customers::require(conn, &cust)?;
    let terms = terms.unwrap_or_else(|| text(&customer.doc, "Terms"));
    let days: i64 = terms
        .chars()
        .filter(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or(30);
    let due = due.unwrap_or(date + Duration::days(days));
    let id = match id {
        Some(i) => i,
        None => format!("INV-{}", db::next_number(conn, "invoice", 20001)?),
    };
    if db::get(conn, "armast", &id)?.is_some() {
        return Err(ApiError::conflict(
            "DuplicateInvoice",
            format!("Invoice {id} already exists."),
        ));
    }
    let mut doc = Map::new();
    for (k, v) in [
        ("InvoiceID", json!(id)),
        ("DocumentType", json!("Invoice")),
        ("CustomerID", json!(cust)),
        ("InvoiceDate", json!(fmt_date(date))),
        ("DueDate", json!(fmt_date(due))),
        ("Terms", json!(terms)),
        ("PONumber", json!(po)),
        ("OrderID", json!(order)),
        ("Lines", Value::Array(lines)),
        ("Subtotal", json!("0.00")),
        ("Tax", json!(money(tax))),
        ("Freight", json!(money(freight))),
        ("Total", json!("0.00")),
        ("AmountPaid", json!("0.00")),
        ("CreditsApplied", json!("0.00")),
        ("Balance", json!("0.00")),
        ("Status", json!("Open")),
    ] {
        doc.insert(k.into(), v);
    }
    recompute(&mut doc);
    let st = text(&doc, "Status");
    db::insert(
        conn,
        "armast",
        &id,
        &Cols {
            custno: &cust,
            status: &st,
            refs: "",
        },
        &doc,
        "",
        now,
    )?;
    customers::adjust_balance(conn, &cust, doc_money(&doc, "Total"), now)?;
    require(conn, &id)
}

pub async fn create(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    post::handle_post(
        &state,
        &headers,
        "/api/invoices",
        &bytes,
        |tx, body, now| {
            let rec = insert(tx, body, now)?;
            Ok(Reply::created(
                rec.render(true),
                format!("/api/invoices/{}", rec.key),
            ))
        },
    )
}

pub async fn list(
    AxState(state): AxState<Arc<State>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let filters = [("CustomerID", "custno"), ("Status", "status")];
    query::respond(&state, "/api/invoices", "armast", &q, &filters, |r| {
        r.render(true)
    })
}

pub async fn one(AxState(state): AxState<Arc<State>>, Path(id): Path<String>) -> Response {
    query::one(
        &state,
        "armast",
        id.trim(),
        "InvoiceNotFound",
        "Invoice",
        true,
    )
}

pub async fn update(
    AxState(state): AxState<Arc<State>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    post::handle_put(&state, &bytes, |tx, body, now| {
        let mut rec = require(tx, &id)?;
        post::check_version(
            post::expected_version(&headers, body).as_deref(),
            rec.rowver,
        )?;
        let mut inp = Input::new(body);
        inp.only(FIELDS);
        let cust = inp
            .string("CustomerID", false, 10)
            .map(|s| customers::custno(&s));
        let date = inp.date("InvoiceDate", false);
        let due = inp.date("DueDate", false);
        let strings = ["Terms", "PONumber", "OrderID"].map(|f| (f, inp.string(f, false, 40)));
        let tax = inp.money("Tax", false, false);
        let freight = inp.money("Freight", false, false);
        let status = inp.choice("Status", &["Open", "Void"], false);
        let new_lines = lines(&mut inp, false);
        inp.finish("The invoice is not valid.")?;
        let doc = &mut rec.doc;
        if text(doc, "Status") == "Void" {
            return Err(ApiError::rule(
                "Status",
                "InvoiceVoid",
                format!("Invoice {} is void.", rec.key),
            ));
        }
        if cust.is_some_and(|c| c != text(doc, "CustomerID")) {
            return Err(ApiError::rule(
                "CustomerID",
                "KeyMismatch",
                "An invoice cannot move to another customer.",
            ));
        }
        let before = doc_money(doc, "Balance");
        for (f, v) in [("InvoiceDate", date), ("DueDate", due)] {
            if let Some(d) = v {
                doc.insert(f.into(), json!(fmt_date(d)));
            }
        }
        for (f, v) in strings {
            if let Some(v) = v {
                doc.insert(f.into(), json!(v));
            }
        }
        for (f, v) in [("Tax", tax), ("Freight", freight)] {
            if let Some(v) = v {
                doc.insert(f.into(), json!(money(v)));
            }
        }
        if let Some(l) = new_lines {
            doc.insert("Lines".into(), Value::Array(l));
        }
        recompute(doc);
        if doc_money(doc, "Balance") < Decimal::ZERO {
            return Err(ApiError::rule(
                "Lines",
                "TotalBelowPaid",
                "The new total is below what was already paid.",
            ));
        }
        let mut delta = doc_money(doc, "Balance") - before;
        if status.as_deref() == Some("Void") {
            if doc_money(doc, "AmountPaid") > Decimal::ZERO
                || doc_money(doc, "CreditsApplied") > Decimal::ZERO
            {
                return Err(ApiError::rule(
                    "Status",
                    "InvoiceHasPayments",
                    "An invoice with payments or credits cannot be voided.",
                ));
            }
            delta = -before;
            doc.insert("Status".into(), json!("Void"));
            recompute(doc);
        }
        let cust = text(doc, "CustomerID");
        save(tx, &rec, now)?;
        customers::adjust_balance(tx, &cust, delta, now)?;
        Ok(Reply::ok(require(tx, &rec.key)?.render(true)))
    })
}
