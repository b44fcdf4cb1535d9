//! Expected-output files: compare, or rewrite them all when `BLESS=1` is set.

use std::path::Path;

/// Whether this run rewrites expected files instead of checking them.
pub fn blessing() -> bool {
    std::env::var_os("BLESS").is_some()
}

/// Check `actual` against the file at `path` (or write it when blessing). Returns a readable
/// difference report when they differ.
pub fn check(path: &Path, actual: &str) -> Option<String> {
    if blessing() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, actual).unwrap();
        return None;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    (expected != actual).then(|| {
        format!(
            "--- {}\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display()
        )
    })
}

/// Every sub-folder of `root`, sorted.
pub fn case_dirs(root: &Path) -> Vec<std::path::PathBuf> {
    let mut cases: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    cases
}
