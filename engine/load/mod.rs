//! Files -> YAML -> JSON value + position index -> typed `model::Flow`.
//!
//! Choice of YAML library: `saphyr`'s `MarkedYaml` gives every node its span, so one parse
//! yields both the value and the JSON-pointer -> line:col index; the typed model is then
//! deserialised from that JSON value with serde (`deny_unknown_fields`), so no second YAML
//! parser (`yaml_serde`) is needed. See ARCHITECTURE.md.

pub mod guards;
mod index;
mod profile;
mod schema;
pub mod secrets;
mod yaml;

pub use index::{Node, PointerIndex, Style, escape};
pub use profile::{ProfileError, find_profile, profile_names, read_profile};
pub use schema::{SchemaViolation, flow_schema, profile_schema, validate};
pub use yaml::{MAX_DEPTH, Parsed, YamlError, parse};

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Largest flow file accepted. Real flows are a few KiB.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// A file read into memory, named as the user should see it.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub name: Arc<str>,
    pub text: Arc<str>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read `{path}`: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("`{path}` is {size} bytes; flow files are limited to {MAX_FILE_BYTES} bytes")]
    TooLarge { path: String, size: u64 },
    #[error("`{path}` is not UTF-8 text (invalid byte at offset {offset})")]
    NotText { path: String, offset: usize },
    #[error("no such file or directory: `{path}`")]
    Missing { path: String },
}

impl LoadError {
    /// Whether this is a problem with the file's content (a finding) rather than with I/O.
    pub fn is_content(&self) -> bool {
        matches!(self, LoadError::TooLarge { .. } | LoadError::NotText { .. })
    }

    pub fn path(&self) -> &str {
        match self {
            LoadError::Io { path, .. }
            | LoadError::TooLarge { path, .. }
            | LoadError::NotText { path, .. }
            | LoadError::Missing { path } => path,
        }
    }
}

/// Expand paths into flow files: files as given, directories searched recursively for
/// `*.yaml`/`*.yml` (hidden entries and `*.test.yaml` flow tests skipped), sorted for stable
/// output.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, LoadError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found = Vec::new();
            walk_yaml(p, &mut found)?;
            out.extend(found.into_iter().filter(|f| !is_flow_test(f)));
        } else if p.exists() {
            out.push(p.clone());
        } else {
            return Err(LoadError::Missing {
                path: p.display().to_string(),
            });
        }
    }
    Ok(out)
}

/// Is this a flow test file (`*.test.yaml` / `*.test.yml`, run by `ledgerlink test`) rather
/// than a flow?
pub fn is_flow_test(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".test.yaml") || n.ends_with(".test.yml"))
}

/// Every `*.yaml`/`*.yml` file under `dir`, hidden entries skipped, sorted.
pub fn walk_yaml(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let io = |error| LoadError::Io {
        path: dir.display().to_string(),
        error,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            walk_yaml(&path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(path);
        }
    }
    Ok(())
}

/// Read one file, refusing oversized and non-UTF-8 content before any parsing.
pub fn read(path: &Path) -> Result<SourceFile, LoadError> {
    let name = path.display().to_string();
    let io = |error| LoadError::Io {
        path: name.clone(),
        error,
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > MAX_FILE_BYTES {
        return Err(LoadError::TooLarge { path: name, size });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    from_bytes(&name, bytes)
}

/// Build a source file from bytes (used by `read` and by tests and the benchmark).
pub fn from_bytes(name: &str, bytes: Vec<u8>) -> Result<SourceFile, LoadError> {
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(LoadError::TooLarge {
            path: name.into(),
            size: bytes.len() as u64,
        });
    }
    let text = String::from_utf8(bytes).map_err(|e| LoadError::NotText {
        path: name.into(),
        offset: e.utf8_error().valid_up_to(),
    })?;
    Ok(SourceFile {
        name: name.into(),
        text: text.into(),
    })
}
