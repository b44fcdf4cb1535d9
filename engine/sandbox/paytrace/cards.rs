//! Card sales and authorizations (keyed, vault customer, Protect.js token) and the keyed
//! stand-alone refund, plus `route`, which turns an operation into a POST handler: read the
//! body, lock the state, run, reply. A sale starts pending settlement, an authorization starts
//! authorized; declines keep their transaction id and show up in exports as DECLINED.

use super::State;
use super::input::{self, Body};
use super::model::{Card, Inner, Kind, Status, Txn};
use super::reply::{Errors, Reply, codes, head};
use super::triggers::{self, Verdict};
use axum::body::Bytes;
use axum::extract::State as Extract;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::routing::{MethodRouter, post};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// An operation: the locked data, the request body, the emulator's now.
pub type Op = fn(&mut Inner, &Body, DateTime<Utc>) -> Reply;

/// A POST route running `op`.
pub fn route(op: Op) -> MethodRouter<Arc<State>> {
    post(
        move |Extract(state): Extract<Arc<State>>, body: Result<Bytes, BytesRejection>| async move {
            let now = state.clock.now();
            let parsed = input::parse(body);
            let mut inner = state.lock();
            let status = inner.cfg.decline_status;
            let reply = match parsed {
                Ok(b) => op(&mut inner, &b, now),
                Err(r) => r,
            };
            drop(inner);
            reply.render(status)
        },
    )
}

pub fn sale_keyed(inner: &mut Inner, b: &Body, now: DateTime<Utc>) -> Reply {
    keyed(inner, b, now, Kind::Sale)
}

pub fn auth_keyed(inner: &mut Inner, b: &Body, now: DateTime<Utc>) -> Reply {
    keyed(inner, b, now, Kind::Authorization)
}

pub fn sale_by_customer(inner: &mut Inner, b: &Body, now: DateTime<Utc>) -> Reply {
    by_customer(inner, b, now, Kind::Sale)
}

pub fn auth_by_customer(inner: &mut Inner, b: &Body, now: DateTime<Utc>) -> Reply {
    by_customer(inner, b, now, Kind::Authorization)
}

fn keyed(inner: &mut Inner, b: &Body, now: DateTime<Utc>, kind: Kind) -> Reply {
    let mut errs = Errors::default();
    let amount = input::amount(b, &mut errs, true);
    let card = input::card(b, &mut errs, true);
    let (Some(amount), Some(card), true) = (amount, card, errs.is_empty()) else {
        return errs.reply();
    };
    let csc = input::text(b, "csc");
    authorize(
        inner,
        b,
        now,
        kind,
        amount,
        card,
        csc.as_deref(),
        String::new(),
    )
}

fn by_customer(inner: &mut Inner, b: &Body, now: DateTime<Utc>, kind: Kind) -> Reply {
    let mut errs = Errors::default();
    let amount = input::amount(b, &mut errs, true);
    let id = input::customer_id(b, &mut errs);
    let card = id.as_ref().and_then(|id| {
        let card = inner.customers.get(id).and_then(|c| c.card.clone());
        if card.is_none() {
            errs.add(
                codes::CUSTOMER_NOT_FOUND,
                format!("Customer ID, {id}, was not found or is incomplete."),
            );
        }
        card
    });
    let (Some(amount), Some(card), Some(id), true) = (amount, card, id, errs.is_empty()) else {
        return errs.reply();
    };
    let csc = input::text(b, "csc");
    authorize(inner, b, now, kind, amount, card, csc.as_deref(), id)
}

pub fn sale_pt_protect(inner: &mut Inner, b: &Body, now: DateTime<Utc>) -> Reply {
    let mut errs = Errors::default();
    let amount = input::amount(b, &mut errs, true);
    let token = take_protect(inner, b, now, &mut errs);
    let (Some(amount), Some((card, csc)), true) = (amount, token, errs.is_empty()) else {
        return errs.reply();
    };
    let csc = csc.then_some("999");
    authorize(inner, b, now, Kind::Sale, amount, card, csc, String::new())
}

/// Consume a one-time Protect.js token: the card and whether a CSC was captured with it.
pub fn take_protect(
    inner: &mut Inner,
    b: &Body,
    now: DateTime<Utc>,
    errs: &mut Errors,
) -> Option<(Card, bool)> {
    let token = input::text(b, "hpf_token").unwrap_or_default();
    let key = input::text(b, "enc_key").unwrap_or_default();
    match inner.protect.remove(&token) {
        Some(p) if p.expires > now && p.enc_key == key => Some((p.card, p.csc_given)),
        _ => {
            errs.add(
                codes::HPF_TOKEN,
                "Please provide a valid hpf_token and enc_key; tokens are single-use and expire.",
            );
            None
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub fn authorize(
    inner: &mut Inner,
    b: &Body,
    now: DateTime<Utc>,
    kind: Kind,
    amount: Decimal,
    card: Card,
    csc: Option<&str>,
    customer_id: String,
) -> Reply {
    let zip = input::zip(b);
    let out = triggers::decide(amount, &card, csc, zip.as_deref(), now);
    let test = inner.cfg.test_mode;
    let (code, status, ok) = match out.verdict {
        Verdict::ServerError => {
            let mut errs = Errors::default();
            errs.add(
                909,
                "Internal server error; the transaction was not processed.",
            );
            return Reply::Raw(StatusCode::INTERNAL_SERVER_ERROR, errs.body());
        }
        Verdict::Approved if kind == Kind::Sale => {
            (pick(test, 101, 104), Status::PendingSettlement, true)
        }
        Verdict::Approved => (pick(test, 101, 104), Status::Authorized, true),
        Verdict::Declined(_) => (pick(test, 102, 105), Status::Declined, false),
        Verdict::AutoVoided => (103, Status::Voided, false),
    };
    let approval_code = if matches!(out.verdict, Verdict::Declined(_)) {
        String::new()
    } else {
        format!("TAS{:03}", inner.random() % 1000)
    };
    let id = inner.new_id();
    let masked = card.masked.clone();
    let txn = Txn {
        id,
        kind,
        status,
        amount,
        refunded: Decimal::ZERO,
        card: Some(card),
        account: None,
        fields: input::kept(b),
        customer_id,
        response_code: code,
        approval_code: approval_code.clone(),
        approval_message: out.approval_message.clone(),
        avs_response: out.avs_response.clone(),
        csc_response: out.csc_response.clone(),
        created: now,
        settled: None,
        batch: None,
        original: None,
        level_three_lines: None,
    };
    inner.txns.insert(id, txn);
    let mut m = head(ok, code);
    m.insert("transaction_id".into(), json!(id));
    m.insert("approval_code".into(), json!(approval_code));
    m.insert("approval_message".into(), json!(out.approval_message));
    m.insert("avs_response".into(), json!(out.avs_response));
    m.insert("csc_response".into(), json!(out.csc_response));
    m.insert("external_transaction_id".into(), json!(""));
    m.insert("masked_card_number".into(), json!(masked));
    finish(ok, m)
}

pub fn pick(test: bool, live: u16, test_code: u16) -> u16 {
    if test { test_code } else { live }
}

pub fn finish(ok: bool, m: Map<String, Value>) -> Reply {
    if ok {
        Reply::Ok(Value::Object(m))
    } else {
        Reply::Fail(Value::Object(m))
    }
}

/// `refund/keyed`: money back to a card with no original transaction.
pub fn refund_keyed(inner: &mut Inner, b: &Body, now: DateTime<Utc>) -> Reply {
    let mut errs = Errors::default();
    let amount = input::amount(b, &mut errs, true);
    let card = input::card(b, &mut errs, true);
    let (Some(amount), Some(card), true) = (amount, card, errs.is_empty()) else {
        return errs.reply();
    };
    let code = pick(inner.cfg.test_mode, 106, 108);
    let id = inner.new_id();
    let masked = card.masked.clone();
    let txn = new_refund(id, amount, Some(card), None, input::kept(b), code, now);
    inner.txns.insert(id, txn);
    let mut m = head(true, code);
    m.insert("transaction_id".into(), json!(id));
    m.insert("external_transaction_id".into(), json!(""));
    m.insert("masked_card_number".into(), json!(masked));
    Reply::Ok(Value::Object(m))
}

/// A refund transaction, pending settlement.
pub fn new_refund(
    id: u64,
    amount: Decimal,
    card: Option<Card>,
    original: Option<u64>,
    fields: Map<String, Value>,
    code: u16,
    now: DateTime<Utc>,
) -> Txn {
    Txn {
        id,
        kind: Kind::Refund,
        status: Status::PendingSettlement,
        amount,
        refunded: Decimal::ZERO,
        card,
        account: None,
        fields,
        customer_id: String::new(),
        response_code: code,
        approval_code: String::new(),
        approval_message: String::new(),
        avs_response: String::new(),
        csc_response: String::new(),
        created: now,
        settled: None,
        batch: None,
        original,
        level_three_lines: None,
    }
}
