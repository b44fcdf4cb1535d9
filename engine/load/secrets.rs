//! Secret references, resolved at start: `${env:NAME}` reads an environment variable,
//! `${file:PATH}` a file (trailing newline dropped), and `${secret:NAME}` the reference the
//! profile binds to NAME in its `secrets:` section, so one flow runs unchanged under dev (a
//! sandbox file) and prod (the environment). Inline values are refused so a secret never sits
//! in a flow or profile file. Errors name the reference, never a value.

use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error(
        "`{what}` must be a secret reference (`${{env:NAME}}` or `${{file:PATH}}`), not a value"
    )]
    Inline { what: String },
    #[error("`{what}`: environment variable `{name}` is not set")]
    MissingEnv { what: String, name: String },
    #[error("`{what}`: cannot read secret file `{path}`: {reason}")]
    File {
        what: String,
        path: String,
        reason: String,
    },
    #[error("`{what}`: the secret is empty")]
    Empty { what: String },
    #[error("`{what}`: the profile binds no secret `{name}` (add it under `secrets:`)")]
    Unbound { what: String, name: String },
}

impl SecretError {
    /// The setting whose reference failed (`connectors.sagepro.client_secret`).
    pub fn what(&self) -> &str {
        match self {
            SecretError::Inline { what }
            | SecretError::MissingEnv { what, .. }
            | SecretError::File { what, .. }
            | SecretError::Empty { what }
            | SecretError::Unbound { what, .. } => what,
        }
    }
}

/// Where references are resolved: the profile's directory (for relative files) and its
/// `secrets:` bindings.
#[derive(Debug, Clone, Default)]
pub struct SecretScope {
    pub base: std::path::PathBuf,
    pub bindings: BTreeMap<String, String>,
}

impl SecretScope {
    /// Files relative to `base`, no bindings.
    pub fn at(base: &Path) -> SecretScope {
        SecretScope {
            base: base.to_path_buf(),
            bindings: BTreeMap::new(),
        }
    }

    /// A profile's scope.
    pub fn of(profile: &crate::model::Profile, profiles_dir: &Path) -> SecretScope {
        SecretScope {
            base: profiles_dir.to_path_buf(),
            bindings: profile.secrets.clone(),
        }
    }

    pub fn resolve(&self, what: &str, reference: &str) -> Result<String, SecretError> {
        resolve_bound(what, reference, &self.bindings, &self.base)
    }
}

/// Resolve `reference`, which may be `${secret:NAME}` bound in `bindings` (a profile's
/// `secrets:`), relative files read from `base` (the profile's directory).
pub fn resolve_bound(
    what: &str,
    reference: &str,
    bindings: &BTreeMap<String, String>,
    base: &Path,
) -> Result<String, SecretError> {
    let trimmed = reference.trim();
    if let Some(name) = trimmed
        .strip_prefix("${secret:")
        .and_then(|r| r.strip_suffix('}'))
    {
        let bound = bindings.get(name).ok_or_else(|| SecretError::Unbound {
            what: what.into(),
            name: name.into(),
        })?;
        if bound.trim().starts_with("${secret:") {
            return Err(SecretError::Inline { what: what.into() });
        }
        return resolve(&format!("{what} (secrets.{name})"), bound, base);
    }
    resolve(what, reference, base)
}

/// Resolve `reference`; `what` names the setting in errors (`sandbox.notify.secret`).
/// Relative file paths are read from `base`.
pub fn resolve(what: &str, reference: &str, base: &Path) -> Result<String, SecretError> {
    let inner = reference
        .trim()
        .strip_prefix("${")
        .and_then(|r| r.strip_suffix('}'))
        .ok_or_else(|| SecretError::Inline { what: what.into() })?;
    let value = if let Some(name) = inner.strip_prefix("env:") {
        std::env::var(name).map_err(|_| SecretError::MissingEnv {
            what: what.into(),
            name: name.into(),
        })?
    } else if let Some(path) = inner.strip_prefix("file:") {
        let full = base.join(path);
        let text = std::fs::read_to_string(&full).map_err(|e| SecretError::File {
            what: what.into(),
            path: full.display().to_string(),
            reason: e.to_string(),
        })?;
        text.trim_end_matches(['\r', '\n']).to_string()
    } else {
        return Err(SecretError::Inline { what: what.into() });
    };
    if value.is_empty() {
        return Err(SecretError::Empty { what: what.into() });
    }
    Ok(value)
}

/// Whether `text` is written as a secret reference.
pub fn is_reference(text: &str) -> bool {
    let t = text.trim();
    (t.starts_with("${env:") || t.starts_with("${file:") || t.starts_with("${secret:"))
        && t.ends_with('}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve_and_errors_name_the_setting_not_the_value() {
        let dir = std::env::temp_dir().join(format!("ll-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("s.txt"), "hunter2\n").unwrap();
        assert_eq!(resolve("x", "${file:s.txt}", &dir).unwrap(), "hunter2");
        assert_eq!(
            resolve("x", "${env:PATH}", &dir).unwrap(),
            std::env::var("PATH").unwrap()
        );
        let e = resolve("notify.secret", "hunter2", &dir).unwrap_err();
        assert!(matches!(e, SecretError::Inline { .. }));
        assert!(!e.to_string().contains("hunter2"));
        let e = resolve("notify.secret", "${env:LEDGERLINK_NO_SUCH_VAR}", &dir).unwrap_err();
        assert_eq!(
            e.to_string(),
            "`notify.secret`: environment variable `LEDGERLINK_NO_SUCH_VAR` is not set"
        );
        assert!(matches!(
            resolve("x", "${file:missing.txt}", &dir),
            Err(SecretError::File { .. })
        ));
        assert!(matches!(
            resolve("x", "${vault:a}", &dir),
            Err(SecretError::Inline { .. })
        ));
        assert!(is_reference("${env:A}") && !is_reference("plain"));
        let mut bindings = BTreeMap::new();
        bindings.insert("hook".to_string(), "${file:s.txt}".to_string());
        assert_eq!(
            resolve_bound("x", "${secret:hook}", &bindings, &dir).unwrap(),
            "hunter2"
        );
        let e = resolve_bound("webhook", "${secret:nope}", &bindings, &dir).unwrap_err();
        assert!(e.to_string().contains("binds no secret `nope`"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
