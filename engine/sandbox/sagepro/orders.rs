//! Sales orders (`somast`, lines as `sotran`): create, list, read, update with RowVersion.
//! OrderType Order / Quote / Return (sotype O/B/R), Status Open / Closed / Void / Cancelled
//! (sostat blank/C/V/X); OrderAmount = sum of Quantity x UnitPrice less DiscountPercent.

use super::State;
use super::customers;
use super::db::{self, Cols, Rec};
use super::error::ApiError;
use super::input::{Input, money, parse_money};
use super::invoices::fmt_date;
use super::post::{self, Reply};
use super::query;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxState};
use axum::http::HeaderMap;
use axum::response::Response;
use rusqlite::Connection;
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;

const FIELDS: &[&str] = &[
    "OrderID",
    "OrderType",
    "CustomerID",
    "OrderDate",
    "RequestedShipDate",
    "PONumber",
    "ShipVia",
    "Terms",
    "Lines",
    "PaymentStatus",
    "PaymentReference",
    "Status",
    "RowVersion",
];
/// Fields a create accepts (the rest only on update).
const CREATE_FIELDS: usize = 11;
/// How the order has been paid (a Ledgerlink facade field: storefront orders arrive paid).
const PAYMENT_STATUSES: &[&str] = &["Unpaid", "Authorized", "Paid", "Failed", "Refunded"];
const TYPES: &[&str] = &["Order", "Quote", "Return"];
const STATUSES: &[&str] = &["Open", "Closed", "Void", "Cancelled"];

fn text(doc: &Map<String, Value>, f: &str) -> String {
    doc.get(f)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Read the fields of `body` into `doc`; `full` for a create.
fn apply(
    conn: &Connection,
    body: &Map<String, Value>,
    doc: &mut Map<String, Value>,
    full: bool,
) -> Result<(), ApiError> {
    let mut inp = Input::new(body);
    inp.only(if full {
        &FIELDS[..CREATE_FIELDS]
    } else {
        FIELDS
    });
    let cust = inp
        .string("CustomerID", full, 10)
        .map(|s| customers::custno(&s));
    let date = inp.date("OrderDate", full);
    let ship = inp.date("RequestedShipDate", false);
    let kind = inp.choice("OrderType", TYPES, false);
    let status = if full {
        None
    } else {
        inp.choice("Status", STATUSES, false)
    };
    let paid = inp.choice("PaymentStatus", PAYMENT_STATUSES, false);
    let strings =
        ["PONumber", "ShipVia", "Terms", "PaymentReference"].map(|f| (f, inp.string(f, false, 40)));
    let mut lines = None;
    if let Some(objs) = inp.objects("Lines", full, 1) {
        let mut out = Vec::new();
        for (i, l) in objs.into_iter().enumerate() {
            let mut li = Input::nested(l, format!("Lines[{i}]."));
            li.only(&["ItemID", "Quantity", "UnitPrice", "DiscountPercent"]);
            let item = li.string("ItemID", true, 40);
            let qty = l
                .get("Quantity")
                .and_then(parse_money)
                .filter(|q| *q > Decimal::ZERO);
            if qty.is_none() {
                li.fail(
                    "Quantity",
                    "OutOfRange",
                    "Quantity must be a number above zero.",
                );
            }
            let price = li.money("UnitPrice", true, false);
            let disc = match l.get("DiscountPercent") {
                None | Some(Value::Null) => Some(Decimal::ZERO),
                Some(v) => {
                    parse_money(v).filter(|d| *d >= Decimal::ZERO && *d <= Decimal::ONE_HUNDRED)
                }
            };
            if disc.is_none() {
                li.fail(
                    "DiscountPercent",
                    "OutOfRange",
                    "DiscountPercent must be from 0 to 100.",
                );
            }
            if let (Some(item), Some(q), Some(p), Some(d)) = (item, qty, price, disc) {
                out.push(
                    json!({"ItemID": item, "Quantity": q.normalize().to_string(),
                    "UnitPrice": money(p), "DiscountPercent": d.normalize().to_string()}),
                );
            }
            inp.absorb(li);
        }
        lines = Some(out);
    }
    inp.finish("The order is not valid.")?;
    if let Some(c) = cust {
        if !full && c != text(doc, "CustomerID") {
            return Err(ApiError::rule(
                "CustomerID",
                "KeyMismatch",
                "An order cannot move to another customer.",
            ));
        }
        customers::require(conn, &c)?;
        doc.insert("CustomerID".into(), json!(c));
    }
    for (f, v) in [("OrderDate", date), ("RequestedShipDate", ship)] {
        if let Some(d) = v {
            doc.insert(f.into(), json!(fmt_date(d)));
        }
    }
    for (f, v) in [
        ("OrderType", kind),
        ("Status", status),
        ("PaymentStatus", paid),
    ] {
        if let Some(v) = v {
            doc.insert(f.into(), json!(v));
        }
    }
    for (f, v) in strings {
        if let Some(v) = v {
            doc.insert(f.into(), json!(v));
        }
    }
    if let Some(l) = lines {
        let amount: Decimal = l
            .iter()
            .map(|x| {
                let q = x.get("Quantity").and_then(parse_money).unwrap_or_default();
                let p = x.get("UnitPrice").and_then(parse_money).unwrap_or_default();
                let d = x
                    .get("DiscountPercent")
                    .and_then(parse_money)
                    .unwrap_or_default();
                (q * p * (Decimal::ONE_HUNDRED - d) / Decimal::ONE_HUNDRED).round_dp(2)
            })
            .sum();
        doc.insert("Lines".into(), Value::Array(l));
        doc.insert("OrderAmount".into(), json!(money(amount)));
    }
    Ok(())
}

fn save_cols(doc: &Map<String, Value>) -> (String, String) {
    (text(doc, "CustomerID"), text(doc, "Status"))
}

/// Create an order (also used by the seed).
pub fn insert(conn: &Connection, body: &Map<String, Value>, now: &str) -> Result<Rec, ApiError> {
    let mut doc = Map::new();
    let id = match body.get("OrderID").and_then(Value::as_str).map(str::trim) {
        Some(i) if !i.is_empty() => i.to_string(),
        _ => format!("SO-{}", db::next_number(conn, "order", 5001)?),
    };
    for (k, v) in [
        ("OrderID", json!(id)),
        ("OrderType", json!("Order")),
        ("Status", json!("Open")),
        ("PaymentStatus", json!("Unpaid")),
    ] {
        doc.insert(k.into(), v);
    }
    apply(conn, body, &mut doc, true)?;
    doc.insert("ShippedAmount".into(), json!("0.00"));
    if db::get(conn, "somast", &id)?.is_some() {
        return Err(ApiError::conflict(
            "DuplicateOrder",
            format!("Order {id} already exists."),
        ));
    }
    let (c, s) = save_cols(&doc);
    db::insert(
        conn,
        "somast",
        &id,
        &Cols {
            custno: &c,
            status: &s,
            refs: "",
        },
        &doc,
        "",
        now,
    )?;
    db::get(conn, "somast", &id)?
        .ok_or_else(|| ApiError::not_found("OrderNotFound", "Order vanished."))
}

pub async fn create(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    post::handle_post(&state, &headers, "/api/orders", &bytes, |tx, body, now| {
        let rec = insert(tx, body, now)?;
        Ok(Reply::created(
            rec.render(true),
            format!("/api/orders/{}", rec.key),
        ))
    })
}

pub async fn list(
    AxState(state): AxState<Arc<State>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let filters = [("CustomerID", "custno"), ("Status", "status")];
    query::respond(&state, "/api/orders", "somast", &q, &filters, |r| {
        r.render(true)
    })
}

pub async fn one(AxState(state): AxState<Arc<State>>, Path(id): Path<String>) -> Response {
    query::one(&state, "somast", id.trim(), "OrderNotFound", "Order", true)
}

pub async fn update(
    AxState(state): AxState<Arc<State>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    post::handle_put(&state, &bytes, |tx, body, now| {
        let mut rec = db::get(tx, "somast", id.trim())?.ok_or_else(|| {
            ApiError::not_found(
                "OrderNotFound",
                format!("Order {} was not found.", id.trim()),
            )
        })?;
        post::check_version(
            post::expected_version(&headers, body).as_deref(),
            rec.rowver,
        )?;
        let was = text(&rec.doc, "Status");
        if was != "Open" {
            return Err(ApiError::rule(
                "Status",
                "OrderNotOpen",
                format!("Order {} is {was}.", rec.key),
            ));
        }
        apply(tx, body, &mut rec.doc, false)?;
        let (c, s) = save_cols(&rec.doc);
        db::save(
            tx,
            "somast",
            &rec.key,
            &Cols {
                custno: &c,
                status: &s,
                refs: "",
            },
            &rec.doc,
            now,
        )?;
        let rec = db::get(tx, "somast", &rec.key)?
            .ok_or_else(|| ApiError::not_found("OrderNotFound", "Order vanished."))?;
        Ok(Reply::ok(rec.render(true)))
    })
}
