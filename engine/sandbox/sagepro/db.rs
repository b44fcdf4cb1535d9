//! The SQLite ledger: schema and the generic record store. Each resource table is named after
//! its Sage Pro table (`arcust`, `armast`, `somast`, `arcash`, `glacnt`, ...) and keeps the key,
//! the customer number, the status and the change stamps as columns, with the PascalCase record
//! (money as 2-decimal strings) in `doc`. Distributions (`gldist`) hold every debit and credit.

use super::error::ApiError;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};

/// Resource tables sharing the generic layout.
pub const TABLES: &[&str] = &[
    "arcust",
    "armast",
    "somast",
    "arcash",
    "arcredit",
    "gljournal",
    "glacnt",
];

pub fn create_schema(conn: &Connection) -> rusqlite::Result<()> {
    let mut sql = String::new();
    for t in TABLES {
        sql.push_str(&format!(
            "CREATE TABLE IF NOT EXISTS {t} (
                key TEXT PRIMARY KEY, custno TEXT NOT NULL DEFAULT '', status TEXT NOT NULL DEFAULT '',
                refs TEXT NOT NULL DEFAULT '', doc TEXT NOT NULL, request TEXT NOT NULL DEFAULT '',
                rowver INTEGER NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL);
             CREATE INDEX IF NOT EXISTS {t}_updated ON {t}(updated);\n"
        ));
    }
    sql.push_str(
        "CREATE TABLE IF NOT EXISTS glperiod (period TEXT PRIMARY KEY, start TEXT NOT NULL,
            finish TEXT NOT NULL, closed INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS gldist (id INTEGER PRIMARY KEY AUTOINCREMENT,
            trandte TEXT NOT NULL, glacnt TEXT NOT NULL, debit TEXT NOT NULL, credit TEXT NOT NULL,
            source TEXT NOT NULL, ref TEXT NOT NULL, glbatch TEXT NOT NULL, descrip TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS idem (key TEXT PRIMARY KEY, path TEXT NOT NULL,
            body TEXT NOT NULL, status INTEGER NOT NULL, location TEXT NOT NULL,
            response TEXT NOT NULL, created TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, next INTEGER NOT NULL);",
    );
    conn.execute_batch(&sql)
}

/// Timestamps as stored and returned: UTC, microseconds, so text order is time order.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// One stored record.
#[derive(Debug, Clone)]
pub struct Rec {
    pub key: String,
    pub doc: Map<String, Value>,
    pub request: String,
    pub rowver: i64,
    pub created: String,
    pub updated: String,
}

impl Rec {
    /// The API representation: the document plus CreatedAt/UpdatedAt/RowVersion.
    pub fn render(&self, versioned: bool) -> Value {
        let mut doc = self.doc.clone();
        doc.insert("CreatedAt".into(), Value::String(self.created.clone()));
        if versioned {
            doc.insert("UpdatedAt".into(), Value::String(self.updated.clone()));
            doc.insert("RowVersion".into(), Value::String(self.rowver.to_string()));
        }
        Value::Object(doc)
    }
}

const COLS: &str = "key, doc, request, rowver, created, updated";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, String, i64, String, String)> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn to_rec(t: (String, String, String, i64, String, String)) -> Result<Rec, ApiError> {
    let doc = match serde_json::from_str::<Value>(&t.1)? {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    Ok(Rec {
        key: t.0,
        doc,
        request: t.2,
        rowver: t.3,
        created: t.4,
        updated: t.5,
    })
}

pub fn get(conn: &Connection, table: &str, key: &str) -> Result<Option<Rec>, ApiError> {
    let sql = format!("SELECT {COLS} FROM {table} WHERE key = ?1");
    let found = conn
        .prepare_cached(&sql)?
        .query_row(params![key], row)
        .optional()?;
    found.map(to_rec).transpose()
}

/// Index columns written next to the document.
#[derive(Default)]
pub struct Cols<'a> {
    pub custno: &'a str,
    pub status: &'a str,
    /// Searchable references, `,A,B,` (invoices a payment touched, an original payment).
    pub refs: &'a str,
}

pub fn insert(
    conn: &Connection,
    table: &str,
    key: &str,
    cols: &Cols<'_>,
    doc: &Map<String, Value>,
    request: &str,
    now: &str,
) -> Result<(), ApiError> {
    let sql = format!(
        "INSERT INTO {table} (key, custno, status, refs, doc, request, rowver, created, updated)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?7)"
    );
    let text = serde_json::to_string(doc)?;
    conn.prepare_cached(&sql)?.execute(params![
        key,
        cols.custno,
        cols.status,
        cols.refs,
        text,
        request,
        now
    ])?;
    Ok(())
}

/// Replace a record's document; bumps RowVersion and UpdatedAt.
pub fn save(
    conn: &Connection,
    table: &str,
    key: &str,
    cols: &Cols<'_>,
    doc: &Map<String, Value>,
    now: &str,
) -> Result<(), ApiError> {
    let sql = format!(
        "UPDATE {table} SET custno = ?2, status = ?3, doc = ?4, rowver = rowver + 1,
         updated = ?5 WHERE key = ?1"
    );
    let text = serde_json::to_string(doc)?;
    conn.prepare_cached(&sql)?
        .execute(params![key, cols.custno, cols.status, text, now])?;
    Ok(())
}

/// A list query: equality filters on index columns, a `refs` containment, a change time.
#[derive(Default)]
pub struct Filter {
    pub custno: Option<String>,
    pub status: Option<String>,
    pub refs: Option<String>,
    pub since: Option<String>,
}

pub fn list(
    conn: &Connection,
    table: &str,
    f: &Filter,
    page: u32,
    size: u32,
) -> Result<(Vec<Rec>, i64), ApiError> {
    let mut wh = vec!["1 = 1".to_string()];
    let mut args: Vec<String> = Vec::new();
    let mut add = |cond: &str, v: String| {
        args.push(v);
        wh.push(cond.replace('?', &format!("?{}", args.len())));
    };
    if let Some(c) = &f.custno {
        add("custno = ?", c.clone());
    }
    if let Some(s) = &f.status {
        add("status = ?", s.clone());
    }
    if let Some(r) = &f.refs {
        add("refs LIKE ?", format!("%,{r},%"));
    }
    if let Some(s) = &f.since {
        add("updated >= ?", s.clone());
    }
    let wh = wh.join(" AND ");
    let total: i64 = conn
        .prepare_cached(&format!("SELECT COUNT(*) FROM {table} WHERE {wh}"))?
        .query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?;
    let offset = i64::from(page.saturating_sub(1)) * i64::from(size);
    let sql =
        format!("SELECT {COLS} FROM {table} WHERE {wh} ORDER BY key LIMIT {size} OFFSET {offset}");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(args.iter()), row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let recs = rows
        .into_iter()
        .map(to_rec)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((recs, total))
}

/// Next number of a named sequence (invoice, order, journal, memo, batch numbers).
pub fn next_number(conn: &Connection, name: &str, first: i64) -> Result<i64, ApiError> {
    conn.prepare_cached("INSERT OR IGNORE INTO counters (name, next) VALUES (?1, ?2)")?
        .execute(params![name, first])?;
    let n: i64 = conn
        .prepare_cached("UPDATE counters SET next = next + 1 WHERE name = ?1 RETURNING next - 1")?
        .query_row(params![name], |r| r.get(0))?;
    Ok(n)
}

/// One distribution line (a debit or a credit to one GL account).
pub struct Dist<'a> {
    pub date: &'a str,
    pub account: &'a str,
    pub debit: &'a str,
    pub credit: &'a str,
    pub source: &'a str,
    pub reference: &'a str,
    pub batch: &'a str,
    pub description: &'a str,
}

pub fn distribute(conn: &Connection, d: &Dist<'_>) -> Result<(), ApiError> {
    conn.prepare_cached(
        "INSERT INTO gldist (trandte, glacnt, debit, credit, source, ref, glbatch, descrip)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        d.date,
        d.account,
        d.debit,
        d.credit,
        d.source,
        d.reference,
        d.batch,
        d.description
    ])?;
    Ok(())
}
