//! The reconciliation report as CSV (one row per transaction, for spreadsheets) and HTML (per
//! batch, with totals, for people). Amounts are written with two decimals.

use super::matching::{Category, Reconciliation, Row};
use rust_decimal::Decimal;

fn money(d: Option<Decimal>) -> String {
    d.map(crate::script::helpers::format_money)
        .unwrap_or_default()
}

fn csv_field(s: &str) -> String {
    // Quote when needed; a leading = + - @ would be a formula in a spreadsheet: prefix a quote.
    let s = if s.starts_with(['=', '+', '@'])
        || (s.starts_with('-') && s.parse::<Decimal>().is_err())
    {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn csv_row(r: &Row, explained: bool) -> String {
    // Explained rows are Sage Pro payments not in today's batches for a known, harmless reason
    // (pending settlement, voided and reversed): their own category, so a filter on problems
    // does not count them.
    let category = if explained {
        "explained"
    } else {
        r.category.label()
    };
    [
        r.batch.map(|b| b.to_string()).unwrap_or_default(),
        category.to_string(),
        r.transaction_id.map(|t| t.to_string()).unwrap_or_default(),
        r.kind.clone(),
        r.invoice_id.clone(),
        money(r.paytrace_amount),
        r.sagepro_reference.clone().unwrap_or_default(),
        money(r.sagepro_amount),
        r.note.clone(),
    ]
    .iter()
    .map(|f| csv_field(f))
    .collect::<Vec<_>>()
    .join(",")
}

/// CSV: a header, every row (problems and matches), then the explained Sage Pro-only rows.
pub fn csv(rec: &Reconciliation) -> String {
    let mut out = String::from(
        "batch,category,transaction_id,type,invoice_id,paytrace_amount,sagepro_reference,sagepro_amount,note\n",
    );
    for r in &rec.rows {
        out.push_str(&csv_row(r, false));
        out.push('\n');
    }
    for r in &rec.explained {
        out.push_str(&csv_row(r, true));
        out.push('\n');
    }
    out
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn html_rows(rows: &[&Row]) -> String {
    let mut out = String::new();
    for r in rows {
        let class = if r.category.is_problem() {
            " class=\"problem\""
        } else {
            ""
        };
        out.push_str(&format!(
            "<tr{class}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>\n",
            html_escape(r.category.label()),
            r.transaction_id.map(|t| t.to_string()).unwrap_or_default(),
            html_escape(&r.kind),
            html_escape(&r.invoice_id),
            money(r.paytrace_amount),
            html_escape(r.sagepro_reference.as_deref().unwrap_or("")),
            money(r.sagepro_amount),
            html_escape(&r.note),
        ));
    }
    out
}

const HEAD: &str = "<tr><th>Result</th><th>PayTrace id</th><th>Type</th><th>Invoice</th><th>PayTrace amount</th><th>Sage Pro payment</th><th>Sage Pro amount</th><th>Note</th></tr>\n";

/// A self-contained HTML page (no scripts, no external resources).
pub fn html(rec: &Reconciliation) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Settlement reconciliation {date}</title>\n<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin-bottom:1.5em}}td,th{{border:1px solid #ccc;padding:4px 8px}}td.n{{text-align:right}}tr.problem{{background:#fde2e2}}</style></head><body>\n<h1>Settlement reconciliation {date}</h1>\n<p>{batches} batch(es), {problems} problem(s), fees {fees}.</p>\n",
        date = html_escape(&rec.date),
        batches = rec.batches.len(),
        problems = rec.problems,
        fees = money(Some(rec.fees_total)),
    );
    for b in &rec.batches {
        let counts: Vec<String> = b
            .counts
            .iter()
            .map(|(c, n)| format!("{} {n}", c.label()))
            .collect();
        out.push_str(&format!(
            "<h2>Batch {} <small>{}</small></h2>\n<p>{} transaction(s): sales {}, refunds {}, net {}, fees {}, in Sage Pro {}; {}.</p>\n<table>\n{HEAD}",
            b.number,
            html_escape(&b.settled_at),
            b.transactions,
            money(Some(b.sales_amount)),
            money(Some(b.refund_amount)),
            money(Some(b.net_amount)),
            money(Some(b.fees)),
            money(Some(b.sagepro_amount)),
            html_escape(&counts.join(", ")),
        ));
        let rows: Vec<&Row> = rec
            .rows
            .iter()
            .filter(|r| r.batch == Some(b.number))
            .collect();
        out.push_str(&html_rows(&rows));
        out.push_str("</table>\n");
    }
    let orphans: Vec<&Row> = rec
        .rows
        .iter()
        .filter(|r| r.category == Category::MissingInPayTrace)
        .collect();
    if !orphans.is_empty() {
        out.push_str(&format!(
            "<h2>Missing in PayTrace</h2>\n<p>Sage Pro payments dated {} that PayTrace has not settled.</p>\n<table>\n{HEAD}",
            html_escape(&rec.date)
        ));
        out.push_str(&html_rows(&orphans));
        out.push_str("</table>\n");
    }
    if !rec.explained.is_empty() {
        out.push_str("<h2>Not in today's batches (explained)</h2>\n<table>\n");
        out.push_str(HEAD);
        let rows: Vec<&Row> = rec.explained.iter().collect();
        out.push_str(&html_rows(&rows));
        out.push_str("</table>\n");
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_field("-12.50"), "-12.50");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn html_escapes() {
        assert_eq!(html_escape("<b>&'\""), "&lt;b&gt;&amp;&#39;&quot;");
    }
}
