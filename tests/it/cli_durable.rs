//! The durable commands as a consultant uses them, through the real binary: `send` (JSON lines,
//! duplicates), `run --until-idle`, `runs list|show`, `dlq list|show|replay --dry-run|replay|
//! discard`, all against one store file. No network: the flow uses the echoing mock connector.

use std::path::{Path, PathBuf};
use std::process::Command;

const FLOW: &str = r#"flow: cli-durable
trigger: { manual: {} }
steps:
  - id: echo
    call: mock.echo
    with: { n: event.n }
  - id: check
    switch:
      - when: event.bad == true
        goto: reject
      - goto: complete
  - id: reject
    dead_letter:
      reason: '"event " + event.n + " is marked bad"'
"#;

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("ll-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("flows")).unwrap();
        std::fs::create_dir_all(d.join("profiles")).unwrap();
        std::fs::write(d.join("flows/cli-durable.yaml"), FLOW).unwrap();
        std::fs::write(d.join("profiles/dev.yaml"), "profile: dev\n").unwrap();
        Dir(d)
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_ledgerlink"))
            .args(args)
            .args(["--store", "state.db"])
            .current_dir(&self.0)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn send_run_inspect_and_replay() {
    let dir = Dir::new("cli-durable");
    std::fs::write(
        dir.path().join("events.jsonl"),
        "{\"n\": 1}\n{\"n\": 2, \"bad\": true}\n{\"n\": 3}\n",
    )
    .unwrap();
    let (code, out, err) = dir.run(&["send", "cli-durable", "--event", "events.jsonl"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("3 event(s) accepted"), "{out}");
    let (_, out, _) = dir.run(&["send", "cli-durable", "--event", "events.jsonl"]);
    assert!(
        out.contains("0 event(s) accepted") && out.contains("3 duplicate(s)"),
        "{out}"
    );

    let (code, out, err) = dir.run(&[
        "run",
        "--until-idle",
        "--progress",
        "0",
        "--bind",
        "127.0.0.1:0",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("2 completed") && out.contains("1 dead-lettered"),
        "{out}"
    );

    let (_, out, _) = dir.run(&["runs", "list"]);
    assert!(
        out.contains("completed") && out.contains("dead_lettered"),
        "{out}"
    );
    let (code, out, _) = dir.run(&["runs", "show", "1"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("call #0 echo (mock.echo) -> ok after 1 attempt(s)"),
        "{out}"
    );
    let (_, json, _) = dir.run(&["runs", "show", "1", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["run"]["state"], "completed");
    let (code, _, err) = dir.run(&["runs", "show", "99"]);
    assert_eq!(code, 1);
    assert!(err.contains("no run 99"), "{err}");
    let (code, _, err) = dir.run(&["runs", "list", "--state", "done"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown state `done`"), "{err}");

    let (_, out, _) = dir.run(&["dlq", "list"]);
    assert!(
        out.contains("event 2 is marked bad") && out.contains("1 dead letter(s)"),
        "{out}"
    );
    let (_, out, _) = dir.run(&["dlq", "show", "2"]);
    assert!(out.contains("dead letter (open) at `reject`"), "{out}");
    let (code, out, _) = dir.run(&["dlq", "replay", "2", "--dry-run"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("run 2"), "{out}");
    let (_, out, _) = dir.run(&["dlq", "list"]);
    assert!(
        out.contains("1 dead letter(s)"),
        "a dry run changes nothing: {out}"
    );
    let (code, out, _) = dir.run(&["dlq", "replay", "--all"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 of 1 run(s) queued for replay"), "{out}");
    let (_, out, _) = dir.run(&[
        "run",
        "--until-idle",
        "--progress",
        "0",
        "--bind",
        "127.0.0.1:0",
    ]);
    assert!(
        out.contains("1 dead-lettered"),
        "still bad on replay: {out}"
    );
    let (code, out, _) = dir.run(&["dlq", "discard", "2"]);
    assert_eq!(code, 0, "{out}");
    let (_, out, _) = dir.run(&["dlq", "list"]);
    assert!(out.contains("no open dead letters"), "{out}");
    assert!(
        !out.contains("reason"),
        "no table header over nothing: {out}"
    );
    let (_, out, _) = dir.run(&["dlq", "list", "--all"]);
    assert!(out.contains("discarded"), "{out}");
}

#[test]
fn send_refuses_unknown_flows_and_bad_events_clearly() {
    let dir = Dir::new("cli-send-errors");
    let (code, _, err) = dir.run(&["send", "nope", "--event", "x.json"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no flow `nope`") && err.contains("cli-durable"),
        "{err}"
    );
    std::fs::write(dir.path().join("bad.jsonl"), "{\"n\": 1}\nnot json\n").unwrap();
    let (code, _, err) = dir.run(&["send", "cli-durable", "--event", "bad.jsonl"]);
    assert_eq!(code, 2);
    assert!(err.contains("line 2: not JSON"), "{err}");
    std::fs::write(dir.path().join("scalar.json"), "[1, 2]").unwrap();
    let (code, _, err) = dir.run(&["send", "cli-durable", "--event", "scalar.json"]);
    assert_eq!(code, 2);
    assert!(err.contains("must be a JSON object"), "{err}");
}

#[test]
fn card_numbers_in_events_never_reach_the_store_file() {
    let dir = Dir::new("cli-pan-scan");
    std::fs::write(
        dir.path().join("pan.jsonl"),
        "{\"n\": 7, \"card\": {\"number\": \"4111111111111111\", \"cvv\": \"123\"}, \"note\": \"paid with 5454 5454 5454 5454\"}\n",
    )
    .unwrap();
    let (code, out, err) = dir.run(&["send", "cli-durable", "--event", "pan.jsonl"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = dir.run(&[
        "run",
        "--until-idle",
        "--progress",
        "0",
        "--bind",
        "127.0.0.1:0",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let (_, shown, _) = dir.run(&["runs", "show", "1", "--json"]);
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("state.db")
        {
            let bytes = std::fs::read(&path).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            for pan in [
                "4111111111111111",
                "5454 5454 5454 5454",
                "5454545454545454",
            ] {
                assert!(!text.contains(pan), "{pan} in {}", path.display());
            }
        }
    }
    assert!(
        !shown.contains("4111111111111111") && shown.contains("411111"),
        "{shown}"
    );
}

#[cfg(unix)]
#[test]
fn sigterm_stops_the_engine_gracefully() {
    let dir = Dir::new("cli-sigterm");
    let child = Command::new(env!("CARGO_BIN_EXE_ledgerlink"))
        .args([
            "run",
            "--store",
            "state.db",
            "--progress",
            "0",
            "--bind",
            "127.0.0.1:0",
        ])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("stopping") && text.contains("stopped:"),
        "{text}"
    );
}

#[test]
fn a_flow_needing_a_table_the_profile_lacks_is_refused_at_start() {
    let dir = Dir::new("cli-ll023");
    std::fs::write(
        dir.path().join("flows/needs-table.yaml"),
        r#"flow: needs-table
trigger: { manual: {} }
steps:
  - id: echo
    call: mock.echo
    with: { gl: 'lookup("gl_accounts", "card_clearing")' }
"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("e.json"), "{\"n\": 1}").unwrap();
    let (code, out, err) = dir.run(&["send", "needs-table", "--event", "e.json"]);
    assert_ne!(code, 0, "{out}{err}");
    assert!(
        err.contains("LL023") && err.contains("gl_accounts"),
        "the reason is named: {err}"
    );
}

#[test]
fn runs_prune_removes_nothing_recent_and_says_what_it_did() {
    let dir = Dir::new("cli-prune");
    std::fs::write(dir.path().join("e.jsonl"), "{\"n\": 1}\n{\"n\": 2}\n").unwrap();
    assert_eq!(dir.run(&["send", "cli-durable", "--event", "e.jsonl"]).0, 0);
    let (code, out, err) = dir.run(&[
        "run",
        "--until-idle",
        "--no-sandbox",
        "--bind",
        "127.0.0.1:0",
        "--admin-bind",
        "127.0.0.1:0",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("retention: ended runs older than 90d are removed hourly (the default"),
        "{out}"
    );
    let (code, out, err) = dir.run(&["runs", "prune", "--older-than", "30d"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(
            "removed ended runs: 0, idempotency results: 0, audit entries: 0 (older than 30d)"
        ),
        "{out}"
    );
    let (code, _, err) = dir.run(&["runs", "prune", "--older-than", "1m"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--older-than `1m` is shorter than an hour"),
        "{err}"
    );
    let (_, out, _) = dir.run(&["runs", "list"]);
    assert_eq!(out.matches("completed").count(), 2, "{out}");
}

#[test]
fn lint_with_a_profile_refuses_a_retention_run_would_refuse() {
    let dir = Dir::new("cli-lint-retention");
    std::fs::write(
        dir.path().join("profiles/dev.yaml"),
        "profile: dev\nruntime:\n  retention: 90 dayz\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ledgerlink"))
        .args(["lint", "--profile", "dev", "flows/"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("profile `dev`: runtime.retention `90 dayz` is not a duration"),
        "{err}"
    );
}
