//! Architecture checks a test can make: every source file opens with a `//!` paragraph, lower
//! layers do not import upper ones, every connector folder is registered.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

fn engine() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("engine")
}

#[test]
fn every_file_opens_with_a_module_doc() {
    let mut files = Vec::new();
    sources(&engine(), &mut files);
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(
            text.starts_with("//!"),
            "{} does not open with a `//!` paragraph",
            f.display()
        );
    }
}

#[test]
fn layers_point_down() {
    // module -> modules above it, which it must not use
    let order = [
        "diag",
        "model",
        "pci",
        "load",
        "script",
        "reconcile",
        "connectors",
        "lint",
        "plan",
        "store",
        "alerts",
        "runtime",
        "triggers",
        "server",
        "reload",
        "flowtest",
        "templates",
        "sandbox",
        "schemas",
        "cli",
    ];
    for (n, module) in order.iter().enumerate() {
        let dir = engine().join(module);
        let mut files = Vec::new();
        if dir.is_dir() {
            sources(&dir, &mut files);
        } else {
            files.push(engine().join(format!("{module}.rs")));
        }
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            for b in &order[n + 1..] {
                assert!(
                    !text.contains(&format!("crate::{b}::"))
                        && !text.contains(&format!("crate::{b};")),
                    "{} uses crate::{b}, which is above it",
                    f.display()
                );
            }
            for ext in ["clap", "tokio", "axum"] {
                let allowed = *module == "cli"
                    || (ext == "tokio"
                        && [
                            "alerts", "runtime", "triggers", "sandbox", "server", "reload",
                            "flowtest",
                        ]
                        .contains(module))
                    || (ext == "axum" && ["sandbox", "server"].contains(module));
                if !allowed {
                    assert!(
                        !text.contains(&format!("use {ext}"))
                            && !text.contains(&format!("{ext}::")),
                        "{} uses {ext}",
                        f.display()
                    );
                }
            }
        }
    }
}

#[test]
fn every_connector_folder_is_registered() {
    for e in std::fs::read_dir(engine().join("connectors")).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            assert!(
                ledgerlink::connectors::REGISTRY
                    .iter()
                    .any(|r| r.name == name),
                "connector folder `{name}` is not in REGISTRY"
            );
        }
    }
}
