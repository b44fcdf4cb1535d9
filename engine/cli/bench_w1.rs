//! `ledgerlink bench w1`: workload W1 over HTTP, the way a user would measure it. A 1 KB
//! PayTrace-like transaction is POSTed (signed) to the webhook of a flow that maps 7 fields with
//! status and GL rules and posts the payment to a Sage Pro endpoint, answering after the post
//! (`respond: completed`). Against Ledgerlink (`ledgerlink run`, SQLite store, journal on) and,
//! in the same run, a minimal hand-written axum + reqwest service doing the same mapping without
//! durability (`ledgerlink bench-baseline`, hidden). Both post to the same fast stand-in sink.
//! Each measurement starts a fresh process; runs are interleaved; medians of the repeats.

use crate::triggers::signature;
use anyhow::Context;
use axum::Router;
use axum::routing::post;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const SECRET: &str = "bench-w1-secret";

/// The stand-in Sage Pro: a token, and 201 for every payment, counted.
async fn sink() -> anyhow::Result<(String, Arc<AtomicU64>)> {
    let posted = Arc::new(AtomicU64::new(0));
    let count = Arc::clone(&posted);
    let app = Router::new()
        .route(
            "/api/auth/token",
            post(|| async {
                axum::Json(
                    json!({"access_token": "bench", "token_type": "Bearer", "expires_in": 3600}),
                )
            }),
        )
        .route(
            "/api/payments",
            post(move |axum::Json(body): axum::Json<Value>| {
                let count = Arc::clone(&count);
                async move {
                    count.fetch_add(1, Ordering::Relaxed);
                    let reference = body.get("PaymentReference").cloned().unwrap_or(Value::Null);
                    (
                        axum::http::StatusCode::CREATED,
                        axum::Json(json!({"PaymentReference": reference, "Posted": true})),
                    )
                }
            }),
        );
    let (addr, _task) = crate::server::serve("127.0.0.1:0", app).await?;
    Ok((format!("http://{addr}"), posted))
}

/// `full` (the default: every commit survives a power cut) or `normal` (survives a crash of
/// the process), from `LEDGERLINK_BENCH_DURABILITY`.
fn durability() -> &'static str {
    match std::env::var("LEDGERLINK_BENCH_DURABILITY").as_deref() {
        Ok("normal") => "normal",
        _ => "full",
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Ledgerlink's files: the W1 flow behind a signed webhook, a profile pointing at the sink.
fn ledgerlink_setup(
    dir: &Path,
    store: &str,
    sink: &str,
    port: u16,
    admin: u16,
    workers: usize,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir.join("flows"))?;
    std::fs::create_dir_all(dir.join("profiles"))?;
    let flow = super::bench_runtime::FLOW.replace(
        "trigger: { manual: {} }",
        "trigger:\n  webhook:\n    path: /hooks/w1\n    signature: { scheme: hmac_sha256, header: X-PayTrace-Signature, secret: \"${secret:w1}\" }\n    event_id: event.transaction_id\n    respond: completed",
    );
    std::fs::write(dir.join("flows/w1.yaml"), flow)?;
    std::fs::write(dir.join("profiles/w1.secret"), SECRET)?;
    std::fs::write(dir.join("profiles/sink.secret"), "bench")?;
    let profile = json!({
        "profile": "bench",
        "tables": {
            "customers": {"pt-cust-1001": "ACME01", "pt-cust-1002": "GLOBEX", "pt-cust-1003": "INITECH"},
            "gl_accounts": {"card_clearing": "1050", "ach_clearing": "1055"}
        },
        "secrets": {"w1": "${file:w1.secret}"},
        "connectors": {"sagepro": {"base_url": sink, "client_id": "bench",
            "client_secret": "${file:sink.secret}", "timeout": "10s"}},
        "runtime": {"store": store, "workers": workers},
        "server": {"bind": format!("127.0.0.1:{port}"), "admin_bind": format!("127.0.0.1:{admin}")}
    });
    std::fs::write(
        dir.join("profiles/bench.yaml"),
        serde_json::to_string_pretty(&profile)?,
    )?;
    Ok(())
}

/// A child process under test, killed when dropped.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Child {
    /// CPU seconds (user + system) the process has used so far, from `/proc/<pid>/stat`.
    fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.0.id())).unwrap_or_default();
        // Fields after the parenthesised command name: state is the 1st, utime the 12th,
        // stime the 13th (clock ticks, 100 per second on Linux).
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        (ticks(11) + ticks(12)) / 100.0
    }

    /// Peak resident memory (VmHWM) in MiB.
    fn peak_rss_mib(&self) -> f64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.0.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }
}

/// The program to start: this one, or for Ledgerlink another build named by
/// `LEDGERLINK_BENCH_ENGINE` (to compare two builds against the same baseline).
fn spawn(args: &[String]) -> anyhow::Result<Child> {
    let exe = match std::env::var_os("LEDGERLINK_BENCH_ENGINE") {
        Some(other) if args.first().is_some_and(|a| a == "run") => std::path::PathBuf::from(other),
        _ => std::env::current_exe()?,
    };
    let child = std::process::Command::new(exe)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("cannot start the process under test")?;
    Ok(Child(child))
}

async fn wait_ready(http: &reqwest::Client, url: &str) -> anyhow::Result<()> {
    for _ in 0..200 {
        if http.get(url).send().await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("{url} did not come up")
}

/// Results of one load run.
struct Load {
    seconds: f64,
    micros: Vec<u64>,
    errors: usize,
}

/// `requests` signed W1 events over `concurrency` connections; ids from `offset`.
async fn load(url: &str, requests: usize, concurrency: usize, offset: usize) -> Load {
    let http = crate::connectors::transport::client();
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (http, url, next, errors) = (
            http.clone(),
            url.to_string(),
            Arc::clone(&next),
            Arc::clone(&errors),
        );
        tasks.push(tokio::spawn(async move {
            let mut micros = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    break;
                }
                let body = super::bench_runtime::event(i, offset).to_string();
                let sig = signature::sign(
                    SECRET.as_bytes(),
                    chrono::Utc::now().timestamp(),
                    body.as_bytes(),
                );
                let t = Instant::now();
                let ok = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("X-PayTrace-Signature", sig)
                    .body(body)
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200);
                micros.push(t.elapsed().as_micros() as u64);
                if !ok {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            micros
        }));
    }
    let mut micros = Vec::with_capacity(requests);
    for t in tasks {
        micros.extend(t.await.unwrap_or_default());
    }
    micros.sort_unstable();
    Load {
        seconds: started.elapsed().as_secs_f64(),
        micros,
        errors: errors.load(Ordering::Relaxed),
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

/// One measurement of one target.
#[derive(Clone, Copy, Default)]
struct Figures {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    rss_mib: f64,
    /// CPU time of the process under test per event (user + system).
    cpu_ms: f64,
}

/// The median of measurements (0 when there are none).
pub(super) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

async fn measure(
    target: &str,
    sink_url: &str,
    posted: &AtomicU64,
    requests: usize,
    concurrency: usize,
    offset: usize,
) -> anyhow::Result<Figures> {
    let http = crate::connectors::transport::client();
    let port = free_port()?;
    let dir = std::env::temp_dir().join(format!(
        "ll-bench-w1-{}-{target}-{offset}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    // `LEDGERLINK_BENCH_PG=postgres://user@host:port`: the engine's store is a fresh
    // PostgreSQL database per measurement instead of an SQLite file.
    let pg = std::env::var("LEDGERLINK_BENCH_PG")
        .ok()
        .filter(|_| target == "ledgerlink")
        .map(|server| {
            let name = format!("ll_bench_{}_{offset}", std::process::id());
            (server, name)
        });
    let store = match &pg {
        Some((server, name)) => crate::store::postgres::create_database(server, name)?,
        None => dir.join("state.db").display().to_string(),
    };
    let child = if target == "ledgerlink" {
        ledgerlink_setup(&dir, &store, sink_url, port, free_port()?, concurrency)?;
        spawn(&[
            "run".into(),
            "--profile".into(),
            "bench".into(),
            "--profiles-dir".into(),
            dir.join("profiles").display().to_string(),
            "--flows".into(),
            dir.join("flows").display().to_string(),
            "--no-sandbox".into(),
            "--progress".into(),
            "0".into(),
            "--durability".into(),
            durability().into(),
        ])?
    } else {
        spawn(&[
            "bench-baseline".into(),
            "--bind".into(),
            format!("127.0.0.1:{port}"),
            "--sink".into(),
            sink_url.into(),
        ])?
    };
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&http, &format!("{base}/healthz")).await?;
    let url = format!("{base}/hooks/w1");
    let before = posted.load(Ordering::Relaxed);
    let warmup = 200.min(requests);
    load(&url, warmup, concurrency, offset).await;
    let cpu_before = child.cpu_seconds();
    let run = load(&url, requests, concurrency, offset + warmup).await;
    let cpu = child.cpu_seconds() - cpu_before;
    let rss = child.peak_rss_mib();
    drop(child);
    let _ = std::fs::remove_dir_all(&dir);
    if let Some((server, name)) = &pg {
        let _ = crate::store::postgres::drop_database(server, name);
    }
    let sent = posted.load(Ordering::Relaxed) - before;
    if run.errors > 0 || sent != (warmup + requests) as u64 {
        anyhow::bail!(
            "{target}: {} of {requests} requests failed, {sent} payments posted for {} events",
            run.errors,
            warmup + requests
        );
    }
    Ok(Figures {
        per_second: requests as f64 / run.seconds,
        p50_ms: percentile(&run.micros, 0.50),
        p99_ms: percentile(&run.micros, 0.99),
        rss_mib: rss,
        cpu_ms: cpu * 1000.0 / requests as f64,
    })
}

pub async fn run(requests: usize, levels: &[usize], repeats: usize) -> anyhow::Result<i32> {
    let (sink_url, posted) = sink().await?;
    outln!(
        "W1 over HTTP: {requests} signed 1 KB events per run (after 200 warm-up), answered after the post; \
         Ledgerlink = `ledgerlink run` ({}, journal on), baseline = axum + reqwest, no durability; \
         {repeats} interleaved repeats, medians",
        match std::env::var("LEDGERLINK_BENCH_PG") {
            Ok(_) => "PostgreSQL store, a fresh database per run".to_string(),
            Err(_) => format!("SQLite, {} sync", durability().to_uppercase()),
        }
    );
    let mut offset = 1_000_000;
    let mut table = Vec::new();
    for &c in levels {
        let mut ll = Vec::new();
        let mut base = Vec::new();
        for _ in 0..repeats {
            for (target, into) in [("ledgerlink", &mut ll), ("baseline", &mut base)] {
                let f = measure(target, &sink_url, &posted, requests, c, offset).await?;
                offset += requests + 1000;
                into.push(f);
            }
        }
        let med = |v: &[Figures], f: fn(&Figures) -> f64| median(v.iter().map(f).collect());
        let (l, b) = (
            Figures {
                per_second: med(&ll, |f| f.per_second),
                p50_ms: med(&ll, |f| f.p50_ms),
                p99_ms: med(&ll, |f| f.p99_ms),
                rss_mib: med(&ll, |f| f.rss_mib),
                cpu_ms: med(&ll, |f| f.cpu_ms),
            },
            Figures {
                per_second: med(&base, |f| f.per_second),
                p50_ms: med(&base, |f| f.p50_ms),
                p99_ms: med(&base, |f| f.p99_ms),
                rss_mib: med(&base, |f| f.rss_mib),
                cpu_ms: med(&base, |f| f.cpu_ms),
            },
        );
        table.push((c, l, b));
    }
    outln!("| concurrency | target | events/s | p50 ms | p99 ms | peak RSS MiB | CPU ms/event |");
    outln!("|---|---|---|---|---|---|---|");
    for (c, l, b) in &table {
        for (name, f) in [("Ledgerlink", l), ("baseline", b)] {
            outln!(
                "| {c} | {name} | {:.0} | {:.2} | {:.2} | {:.1} | {:.3} |",
                f.per_second,
                f.p50_ms,
                f.p99_ms,
                f.rss_mib,
                f.cpu_ms
            );
        }
        outln!(
            "| {c} | **ratio** | **{:.2}x** | {:.2}x | {:.2}x | | {:.2}x |",
            l.per_second / b.per_second.max(1e-9),
            l.p50_ms / b.p50_ms.max(1e-9),
            l.p99_ms / b.p99_ms.max(1e-9),
            l.cpu_ms / b.cpu_ms.max(1e-9)
        );
    }
    Ok(0)
}

/// The hand-written baseline: the same mapping in plain Rust, no store, no journal.
#[derive(Debug, clap::Args)]
pub struct BaselineArgs {
    #[arg(long)]
    bind: String,
    #[arg(long)]
    sink: String,
}

#[derive(Clone)]
struct Baseline {
    http: reqwest::Client,
    sink: String,
}

fn status_of(code: i64) -> &'static str {
    match code {
        101 | 112 | 120 | 122 | 124 => "Paid",
        106 => "Refunded",
        _ => "Failed",
    }
}

/// Pacific date of PayTrace's `MM/DD/YYYY hh:mm:ss AM` local time.
fn pacific_date(text: &str) -> Option<String> {
    let t = chrono::NaiveDateTime::parse_from_str(text, "%m/%d/%Y %I:%M:%S %p").ok()?;
    Some(t.date().format("%Y-%m-%d").to_string())
}

async fn baseline_hook(
    axum::extract::State(b): axum::extract::State<Baseline>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let bad = |m: &str| (axum::http::StatusCode::BAD_REQUEST, m.to_string()).into_response();
    let given = headers
        .get("X-PayTrace-Signature")
        .and_then(|v| v.to_str().ok());
    if signature::verify(
        SECRET.as_bytes(),
        given,
        &body,
        chrono::Utc::now().timestamp(),
        300,
    )
    .is_err()
    {
        return (axum::http::StatusCode::UNAUTHORIZED, "bad signature").into_response();
    }
    let Ok(e) = serde_json::from_slice::<Value>(&body) else {
        return bad("not JSON");
    };
    let id = e["transaction_id"].to_string();
    let Some(amount) = e["amount"].as_str().and_then(|a| Decimal::from_str(a).ok()) else {
        return bad("amount");
    };
    let customer = match e["customer_id"].as_str() {
        Some("pt-cust-1001") => "ACME01",
        Some("pt-cust-1002") => "GLOBEX",
        Some("pt-cust-1003") => "INITECH",
        _ => return bad("customer"),
    };
    let card = !e["credit_card"].is_null();
    let Some(date) = e["created"]["at"].as_str().and_then(pacific_date) else {
        return bad("date");
    };
    let payment = json!({
        "PaymentReference": format!("W1-{id}"),
        "PaymentDate": date,
        "Amount": amount.to_string(),
        "CustomerID": customer,
        "GLAccountID": if card { "1050" } else { "1055" },
        "PaymentMethodCode": if card { "CC" } else { "ACH" },
        "PaymentStatus": status_of(e["status_code"].as_i64().unwrap_or(0)),
    });
    let sent = b
        .http
        .post(format!("{}/api/payments", b.sink))
        .bearer_auth("bench")
        .header("Idempotency-Key", format!("w1-{id}"))
        .json(&payment)
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => {
            axum::Json(json!({"status": "completed"})).into_response()
        }
        _ => (axum::http::StatusCode::BAD_GATEWAY, "sink failed").into_response(),
    }
}

pub fn baseline(args: BaselineArgs) -> anyhow::Result<i32> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let state = Baseline {
            http: crate::connectors::transport::client(),
            sink: args.sink.clone(),
        };
        let app = Router::new()
            .route("/hooks/w1", post(baseline_hook))
            .route("/healthz", axum::routing::get(|| async { "ok" }))
            .with_state(state);
        let (_addr, task) = crate::server::serve(&args.bind, app).await?;
        let _ = task.await;
        Ok(0)
    })
}
