//! Customers (`arcust`): create, list, read, update with RowVersion. `CustomerID` is
//! upper-cased and trimmed (at most 10 characters) and unique (409 `DuplicateCustomer`);
//! `Balance` is maintained by invoices, payments and credit memos, never written by clients.

use super::State;
use super::db::{self, Cols};
use super::error::ApiError;
use super::input::{Input, doc_money, money};
use super::post::{self, Reply};
use super::query;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxState};
use axum::http::HeaderMap;
use axum::response::Response;
use rusqlite::Connection;
use rust_decimal::Decimal;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

const TEXT_FIELDS: &[&str] = &[
    "Company",
    "Address1",
    "Address2",
    "City",
    "State",
    "Zip",
    "Country",
    "Phone",
    "Email",
    "Terms",
    "SalespersonCode",
    "PaymentToken",
    "CardOnFile",
];
const WRITABLE: &[&str] = &[
    "CustomerID",
    "Company",
    "Address1",
    "Address2",
    "City",
    "State",
    "Zip",
    "Country",
    "Phone",
    "Email",
    "Terms",
    "SalespersonCode",
    "PaymentToken",
    "CardOnFile",
    "CreditLimit",
    "OnCreditHold",
    "Status",
    "RowVersion",
];

/// Normalise a customer number the way `arcust.custno` holds it.
pub fn custno(s: &str) -> String {
    s.trim().to_uppercase()
}

/// Read the editable fields of `body` into `doc` (create: `full`, Company required).
fn apply(
    body: &Map<String, Value>,
    doc: &mut Map<String, Value>,
    full: bool,
) -> Result<(), ApiError> {
    let mut inp = Input::new(body);
    inp.only(WRITABLE);
    for f in TEXT_FIELDS {
        let required = full && *f == "Company";
        if let Some(v) = inp.string(f, required, 100) {
            doc.insert(f.to_string(), Value::String(v));
        }
    }
    // The facade keeps card data out of the ERP: a token is an id, a card on file is masked.
    for (field, longest, what) in [
        ("PaymentToken", 12, "a payment token, not a card number"),
        (
            "CardOnFile",
            6,
            "masked (at most the first six and last four digits)",
        ),
    ] {
        let run = doc
            .get(field)
            .and_then(Value::as_str)
            .map(longest_digit_run)
            .unwrap_or(0);
        if run > longest {
            doc.remove(field);
            inp.fail(field, "CardDataRefused", format!("{field} must be {what}."));
        }
    }
    if let Some(v) = inp.money("CreditLimit", false, false) {
        doc.insert("CreditLimit".into(), Value::String(money(v)));
    }
    if let Some(v) = inp.boolean("OnCreditHold") {
        doc.insert("OnCreditHold".into(), Value::Bool(v));
    }
    if let Some(v) = inp.choice("Status", &["Active", "Inactive"], false) {
        doc.insert("Status".into(), Value::String(v));
    }
    inp.finish("The customer is not valid.")
}

fn longest_digit_run(s: &str) -> usize {
    s.split(|c: char| !c.is_ascii_digit())
        .map(str::len)
        .max()
        .unwrap_or(0)
}

fn status(doc: &Map<String, Value>) -> String {
    doc.get("Status")
        .and_then(Value::as_str)
        .unwrap_or("Active")
        .to_string()
}

/// Create a customer record (also used by the seed).
pub fn insert(
    conn: &Connection,
    body: &Map<String, Value>,
    now: &str,
) -> Result<db::Rec, ApiError> {
    let mut inp = Input::new(body);
    let id = inp.string("CustomerID", true, 10).map(|s| custno(&s));
    inp.finish("The customer is not valid.")?;
    let id = id.unwrap_or_default();
    let mut doc = Map::new();
    doc.insert("CustomerID".into(), Value::String(id.clone()));
    apply(body, &mut doc, true)?;
    doc.entry("CreditLimit")
        .or_insert(Value::String(money(Decimal::ZERO)));
    doc.entry("OnCreditHold").or_insert(Value::Bool(false));
    doc.entry("Status")
        .or_insert(Value::String("Active".into()));
    doc.insert("Balance".into(), Value::String(money(Decimal::ZERO)));
    if db::get(conn, "arcust", &id)?.is_some() {
        return Err(ApiError::conflict(
            "DuplicateCustomer",
            format!("Customer {id} already exists."),
        ));
    }
    let st = status(&doc);
    let cols = Cols {
        custno: &id,
        status: &st,
        refs: "",
    };
    db::insert(conn, "arcust", &id, &cols, &doc, "", now)?;
    db::get(conn, "arcust", &id)?.ok_or_else(|| {
        ApiError::not_found("CustomerNotFound", format!("Customer {id} was not found."))
    })
}

/// The customer, or 404 `CustomerNotFound`.
pub fn require(conn: &Connection, id: &str) -> Result<db::Rec, ApiError> {
    db::get(conn, "arcust", &custno(id))?.ok_or_else(|| {
        ApiError::not_found(
            "CustomerNotFound",
            format!("Customer {} was not found.", custno(id)),
        )
    })
}

/// Move a customer's open AR balance by `delta`.
pub fn adjust_balance(
    conn: &Connection,
    id: &str,
    delta: Decimal,
    now: &str,
) -> Result<(), ApiError> {
    let mut rec = require(conn, id)?;
    let bal = doc_money(&rec.doc, "Balance") + delta;
    rec.doc.insert("Balance".into(), Value::String(money(bal)));
    let st = status(&rec.doc);
    db::save(
        conn,
        "arcust",
        &rec.key,
        &Cols {
            custno: &rec.key,
            status: &st,
            refs: "",
        },
        &rec.doc,
        now,
    )
}

pub async fn create(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    post::handle_post(
        &state,
        &headers,
        "/api/customers",
        &bytes,
        |tx, body, now| {
            let rec = insert(tx, body, now)?;
            Ok(Reply::created(
                rec.render(true),
                format!("/api/customers/{}", rec.key),
            ))
        },
    )
}

pub async fn list(
    AxState(state): AxState<Arc<State>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    query::respond(&state, "/api/customers", "arcust", &q, &[], |r| {
        r.render(true)
    })
}

pub async fn one(AxState(state): AxState<Arc<State>>, Path(id): Path<String>) -> Response {
    query::one(
        &state,
        "arcust",
        &custno(&id),
        "CustomerNotFound",
        "Customer",
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
        if let Some(other) = body.get("CustomerID").and_then(Value::as_str)
            && custno(other) != rec.key
        {
            return Err(ApiError::rule(
                "CustomerID",
                "KeyMismatch",
                "CustomerID cannot be changed.",
            ));
        }
        apply(body, &mut rec.doc, false)?;
        let st = status(&rec.doc);
        db::save(
            tx,
            "arcust",
            &rec.key,
            &Cols {
                custno: &rec.key,
                status: &st,
                refs: "",
            },
            &rec.doc,
            now,
        )?;
        let rec = require(tx, &rec.key)?;
        Ok(Reply::ok(rec.render(true)))
    })
}
