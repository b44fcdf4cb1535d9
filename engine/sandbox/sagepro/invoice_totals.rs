//! Invoice arithmetic: parsing invoice lines (ExtendedPrice = Quantity x UnitPrice, rounded to
//! cents) and deriving Subtotal, Total, Balance and Status from lines, Tax, Freight, AmountPaid
//! and CreditsApplied. A void invoice keeps its totals but owes nothing.

use super::input::{Input, doc_money, money, parse_money};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

const LINE_FIELDS: &[&str] = &[
    "LineNo",
    "ItemID",
    "Description",
    "Quantity",
    "UnitPrice",
    "ExtendedPrice",
    "GLAccountID",
];

pub fn text(doc: &Map<String, Value>, f: &str) -> String {
    doc.get(f)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Parse invoice lines into their stored form.
pub fn lines(inp: &mut Input<'_>, required: bool) -> Option<Vec<Value>> {
    let objs = inp.objects("Lines", required, 1)?;
    let mut out = Vec::new();
    for (i, l) in objs.into_iter().enumerate() {
        let mut li = Input::nested(l, format!("Lines[{i}]."));
        li.only(LINE_FIELDS);
        let qty = match l.get("Quantity") {
            None => {
                li.fail("Quantity", "Required", "Quantity is required.");
                None
            }
            Some(v) => parse_money(v).filter(|q| *q > Decimal::ZERO).or_else(|| {
                li.fail(
                    "Quantity",
                    "OutOfRange",
                    "Quantity must be a number above zero.",
                );
                None
            }),
        };
        let price = li.money("UnitPrice", true, false);
        let item = li.string("ItemID", false, 40).unwrap_or_default();
        let desc = li.string("Description", false, 200).unwrap_or_default();
        let gl = li
            .string("GLAccountID", false, 20)
            .unwrap_or_else(|| "4000".into());
        if let (Some(q), Some(p)) = (qty, price) {
            out.push(json!({
                "LineNo": i + 1, "ItemID": item, "Description": desc,
                "Quantity": q.normalize().to_string(), "UnitPrice": money(p),
                "ExtendedPrice": money((q * p).round_dp(2)), "GLAccountID": gl,
            }));
        }
        inp.absorb(li);
    }
    Some(out)
}

/// Recompute Subtotal, Total, Balance and Status from lines and applied amounts.
pub fn recompute(doc: &mut Map<String, Value>) {
    let subtotal: Decimal = doc
        .get("Lines")
        .and_then(Value::as_array)
        .map(|ls| {
            ls.iter()
                .filter_map(|l| l.get("ExtendedPrice").and_then(parse_money))
                .sum()
        })
        .unwrap_or_default();
    let total = subtotal + doc_money(doc, "Tax") + doc_money(doc, "Freight");
    let paid = doc_money(doc, "AmountPaid");
    let void = text(doc, "Status") == "Void";
    let balance = if void {
        Decimal::ZERO
    } else {
        total - paid - doc_money(doc, "CreditsApplied")
    };
    let status = if void {
        "Void"
    } else if balance <= Decimal::ZERO && total > Decimal::ZERO {
        "Paid"
    } else if balance < total {
        "PartiallyPaid"
    } else {
        "Open"
    };
    doc.insert("Subtotal".into(), json!(money(subtotal)));
    doc.insert("Total".into(), json!(money(total)));
    doc.insert("Balance".into(), json!(money(balance)));
    doc.insert("Status".into(), json!(status));
}

pub fn fmt_date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}
