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
