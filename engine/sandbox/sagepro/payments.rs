//! AR cash receipts (`arcash`, distributions in `gldist`): `POST /api/payments` applies a Paid
//! payment to one invoice (`InvoiceID`), several (`Applications`) or none (on account); Failed
//! is recorded for audit only; Refunded reverses a Paid payment (see `refunds.rs`). The
//! PaymentReference is unique: the same body again answers the original with
//! `Idempotent-Replay: true`, a different body 409 `DuplicatePaymentReference`.

use super::State;
use super::customers;
use super::db::{self, Cols, Dist};
use super::error::ApiError;
use super::input::{doc_money, money};
use super::invoices;
use super::journal;
pub use super::payment_request::Request;
use super::post::{self, Reply};
use super::{query, refunds};
use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use rusqlite::Connection;
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// The AR control account every receipt credits.
pub const AR_CONTROL: &str = "1200";

/// Apply a Paid payment to invoices; returns the applications made.
fn apply(conn: &Connection, req: &Request, now: &str) -> Result<Vec<(String, Decimal)>, ApiError> {
    let (wanted, explicit) = match (&req.invoice, &req.applications) {
        (Some(inv), _) => (vec![(inv.clone(), req.amount)], false),
        (None, Some(apps)) => (apps.clone(), true),
        (None, None) => (Vec::new(), false),
    };
    let asked: Decimal = wanted.iter().map(|(_, a)| *a).sum();
    if explicit && asked > req.amount {
        return Err(ApiError::rule(
            "Applications",
            "ApplicationsExceedAmount",
            format!(
                "Applications total {} exceeds the payment amount {}.",
                money(asked),
                money(req.amount)
            ),
        ));
    }
    let mut done = Vec::new();
    for (i, (inv, want)) in wanted.into_iter().enumerate() {
        let field = if explicit {
            format!("Applications[{i}].Amount")
        } else {
            "Amount".to_string()
        };
        let mut rec = invoices::require(conn, &inv)?;
        let owner = rec
            .doc
            .get("CustomerID")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if owner != req.customer {
            return Err(ApiError::rule(
                "InvoiceID",
                "InvoiceCustomerMismatch",
                format!(
                    "Invoice {} belongs to {owner}, not {}.",
                    rec.key, req.customer
                ),
            ));
        }
        if rec.doc.get("Status").and_then(Value::as_str) == Some("Void") {
            return Err(ApiError::rule(
                "InvoiceID",
                "InvoiceVoid",
                format!("Invoice {} is void.", rec.key),
            ));
        }
        let balance = doc_money(&rec.doc, "Balance");
        let take = if want > balance {
            if !req.allow_over {
                return Err(ApiError::rule(
                    &field,
                    "ExceedsInvoiceBalance",
                    format!(
                        "Amount {} exceeds balance {} on invoice {}.",
                        money(want),
                        money(balance),
                        rec.key
                    ),
                ));
            }
            balance
        } else {
            want
        };
        if take <= Decimal::ZERO {
            continue;
        }
        let paid = doc_money(&rec.doc, "AmountPaid") + take;
        rec.doc.insert("AmountPaid".into(), json!(money(paid)));
        invoices::recompute(&mut rec.doc);
        invoices::save(conn, &rec, now)?;
        done.push((rec.key.clone(), take));
    }
    Ok(done)
}

fn create_payment(
    conn: &Connection,
    body: &Map<String, Value>,
    now: &str,
) -> Result<Reply, ApiError> {
    let req = Request::parse(body)?;
    let normal = req.normal();
    let location = format!("/api/payments/{}", req.reference);
    if let Some(prior) = db::get(conn, "arcash", &req.reference)? {
        if prior.request != normal {
            return Err(ApiError::conflict(
                "DuplicatePaymentReference",
                format!(
                    "Payment {} already exists with different details.",
                    req.reference
                ),
            ));
        }
        return Ok(Reply {
            status: StatusCode::OK,
            body: prior.render(false),
            location: Some(location),
            replay: true,
        });
    }
    customers::require(conn, &req.customer)?;
    journal::require_account(conn, &req.account, "GLAccountID")?;
    let (apps, unapplied, batch) = match req.status.as_str() {
        "Paid" => {
            let apps = apply(conn, &req, now)?;
            let unapplied = req.amount - apps.iter().map(|(_, a)| *a).sum::<Decimal>();
            customers::adjust_balance(conn, &req.customer, -req.amount, now)?;
            let batch = post_gl(conn, &req, &req.account, AR_CONTROL)?;
            (apps, unapplied, batch)
        }
        "Refunded" => {
            let (apps, unapplied) = refunds::reverse(conn, &req, now)?;
            customers::adjust_balance(conn, &req.customer, req.amount, now)?;
            let batch = post_gl(conn, &req, AR_CONTROL, &req.account)?;
            (apps, unapplied, batch)
        }
        _ => (Vec::new(), Decimal::ZERO, String::new()),
    };
    let applications: Vec<Value> = apps
        .iter()
        .map(|(i, a)| json!({"InvoiceID": i, "Amount": money(*a)}))
        .collect();
    let mut doc = Map::new();
    for (k, v) in [
        ("PaymentReference", json!(req.reference)),
        ("PaymentDate", json!(req.date)),
        ("Amount", json!(money(req.amount))),
        ("CustomerID", json!(req.customer)),
        ("InvoiceID", json!(req.invoice)),
        ("GLAccountID", json!(req.account)),
        ("PaymentMethodCode", json!(req.method)),
        ("PaymentStatus", json!(req.status)),
        ("OriginalPaymentReference", json!(req.original)),
        ("Applications", Value::Array(applications)),
        ("UnappliedAmount", json!(money(unapplied))),
        ("Memo", json!(req.memo)),
        ("GLBatch", json!(batch)),
        ("Posted", json!(!batch.is_empty())),
    ] {
        doc.insert(k.into(), v);
    }
    let mut refs: Vec<String> = apps.iter().map(|(i, _)| i.clone()).collect();
    refs.extend(req.invoice.clone());
    refs.extend(req.original.as_ref().map(|o| format!("orig:{o}")));
    let refs = format!(",{},", refs.join(","));
    let cols = Cols {
        custno: &req.customer,
        status: &req.status,
        refs: &refs,
    };
    db::insert(conn, "arcash", &req.reference, &cols, &doc, &normal, now)?;
    let rec = db::get(conn, "arcash", &req.reference)?
        .ok_or_else(|| ApiError::not_found("PaymentNotFound", "Payment vanished."))?;
    Ok(Reply::created(rec.render(false), location))
}

/// Write the two distribution lines of a receipt or refund; returns the GL batch.
fn post_gl(
    conn: &Connection,
    req: &Request,
    debit: &str,
    credit: &str,
) -> Result<String, ApiError> {
    let batch = format!("AR{:06}", db::next_number(conn, "glbatch", 1)?);
    let amount = money(req.amount);
    let desc = format!("{} {} {}", req.status, req.method, req.reference);
    for (account, dr, cr) in [
        (debit, amount.as_str(), "0.00"),
        (credit, "0.00", amount.as_str()),
    ] {
        db::distribute(
            conn,
            &Dist {
                date: &req.date,
                account,
                debit: dr,
                credit: cr,
                source: "AR",
                reference: &req.reference,
                batch: &batch,
                description: &desc,
            },
        )?;
    }
    Ok(batch)
}

pub async fn create(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    post::handle_post(&state, &headers, "/api/payments", &bytes, |tx, b, n| {
        create_payment(tx, b, n)
    })
}

pub async fn list(
    AxState(state): AxState<Arc<State>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let filters = [("CustomerID", "custno"), ("InvoiceID", "refs")];
    query::respond(&state, "/api/payments", "arcash", &q, &filters, |r| {
        r.render(false)
    })
}

pub async fn one(AxState(state): AxState<Arc<State>>, Path(id): Path<String>) -> Response {
    query::one(
        &state,
        "arcash",
        id.trim(),
        "PaymentNotFound",
        "Payment",
        false,
    )
}
