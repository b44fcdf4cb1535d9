//! Reading profiles (`profiles/<name>.yaml`) through the same span-aware loader as flows.

use super::{LoadError, read};
use crate::model::Profile;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("{file}:{line}:{col}: {message}")]
    Syntax {
        file: String,
        line: usize,
        col: usize,
        message: String,
    },
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
    /// A setting of the wrong type or name, with the place the profile schema points at.
    #[error("{file}:{line}:{col}: {message}")]
    InvalidAt {
        file: String,
        line: usize,
        col: usize,
        message: String,
    },
    #[error("{file}: profile `{name}` breaks its guards:\n  - {}", .problems.join("\n  - "))]
    Guarded {
        file: String,
        name: String,
        problems: Vec<String>,
    },
    #[error("no profile `{name}` in `{dir}` (profiles there: {})", if known.is_empty() { "none".to_string() } else { known.join(", ") })]
    Missing {
        name: String,
        dir: String,
        known: Vec<String>,
    },
}

/// Read and check one profile file.
pub fn read_profile(path: &Path) -> Result<Profile, ProfileError> {
    let file = read(path)?;
    let name = file.name.to_string();
    let parsed = super::parse(&file.text).map_err(|e| {
        let (line, col) = e.span.map_or((1, 1), |s| (s.line, s.col));
        ProfileError::Syntax {
            file: name.clone(),
            line,
            col,
            message: e.message,
        }
    })?;
    let profile: Profile = match serde_json::from_value(parsed.value.clone()) {
        Ok(p) => p,
        Err(e) => {
            let message = e.to_string();
            // serde names the problem but not the place; the profile schema's first violation
            // gives the JSON pointer, and the loader's index its line and column.
            return Err(match locate(&parsed.value, &parsed.index) {
                Some((line, col)) => ProfileError::InvalidAt {
                    file: name,
                    line,
                    col,
                    message,
                },
                None => ProfileError::Invalid {
                    file: name,
                    message,
                },
            });
        }
    };
    let problems = super::guards::violations(&profile);
    if !problems.is_empty() {
        return Err(ProfileError::Guarded {
            file: name,
            name: profile.profile,
            problems,
        });
    }
    Ok(profile)
}

/// Line and column of the first place `value` breaks the profile schema.
fn locate(value: &serde_json::Value, index: &super::PointerIndex) -> Option<(usize, usize)> {
    static VALIDATOR: std::sync::OnceLock<Option<jsonschema::Validator>> =
        std::sync::OnceLock::new();
    let validator = VALIDATOR
        .get_or_init(|| jsonschema::validator_for(&super::profile_schema()).ok())
        .as_ref()?;
    let error = validator.iter_errors(value).next()?;
    let mut pointer = error.instance_path().to_string();
    // An unknown setting: point at its name rather than at the mapping holding it.
    if let jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } =
        error.kind()
        && let Some(name) = unexpected.first()
    {
        pointer = format!("{pointer}/{}", super::escape(name));
    }
    let span = index.key_span(&pointer)?;
    Some((span.line, span.col))
}

/// The profile named `name` in `dir`, as `<dir>/<name>.yaml`.
pub fn find_profile(dir: &Path, name: &str) -> Result<Profile, ProfileError> {
    let path = dir.join(format!("{name}.yaml"));
    if !path.exists() {
        return Err(ProfileError::Missing {
            name: name.to_string(),
            dir: dir.display().to_string(),
            known: profile_names(dir),
        });
    }
    read_profile(&path)
}

/// The profile names in `dir` (`*.yaml` files), sorted.
pub fn profile_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            (p.extension().is_some_and(|x| x == "yaml"))
                .then(|| p.file_stem().map(|s| s.to_string_lossy().to_string()))
                .flatten()
        })
        .collect();
    names.sort();
    names
}
