//! The real binary: exit codes, formats, no colour when piped.

use std::path::Path;
use std::process::Command;

fn ledgerlink(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ledgerlink"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn lint_shipped_flows_exits_zero() {
    let (code, out, _) = ledgerlink(&["lint", "flows/"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("no findings"));
    assert!(!out.contains('\x1b'), "no colour when piped");
}

#[test]
fn lint_broken_flow_exits_one_with_positions() {
    let case = Path::new("tests/lint/unknown-operation/flow.yaml");
    let (code, out, _) = ledgerlink(&["lint", "--format", "short", case.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("tests/lint/unknown-operation/flow.yaml:"),
        "{out}"
    );
    assert!(out.contains("error[LL004]"), "{out}");
}

#[test]
fn missing_path_and_bad_usage_exit_two() {
    let (code, _, err) = ledgerlink(&["lint", "no/such/dir"]);
    assert_eq!(code, 2);
    assert!(err.contains("no such file or directory"), "{err}");
    let (code, _, _) = ledgerlink(&["lint", "--format", "xml"]);
    assert_eq!(code, 2);
}

#[test]
fn json_and_sarif_parse() {
    let case = "tests/lint/unknown-operation";
    let (_, out, _) = ledgerlink(&["lint", "--format", "json", case]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["errors"].as_u64().unwrap() >= 1);
    let (_, out, _) = ledgerlink(&["lint", "--format", "sarif", case]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["version"], "2.1.0");
    assert!(
        v["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"]
            .is_u64()
    );
}

#[test]
fn schema_command_prints_the_committed_schema() {
    let (code, out, _) = ledgerlink(&["schema"]);
    assert_eq!(code, 0);
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/flow.schema.json"),
    )
    .unwrap();
    assert_eq!(out, committed);
    let (code, out, _) = ledgerlink(&["schema", "--connector", "sagepro"]);
    assert_eq!(code, 0);
    assert!(out.contains("create_payment"));
    let (code, _, err) = ledgerlink(&["schema", "--connector", "sage"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn profiles_diff_shows_promotion_changes_without_secret_values() {
    let (code, out, err) = ledgerlink(&["profiles", "diff", "dev", "prod"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(
            "~ connectors.paytrace.base_url: http://127.0.0.1:8081 -> https://api.paytrace.com"
        ),
        "{out}"
    );
    assert!(
        out.contains("${env:PAYTRACE_WEBHOOK_SECRET}"),
        "references are shown: {out}"
    );
    assert!(
        !out.contains("sandbox-webhook-secret") && !out.contains("sandbox-secret\n"),
        "values never: {out}"
    );
    let (_, out, _) = ledgerlink(&["profiles", "list"]);
    assert!(
        out.contains("dev") && out.contains("qa") && out.contains("prod"),
        "{out}"
    );
}

#[test]
fn a_prod_profile_pointing_at_the_sandbox_is_refused() {
    let dir = std::env::temp_dir().join(format!("ll-guard-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("prod.yaml"),
        "profile: prod\nconnectors:\n  sagepro:\n    base_url: http://127.0.0.1:8082\n    client_id: x\n    client_secret: ${file:secrets/dev/sagepro-client-secret}\n",
    )
    .unwrap();
    let (code, _, err) = ledgerlink(&[
        "check",
        "--profile",
        "prod",
        "--profiles-dir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("breaks its guards") && err.contains("connectors.sagepro.base_url"),
        "{err}"
    );
    assert!(err.contains("connectors.sagepro.client_secret"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_script_that_hoards_memory_fails_its_step_instead_of_the_process() {
    // Review finding: map keys are outside Rhai's size limits; 10,000 keys of 1 MiB took the
    // process down (and again on every restart, as its run was recovered).
    let dir = std::env::temp_dir().join(format!("ll-hoard-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let flow = dir.join("hoard.yaml");
    std::fs::write(
        &flow,
        r#"flow: hoard
trigger: { manual: {} }
steps:
  - id: hoard
    script: |
      let s = "x";
      s.pad(1000000, "y");
      let m = #{};
      for i in 0..10000 { m[s + i] = 1; }
      m.len()
"#,
    )
    .unwrap();
    let event = dir.join("event.json");
    std::fs::write(&event, "{}").unwrap();
    let (code, out, err) = ledgerlink(&[
        "run-once",
        "--flow",
        flow.to_str().unwrap(),
        "--event",
        event.to_str().unwrap(),
        "--dry-run",
    ]);
    assert_ne!(code, 0, "{out}{err}");
    assert!(
        out.contains("script stopped after taking more than 64 MiB of memory")
            && out.contains("hoard.yaml:9:"),
        "{out}{err}"
    );
}

#[test]
fn check_lists_every_secret_that_does_not_resolve_at_once() {
    // New-user finding: `check` stopped at the first missing variable, one per run.
    let dir = std::env::temp_dir().join(format!("ll-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("dev.yaml"),
        "profile: dev\nsecrets:\n  hook: ${env:LL_TEST_NOPE_HOOK}\nconnectors:\n  paytrace:\n    base_url: http://127.0.0.1:1\n    username: u\n    password: ${env:LL_TEST_NOPE_PT}\n  sagepro:\n    base_url: http://127.0.0.1:2\n    client_id: c\n    client_secret: ${file:secrets/nope}\n",
    )
    .unwrap();
    let (code, _, err) = ledgerlink(&["check", "--profiles-dir", dir.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    for named in [
        "connectors.paytrace.password",
        "connectors.sagepro.client_secret",
        "secrets.hook",
    ] {
        assert!(err.contains(named), "{named}: {err}");
    }
}
