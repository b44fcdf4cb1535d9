//! `reconcile.settlement`: fetch, match, write, summarise.

use crate::connectors::client::{BoxFuture, CallContext, Clients, Connector, ConnectorError};
use crate::connectors::setup::{self, ConfigError};
use crate::connectors::{Operation, operation};
use crate::load::secrets::SecretScope;
use crate::reconcile::{self, Batch, Category, FeeSchedule, SagePayment, Settled};
use crate::script::helpers::format_money;
use crate::script::value::decimal_of;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Written {
    /// Where reports go (relative to the working directory); default `reports`.
    #[serde(default)]
    report_dir: Option<String>,
    #[serde(default)]
    fees: Option<WrittenFees>,
    /// How far back to read Sage Pro payments (by change time); default 7d.
    #[serde(default)]
    lookback: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WrittenFees {
    /// Percent of each card sale, as decimal text ("2.90").
    percent: String,
    /// Fixed fee per card sale, as decimal text ("0.30").
    fixed: String,
}

pub struct Reconcile {
    paytrace: Arc<dyn Connector>,
    sagepro: Arc<dyn Connector>,
    report_dir: PathBuf,
    fees: FeeSchedule,
    lookback: Duration,
}

fn decimal_setting(field: &str, text: &str) -> Result<Decimal, ConfigError> {
    Decimal::from_str(text.trim()).map_err(|_| ConfigError::Invalid {
        connector: "reconcile".into(),
        field: Some(format!("fees.{field}")),
        message: format!("`fees.{field}`: `{text}` is not a decimal"),
    })
}

impl Reconcile {
    pub fn build(
        value: &Value,
        _scope: &SecretScope,
        built: &Clients,
    ) -> Result<Arc<dyn Connector>, ConfigError> {
        let w: Written = if value.is_null() {
            Written::default()
        } else {
            setup::parse("reconcile", value)?
        };
        let need = |name: &str| {
            built
                .get(name)
                .cloned()
                .ok_or_else(|| ConfigError::Invalid {
                    connector: "reconcile".into(),
                    field: None,
                    message: format!(
                        "needs the `{name}` connector: configure `connectors.{name}` too"
                    ),
                })
        };
        let fees = match &w.fees {
            Some(f) => FeeSchedule {
                percent: decimal_setting("percent", &f.percent)?,
                fixed: decimal_setting("fixed", &f.fixed)?,
            },
            None => FeeSchedule::default(),
        };
        Ok(Arc::new(Reconcile {
            paytrace: need("paytrace")?,
            sagepro: need("sagepro")?,
            report_dir: PathBuf::from(w.report_dir.as_deref().unwrap_or("reports")),
            fees,
            lookback: setup::duration(
                "reconcile",
                "lookback",
                w.lookback.as_deref(),
                Duration::from_secs(7 * 86_400),
            )?,
        }))
    }

    async fn read(
        &self,
        client: &Arc<dyn Connector>,
        op: &str,
        input: Value,
        ctx: &CallContext,
    ) -> Result<Value, ConnectorError> {
        let Some((_, operation)) = operation(op) else {
            return Err(ConnectorError::Misconfigured {
                message: format!("unknown operation `{op}`"),
            });
        };
        client.call(operation, &input, ctx).await
    }

    async fn settlement(&self, input: &Value, ctx: &CallContext) -> Result<Value, ConnectorError> {
        let date_text = input
            .get("date")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let date = chrono::NaiveDate::parse_from_str(date_text, "%Y-%m-%d").map_err(|_| {
            ConnectorError::Validation {
                message: format!("`date` must be YYYY-MM-DD, got `{date_text}`"),
                details: Value::Null,
            }
        })?;
        let day = date.format("%m/%d/%Y").to_string();
        let listed = self
            .read(
                &self.paytrace,
                "paytrace.batches_export",
                json!({"start_date": day, "end_date": day}),
                ctx,
            )
            .await
            .or_else(|e| match e {
                ConnectorError::NotFound { .. } => Ok(json!({"batches": []})),
                other => Err(other),
            })?;
        let mut batches = Vec::new();
        for b in listed
            .get("batches")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(number) = b.get("number").and_then(Value::as_u64) else {
                continue;
            };
            let txns = self
                .read(
                    &self.paytrace,
                    "paytrace.batch_transaction_list",
                    json!({"batch_number": number}),
                    ctx,
                )
                .await?;
            let transactions = txns
                .get("transactions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(settled)
                .collect();
            batches.push(Batch {
                number,
                settled_at: b
                    .get("created")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                transactions,
            });
        }
        let mut payments = self.payments(date, ctx).await?;
        self.explain(&batches, &mut payments, date_text, ctx)
            .await?;
        let rec = reconcile::reconcile(date_text, &batches, &payments, self.fees);
        let (csv, html) = self.write(&rec)?;
        Ok(summary(&rec, csv, html))
    }

    /// Sage Pro payments naming a PayTrace transaction, changed within the lookback window.
    async fn payments(
        &self,
        date: chrono::NaiveDate,
        ctx: &CallContext,
    ) -> Result<Vec<SagePayment>, ConnectorError> {
        let since = date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
            - chrono::Duration::from_std(self.lookback)
                .unwrap_or_else(|_| chrono::Duration::days(7));
        let mut out = Vec::new();
        for page in 1..=500 {
            let answer = self
                .read(
                    &self.sagepro,
                    "sagepro.list_payments",
                    json!({"updatedSince": since.to_rfc3339(), "pageSize": 200, "page": page}),
                    ctx,
                )
                .await?;
            let items = answer
                .get("items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for p in &items {
                let text = |k: &str| {
                    p.get(k)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string()
                };
                let reference = text("PaymentReference");
                if !reference.starts_with("PT-") {
                    continue;
                }
                out.push(SagePayment {
                    reference,
                    status: text("PaymentStatus"),
                    amount: p.get("Amount").and_then(decimal_of).unwrap_or_default(),
                    date: text("PaymentDate"),
                    method: text("PaymentMethodCode"),
                    invoice_id: text("InvoiceID"),
                    explained: None,
                });
            }
            if items.is_empty() || answer.get("next").is_none_or(Value::is_null) {
                break;
            }
        }
        Ok(out)
    }

    /// For Sage Pro card payments of the day that no batch lists, ask PayTrace why: pending
    /// settlement or settled another day is fine; voided and reversed in Sage Pro is fine.
    async fn explain(
        &self,
        batches: &[Batch],
        payments: &mut [SagePayment],
        date: &str,
        ctx: &CallContext,
    ) -> Result<(), ConnectorError> {
        let listed: std::collections::HashSet<u64> = batches
            .iter()
            .flat_map(|b| b.transactions.iter().map(|t| t.transaction_id))
            .collect();
        let refs: std::collections::HashSet<String> =
            payments.iter().map(|p| p.reference.clone()).collect();
        for p in payments.iter_mut() {
            let Some(txn) = reconcile::matching::transaction_of(&p.reference) else {
                continue;
            };
            if listed.contains(&txn) || p.date != date || p.method == "ACH" || p.status == "Failed"
            {
                continue;
            }
            if refs.contains(&format!("{}-void", p.reference)) {
                p.explained = Some("voided in PayTrace and reversed in Sage Pro".into());
                continue;
            }
            let found = self
                .read(
                    &self.paytrace,
                    "paytrace.transaction_by_id",
                    json!({"transaction_id": txn}),
                    ctx,
                )
                .await;
            let record = match found {
                Ok(v) => v.get("transactions").and_then(|t| t.get(0)).cloned(),
                Err(ConnectorError::NotFound { .. }) => None,
                Err(e) => return Err(e),
            };
            p.explained = record.and_then(|r| {
                let status = r
                    .get("status_message")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let settled = r.get("settled").and_then(Value::as_str).unwrap_or_default();
                match status {
                    "Pending Settlement" => {
                        Some("pending settlement: in a later batch".to_string())
                    }
                    "Settled" => Some(format!("settled {settled} in another day's batch")),
                    _ => None,
                }
            });
        }
        Ok(())
    }

    fn write(&self, rec: &reconcile::Reconciliation) -> Result<(String, String), ConnectorError> {
        let fail = |e: std::io::Error| ConnectorError::Permanent {
            message: format!(
                "cannot write the report in `{}`: {e}",
                self.report_dir.display()
            ),
        };
        std::fs::create_dir_all(&self.report_dir).map_err(fail)?;
        let base = self.report_dir.join(format!("settlement-{}", rec.date));
        let csv = base.with_extension("csv");
        let html = base.with_extension("html");
        std::fs::write(&csv, reconcile::report::csv(rec)).map_err(fail)?;
        std::fs::write(&html, reconcile::report::html(rec)).map_err(fail)?;
        Ok((csv.display().to_string(), html.display().to_string()))
    }
}

/// A batch transaction in PayTrace's export shape, if it is a sale or refund.
fn settled(t: &Value) -> Option<Settled> {
    let kind = t.get("transaction_type")?.as_str()?.to_string();
    if kind != "SALE" && kind != "REFUND" {
        return None;
    }
    Some(Settled {
        transaction_id: t.get("transaction_id")?.as_u64()?,
        kind,
        amount: t.get("amount").and_then(decimal_of)?,
        invoice_id: t
            .get("invoice_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    })
}

/// An amount as a JSON number with at least two decimals (`12.5` -> `12.50`).
fn amount_json(d: Decimal) -> Value {
    format_money(d)
        .parse::<serde_json::Number>()
        .map_or(Value::Null, Value::Number)
}

fn summary(rec: &reconcile::Reconciliation, csv: String, html: String) -> Value {
    let count = |c: Category| rec.rows.iter().filter(|r| r.category == c).count();
    let batches: Vec<Value> = rec
        .batches
        .iter()
        .map(|b| {
            let matched = b.counts.get(&Category::Matched).copied().unwrap_or(0);
            json!({
                "number": b.number,
                "settled_at": b.settled_at,
                "transactions": b.transactions,
                "sales_amount": amount_json(b.sales_amount),
                "refund_amount": amount_json(b.refund_amount),
                "net_amount": amount_json(b.net_amount),
                "fees": amount_json(b.fees),
                "sagepro_amount": amount_json(b.sagepro_amount),
                "matched": matched,
                "problems": b.transactions - matched,
            })
        })
        .collect();
    let line = format!(
        "settlement {}: {} batch(es), {} problem(s) ({} missing in Sage Pro, {} missing in PayTrace, {} amount mismatch(es), {} duplicate(s)), fees {}",
        rec.date,
        rec.batches.len(),
        rec.problems,
        count(Category::MissingInSagePro),
        count(Category::MissingInPayTrace),
        count(Category::AmountMismatch),
        count(Category::Duplicate),
        amount_json(rec.fees_total),
    );
    json!({
        "date": rec.date,
        "batches": batches,
        "problems": rec.problems,
        "missing_in_sagepro": count(Category::MissingInSagePro),
        "missing_in_paytrace": count(Category::MissingInPayTrace),
        "amount_mismatches": count(Category::AmountMismatch),
        "duplicates": count(Category::Duplicate),
        "fees_total": amount_json(rec.fees_total),
        "report_csv": csv,
        "report_html": html,
        "summary": line,
    })
}

impl Connector for Reconcile {
    fn call<'a>(
        &'a self,
        operation: &'a Operation,
        input: &'a Value,
        context: &'a CallContext,
    ) -> BoxFuture<'a, Result<Value, ConnectorError>> {
        Box::pin(async move {
            match operation.name.as_str() {
                "settlement" => self.settlement(input, context).await,
                other => Err(ConnectorError::Misconfigured {
                    message: format!("reconcile has no operation `{other}`"),
                }),
            }
        })
    }
}
