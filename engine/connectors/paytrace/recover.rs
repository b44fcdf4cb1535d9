//! What to do when a PayTrace write was sent and no answer came back. PayTrace v1 has no
//! idempotency key, so a blind retry could charge twice. Sales, authorizations and keyed
//! refunds are looked up in the export by `invoice_id`, amount and time (created no earlier
//! than the request, less a clock-skew allowance); voids and captures by the transaction's
//! status. Found: the original outcome, marked `recovered: true`. Not found: retryable, since
//! PayTrace has no such charge. Operations that cannot be looked up and move money (ACH,
//! refunds of a transaction) end as permanent errors for a person to check: never a retry.

use super::client::PayTrace;
use super::errors;
use crate::connectors::{ConnectorError, Operation};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::America::Los_Angeles;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::str::FromStr;

/// Response codes of approved transactions (live and test mode).
const APPROVED: &[i64] = &[101, 104, 106, 108, 109, 112];

pub async fn after_lost_response(
    client: &PayTrace,
    operation: &Operation,
    input: &Value,
    sent_at: DateTime<Utc>,
    lost: &str,
) -> Result<Value, ConnectorError> {
    let name = operation.name.as_str();
    if name.starts_with("sale_") || name.starts_with("authorization_") || name == "refund_keyed" {
        by_invoice(client, input, sent_at, lost).await
    } else if name == "void" || name == "capture" {
        by_status(client, name, input, lost).await
    } else if name.starts_with("customer_") || name.starts_with("level_three_") {
        // Repeating these cannot move money: a second create is refused as a duplicate.
        Err(ConnectorError::Retryable {
            message: lost.to_string(),
            retry_after: None,
        })
    } else {
        Err(ConnectorError::Permanent {
            message: format!(
                "{lost}; `{name}` may have been processed and PayTrace cannot be searched for it: check PayTrace before replaying"
            ),
        })
    }
}

/// Find the charge by invoice id, amount and time.
async fn by_invoice(
    client: &PayTrace,
    input: &Value,
    sent_at: DateTime<Utc>,
    lost: &str,
) -> Result<Value, ConnectorError> {
    let invoice = input
        .get("invoice_id")
        .and_then(Value::as_str)
        .unwrap_or("");
    let amount = input.get("amount").and_then(decimal);
    let (false, Some(amount)) = (invoice.is_empty(), amount) else {
        return Err(ConnectorError::Permanent {
            message: format!(
                "{lost}; without an invoice_id the charge cannot be looked up: check PayTrace before replaying"
            ),
        });
    };
    let earliest =
        sent_at - chrono::Duration::from_std(client.cfg.lookup_window).unwrap_or_default();
    let day = |t: DateTime<Utc>| t.with_timezone(&Los_Angeles).format("%m/%d/%Y").to_string();
    let query = json!({
        "start_date": day(earliest),
        "end_date": day(Utc::now()),
        "including_text": invoice,
    });
    let records = export(client, "transactions_by_date_range", &query, lost).await?;
    let matches: Vec<&Value> = records
        .iter()
        .filter(|r| r.get("invoice_id").and_then(Value::as_str) == Some(invoice))
        .filter(|r| r.get("amount").and_then(decimal) == Some(amount))
        .filter(|r| created(r).is_some_and(|c| c >= earliest))
        .collect();
    match matches.as_slice() {
        [] => Err(ConnectorError::NotSent {
            message: format!("{lost}; PayTrace has no such charge, so it is safe to send again"),
            retry_after: None,
        }),
        [one] => as_outcome(one),
        many => {
            let ids: Vec<String> = many
                .iter()
                .map(|r| {
                    r.get("transaction_id")
                        .map(Value::to_string)
                        .unwrap_or_default()
                })
                .collect();
            Err(ConnectorError::Permanent {
                message: format!(
                    "{lost}; several PayTrace transactions match invoice `{invoice}` and amount {amount} ({}): check them by hand",
                    ids.join(", ")
                ),
            })
        }
    }
}

/// A void or capture: did the transaction reach the state the call asked for?
async fn by_status(
    client: &PayTrace,
    name: &str,
    input: &Value,
    lost: &str,
) -> Result<Value, ConnectorError> {
    let Some(id) = input.get("transaction_id").cloned() else {
        return Err(ConnectorError::Permanent {
            message: lost.to_string(),
        });
    };
    let records = export(
        client,
        "transaction_by_id",
        &json!({"transaction_id": id}),
        lost,
    )
    .await?;
    let status = records
        .first()
        .and_then(|r| r.get("status_message"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let done = match name {
        "void" => status == "Voided",
        _ => status == "Pending Settlement" || status == "Settled",
    };
    if done {
        let code = if name == "void" { 109 } else { 112 };
        Ok(
            json!({"success": true, "response_code": code, "transaction_id": id,
            "status_message": status, "recovered": true}),
        )
    } else {
        Err(ConnectorError::Retryable {
            message: format!(
                "{lost}; the transaction is still `{status}`, so it is safe to send again"
            ),
            retry_after: None,
        })
    }
}

/// Run an export operation and return its `transactions`.
async fn export(
    client: &PayTrace,
    operation: &str,
    query: &Value,
    lost: &str,
) -> Result<Vec<Value>, ConnectorError> {
    let (_, op) =
        crate::connectors::operation(&format!("paytrace.{operation}")).ok_or_else(|| {
            ConnectorError::Permanent {
                message: format!("{lost}; the lookup operation `{operation}` is missing"),
            }
        })?;
    let answer = match client.call_raw(op, query).await? {
        Ok(a) => a,
        Err(e) => {
            // The lookup itself failed: nothing is known, so nothing may be retried blindly;
            // the runtime retries the whole call later, which starts with a lookup again.
            return Err(ConnectorError::Retryable {
                message: format!("{lost}; the lookup failed too ({})", e.message()),
                retry_after: None,
            });
        }
    };
    match errors::classify(&answer) {
        Ok(body) => Ok(body
            .get("transactions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()),
        Err(ConnectorError::NotFound { .. }) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// The found export record as the operation's own outcome.
fn as_outcome(record: &Value) -> Result<Value, ConnectorError> {
    let code = record
        .get("status_code")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let field = |k: &str| record.get(k).cloned().unwrap_or(Value::Null);
    let out = json!({
        "success": APPROVED.contains(&code),
        "response_code": code,
        "status_message": field("status_message"),
        "transaction_id": field("transaction_id"),
        "approval_code": field("approval_code"),
        "approval_message": field("approval_message"),
        "avs_response": field("avs_response"),
        "csc_response": field("csc_response"),
        "masked_card_number": record.pointer("/credit_card/masked_number").cloned().unwrap_or(Value::Null),
        "recovered": true,
    });
    if APPROVED.contains(&code) {
        Ok(out)
    } else {
        errors::classify(&crate::connectors::transport::Answer {
            status: 200,
            retry_after: None,
            headers: Default::default(),
            body: out,
        })
    }
}

fn decimal(v: &Value) -> Option<Decimal> {
    match v {
        Value::String(s) => Decimal::from_str(s.trim()).ok(),
        Value::Number(n) => Decimal::from_str(&n.to_string()).ok(),
        _ => None,
    }
}

/// `created.at`: `11/25/2026 11:42:10 PM`, Pacific time without an offset.
fn created(record: &Value) -> Option<DateTime<Utc>> {
    let text = record.pointer("/created/at")?.as_str()?;
    let local = NaiveDateTime::parse_from_str(text.trim(), "%m/%d/%Y %I:%M:%S %p").ok()?;
    Some(
        Los_Angeles
            .from_local_datetime(&local)
            .earliest()?
            .with_timezone(&Utc),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_times_and_amounts_parse_exactly() {
        let r = json!({"created": {"at": "11/25/2026 11:42:10 PM"}, "amount": 1234.50});
        let t = created(&r).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-26T07:42:10+00:00");
        assert_eq!(decimal(&r["amount"]), Some(Decimal::new(123450, 2)));
        assert_eq!(decimal(&json!("10.00")), Some(Decimal::new(10, 0)));
    }
}
