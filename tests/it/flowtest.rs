//! `ledgerlink test`: the shipped flow tests pass; a failing case names what differs and shows
//! the calls made; JUnit output for CI; a broken test file is an error with its position.

use ledgerlink::flowtest::{discover, report, run_all};
use std::path::{Path, PathBuf};
use std::process::Command;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ll-flowtest-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("flows/events")).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(
        root.join("flows/paytrace-payment-posting.yaml"),
        dir.join("flows/paytrace-payment-posting.yaml"),
    )
    .unwrap();
    std::fs::copy(
        root.join("flows/events/paytrace-sale-approved.json"),
        dir.join("flows/events/paytrace-sale-approved.json"),
    )
    .unwrap();
    dir
}

#[test]
fn shipped_flow_tests_pass_from_the_cli() {
    let out = Command::new(env!("CARGO_BIN_EXE_ledgerlink"))
        .args(["test", "flows/"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains(" 0 failed"), "{text}");
    assert!(!text.contains("FAIL"), "{text}");
}

#[test]
fn a_failing_case_names_the_difference_and_the_calls_made() {
    let dir = scratch("fail");
    std::fs::write(
        dir.join("flows/paytrace-payment-posting.test.yaml"),
        r#"
tests:
  - name: wrong GL account expected
    event_file: events/paytrace-sale-approved.json
    replies:
      - { call: sagepro.create_payment, ok: {} }
      - { call: sagepro.get_invoice, ok: {} }
    expect:
      status: completed
      calls:
        - call: sagepro.create_payment
          input: { GLAccountID: "1055", Amount: 1234.5 }
  - name: right
    event_file: events/paytrace-sale-approved.json
    replies:
      - { call: sagepro.create_payment, ok: {} }
    expect: { status: completed }
"#,
    )
    .unwrap();
    let files = discover(&[dir.join("flows")]).unwrap();
    assert_eq!(files.len(), 1, "flows themselves are not test files");
    let summary = run_all(&files, None);
    assert_eq!((summary.passed(), summary.failed()), (1, 1));
    let text = report::human(&summary, false);
    assert!(
        text.contains(
            r#"calls[0] sagepro.create_payment input.GLAccountID: expected "1055", got "1050""#
        ),
        "{text}"
    );
    assert!(
        text.contains("scripted reply for `sagepro.get_invoice` was never used"),
        "{text}"
    );
    assert!(text.contains("calls made:"), "{text}");
    assert!(text.contains("key paytrace-sale-88431"), "{text}");
    assert!(
        !text.contains("input.Amount"),
        "1234.5 matches 1234.50 as a number: {text}"
    );

    let xml = report::junit(&summary);
    assert!(
        xml.contains(r#"<testsuites name="ledgerlink" tests="2" failures="1" errors="0">"#),
        "{xml}"
    );
    assert!(xml.contains(r#"<failure message="calls[0] sagepro.create_payment input.GLAccountID: expected &quot;1055&quot;, got &quot;1050&quot;">"#), "{xml}");

    let out = Command::new(env!("CARGO_BIN_EXE_ledgerlink"))
        .args(["test", "--format", "junit"])
        .arg(dir.join("flows"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("<?xml"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_broken_test_file_is_an_error_at_its_position() {
    let dir = scratch("broken");
    std::fs::write(
        dir.join("flows/paytrace-payment-posting.test.yaml"),
        "tests:\n  - name: a\n    event: {}\n    expect: { status: completed }\n    replies:\n      - { call: sagepro.create_paymnt, ok: {} }\n  - name: b\n    event: {}\n    expct: {}\n",
    )
    .unwrap();
    let files = discover(&[dir.join("flows/paytrace-payment-posting.yaml")]).unwrap();
    let summary = run_all(&files, None);
    let err = summary.errors[0].to_string();
    assert!(err.contains("paytrace-payment-posting.test.yaml:6:7: test 1: reply 1: unknown operation `sagepro.create_paymnt`"), "{err}");
    std::fs::write(
        dir.join("flows/paytrace-payment-posting.test.yaml"),
        "tests:\n  - name: b\n    event: {}\n    expct: {}\n",
    )
    .unwrap();
    let summary = run_all(&files, None);
    let err = summary.errors[0].to_string();
    assert!(
        err.contains("test.yaml:4:5: test 1: unknown field `expct`"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_template_makes_a_flow_that_lints_clean_and_passes_its_tests() {
    let dir = std::env::temp_dir().join(format!("ll-templates-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin = env!("CARGO_BIN_EXE_ledgerlink");
    let list = Command::new(bin).args(["new", "--list"]).output().unwrap();
    let list = String::from_utf8_lossy(&list.stdout).to_string();
    let names: Vec<&str> = list
        .lines()
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names.len(), 9, "one template per flow: {list}");
    for t in &names {
        let out = Command::new(bin)
            .args(["new", &format!("my-{t}"), "--template", t, "--dir"])
            .arg(dir.join("flows"))
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{t}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // All nine side by side: names and webhook paths do not collide.
    for profile in ["dev", "qa", "prod"] {
        let lint = Command::new(bin)
            .args(["lint", "--profile", profile, "--profiles-dir"])
            .arg(root.join("profiles"))
            .arg(dir.join("flows"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&lint.stdout);
        assert!(
            text.contains("9 files checked, no findings"),
            "{profile}: {text}"
        );
    }
    let test = Command::new(bin)
        .args(["test", "--profiles-dir"])
        .arg(root.join("profiles"))
        .arg(dir.join("flows"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&test.stdout);
    assert_eq!(test.status.code(), Some(0), "{text}");
    assert!(text.contains(" 0 failed (9 files)"), "{text}");
    let again = Command::new(bin)
        .args(["new", "my-chargeback", "--template", "chargeback", "--dir"])
        .arg(dir.join("flows"))
        .output()
        .unwrap();
    assert_eq!(
        again.status.code(),
        Some(2),
        "an existing flow is not overwritten"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
