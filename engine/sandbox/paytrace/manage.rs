//! The card transaction state machine after the first call: capture (authorized -> pending
//! settlement, at most the authorized amount), void (only before settlement; voiding a refund
//! gives the amount back to the original) and refund by original transaction (after
//! settlement unless `refund_unsettled`, cumulative and never more than the original).

use super::cards::{new_refund, pick};
use super::input::{self, Body};
use super::model::{Inner, Kind, Status, Txn};
use super::reply::{Errors, Reply, codes, head};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};

/// The card transaction named by `transaction_id`, or the error envelope.
fn find<'a>(inner: &'a mut Inner, b: &Body, errs: &mut Errors) -> Result<&'a mut Txn, Reply> {
    let Some(id) = input::transaction_id(b, errs) else {
        return Err(std::mem::take(errs).reply());
    };
    match inner.txns.get_mut(&id) {
        Some(t) if !t.kind.is_check() => Ok(t),
        _ => Err(Errors::one(
            codes::TRANSACTION_ID,
            "Please provide a valid Transaction ID.",
        )),
    }
}

fn done(code: u16, id: u64) -> Reply {
    let mut m = head(true, code);
    m.insert("transaction_id".into(), json!(id));
    m.insert("external_transaction_id".into(), json!(""));
    Reply::Ok(Value::Object(m))
}

pub fn capture(inner: &mut Inner, b: &Body, _now: DateTime<Utc>) -> Reply {
    let mut errs = Errors::default();
    let amount = input::amount(b, &mut errs, false);
    let txn = match find(inner, b, &mut errs) {
        Ok(t) => t,
        Err(r) => return r,
    };
    if let Err(r) = errs.check() {
        return r;
    }
    if txn.kind != Kind::Authorization || txn.status != Status::Authorized {
        return Errors::one(
            codes::CAPTURE_STATE,
            format!(
                "Transaction ID {} cannot be captured; it is not an open authorization.",
                txn.id
            ),
        );
    }
    let amount = amount.unwrap_or(txn.amount);
    if amount > txn.amount {
        return Errors::one(
            codes::CAPTURE_TOO_MUCH,
            format!(
                "The capture amount may not exceed the authorized amount of {}.",
                txn.amount
            ),
        );
    }
    txn.amount = amount;
    txn.status = Status::PendingSettlement;
    done(112, txn.id)
}

pub fn void(inner: &mut Inner, b: &Body, _now: DateTime<Utc>) -> Reply {
    let mut errs = Errors::default();
    let txn = match find(inner, b, &mut errs) {
        Ok(t) => t,
        Err(r) => return r,
    };
    match txn.status {
        Status::PendingSettlement | Status::Authorized => {}
        Status::Settled => {
            return Errors::one(
                codes::VOID_SETTLED,
                format!(
                    "Transaction ID {} has already settled and cannot be voided; refund it instead.",
                    txn.id
                ),
            );
        }
        Status::Voided | Status::Declined => {
            return Errors::one(
                codes::VOID_SETTLED,
                format!(
                    "Transaction ID {} is {} and cannot be voided.",
                    txn.id,
                    txn.status.label().to_lowercase()
                ),
            );
        }
    }
    txn.status = Status::Voided;
    let (id, original, amount) = (txn.id, txn.original, txn.amount);
    if let Some(orig) = original.and_then(|o| inner.txns.get_mut(&o)) {
        orig.refunded -= amount;
    }
    done(109, id)
}

pub fn refund(inner: &mut Inner, b: &Body, now: DateTime<Utc>) -> Reply {
    let mut errs = Errors::default();
    let amount = input::amount(b, &mut errs, false);
    let allow_unsettled = inner.cfg.refund_unsettled;
    let test = inner.cfg.test_mode;
    let txn = match find(inner, b, &mut errs) {
        Ok(t) => t,
        Err(r) => return r,
    };
    if let Err(r) = errs.check() {
        return r;
    }
    let refundable = matches!(txn.kind, Kind::Sale | Kind::Authorization);
    match txn.status {
        Status::Settled if refundable => {}
        Status::PendingSettlement if refundable && allow_unsettled => {}
        Status::PendingSettlement if refundable => {
            return Errors::one(
                codes::REFUND_UNSETTLED,
                format!(
                    "Transaction ID {} has not settled yet; void it instead.",
                    txn.id
                ),
            );
        }
        _ => {
            return Errors::one(
                codes::TRANSACTION_ID,
                "Please provide a valid Transaction ID.",
            );
        }
    }
    let available = txn.amount - txn.refunded;
    let amount = amount.unwrap_or(available);
    if amount > available || available <= Decimal::ZERO {
        return Errors::one(
            codes::REFUND_TOO_MUCH,
            format!(
                "The refund amount may not exceed the amount available to refund ({available})."
            ),
        );
    }
    txn.refunded += amount;
    let (orig_id, card, fields, customer) = (
        txn.id,
        txn.card.clone(),
        txn.fields.clone(),
        txn.customer_id.clone(),
    );
    let code = pick(test, 106, 108);
    let id = inner.new_id();
    let mut r = new_refund(id, amount, card, Some(orig_id), fields, code, now);
    r.customer_id = customer;
    inner.txns.insert(id, r);
    done(code, id)
}
