//! General ledger: journal entries (`gljournal`, lines in `gldist`) and the chart of accounts
//! (`glacnt`). An entry needs at least two lines, exactly one of Debit or Credit above zero on
//! each, every account existing and active, total debits equal to total credits and an
//! EntryDate inside an open period (`glperiod`); every problem is one 422 detail.

use super::State;
use super::db::{self, Cols, Dist};
use super::error::ApiError;
use super::input::{Input, money};
use super::invoices::fmt_date;
use super::post::{self, Reply};
use super::query;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxState};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::NaiveDate;
use rusqlite::{Connection, OptionalExtension, params};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// Why an account cannot be posted to, if it cannot.
fn account_problem(
    conn: &Connection,
    id: &str,
) -> Result<Option<(&'static str, String)>, ApiError> {
    match db::get(conn, "glacnt", id)? {
        None => Ok(Some((
            "AccountNotFound",
            format!("GL account {id} does not exist."),
        ))),
        Some(r) if r.doc.get("Status").and_then(Value::as_str) != Some("Active") => Ok(Some((
            "AccountInactive",
            format!("GL account {id} is inactive."),
        ))),
        Some(_) => Ok(None),
    }
}

/// 422 unless `id` is an active GL account.
pub fn require_account(conn: &Connection, id: &str, field: &str) -> Result<(), ApiError> {
    match account_problem(conn, id)? {
        Some((code, msg)) => Err(ApiError::rule(field, code, msg)),
        None => Ok(()),
    }
}

/// The open period containing `date`, or why there is none.
fn period_problem(
    conn: &Connection,
    date: NaiveDate,
) -> Result<Option<(&'static str, String)>, ApiError> {
    let d = fmt_date(date);
    let found: Option<(String, bool)> = conn
        .prepare_cached("SELECT period, closed FROM glperiod WHERE start <= ?1 AND finish >= ?1")?
        .query_row(params![d], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(match found {
        None => Some(("NoPeriod", format!("No accounting period covers {d}."))),
        Some((p, true)) => Some((
            "PeriodClosed",
            format!("Period {p} is closed; {d} cannot be posted."),
        )),
        Some(_) => None,
    })
}

fn create_entry(
    conn: &Connection,
    body: &Map<String, Value>,
    now: &str,
) -> Result<Reply, ApiError> {
    let mut inp = Input::new(body);
    inp.only(&["EntryDate", "Reference", "Description", "Source", "Lines"]);
    let date = inp.date("EntryDate", true);
    let reference = inp.string("Reference", false, 60).unwrap_or_default();
    let description = inp.string("Description", false, 200).unwrap_or_default();
    let source = inp
        .string("Source", false, 20)
        .unwrap_or_else(|| "GL".into());
    let objs = inp.objects("Lines", true, 2);
    let mut lines = Vec::new();
    let (mut debits, mut credits) = (Decimal::ZERO, Decimal::ZERO);
    for (i, l) in objs.unwrap_or_default().into_iter().enumerate() {
        let mut li = Input::nested(l, format!("Lines[{i}]."));
        li.only(&["GLAccountID", "Debit", "Credit", "Description"]);
        let account = li.string("GLAccountID", true, 20);
        let dr = li
            .money("Debit", false, false)
            .unwrap_or_default()
            .round_dp(2);
        let cr = li
            .money("Credit", false, false)
            .unwrap_or_default()
            .round_dp(2);
        let desc = li.string("Description", false, 200).unwrap_or_default();
        if (dr > Decimal::ZERO) == (cr > Decimal::ZERO) {
            li.fail(
                "Debit",
                "DebitOrCredit",
                "Exactly one of Debit or Credit must be above zero.",
            );
        }
        if let Some(a) = &account
            && let Some((code, msg)) = account_problem(conn, a)?
        {
            li.fail("GLAccountID", code, msg);
        }
        debits += dr;
        credits += cr;
        lines.push(
            json!({"GLAccountID": account.unwrap_or_default(), "Debit": money(dr),
            "Credit": money(cr), "Description": desc}),
        );
        inp.absorb(li);
    }
    if lines.len() >= 2 && debits != credits {
        inp.fail(
            "Lines",
            "Unbalanced",
            format!(
                "Debits {} do not equal credits {}.",
                money(debits),
                money(credits)
            ),
        );
    }
    if let Some(d) = date
        && let Some((code, msg)) = period_problem(conn, d)?
    {
        inp.fail("EntryDate", code, msg);
    }
    inp.finish("The journal entry cannot be posted.")?;
    let date = date.map(fmt_date).unwrap_or_default();
    let id = format!("JE-{:06}", db::next_number(conn, "journal", 1)?);
    let batch = format!("GL{:06}", db::next_number(conn, "glbatch", 1)?);
    for l in &lines {
        let s = |f: &str| {
            l.get(f)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        db::distribute(
            conn,
            &Dist {
                date: &date,
                account: &s("GLAccountID"),
                debit: &s("Debit"),
                credit: &s("Credit"),
                source: &source,
                reference: &id,
                batch: &batch,
                description: &s("Description"),
            },
        )?;
    }
    let mut doc = Map::new();
    for (k, v) in [
        ("JournalEntryID", json!(id)),
        ("EntryDate", json!(date)),
        ("Reference", json!(reference)),
        ("Description", json!(description)),
        ("Source", json!(source)),
        ("Lines", Value::Array(lines)),
        ("GLBatch", json!(batch)),
        ("Posted", json!(true)),
    ] {
        doc.insert(k.into(), v);
    }
    db::insert(
        conn,
        "gljournal",
        &id,
        &Cols {
            custno: "",
            status: "Posted",
            refs: "",
        },
        &doc,
        "",
        now,
    )?;
    let rec = db::get(conn, "gljournal", &id)?
        .ok_or_else(|| ApiError::not_found("JournalEntryNotFound", "Entry vanished."))?;
    Ok(Reply::created(
        rec.render(false),
        format!("/api/journalentries/{id}"),
    ))
}

pub async fn create(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    post::handle_post(
        &state,
        &headers,
        "/api/journalentries",
        &bytes,
        |tx, b, n| create_entry(tx, b, n),
    )
}

pub async fn list(
    AxState(state): AxState<Arc<State>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    query::respond(&state, "/api/journalentries", "gljournal", &q, &[], |r| {
        r.render(false)
    })
}

pub async fn one(AxState(state): AxState<Arc<State>>, Path(id): Path<String>) -> Response {
    query::one(
        &state,
        "gljournal",
        id.trim(),
        "JournalEntryNotFound",
        "Journal entry",
        false,
    )
}

/// `GET /api/glaccounts`.
pub async fn accounts(
    AxState(state): AxState<Arc<State>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    query::respond(&state, "/api/glaccounts", "glacnt", &q, &[], |r| {
        Value::Object(r.doc.clone())
    })
}
