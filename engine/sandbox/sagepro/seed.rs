//! The seeded company, the same for the same seed: ten customers (ACME01, GLOBEX and INITECH
//! among them), open invoices (INV-10021 for ACME01, balance 1500.00), one void invoice, a few
//! sales orders, the chart of accounts (1050 card clearing, 1055 ACH clearing, 1200 AR control,
//! 1290 chargebacks in dispute, 2200 sales tax, 4000 sales, 4050 refunds, 6120 card fees; 1900
//! inactive) and periods: the previous month closed, the current and the next two open.

use super::db::{self, Cols};
use super::error::ApiError;
use super::{customers, invoices, orders};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use rusqlite::Connection;
use serde_json::{Map, Value, json};

const CUSTOMERS: &[(&str, &str, &str, &str)] = &[
    ("ACME01", "Acme Corporation", "Springfield", "IL"),
    ("GLOBEX", "Globex Corporation", "Cypress Creek", "OR"),
    ("INITECH", "Initech LLC", "Austin", "TX"),
    ("UMBRELLA", "Umbrella Supply Co", "Raccoon City", "MO"),
    ("STARK", "Stark Industrial", "Long Beach", "CA"),
    ("WAYNE", "Wayne Enterprises", "Gotham", "NJ"),
    ("WONKA", "Wonka Confections", "Bristol", "CT"),
    ("TYRELL", "Tyrell Components", "Los Angeles", "CA"),
    ("CYBERDYN", "Cyberdyne Systems", "Sunnyvale", "CA"),
    ("SOYLENT", "Soylent Foods", "Newark", "NJ"),
];

const ACCOUNTS: &[(&str, &str, bool)] = &[
    ("1000", "Operating cash", true),
    ("1050", "Card clearing (PayTrace)", true),
    ("1055", "ACH clearing", true),
    ("1200", "Accounts receivable control", true),
    ("1290", "Chargebacks in dispute", true),
    ("1900", "Old suspense (inactive)", false),
    ("2200", "Sales tax payable", true),
    ("4000", "Sales", true),
    ("4050", "Sales refunds and allowances", true),
    ("6120", "Card processing fees", true),
];

/// Deterministic xorshift generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below.max(1)
    }
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn month_bounds(d: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first = d.with_day(1).unwrap_or(d);
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    };
    (first, next.map(|n| n - Duration::days(1)).unwrap_or(first))
}

/// Seed a new ledger (does nothing when customers exist already).
pub fn seed_if_empty(conn: &Connection, seed: u64, now: DateTime<Utc>) -> Result<(), ApiError> {
    let count: i64 = conn.query_row("SELECT COUNT(*) FROM arcust", [], |r| r.get(0))?;
    if count > 0 {
        return Ok(());
    }
    let stamp = db::stamp(now);
    let today = now.date_naive();
    let (cur_start, cur_end) = month_bounds(today);
    let (prev_start, prev_end) = month_bounds(cur_start - Duration::days(1));
    // The next two months are open too, as ERPs keep them for early postings (and so a month
    // of simulated activity can cross a month end).
    let (next_start, next_end) = month_bounds(cur_end + Duration::days(1));
    let (after_start, after_end) = month_bounds(next_end + Duration::days(1));
    for (start, end, closed) in [
        (prev_start, prev_end, true),
        (cur_start, cur_end, false),
        (next_start, next_end, false),
        (after_start, after_end, false),
    ] {
        conn.execute(
            "INSERT INTO glperiod (period, start, finish, closed) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![
                start.format("%Y-%m").to_string(),
                invoices::fmt_date(start),
                invoices::fmt_date(end),
                closed
            ],
        )?;
    }
    for (id, desc, active) in ACCOUNTS {
        let status = if *active { "Active" } else { "Inactive" };
        let doc = obj(json!({"GLAccountID": id, "Description": desc, "Status": status}));
        db::insert(
            conn,
            "glacnt",
            id,
            &Cols {
                custno: "",
                status,
                refs: "",
            },
            &doc,
            "",
            &stamp,
        )?;
    }
    let mut rng = Rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1);
    for (i, (id, company, city, state)) in CUSTOMERS.iter().enumerate() {
        let body = obj(json!({
            "CustomerID": id, "Company": company, "Address1": format!("{} Main Street", 100 + i * 7),
            "City": city, "State": state, "Zip": format!("{:05}", 10000 + rng.next(89999)),
            "Country": "US", "Phone": format!("555-01{:02}", i), "Email": format!("ap@{}.example", id.to_lowercase()),
            "Terms": "NET30", "SalespersonCode": (["JD", "MK", "RS"][i % 3]),
            "CreditLimit": format!("{}.00", 5000 + rng.next(20) * 1000), "OnCreditHold": false,
            "Status": "Active",
        }));
        customers::insert(conn, &body, &stamp)?;
    }
    let mut number = 10021;
    let mut invoice = |cust: &str,
                       price: String,
                       qty: u64,
                       age: i64,
                       rng: &mut Rng|
     -> Result<String, ApiError> {
        let id = format!("INV-{number}");
        number += 1;
        let body = obj(json!({
            "InvoiceID": id, "CustomerID": cust,
            "InvoiceDate": invoices::fmt_date(today - Duration::days(age)),
            "PONumber": format!("PO-{}", 4000 + rng.next(5000)),
            "Lines": [{"ItemID": format!("ITEM-{:03}", rng.next(300)), "Description": "Widgets",
                       "Quantity": qty, "UnitPrice": price, "GLAccountID": "4000"}],
        }));
        invoices::insert(conn, &body, &stamp)?;
        Ok(id)
    };
    invoice("ACME01", "750.00".into(), 2, 12, &mut rng)?;
    for (i, (cust, ..)) in CUSTOMERS.iter().enumerate() {
        let cents = 5000 + rng.next(195_000);
        let price = format!("{}.{:02}", cents / 100, cents % 100);
        invoice(cust, price, 1 + rng.next(3), 5 + i as i64 * 3, &mut rng)?;
    }
    let void_id = invoice("GLOBEX", "99.00".into(), 1, 40, &mut rng)?;
    let mut rec = invoices::require(conn, &void_id)?;
    rec.doc.insert("Status".into(), json!("Void"));
    invoices::recompute(&mut rec.doc);
    invoices::save(conn, &rec, &stamp)?;
    customers::adjust_balance(conn, "GLOBEX", -rust_decimal::Decimal::new(9900, 2), &stamp)?;
    for (i, cust) in ["ACME01", "GLOBEX", "INITECH", "STARK"].iter().enumerate() {
        let body = obj(json!({
            "OrderID": format!("SO-{}", 4001 + i), "CustomerID": cust,
            "OrderDate": invoices::fmt_date(today - Duration::days(i as i64 + 1)),
            "OrderType": if i == 3 { "Quote" } else { "Order" },
            "Lines": [{"ItemID": format!("ITEM-{:03}", rng.next(300)), "Quantity": 1 + rng.next(9),
                       "UnitPrice": format!("{}.50", 10 + rng.next(90)), "DiscountPercent": 5}],
        }));
        orders::insert(conn, &body, &stamp)?;
    }
    Ok(())
}
