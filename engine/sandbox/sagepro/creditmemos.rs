//! Credit memos (`arcredit`): credit issued to a customer, applied at once to `InvoiceID` when
//! given (up to the invoice balance; the rest stays open) or left open on account. The customer
//! balance drops by the full amount; the GL gets DR 4050 refunds / CR 1200 AR control.

use super::State;
use super::customers;
use super::db::{self, Cols, Dist};
use super::error::ApiError;
use super::input::{Input, doc_money, money};
use super::invoices::{self, fmt_date};
use super::payments::AR_CONTROL;
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

/// The account a credit memo debits.
const REFUNDS: &str = "4050";

fn create_memo(conn: &Connection, body: &Map<String, Value>, now: &str) -> Result<Reply, ApiError> {
    let mut inp = Input::new(body);
    inp.only(&[
        "CreditMemoID",
        "CustomerID",
        "InvoiceID",
        "MemoDate",
        "Amount",
        "Reason",
        "Reference",
    ]);
    let id = inp.string("CreditMemoID", false, 20);
    let cust = inp
        .string("CustomerID", true, 10)
        .map(|c| customers::custno(&c));
    let invoice = inp.string("InvoiceID", false, 20).filter(|s| !s.is_empty());
    let date = inp.date("MemoDate", true);
    let amount = inp.money("Amount", true, true);
    let reason = inp.string("Reason", false, 200).unwrap_or_default();
    let reference = inp.string("Reference", false, 60).unwrap_or_default();
    inp.finish("The credit memo is not valid.")?;
    let (Some(cust), Some(date), Some(amount)) = (cust, date, amount) else {
        return Err(ApiError::validation(
            "The credit memo is not valid.",
            Vec::new(),
        ));
    };
    customers::require(conn, &cust)?;
    let id = match id {
        Some(i) => i,
        None => format!("CM-{}", db::next_number(conn, "creditmemo", 30001)?),
    };
    if db::get(conn, "arcredit", &id)?.is_some() {
        return Err(ApiError::conflict(
            "DuplicateCreditMemo",
            format!("Credit memo {id} already exists."),
        ));
    }
    let mut applied = Decimal::ZERO;
    if let Some(inv) = &invoice {
        let mut rec = invoices::require(conn, inv)?;
        let owner = rec
            .doc
            .get("CustomerID")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if owner != cust {
            return Err(ApiError::rule(
                "InvoiceID",
                "InvoiceCustomerMismatch",
                format!("Invoice {} belongs to {owner}, not {cust}.", rec.key),
            ));
        }
        if rec.doc.get("Status").and_then(Value::as_str) == Some("Void") {
            return Err(ApiError::rule(
                "InvoiceID",
                "InvoiceVoid",
                format!("Invoice {} is void.", rec.key),
            ));
        }
        applied = amount.min(doc_money(&rec.doc, "Balance"));
        let credits = doc_money(&rec.doc, "CreditsApplied") + applied;
        rec.doc
            .insert("CreditsApplied".into(), json!(money(credits)));
        invoices::recompute(&mut rec.doc);
        invoices::save(conn, &rec, now)?;
    }
    customers::adjust_balance(conn, &cust, -amount, now)?;
    let date = fmt_date(date);
    let batch = format!("AR{:06}", db::next_number(conn, "glbatch", 1)?);
    let amt = money(amount);
    for (account, dr, cr) in [
        (REFUNDS, amt.as_str(), "0.00"),
        (AR_CONTROL, "0.00", amt.as_str()),
    ] {
        db::distribute(
            conn,
            &Dist {
                date: &date,
                account,
                debit: dr,
                credit: cr,
                source: "AR",
                reference: &id,
                batch: &batch,
                description: &format!("Credit memo {id}"),
            },
        )?;
    }
    let balance = amount - applied;
    let status = if balance > Decimal::ZERO {
        "Open"
    } else {
        "Applied"
    };
    let mut doc = Map::new();
    for (k, v) in [
        ("CreditMemoID", json!(id)),
        ("CustomerID", json!(cust)),
        ("InvoiceID", json!(invoice)),
        ("MemoDate", json!(date)),
        ("Amount", json!(amt)),
        ("Balance", json!(money(balance))),
        ("Reason", json!(reason)),
        ("Reference", json!(reference)),
        ("Status", json!(status)),
    ] {
        doc.insert(k.into(), v);
    }
    let refs = format!(",{},", invoice.clone().unwrap_or_default());
    db::insert(
        conn,
        "arcredit",
        &id,
        &Cols {
            custno: &cust,
            status,
            refs: &refs,
        },
        &doc,
        "",
        now,
    )?;
    let rec = db::get(conn, "arcredit", &id)?
        .ok_or_else(|| ApiError::not_found("CreditMemoNotFound", "Credit memo vanished."))?;
    Ok(Reply::created(
        rec.render(false),
        format!("/api/creditmemos/{id}"),
    ))
}

pub async fn create(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    post::handle_post(&state, &headers, "/api/creditmemos", &bytes, |tx, b, n| {
        create_memo(tx, b, n)
    })
}

pub async fn list(
    AxState(state): AxState<Arc<State>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let filters = [("CustomerID", "custno"), ("Status", "status")];
    query::respond(&state, "/api/creditmemos", "arcredit", &q, &filters, |r| {
        r.render(false)
    })
}

pub async fn one(AxState(state): AxState<Arc<State>>, Path(id): Path<String>) -> Response {
    query::one(
        &state,
        "arcredit",
        id.trim(),
        "CreditMemoNotFound",
        "Credit memo",
        false,
    )
}
