//! Malformed input never panics and always yields a clear finding: truncated YAML, wrong
//! types, tabs, a 10 MB file, binary garbage, deep nesting, billion laughs, a Rhai infinite
//! loop in a constant expression.

use ledgerlink::lint::{LintOptions, lint_paths, lint_sources};
use ledgerlink::load::from_bytes;

fn lint_text(text: &str) -> Vec<String> {
    let file = from_bytes("input.yaml", text.as_bytes().to_vec()).unwrap();
    let report = lint_sources(vec![file], &LintOptions::default());
    report
        .diagnostics
        .iter()
        .map(|d| {
            let (l, c) = d.span.map(|s| (s.line, s.col)).unwrap_or((0, 0));
            format!("{}:{l}:{c} {}", d.code.code, d.message)
        })
        .collect()
}

const GOOD: &str = "flow: a\ntrigger:\n  manual: {}\nsteps:\n  - id: x\n    map: { A: event.a }\n";

#[test]
fn good_input_is_clean() {
    assert!(lint_text(GOOD).is_empty(), "{:?}", lint_text(GOOD));
}

#[test]
fn truncated_yaml() {
    let cut = &GOOD[..GOOD.len() - 12];
    let d = lint_text(&format!("{cut}[\"unclosed"));
    assert!(d.iter().any(|m| m.starts_with("LL001")), "{d:?}");
}

#[test]
fn wrong_types_each_reported() {
    let d = lint_text("flow: 12\nversion: many\ntrigger:\n  manual: {}\nsteps: {}\n");
    let schema: Vec<_> = d.iter().filter(|m| m.starts_with("LL002")).collect();
    assert!(schema.len() >= 3, "{d:?}");
    assert!(d.iter().any(|m| m.starts_with("LL002:2:10")), "{d:?}");
}

#[test]
fn tabs_for_indentation() {
    let d = lint_text("flow: a\ntrigger:\n\tmanual: {}\n");
    assert!(d.iter().any(|m| m.starts_with("LL001:3:")), "{d:?}");
}

#[test]
fn ten_megabyte_file() {
    let dir = std::env::temp_dir().join(format!("ll-big-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("big.yaml");
    let mut text = String::from("flow: big\ndescription: ");
    text.push_str(&"x".repeat(10 * 1024 * 1024));
    std::fs::write(&path, text).unwrap();
    let report = lint_paths(&[path], &LintOptions::default()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(report.diagnostics.len(), 1);
    assert!(
        report.diagnostics[0].message.contains("limited to"),
        "{:?}",
        report.diagnostics
    );
    // And in memory:
    assert!(from_bytes("big.yaml", vec![b'a'; 11 * 1024 * 1024]).is_err());
}

#[test]
fn binary_garbage() {
    let mut bytes = vec![0u8, 159, 146, 150, 255, 1, 2, 3];
    bytes.extend((0..4096u32).map(|i| (i * 7919 % 251) as u8));
    assert!(from_bytes("garbage.yaml", bytes).is_err());
    // Valid UTF-8 but control characters and junk:
    let d = lint_text("\u{1}\u{2}flow: [}{]\u{7f}");
    assert!(!d.is_empty());
}

#[test]
fn deep_nesting() {
    let deep = format!(
        "flow: a\nx: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let d = lint_text(&deep);
    assert!(
        d.iter()
            .any(|m| m.starts_with("LL001") && m.contains("nesting")),
        "{d:?}"
    );
    let mut block = String::from("flow: a\nx:\n");
    for i in 1..200 {
        block.push_str(&format!("{}k{i}:\n", " ".repeat(i)));
    }
    let d = lint_text(&block);
    assert!(d.iter().any(|m| m.contains("nesting")), "{d:?}");
}

#[test]
fn billion_laughs() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let p = i - 1;
        text.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let d = lint_text(&text);
    assert!(d.iter().any(|m| m.starts_with("LL001")), "{d:?}");
}

#[test]
fn rhai_infinite_loop_in_a_constant_expression() {
    // Lint compiles but never evaluates; it must finish promptly with the flow otherwise fine.
    let text = "flow: a\ntrigger:\n  manual: {}\nfilter: 'loop { }'\nsteps:\n  - id: x\n    map: { A: 'while true { }' }\n";
    let started = std::time::Instant::now();
    let _ = lint_text(text);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn multi_document_file() {
    let d = lint_text(&format!("{GOOD}---\n{GOOD}"));
    assert!(
        d.iter()
            .any(|m| m.starts_with("LL001:7:") && m.contains("second")),
        "{d:?}"
    );
}

#[test]
fn aliases_within_a_file_work() {
    let text = "flow: a\ntrigger:\n  manual: {}\nsteps:\n  - id: x\n    retry: &r { attempts: 3 }\n    call: mock.echo\n  - id: y\n    retry: *r\n    call: mock.echo\n";
    let d = lint_text(text);
    assert!(d.is_empty(), "{d:?}");
}

#[test]
fn empty_and_scalar_files() {
    assert!(lint_text("").iter().any(|m| m.contains("empty")));
    assert!(
        lint_text("just a string")
            .iter()
            .any(|m| m.starts_with("LL002"))
    );
    assert!(
        lint_text("- a\n- b\n")
            .iter()
            .any(|m| m.starts_with("LL002"))
    );
}
