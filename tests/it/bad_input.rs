//! The bad-input corpus (`tests/bad-input/`): malformed flows, profiles and webhook requests,
//! each with the error a user sees in a golden file beside it (`<case>.expected`; `BLESS=1`
//! rewrites them). Flows go through `ledgerlink lint` and profiles through `ledgerlink check`
//! (the real binary: exit 1 or 2, never a panic's 101); webhook requests go over HTTP to a real
//! server on an ephemeral port with the shipped payment flow and the dev profile (never a 5xx).
//! Generated inputs (10 MB, deep nesting, billion laughs) live in `malformed.rs`.

use ledgerlink::load::secrets::SecretScope;
use ledgerlink::store::{SqliteStore, StateStore};
use ledgerlink::triggers::signature;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, RwLock};

fn corpus(kind: &str, ext: &str) -> (PathBuf, Vec<String>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/bad-input")
        .join(kind);
    let mut cases: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().to_string();
            name.strip_suffix(ext).map(str::to_string)
        })
        .collect();
    cases.sort();
    assert!(cases.len() >= 10, "{kind}: only {} cases", cases.len());
    (dir, cases)
}

/// Runs the binary in `dir`; the exit code and everything it printed.
fn ledgerlink(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ledgerlink"))
        .args(args)
        .current_dir(dir)
        .env_remove("LEDGERLINK_LOG")
        .env_remove("LEDGERLINK_BAD_INPUT_NEVER_SET")
        .output()
        .unwrap();
    let code = out.status.code().unwrap_or(-1);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (code, text)
}

/// Compares every case with its golden file; all differences reported at once.
fn check_all(dir: &Path, actual: Vec<(String, String)>) {
    let failures: Vec<String> = actual
        .iter()
        .filter_map(|(case, text)| {
            super::golden::check(&dir.join(format!("{case}.expected")), text)
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn malformed_flows_get_findings_with_file_line_and_column() {
    let (dir, cases) = corpus("flows", ".yaml");
    let mut actual = Vec::new();
    for case in cases {
        let file = format!("{case}.yaml");
        let (code, text) = ledgerlink(&dir, &["lint", &file, "--color", "never"]);
        assert!(
            code == 1 || code == 2,
            "{file}: exit {code} (1 findings, 2 unreadable)\n{text}"
        );
        assert!(!text.contains("panicked"), "{file}: {text}");
        // Every finding names the file (with line and column where there is a line to point
        // at; the golden file shows which).
        assert!(
            text.contains(&file),
            "{file}: the error does not name the file\n{text}"
        );
        actual.push((case, format!("exit {code}\n{text}")));
    }
    check_all(&dir, actual);
}

#[test]
fn malformed_profiles_are_refused_before_anything_connects() {
    let (dir, cases) = corpus("profiles", ".yaml");
    let mut actual = Vec::new();
    for case in cases {
        let (code, text) = ledgerlink(&dir, &["check", "--profile", &case, "--profiles-dir", "."]);
        // 2: the profile is unusable. A 1 would mean a connector was tried: the case is wrong.
        assert_eq!(code, 2, "{case}: exit {code}\n{text}");
        assert!(!text.contains("panicked"), "{case}: {text}");
        actual.push((case, format!("exit {code}\n{text}")));
    }
    check_all(&dir, actual);
}

/// A request file: `METHOD PATH`, header lines, an empty line, the body. `!sign` / `!stale` in
/// a header become a valid / expired signature of the body, `!now` the current time, and
/// `!pad!` in the body 300 KiB of padding (so the corpus stays small).
fn request(text: &[u8], secret: &str) -> (String, String, Vec<(String, String)>, Vec<u8>) {
    let split = text.windows(2).position(|w| w == b"\n\n").unwrap();
    let head = String::from_utf8(text[..split].to_vec()).unwrap();
    let mut body = text[split + 2..].to_vec();
    if let Some(i) = body.windows(5).position(|w| w == b"!pad!") {
        body.splice(i..i + 5, std::iter::repeat_n(b'x', 300 * 1024));
    }
    let now = chrono::Utc::now().timestamp();
    let mut lines = head.lines();
    let (method, path) = lines.next().unwrap().split_once(' ').unwrap();
    let headers = lines
        .map(|l| {
            let (name, value) = l.split_once(':').unwrap();
            let value = match value.trim() {
                "!sign" => signature::sign(secret.as_bytes(), now, &body),
                "!stale" => signature::sign(secret.as_bytes(), now - 3600, &body),
                other => other.replace("!now", &now.to_string()),
            };
            (name.trim().to_string(), value)
        })
        .collect();
    (method.to_string(), path.to_string(), headers, body)
}

/// The message with the one clock-dependent number (a stale signature's age) replaced.
fn steady(message: &str) -> String {
    match (message.find("timestamp is "), message.find(" s old")) {
        (Some(a), Some(b)) if a + 13 <= b => {
            format!("{}<age>{}", &message[..a + 13], &message[b..])
        }
        _ => message.to_string(),
    }
}

#[tokio::test]
async fn malformed_webhook_requests_get_a_clear_4xx_never_a_5xx() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let profiles = root.join("profiles");
    let profile = ledgerlink::load::find_profile(&profiles, "dev").unwrap();
    let scope = SecretScope::of(&profile, &profiles);
    let source = ledgerlink::load::read(&root.join("flows/paytrace-payment-posting.yaml")).unwrap();
    let (_plans, routes) = super::support::planned(source, &profile, &scope);
    let store: Arc<dyn StateStore> = Arc::new(SqliteStore::memory().unwrap());
    let addr = super::support::serve_hooks(&store, Arc::new(RwLock::new(routes)), None).await;
    let secret = scope.resolve("test", "${secret:paytrace_webhook}").unwrap();
    let http = ledgerlink::connectors::transport::client();

    let (dir, cases) = corpus("webhooks", ".http");
    let mut actual = Vec::new();
    for case in cases {
        let (method, path, headers, body) = request(
            &std::fs::read(dir.join(format!("{case}.http"))).unwrap(),
            &secret,
        );
        let mut r = http.request(method.parse().unwrap(), format!("http://{addr}{path}"));
        for (name, value) in headers {
            r = r.header(name, value);
        }
        let response = r.body(body).send().await.unwrap();
        let status = response.status();
        assert!(!status.is_server_error(), "{case}: {status}");
        let v: serde_json::Value = response.json().await.unwrap();
        let line = if status.is_success() {
            format!("{} accepted event_id={}\n", status.as_u16(), v["event_id"])
        } else {
            let (code, message) = (&v["error"]["code"], &v["error"]["message"]);
            assert!(
                code.is_string() && message.is_string(),
                "{case}: error body {v}"
            );
            format!(
                "{} {}: {}\n",
                status.as_u16(),
                code.as_str().unwrap(),
                steady(message.as_str().unwrap())
            )
        };
        actual.push((case, line));
    }
    check_all(&dir, actual);
}
