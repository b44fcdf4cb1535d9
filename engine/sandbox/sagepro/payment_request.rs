//! A `POST /api/payments` body, validated field by field into a `Request`, and its normal form
//! (amounts as 2-decimal strings, keys sorted) which a PaymentReference replay must match.

use super::customers;
use super::error::ApiError;
use super::input::{Input, money};
use super::invoices::fmt_date;
use super::post;
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

const FIELDS: &[&str] = &[
    "PaymentReference",
    "PaymentDate",
    "Amount",
    "CustomerID",
    "InvoiceID",
    "GLAccountID",
    "PaymentMethodCode",
    "PaymentStatus",
    "OriginalPaymentReference",
    "AllowOverpayment",
    "Applications",
    "Memo",
];

/// A validated payment request.
pub struct Request {
    pub reference: String,
    pub date: String,
    pub amount: Decimal,
    pub customer: String,
    pub invoice: Option<String>,
    pub account: String,
    pub method: String,
    pub status: String,
    pub original: Option<String>,
    pub allow_over: bool,
    pub applications: Option<Vec<(String, Decimal)>>,
    pub memo: String,
}

impl Request {
    pub fn parse(body: &Map<String, Value>) -> Result<Request, ApiError> {
        let mut inp = Input::new(body);
        inp.only(FIELDS);
        let reference = inp.string("PaymentReference", true, 50);
        let date = inp.date("PaymentDate", true);
        let amount = inp.money("Amount", true, true);
        let customer = inp
            .string("CustomerID", true, 10)
            .map(|c| customers::custno(&c));
        let invoice = inp.string("InvoiceID", false, 20).filter(|s| !s.is_empty());
        let account = inp.string("GLAccountID", true, 20);
        let method = inp.choice("PaymentMethodCode", &["CC", "ACH"], true);
        let status = inp.choice("PaymentStatus", &["Paid", "Failed", "Refunded"], true);
        let original = inp
            .string("OriginalPaymentReference", false, 50)
            .filter(|s| !s.is_empty());
        let allow_over = inp.boolean("AllowOverpayment").unwrap_or(false);
        let memo = inp.string("Memo", false, 200).unwrap_or_default();
        let mut applications = None;
        if let Some(objs) = inp.objects("Applications", false, 1) {
            let mut apps = Vec::new();
            for (i, a) in objs.into_iter().enumerate() {
                let mut ai = Input::nested(a, format!("Applications[{i}]."));
                ai.only(&["InvoiceID", "Amount"]);
                if let (Some(inv), Some(amt)) = (
                    ai.string("InvoiceID", true, 20),
                    ai.money("Amount", true, true),
                ) {
                    apps.push((inv, amt));
                }
                inp.absorb(ai);
            }
            applications = Some(apps);
        }
        if invoice.is_some() && applications.is_some() {
            inp.fail(
                "Applications",
                "ConflictingFields",
                "Give InvoiceID or Applications, not both.",
            );
        }
        inp.finish("The payment is not valid.")?;
        match (reference, date, amount, customer, account, method, status) {
            (
                Some(reference),
                Some(date),
                Some(amount),
                Some(customer),
                Some(account),
                Some(method),
                Some(status),
            ) => Ok(Request {
                reference,
                date: fmt_date(date),
                amount,
                customer,
                invoice,
                account,
                method,
                status,
                original,
                allow_over,
                applications,
                memo,
            }),
            _ => Err(ApiError::validation(
                "The payment is not valid.",
                Vec::new(),
            )),
        }
    }

    /// The request in normal form, compared on replay.
    pub fn normal(&self) -> String {
        let apps: Option<Vec<Value>> = self.applications.as_ref().map(|a| {
            a.iter()
                .map(|(i, m)| json!({"InvoiceID": i, "Amount": money(*m)}))
                .collect()
        });
        post::canonical(&json!({
            "PaymentReference": self.reference, "PaymentDate": self.date,
            "Amount": money(self.amount), "CustomerID": self.customer, "InvoiceID": self.invoice,
            "GLAccountID": self.account, "PaymentMethodCode": self.method,
            "PaymentStatus": self.status, "OriginalPaymentReference": self.original,
            "AllowOverpayment": self.allow_over, "Applications": apps, "Memo": self.memo,
        }))
    }
}
