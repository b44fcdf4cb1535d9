//! The connector pages in `docs/connectors/` are generated from the catalogs and settings
//! texts; this fails when they are stale (`BLESS=1 cargo test connector_docs` rewrites them).

use std::path::Path;

#[test]
fn connector_docs_are_fresh() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for r in ledgerlink::connectors::REGISTRY {
        let catalog = ledgerlink::connectors::catalog(r.name).unwrap();
        let page = ledgerlink::connectors::docs::page(
            catalog,
            ledgerlink::connectors::docs::settings(r.name),
        );
        for op in &catalog.operations {
            assert!(
                page.contains(&format!("### {}", op.name)),
                "{}.{}",
                r.name,
                op.name
            );
        }
        let path = root.join(format!("docs/connectors/{}.md", r.name));
        if let Some(diff) = super::golden::check(&path, &page) {
            panic!(
                "{} is stale: run `BLESS=1 cargo test connector_docs` and commit it\n{diff}",
                path.display()
            );
        }
    }
}
