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
    let profile: Profile =
        serde_json::from_value(parsed.value).map_err(|e| ProfileError::Invalid {
            file: name.clone(),
            message: e.to_string(),
        })?;
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
