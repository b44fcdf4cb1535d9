//! The PAN/CVV leak scan a PCI assessor would do, after a card-bearing workload through the
//! real engine: `ledgerlink run` (debug logs on) against the PayTrace and Sage Pro emulators on
//! ephemeral ports, fed by signed webhooks carrying full card numbers and CVVs in card fields,
//! free text and the wrong fields, and by `ledgerlink send` of keyed phone-order sales (the card
//! goes to PayTrace, where it belongs) and of notes that end in alerts and dead letters. Then
//! every place card data could rest or be shown is searched for every card number used (plain,
//! spaced, dashed) and every CVV next to its key: the store file with its WAL (raw bytes, while
//! running and after the stop), stdout and stderr, `runs`/`dlq` output, the admin API's
//! answers, the Sage Pro ledger and its database file. Zero hits. The same scan looks for the
//! profile's secret values (never in logs, store or API), and the live admin API refuses a
//! missing or wrong token.

use ledgerlink::sandbox::{Sandbox, SandboxConfig};
use ledgerlink::triggers::signature;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Every card number the workload uses (all pass Luhn), in its plain form.
const PANS: &[&str] = &[
    "4111111111111111",
    "5454545454545454",
    "4012000098765439",
    "4000000000000002",
    "378282246310005",
];
/// CVVs used; searched for where they follow a CVV-like key.
const CVVS: &[&str] = &["8317", "731", "6042"];
const WEBHOOK_SECRET: &str = "whsec-leak-scan-7f3a9c";
const ADMIN_TOKEN: &str = "admin-leak-scan-b81d2e";

const KEYED_FLOW: &str = r#"flow: keyed-sale
description: A phone order keyed into PayTrace, then posted to Sage Pro with the masked card.
trigger: { manual: {} }
steps:
  - id: sale
    call: paytrace.sale_keyed
    with:
      amount: money(event.amount)
      credit_card:
        number: event.credit_card.number
        expiration_month: event.credit_card.expiration_month
        expiration_year: event.credit_card.expiration_year
      csc: event.csc
      invoice_id: event.invoice_id
    idempotency_key: '"keyed-" + event.n'
    retry: { attempts: 1 }
    on:
      declined: dead_letter
  - id: post
    call: sagepro.create_payment
    with:
      PaymentReference: '"PT-" + steps.sale.transaction_id'
      PaymentDate: '"2026-11-25"'
      Amount: money(event.amount)
      CustomerID: '"ACME01"'
      InvoiceID: event.invoice_id
      GLAccountID: '"1050"'
      PaymentMethodCode: '"CC"'
      PaymentStatus: '"Paid"'
      Memo: '"keyed sale, card " + steps.sale.masked_card_number + ", " + event.note'
    idempotency_key: '"keyed-post-" + event.n'
"#;

const NOTES_FLOW: &str = r#"flow: card-notes
description: Free-text notes with card numbers reach an alert (the log) and a dead letter.
trigger: { manual: {} }
steps:
  - id: tell
    alert:
      severity: warning
      message: '"order note needs review: " + event.note'
  - id: park
    dead_letter:
      reason: '"note: " + event.note'
"#;

fn profile(sb: &Sandbox) -> String {
    format!(
        r#"profile: dev
tables:
  gl_accounts: {{ card_clearing: "1050", ach_clearing: "1055" }}
  customers: {{ pt-cust-1001: ACME01 }}
secrets:
  paytrace_webhook: ${{file:secrets/webhook}}
  admin_token: ${{file:secrets/admin}}
connectors:
  paytrace:
    base_url: {pt}
    username: ledgerlink
    password: ${{file:secrets/paytrace-password}}
    timeout: 5s
  sagepro:
    base_url: {sp}
    client_id: ledgerlink-sandbox
    client_secret: ${{file:secrets/sagepro-secret}}
    timeout: 5s
alerts:
  targets: {{ log: {{}} }}
  default: [log]
server:
  admin_token: ${{secret:admin_token}}
"#,
        pt = sb.paytrace_url(),
        sp = sb.sagepro_url()
    )
}

/// The webhook events: card data in the card fields, in free text (two numbers in one string,
/// one next to other digits), in the masked-number field, in a decline message and as the
/// customer id of an unknown customer.
fn webhook_events() -> Vec<Value> {
    let base = json!({
        "transaction_type": "SALE", "status_code": 101, "amount": "12.34",
        "invoice_id": "INV-10021", "customer_id": "pt-cust-1001", "customer_reference_id": "",
        "credit_card": {"number": "4111111111111111", "masked_number": "xxxxxxxxxxxx1111",
            "expiration_month": 12, "expiration_year": 28, "cvv": "8317"},
        "csc": "8317",
        "created": {"at": "11/25/2026 11:42:10 PM", "through": "API"},
    });
    let with = |id: u64, changes: Value| {
        let mut e = base.clone();
        e["transaction_id"] = json!(id);
        for (k, v) in changes.as_object().unwrap() {
            e[k] = v.clone();
        }
        e
    };
    vec![
        with(
            990_001,
            json!({"notes": "cards on file 4111111111111111 5454545454545454",
                "reference": "order 12 4012-0000-9876-5439", "cid": "6042",
                "amex": "3782 822463 10005"}),
        ),
        with(
            990_002,
            json!({"credit_card": {"masked_number": "5454545454545454", "cvv2": "731"}}),
        ),
        with(
            990_003,
            json!({"status_code": 102,
                "status_message": "declined, card 4012 0000 9876 5439 cvv 731"}),
        ),
        with(
            990_004,
            json!({"customer_id": "4111111111111111", "customer_reference_id": ""}),
        ),
    ]
}

fn send_events() -> String {
    [
        json!({"n": 1, "amount": "19.99", "invoice_id": "INV-10021", "note": "phone order",
            "credit_card": {"number": "4012000098765439", "expiration_month": 12,
                "expiration_year": 2030}, "csc": "731"}),
        json!({"n": 2, "amount": "5.00", "invoice_id": "INV-10021", "note": "retry later",
            "credit_card": {"number": "4000000000000002", "expiration_month": 1,
                "expiration_year": 2031}, "csc": "8317"}),
    ]
    .iter()
    .map(|e| e.to_string() + "\n")
    .collect()
}

fn notes_events() -> String {
    json!({"n": 3, "note": "call back: card 4111111111111111 exp 12/28 cvv 8317, else 5454 5454 5454 5454",
        "cvv": "8317", "card": {"number": "5454545454545454", "cvc": "731"}})
    .to_string()
        + "\n"
}

struct Engine {
    dir: PathBuf,
    child: Child,
}

impl Engine {
    fn cli(&self, args: &[&str]) -> String {
        let out = command(&self.dir, args).output().unwrap();
        // 1 and 2 are answers (`dlq show` of a run that is not a dead letter); 101 is a panic.
        assert!(
            out.status.code().is_some_and(|c| c <= 2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// Waits for a `prefix` line in the engine's stdout; the address after it.
    fn address(&self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let out = std::fs::read_to_string(self.dir.join("stdout.log")).unwrap_or_default();
            if let Some(line) = out.lines().find(|l| l.starts_with(prefix)) {
                let rest = &line[prefix.len()..];
                return rest.split_whitespace().next().unwrap().to_string();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "no `{prefix}` line; stderr:\n{}",
            std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default()
        );
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn command(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ledgerlink"));
    c.current_dir(dir)
        .args(args)
        .args(["--profiles-dir", "profiles", "--flows", "flows"])
        .args(["--store", "state.db"])
        .env_remove("LEDGERLINK_LOG");
    c
}

/// The text forms a card number can take: plain, in groups of four (spaced, dashed), and
/// Amex's 4-6-5.
fn pan_forms(pan: &str) -> Vec<String> {
    let groups = |sizes: &[usize], sep: &str| {
        let mut parts = Vec::new();
        let mut at = 0;
        for &n in sizes {
            parts.push(&pan[at..(at + n).min(pan.len())]);
            at += n;
        }
        parts.join(sep)
    };
    let sizes: &[usize] = if pan.len() == 15 {
        &[4, 6, 5]
    } else {
        &[4, 4, 4, 4]
    };
    vec![pan.to_string(), groups(sizes, " "), groups(sizes, "-")]
}

/// Card data in `bytes`: any form of any PAN, or a CVV within a few bytes after a CVV-like
/// key (a bare 3-digit number is everywhere in a database file). The first hit, described.
fn card_data_in(bytes: &[u8]) -> Option<String> {
    let find = |needle: &[u8]| bytes.windows(needle.len()).position(|w| w == needle);
    for pan in PANS {
        for form in pan_forms(pan) {
            if let Some(at) = find(form.as_bytes()) {
                return Some(format!("PAN `{form}` at byte {at}"));
            }
        }
    }
    let lower = bytes.to_ascii_lowercase();
    for cvv in CVVS {
        let c = cvv.as_bytes();
        for at in 0..lower.len().saturating_sub(c.len() - 1) {
            let digit_at = |i: usize| lower.get(i).is_some_and(u8::is_ascii_digit);
            if &lower[at..at + c.len()] != c
                || (at > 0 && digit_at(at - 1))
                || digit_at(at + c.len())
            {
                continue;
            }
            let before = &lower[at.saturating_sub(16)..at];
            for key in [&b"cvv"[..], b"csc", b"cvc", b"cid", b"security_code"] {
                if before.windows(key.len()).any(|w| w == key) {
                    return Some(format!(
                        "CVV `{cvv}` after `{}` at byte {at}",
                        key.escape_ascii()
                    ));
                }
            }
        }
    }
    None
}

fn secret_in(bytes: &[u8]) -> Option<&'static str> {
    [WEBHOOK_SECRET, ADMIN_TOKEN, "sandbox-secret"]
        .into_iter()
        .find(|s| bytes.windows(s.len()).any(|w| w == s.as_bytes()))
}

/// The store's files (`state.db`, `-wal`, `-shm`) as they are now, by name.
fn store_files(dir: &Path, label: &str) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if (name.starts_with("state.db") || name.starts_with("sagepro.db"))
            && let Ok(bytes) = std::fs::read(&path)
        {
            out.push((format!("{name} ({label})"), bytes));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_card_data_or_secret_rests_or_shows_after_a_card_bearing_run() {
    let dir = std::env::temp_dir().join(format!("ll-leak-scan-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for sub in ["flows", "profiles/secrets"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    let sb = Sandbox::start(SandboxConfig {
        sagepro_db: Some(dir.join("sagepro.db")),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(
        root.join("flows/paytrace-payment-posting.yaml"),
        dir.join("flows/paytrace-payment-posting.yaml"),
    )
    .unwrap();
    std::fs::write(dir.join("flows/keyed-sale.yaml"), KEYED_FLOW).unwrap();
    std::fs::write(dir.join("flows/card-notes.yaml"), NOTES_FLOW).unwrap();
    std::fs::write(dir.join("profiles/dev.yaml"), profile(&sb)).unwrap();
    for (file, value) in [
        ("webhook", WEBHOOK_SECRET),
        ("admin", ADMIN_TOKEN),
        ("paytrace-password", "sandbox"),
        ("sagepro-secret", "sandbox-secret"),
    ] {
        std::fs::write(dir.join("profiles/secrets").join(file), value).unwrap();
    }
    std::fs::write(dir.join("keyed.jsonl"), send_events()).unwrap();
    std::fs::write(dir.join("notes.jsonl"), notes_events()).unwrap();

    let child = command(&dir, &["run", "--bind", "127.0.0.1:0", "--progress", "0"])
        .args(["--log", "debug"])
        .stdout(std::fs::File::create(dir.join("stdout.log")).unwrap())
        .stderr(std::fs::File::create(dir.join("stderr.log")).unwrap())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let engine = Engine {
        dir: dir.clone(),
        child,
    };
    let hooks = engine.address("webhooks and health on ");
    let admin = engine.address("admin API on ");

    let http = ledgerlink::connectors::transport::client();
    let mut seen: Vec<(String, Vec<u8>)> = Vec::new();
    for event in webhook_events() {
        let body = event.to_string();
        let now = chrono::Utc::now().timestamp();
        let r = http
            .post(format!("{hooks}/hooks/paytrace/transactions"))
            .header("content-type", "application/json")
            .header(
                "X-PayTrace-Signature",
                signature::sign(WEBHOOK_SECRET.as_bytes(), now, body.as_bytes()),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202, "webhook accepted");
        seen.push(("webhook answer".into(), r.bytes().await.unwrap().to_vec()));
    }
    for (flow, file) in [("keyed-sale", "keyed.jsonl"), ("card-notes", "notes.jsonl")] {
        let out = engine.cli(&["send", flow, "--event", file]);
        seen.push((format!("send {flow}"), out.into_bytes()));
    }

    // The live admin API: closed without the token or with a wrong one.
    for token in [None, Some("wrong-token")] {
        let mut r = http.get(format!("{admin}/api/runs"));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        assert_eq!(r.send().await.unwrap().status(), 401, "token {token:?}");
    }
    let get = |path: String| {
        let r = http
            .get(format!("{admin}{path}"))
            .bearer_auth(ADMIN_TOKEN)
            .send();
        async move {
            let r = r.await.unwrap();
            assert_eq!(r.status(), 200);
            r.bytes().await.unwrap().to_vec()
        }
    };

    // Until all 7 runs have ended.
    let deadline = Instant::now() + Duration::from_secs(90);
    let runs = loop {
        let runs: Value =
            serde_json::from_slice(&get("/api/runs?limit=1000".into()).await).unwrap();
        let list = runs["runs"].as_array().unwrap().clone();
        let busy = list
            .iter()
            .filter(|r| matches!(r["state"].as_str(), Some("queued" | "running" | "waiting")))
            .count();
        if list.len() == 7 && busy == 0 {
            break list;
        }
        assert!(Instant::now() < deadline, "runs not finished: {runs}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let states: Vec<String> = runs
        .iter()
        .map(|r| {
            format!(
                "{}:{}",
                r["flow"].as_str().unwrap(),
                r["state"].as_str().unwrap()
            )
        })
        .collect();
    // The workload did what it should: keyed sale and clean webhook posted, refusals parked.
    assert!(
        states.iter().filter(|s| s.ends_with(":completed")).count() >= 2,
        "{states:?}"
    );
    assert!(
        states.iter().any(|s| s.ends_with(":dead_lettered")),
        "{states:?}"
    );

    for path in ["/api/runs?limit=1000", "/api/dlq", "/api/flows", "/metrics"] {
        seen.push((format!("admin {path}"), get(path.to_string()).await));
    }
    for r in &runs {
        let id = r["id"].as_i64().unwrap();
        seen.push((
            format!("admin /api/runs/{id}"),
            get(format!("/api/runs/{id}")).await,
        ));
    }
    // A keyed sale run in memory (`run-once`): the one path where the full card reaches
    // PayTrace (the durable path stores the event, so it holds the card masked).
    for (n, extra) in [(9, &[][..]), (10, &["--json"][..])] {
        std::fs::write(
            dir.join("keyed-once.json"),
            json!({"n": n, "amount": "42.00", "invoice_id": "INV-10021", "note": "phone order",
                "credit_card": {"number": "4012000098765439", "expiration_month": 12,
                    "expiration_year": 2030}, "csc": "731"})
            .to_string(),
        )
        .unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_ledgerlink"))
            .current_dir(&dir)
            .args([
                "run-once",
                "--flow",
                "flows/keyed-sale.yaml",
                "--event",
                "keyed-once.json",
            ])
            .args(["--profiles-dir", "profiles", "--log", "debug"])
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "run-once keyed sale: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        seen.push(("run-once stdout".into(), out.stdout));
        seen.push(("run-once stderr (debug log)".into(), out.stderr));
    }
    let ledger = super::support::ledger(&sb).await;
    assert!(
        ledger["payments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["PaymentReference"] == "PT-990001"),
        "the clean sale was posted: {ledger}"
    );
    seen.push(("Sage Pro ledger".into(), ledger.to_string().into_bytes()));
    // The store and the ledger database while the engine runs (the WAL holds recent commits).
    seen.extend(store_files(&dir, "running"));

    let mut cli = vec![
        engine.cli(&["runs", "list"]),
        engine.cli(&["dlq", "list", "--all"]),
    ];
    for r in &runs {
        let id = r["id"].as_i64().unwrap().to_string();
        cli.push(engine.cli(&["runs", "show", &id]));
        cli.push(engine.cli(&["runs", "show", &id, "--json"]));
        cli.push(engine.cli(&["dlq", "show", &id]));
        cli.push(engine.cli(&["dlq", "replay", &id, "--dry-run"]));
    }
    for (i, out) in cli.into_iter().enumerate() {
        seen.push((format!("cli output #{i}"), out.into_bytes()));
    }

    // Graceful stop, then the files as they are left, and everything the engine printed.
    let mut engine = engine;
    let killed = Command::new("kill")
        .args(["-TERM", &engine.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = engine.child.wait().unwrap();
    assert!(status.success(), "engine exit {status:?}");
    seen.extend(store_files(&dir, "stopped"));
    let stderr = std::fs::read(dir.join("stderr.log")).unwrap();
    assert!(
        String::from_utf8_lossy(&stderr).contains("DEBUG"),
        "debug logging was on"
    );
    seen.push(("stderr (debug log)".into(), stderr));
    seen.push((
        "stdout".into(),
        std::fs::read(dir.join("stdout.log")).unwrap(),
    ));
    drop(sb);

    let hits: Vec<String> = seen
        .iter()
        .filter_map(|(what, bytes)| {
            let card = card_data_in(bytes).map(|h| format!("{what}: {h}"));
            let secret = secret_in(bytes).map(|s| format!("{what}: secret `{s}`"));
            match (card, secret) {
                (None, None) => None,
                (a, b) => Some([a, b].into_iter().flatten().collect::<Vec<_>>().join("; ")),
            }
        })
        .collect();
    assert!(
        hits.is_empty(),
        "card data or secrets found:\n{}",
        hits.join("\n")
    );
    assert!(seen.len() > 40, "scanned {} artifacts", seen.len());
    let bytes: usize = seen.iter().map(|(_, b)| b.len()).sum();
    println!(
        "leak scan: {} artifacts, {bytes} bytes, no card data or secret",
        seen.len()
    );
}
