//! ACH checks: sale and hold by bank account or vault customer (120, or 125 with
//! `ach_code`/`ach_message` when the bank refuses), fund a held check and void an unsettled
//! one (124), refund a settled one (122, cumulative, bounded). Only the masked account number
//! is kept. Triggers: cents .01 -> R01 insufficient funds, .03 -> R03 no account.

use super::cards::finish;
use super::input::{self, Body};
use super::model::{Inner, Kind, Status, Txn};
use super::reply::{Errors, Reply, codes, head};
use super::vault::mask_account;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};

fn reply(code: u16, id: u64, ach: Option<(&str, &str)>) -> Reply {
    let ok = code != 125;
    let mut m = head(ok, code);
    m.insert("check_transaction_id".into(), json!(id));
    m.insert("external_transaction_id".into(), json!(""));
    if let Some((c, msg)) = ach {
        m.insert("ach_code".into(), json!(c));
        m.insert("ach_message".into(), json!(msg));
    }
    finish(ok, m)
}

/// The masked account from `check{account_number, routing_number}`.
fn account(b: &Body, errs: &mut Errors) -> Option<String> {
    let check = b.get("check").and_then(Value::as_object);
    let acct = check.and_then(|c| input::text(c, "account_number"));
    let routing = check.and_then(|c| input::text(c, "routing_number"));
    let acct =
        acct.filter(|a| (4..=17).contains(&a.len()) && a.chars().all(|c| c.is_ascii_digit()));
    if acct.is_none() {
        errs.add(
            codes::ACCOUNT,
            "Please provide a valid Checking Account Number.",
        );
    }
    if !routing.is_some_and(|r| r.len() == 9 && r.chars().all(|c| c.is_ascii_digit())) {
        errs.add(
            codes::ROUTING,
            "Please provide a valid Transit Routing Number.",
        );
    }
    acct.map(|a| mask_account(&a))
}

fn customer_account(inner: &Inner, b: &Body, errs: &mut Errors) -> Option<(String, String)> {
    let id = input::customer_id(b, errs)?;
    match inner.customers.get(&id).and_then(|c| c.account.clone()) {
        Some(a) => Some((a, id)),
        None => {
            errs.add(
                codes::CUSTOMER_NOT_FOUND,
                format!("Customer ID, {id}, was not found or is incomplete."),
            );
            None
        }
    }
}

fn start(inner: &mut Inner, b: &Body, now: DateTime<Utc>, kind: Kind, by_customer: bool) -> Reply {
    let mut errs = Errors::default();
    let amount = input::amount(b, &mut errs, true);
    let acct = if by_customer {
        customer_account(inner, b, &mut errs)
    } else {
        account(b, &mut errs).map(|a| (a, String::new()))
    };
    let (Some(amount), Some((acct, customer_id)), true) = (amount, acct, errs.is_empty()) else {
        return errs.reply();
    };
    let cents = (amount * Decimal::from(100)) % Decimal::from(100);
    let ach = if cents == Decimal::from(1) {
        Some(("R01", "Insufficient Funds"))
    } else if cents == Decimal::from(3) {
        Some(("R03", "No Account/Unable to Locate Account"))
    } else {
        None
    };
    let (code, status) = match (ach, kind) {
        (Some(_), _) => (125, Status::Declined),
        (None, Kind::CheckHold) => (120, Status::Authorized),
        _ => (120, Status::PendingSettlement),
    };
    let id = inner.new_id();
    inner.txns.insert(
        id,
        check_txn(id, kind, status, amount, acct, customer_id, b, code, now),
    );
    reply(code, id, ach)
}

#[allow(clippy::too_many_arguments)]
fn check_txn(
    id: u64,
    kind: Kind,
    status: Status,
    amount: Decimal,
    account: String,
    customer_id: String,
    b: &Body,
    code: u16,
    now: DateTime<Utc>,
) -> Txn {
    Txn {
        id,
        kind,
        status,
        amount,
        refunded: Decimal::ZERO,
        card: None,
        account: Some(account),
        fields: input::kept(b),
        customer_id,
        response_code: code,
        approval_code: String::new(),
        approval_message: String::new(),
        avs_response: String::new(),
        csc_response: String::new(),
        created: now,
        settled: None,
        batch: None,
        original: None,
        level_three_lines: None,
    }
}

pub fn sale_by_account(inner: &mut Inner, b: &Body, now: DateTime<Utc>) -> Reply {
    start(inner, b, now, Kind::CheckSale, false)
}
pub fn sale_by_customer(inner: &mut Inner, b: &Body, now: DateTime<Utc>) -> Reply {
    start(inner, b, now, Kind::CheckSale, true)
}
pub fn hold_by_account(inner: &mut Inner, b: &Body, now: DateTime<Utc>) -> Reply {
    start(inner, b, now, Kind::CheckHold, false)
}
pub fn hold_by_customer(inner: &mut Inner, b: &Body, now: DateTime<Utc>) -> Reply {
    start(inner, b, now, Kind::CheckHold, true)
}

fn find<'a>(inner: &'a mut Inner, b: &Body) -> Result<&'a mut Txn, Reply> {
    let id = input::id(b, "check_transaction_id");
    match id.and_then(|id| inner.txns.get_mut(&id)) {
        Some(t) if t.kind.is_check() => Ok(t),
        _ => Err(not_manageable(id.unwrap_or(0))),
    }
}

fn not_manageable(id: u64) -> Reply {
    Errors::one(
        codes::CHECK_ID,
        format!(
            "The Check ID {id} was not found or could not be managed. It may already be voided or settled."
        ),
    )
}

pub fn fund(inner: &mut Inner, b: &Body, _now: DateTime<Utc>) -> Reply {
    let mut errs = Errors::default();
    let amount = input::amount(b, &mut errs, false);
    let t = match find(inner, b) {
        Ok(t) => t,
        Err(r) => return r,
    };
    if let Err(r) = errs.check() {
        return r;
    }
    if t.kind != Kind::CheckHold || t.status != Status::Authorized {
        return not_manageable(t.id);
    }
    let amount = amount.unwrap_or(t.amount);
    if amount > t.amount {
        return Errors::one(
            codes::AMOUNT,
            "The fund amount may not exceed the held amount.",
        );
    }
    t.amount = amount;
    t.status = Status::PendingSettlement;
    reply(124, t.id, None)
}

pub fn void(inner: &mut Inner, b: &Body, _now: DateTime<Utc>) -> Reply {
    let t = match find(inner, b) {
        Ok(t) => t,
        Err(r) => return r,
    };
    if !matches!(t.status, Status::Authorized | Status::PendingSettlement) {
        return not_manageable(t.id);
    }
    t.status = Status::Voided;
    let (id, original, amount) = (t.id, t.original, t.amount);
    if let Some(orig) = original.and_then(|o| inner.txns.get_mut(&o)) {
        orig.refunded -= amount;
    }
    reply(124, id, None)
}

pub fn refund(inner: &mut Inner, b: &Body, now: DateTime<Utc>) -> Reply {
    let mut errs = Errors::default();
    let amount = input::amount(b, &mut errs, false);
    let t = match find(inner, b) {
        Ok(t) => t,
        Err(r) => return r,
    };
    if let Err(r) = errs.check() {
        return r;
    }
    if t.kind == Kind::CheckRefund || t.status != Status::Settled {
        return not_manageable(t.id);
    }
    let available = t.amount - t.refunded;
    let amount = amount.unwrap_or(available);
    if amount > available || available <= Decimal::ZERO {
        return Errors::one(
            codes::REFUND_TOO_MUCH,
            format!(
                "The refund amount may not exceed the amount available to refund ({available})."
            ),
        );
    }
    t.refunded += amount;
    let (orig, acct, customer, fields) = (
        t.id,
        t.account.clone().unwrap_or_default(),
        t.customer_id.clone(),
        t.fields.clone(),
    );
    let id = inner.new_id();
    let mut r = check_txn(
        id,
        Kind::CheckRefund,
        Status::PendingSettlement,
        amount,
        acct,
        customer,
        &fields,
        122,
        now,
    );
    r.original = Some(orig);
    inner.txns.insert(id, r);
    reply(122, id, None)
}
