//! Control routes for tests and demos, outside the facade contract and without auth:
//! `GET /_sandbox/sagepro/ledger` (payments, invoice balances, GL distributions and per-account
//! totals), `POST /_sandbox/sagepro/tokens/revoke` (every issued token becomes InvalidToken) and
//! `PUT /_sandbox/sagepro/token-ttl` (`{"seconds": N}` for tokens issued from then on).

use super::State;
use super::auth;
use super::error::ApiError;
use super::input::{money, parse_money};
use super::post::{self, Reply};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post as post_route, put};
use rusqlite::Connection;
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

pub fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/_sandbox/sagepro/ledger", get(ledger))
        .route("/_sandbox/sagepro/tokens/revoke", post_route(revoke))
        .route("/_sandbox/sagepro/token-ttl", put(ttl))
}

fn docs(conn: &Connection, table: &str) -> Result<Vec<Map<String, Value>>, ApiError> {
    let mut stmt = conn.prepare(&format!("SELECT doc FROM {table} ORDER BY key"))?;
    let rows = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut out = Vec::new();
    for d in rows {
        if let Value::Object(m) = serde_json::from_str(&d)? {
            out.push(m);
        }
    }
    Ok(out)
}

fn read_ledger(conn: &Connection) -> Result<Value, ApiError> {
    let payments: Vec<Value> = docs(conn, "arcash")?
        .into_iter()
        .map(Value::Object)
        .collect();
    let keep = [
        "InvoiceID",
        "CustomerID",
        "Total",
        "AmountPaid",
        "CreditsApplied",
        "Balance",
        "Status",
    ];
    let invoices: Vec<Value> = docs(conn, "armast")?
        .into_iter()
        .map(|d| {
            Value::Object(
                keep.iter()
                    .filter_map(|k| Some((k.to_string(), d.get(*k)?.clone())))
                    .collect(),
            )
        })
        .collect();
    let mut stmt = conn.prepare(
        "SELECT trandte, glacnt, debit, credit, source, ref, glbatch, descrip FROM gldist ORDER BY id",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, String>(7)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut totals: BTreeMap<String, (Decimal, Decimal)> = BTreeMap::new();
    let mut lines = Vec::new();
    for (date, account, dr, cr, source, reference, batch, desc) in rows {
        let d = parse_money(&Value::String(dr.clone())).unwrap_or_default();
        let c = parse_money(&Value::String(cr.clone())).unwrap_or_default();
        let t = totals.entry(account.clone()).or_default();
        t.0 += d;
        t.1 += c;
        lines.push(
            json!({"Date": date, "GLAccountID": account, "Debit": dr, "Credit": cr,
            "Source": source, "Reference": reference, "GLBatch": batch, "Description": desc}),
        );
    }
    let accounts: Vec<Value> = totals
        .into_iter()
        .map(|(a, (d, c))| json!({"GLAccountID": a, "Debit": money(d), "Credit": money(c), "Net": money(d - c)}))
        .collect();
    Ok(
        json!({"payments": payments, "invoices": invoices, "journalLines": lines, "accounts": accounts}),
    )
}

async fn ledger(AxState(state): AxState<Arc<State>>) -> Response {
    match state.tx(|tx| read_ledger(tx)) {
        Ok(v) => Reply::ok(v).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn revoke(AxState(state): AxState<Arc<State>>) -> Response {
    Reply::ok(json!({"revoked": auth::revoke_all(&state)})).into_response()
}

async fn ttl(AxState(state): AxState<Arc<State>>, bytes: Bytes) -> Response {
    let body = match post::parse_body(&bytes) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    match body.get("seconds").and_then(Value::as_u64) {
        Some(s) if s > 0 => {
            auth::set_ttl(&state, s);
            Reply::ok(json!({"seconds": s})).into_response()
        }
        _ => ApiError::rule(
            "seconds",
            "InvalidValue",
            "seconds must be a whole number above zero.",
        )
        .into_response(),
    }
}
