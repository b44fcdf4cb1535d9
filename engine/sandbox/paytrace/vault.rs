//! Customer vault: profiles keyed by a merchant-chosen, unique `customer_id` (error 171 when
//! taken), holding one masked card and optionally a masked bank account, created from a card,
//! an earlier transaction or a Protect.js token; updated (including `new_id` renames),
//! deleted (later by_customer use fails with error 30) and exported.

use super::cards::take_protect;
use super::input::{self, Body};
use super::model::{Card, Customer, Inner};
use super::reply::{Errors, Reply, codes, head};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

fn not_found(id: &str) -> Reply {
    Errors::one(
        codes::CUSTOMER_NOT_FOUND,
        format!("Customer ID, {id}, was not found or is incomplete."),
    )
}

fn unique(inner: &Inner, id: &str, errs: &mut Errors) {
    if inner.customers.contains_key(id) {
        errs.add(
            codes::CUSTOMER_UNIQUE,
            "Please provide a unique customer ID.",
        );
    }
}

/// Optional bank account on a profile: masked `direct_deposit_account`, checked routing number.
fn bank(b: &Body, errs: &mut Errors) -> Option<String> {
    let account = input::text(b, "direct_deposit_account")?;
    if !(4..=17).contains(&account.len()) || !account.chars().all(|c| c.is_ascii_digit()) {
        errs.add(
            codes::ACCOUNT,
            "Please provide a valid Checking Account Number.",
        );
    }
    let routing = input::text(b, "transit_routing_number").unwrap_or_default();
    if routing.len() != 9 || !routing.chars().all(|c| c.is_ascii_digit()) {
        errs.add(
            codes::ROUTING,
            "Please provide a valid Transit Routing Number.",
        );
    }
    Some(mask_account(&account))
}

pub fn mask_account(account: &str) -> String {
    let n = account.len();
    format!(
        "{}{}",
        "x".repeat(n.saturating_sub(4)),
        &account[n.saturating_sub(4)..]
    )
}

fn saved(code: u16, verb: &str, c: &Customer) -> Reply {
    let mut m = head(true, code);
    m.insert(
        "status_message".into(),
        json!(format!(
            "The customer profile for {}/{} was successfully {verb}.",
            c.id,
            c.name()
        )),
    );
    m.insert("customer_id".into(), json!(c.id));
    if let Some(card) = &c.card {
        m.insert("masked_card_number".into(), json!(card.masked));
    }
    Reply::Ok(Value::Object(m))
}

fn insert(inner: &mut Inner, id: String, card: Card, account: Option<String>, b: &Body) -> Reply {
    let c = Customer {
        id: id.clone(),
        card: Some(card),
        account,
        fields: input::kept(b),
    };
    let reply = saved(160, "created", &c);
    inner.customers.insert(id, c);
    reply
}

pub fn create(inner: &mut Inner, b: &Body, _now: DateTime<Utc>) -> Reply {
    let mut errs = Errors::default();
    let id = input::customer_id(b, &mut errs);
    if let Some(id) = &id {
        unique(inner, id, &mut errs);
    }
    let card = input::card(b, &mut errs, true);
    let account = bank(b, &mut errs);
    match (id, card, errs.check()) {
        (Some(id), Some(card), Ok(())) => insert(inner, id, card, account, b),
        (_, _, Err(r)) => r,
        _ => Errors::one(
            codes::CARD_NUMBER,
            "Please provide a valid Credit Card Number.",
        ),
    }
}

pub fn create_from_transaction(inner: &mut Inner, b: &Body, _now: DateTime<Utc>) -> Reply {
    let mut errs = Errors::default();
    let id = input::customer_id(b, &mut errs);
    if let Some(id) = &id {
        unique(inner, id, &mut errs);
    }
    let txn = input::transaction_id(b, &mut errs).map(|t| inner.txns.get(&t));
    let card = match txn {
        Some(Some(t)) if t.card.is_some() => t.card.clone(),
        Some(_) => {
            errs.add(
                codes::TRANSACTION_ID,
                "Please provide a valid Transaction ID.",
            );
            None
        }
        None => None,
    };
    let mut fields = txn.flatten().map(|t| t.fields.clone()).unwrap_or_default();
    fields.extend(input::kept(b));
    match (id, card, errs.check()) {
        (Some(id), Some(card), Ok(())) => insert(inner, id, card, None, &fields),
        (_, _, Err(r)) => r,
        _ => Errors::one(
            codes::TRANSACTION_ID,
            "Please provide a valid Transaction ID.",
        ),
    }
}

pub fn pt_protect_create(inner: &mut Inner, b: &Body, now: DateTime<Utc>) -> Reply {
    let mut errs = Errors::default();
    let id = input::customer_id(b, &mut errs);
    if let Some(id) = &id {
        unique(inner, id, &mut errs);
    }
    let token = if errs.is_empty() {
        take_protect(inner, b, now, &mut errs)
    } else {
        None
    };
    match (id, token, errs.check()) {
        (Some(id), Some((card, _)), Ok(())) => insert(inner, id, card, None, b),
        (_, _, Err(r)) => r,
        _ => Errors::one(codes::HPF_TOKEN, "Please provide a valid hpf_token."),
    }
}

pub fn update(inner: &mut Inner, b: &Body, _now: DateTime<Utc>) -> Reply {
    let mut errs = Errors::default();
    let Some(id) = input::customer_id(b, &mut errs) else {
        return errs.reply();
    };
    if !inner.customers.contains_key(&id) {
        return not_found(&id);
    }
    let new_id = input::text(b, "new_id").filter(|n| *n != id);
    if let Some(n) = &new_id {
        unique(inner, n, &mut errs);
    }
    let card = b
        .contains_key("credit_card")
        .then(|| input::card(b, &mut errs, true))
        .flatten();
    let account = bank(b, &mut errs);
    if let Err(r) = errs.check() {
        return r;
    }
    let Some(mut c) = inner.customers.remove(&id) else {
        return not_found(&id);
    };
    if let Some(card) = card {
        c.card = Some(card);
    }
    if account.is_some() {
        c.account = account;
    }
    c.fields.extend(input::kept(b));
    if let Some(n) = new_id {
        c.id = n;
    }
    let reply = saved(161, "updated", &c);
    inner.customers.insert(c.id.clone(), c);
    reply
}

pub fn delete(inner: &mut Inner, b: &Body, _now: DateTime<Utc>) -> Reply {
    let mut errs = Errors::default();
    let Some(id) = input::customer_id(b, &mut errs) else {
        return errs.reply();
    };
    match inner.customers.remove(&id) {
        Some(c) => {
            let mut reply = saved(162, "deleted", &c);
            if let Reply::Ok(Value::Object(m)) = &mut reply {
                m.remove("masked_card_number");
            }
            reply
        }
        None => not_found(&id),
    }
}

fn exported(c: &Customer) -> Value {
    let mut m = Map::new();
    m.insert("customer_id".into(), json!(c.id));
    for k in ["email", "phone"] {
        m.insert(
            k.into(),
            c.fields.get(k).cloned().unwrap_or_else(|| json!("")),
        );
    }
    for k in ["billing_address", "shipping_address"] {
        m.insert(
            k.into(),
            c.fields.get(k).cloned().unwrap_or_else(|| json!({})),
        );
    }
    if let Some(card) = &c.card {
        m.insert(
            "credit_card".into(),
            json!({
                "masked_number": card.masked,
                "expiration_month": card.exp_month,
                "expiration_year": card.exp_year,
            }),
        );
    }
    Value::Object(m)
}

pub fn export(inner: &mut Inner, b: &Body, _now: DateTime<Utc>) -> Reply {
    let customers: Vec<Value> = match input::text(b, "customer_id") {
        Some(id) => match inner.customers.get(&id) {
            Some(c) => vec![exported(c)],
            None => return not_found(&id),
        },
        None => inner.customers.values().map(exported).collect(),
    };
    let mut m = super::reply::export_head();
    m.insert("customers".into(), Value::Array(customers));
    Reply::Ok(Value::Object(m))
}
