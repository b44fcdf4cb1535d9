//! Settlement batches: closing one (by the control call, or daily at a configured Pacific time
//! on the emulator clock) moves every transaction pending settlement to settled under a new
//! sequential batch number; `batches/export_one` (one batch, or the pending one when no number
//! is given), `batches/export` (closed in a date range) and `batches/transaction_list`.
//! Checks settle at the same close but are not listed in card batches.

use super::export::{money_number, range, record};
use super::input::{self, Body};
use super::model::{Batch, Inner, Kind, Status, Txn, pacific_text, parse_hhmm};
use super::reply::{Errors, Reply, codes, export_head};
use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::America::Los_Angeles;
use rust_decimal::Decimal;
use serde_json::{Value, json};

/// Close the pending batch. Without pending card transactions no batch is made unless
/// `allow_empty`. Returns the new batch's number.
pub fn close(inner: &mut Inner, now: DateTime<Utc>, allow_empty: bool) -> Option<u64> {
    let pending: Vec<u64> = inner
        .txns
        .values()
        .filter(|t| t.status == Status::PendingSettlement && t.created <= now)
        .map(|t| t.id)
        .collect();
    let cards: Vec<u64> = pending
        .iter()
        .copied()
        .filter(|id| inner.txns.get(id).is_some_and(|t| !t.kind.is_check()))
        .collect();
    let number = (!cards.is_empty() || allow_empty).then(|| inner.new_batch_number());
    for id in &pending {
        if let Some(t) = inner.txns.get_mut(id) {
            t.status = Status::Settled;
            t.settled = Some(now);
            t.batch = number.filter(|_| !t.kind.is_check());
        }
    }
    if let Some(n) = number {
        inner.batches.push(Batch {
            number: n,
            closed: now,
            txns: cards,
        });
    }
    inner.last_close = Some(now);
    number
}

/// The daily close, when configured and due (called whenever the state is locked): the most
/// recent close time at or before `now`, if no close ran since.
pub fn close_if_due(inner: &mut Inner, now: DateTime<Utc>) {
    let Some(at) = inner.cfg.daily_close.as_deref().and_then(parse_hhmm) else {
        return;
    };
    let today = now.with_timezone(&Los_Angeles).date_naive();
    let due_on = |day: chrono::NaiveDate| {
        Los_Angeles
            .from_local_datetime(&day.and_time(at))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    };
    let due = match due_on(today) {
        Some(d) if d <= now => Some(d),
        _ => today.pred_opt().and_then(due_on),
    };
    if let Some(due) = due.filter(|d| *d <= now)
        && inner.last_close.is_none_or(|last| last < due)
    {
        close(inner, due, false);
    }
}

fn summary<'a>(number: u64, created: String, txns: impl Iterator<Item = &'a Txn>) -> Value {
    let (mut count, mut sales, mut sales_n, mut refunds, mut refunds_n) =
        (0u64, Decimal::ZERO, 0u64, Decimal::ZERO, 0u64);
    for t in txns {
        count += 1;
        if t.kind == Kind::Refund {
            refunds += t.amount;
            refunds_n += 1;
        } else {
            sales += t.amount;
            sales_n += 1;
        }
    }
    json!({
        "number": number,
        "created": created,
        "transaction_count": count,
        "net_amount": money_number(sales - refunds),
        "sales_count": sales_n,
        "sales_amount": money_number(sales),
        "refund_count": refunds_n,
        "refund_amount": money_number(refunds),
    })
}

fn batch_summary(inner: &Inner, b: &Batch) -> Value {
    summary(
        b.number,
        pacific_text(b.closed),
        b.txns.iter().filter_map(|id| inner.txns.get(id)),
    )
}

fn find_batch<'a>(inner: &'a Inner, b: &Body) -> Result<&'a Batch, Reply> {
    let n = input::id(b, "batch_number");
    n.and_then(|n| inner.batches.iter().find(|x| x.number == n))
        .ok_or_else(|| Errors::one(codes::BATCH, "Please provide a valid Batch Number."))
}

pub fn export_one(inner: &mut Inner, b: &Body, _now: DateTime<Utc>) -> Reply {
    let batch = if b.get("batch_number").is_some_and(|v| !v.is_null()) {
        match find_batch(inner, b) {
            Ok(x) => batch_summary(inner, x),
            Err(r) => return r,
        }
    } else {
        let pending = inner
            .txns
            .values()
            .filter(|t| t.status == Status::PendingSettlement && !t.kind.is_check());
        summary(inner.pending_batch_number(), String::new(), pending)
    };
    let mut m = export_head();
    m.insert("batch".into(), batch);
    Reply::Ok(Value::Object(m))
}

pub fn export(inner: &mut Inner, b: &Body, _now: DateTime<Utc>) -> Reply {
    let mut errs = Errors::default();
    let Some((start, end)) = range(b, &mut errs) else {
        return errs.reply();
    };
    let batches: Vec<Value> = inner
        .batches
        .iter()
        .filter(|x| x.closed >= start && x.closed < end)
        .map(|x| batch_summary(inner, x))
        .collect();
    let mut m = export_head();
    m.insert("batches".into(), Value::Array(batches));
    Reply::Ok(Value::Object(m))
}

pub fn transaction_list(inner: &mut Inner, b: &Body, _now: DateTime<Utc>) -> Reply {
    let batch = match find_batch(inner, b) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let records: Vec<Value> = batch
        .txns
        .iter()
        .filter_map(|id| inner.txns.get(id))
        .map(|t| record(t, false))
        .collect();
    let mut m = export_head();
    m.insert("transactions".into(), Value::Array(records));
    Reply::Ok(Value::Object(m))
}
