//! List queries: `page` (from 1), `pageSize` (1..=200, default 50), `updatedSince` (ISO 8601,
//! records changed at or after it) and per-resource filters; answers
//! `{items, page, pageSize, total, next}` in key order, `next` a relative URL or null.

use super::State;
use super::db::{self, Filter, Rec};
use super::error::{ApiError, Detail};
use super::post::Reply;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::HashMap;

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 200;

/// Parsed paging and filters.
pub struct ListQuery {
    pub page: u32,
    pub size: u32,
    pub filter: Filter,
    /// Extra query parameters to carry into `next`.
    carry: Vec<(String, String)>,
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Parse the query; `filters` maps a query name to the index column it filters
/// (`CustomerID` -> custno, `Status` -> status, `InvoiceID` -> refs).
pub fn parse(q: &HashMap<String, String>, filters: &[(&str, &str)]) -> Result<ListQuery, ApiError> {
    let mut details = Vec::new();
    let mut number = |name: &str, default: u32, max: u32| -> u32 {
        match q.get(name) {
            None => default,
            Some(s) => match s.trim().parse::<u32>() {
                Ok(n) if n >= 1 && n <= max => n,
                _ => {
                    details.push(Detail::new(
                        name,
                        "InvalidValue",
                        format!("{name} must be a whole number from 1 to {max}."),
                    ));
                    default
                }
            },
        }
    };
    let page = number("page", 1, u32::MAX / 1024);
    let size = number("pageSize", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
    let mut filter = Filter::default();
    let mut carry = Vec::new();
    if let Some(s) = q.get("updatedSince") {
        // A literal `+` in a query string decodes to a space.
        let text = s.trim().replace(' ', "+");
        match chrono::DateTime::parse_from_rfc3339(&text) {
            Ok(t) => {
                filter.since = Some(db::stamp(t.with_timezone(&chrono::Utc)));
                carry.push(("updatedSince".to_string(), text));
            }
            Err(_) => details.push(Detail::new(
                "updatedSince",
                "InvalidDate",
                "updatedSince must be an ISO 8601 date-time such as 2026-01-31T00:00:00Z.",
            )),
        }
    }
    for (name, col) in filters {
        if let Some(v) = q.get(*name) {
            let v = if *name == "CustomerID" {
                v.trim().to_uppercase()
            } else {
                v.trim().to_string()
            };
            match *col {
                "custno" => filter.custno = Some(v.clone()),
                "status" => filter.status = Some(v.clone()),
                _ => filter.refs = Some(v.clone()),
            }
            carry.push((name.to_string(), v));
        }
    }
    for k in q.keys() {
        let known = ["page", "pageSize", "updatedSince"].contains(&k.as_str())
            || filters.iter().any(|(n, _)| n == k);
        if !known {
            details.push(Detail::new(
                k.as_str(),
                "UnknownParameter",
                format!("{k} is not a query parameter here."),
            ));
        }
    }
    if !details.is_empty() {
        let mut e = ApiError::bad_request("InvalidQuery", "The query string is not valid.");
        e.details = details;
        return Err(e);
    }
    Ok(ListQuery {
        page,
        size,
        filter,
        carry,
    })
}

/// Run a list over a resource table and answer the paging envelope.
pub fn respond(
    state: &State,
    path: &str,
    table: &str,
    q: &HashMap<String, String>,
    filters: &[(&str, &str)],
    render: impl Fn(&Rec) -> Value,
) -> Response {
    let lq = match parse(q, filters) {
        Ok(lq) => lq,
        Err(e) => return e.into_response(),
    };
    let result = state.tx(|tx| db::list(tx, table, &lq.filter, lq.page, lq.size));
    match result {
        Ok((recs, total)) => {
            let shown = i64::from(lq.page - 1) * i64::from(lq.size) + recs.len() as i64;
            let next = (shown < total && !recs.is_empty()).then(|| {
                let mut url = format!("{path}?page={}&pageSize={}", lq.page + 1, lq.size);
                for (k, v) in &lq.carry {
                    url.push_str(&format!("&{k}={}", encode(v)));
                }
                url
            });
            let items: Vec<Value> = recs.iter().map(render).collect();
            Reply::ok(json!({
                "items": items, "page": lq.page, "pageSize": lq.size, "total": total, "next": next,
            }))
            .into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// GET one record by key, or 404 with `code`.
pub fn one(
    state: &State,
    table: &str,
    key: &str,
    code: &str,
    what: &str,
    versioned: bool,
) -> Response {
    match state.tx(|tx| db::get(tx, table, key)) {
        Ok(Some(rec)) => Reply::ok(rec.render(versioned)).into_response(),
        Ok(None) => {
            ApiError::not_found(code, format!("{what} {key} was not found.")).into_response()
        }
        Err(e) => e.into_response(),
    }
}
