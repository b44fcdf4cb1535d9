//! Running one test file: load it and its flow, run each case through the executor with
//! scripted connectors (no network, retries without waiting) and check the expectations.

use super::matcher::{compare, text_or_matcher};
use super::spec::{Expect, TestCase, TestFile};
use crate::connectors::mock::scripted::{RecordedCall, Scripted};
use crate::load::{find_profile, read};
use crate::model::Profile;
use crate::runtime::retry::{Jitter, RecordingSleeper};
use crate::runtime::{Executor, RunRecord, RunStatus};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A problem with the test file itself (not a failing case).
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}:{col}: {message}")]
pub struct FileError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// The outcome of one case.
#[derive(Debug)]
pub struct CaseResult {
    pub name: String,
    /// Empty when the case passed.
    pub failures: Vec<String>,
    /// The calls the flow made, shown when the case fails.
    pub calls: Vec<RecordedCall>,
    pub record: Option<RunRecord>,
    pub micros: u128,
    /// Where the case starts in the test file.
    pub line: usize,
}

/// The outcome of one file.
#[derive(Debug)]
pub struct FileResult {
    pub file: String,
    pub flow: String,
    pub cases: Vec<CaseResult>,
}

/// Where the profiles live: the given directory, else `profiles/` beside the flows' folder,
/// else `profiles/` here.
fn profiles_dir(test_file: &Path, given: Option<&Path>) -> PathBuf {
    if let Some(d) = given {
        return d.to_path_buf();
    }
    let beside = test_file
        .parent()
        .and_then(Path::parent)
        .map(|p| p.join("profiles"));
    match beside {
        Some(p) if p.is_dir() => p,
        _ => PathBuf::from("profiles"),
    }
}

fn file_error(file: &str, span: Option<crate::diag::Span>, message: String) -> FileError {
    let (line, col) = span.map_or((1, 1), |s| (s.line, s.col));
    FileError {
        file: file.to_string(),
        line,
        col,
        message,
    }
}

/// The default clock of flow tests: a fixed instant, so `today()` and dates are reproducible.
pub const DEFAULT_NOW: &str = "2026-01-15T17:00:00Z";

pub fn run_file(path: &Path, profiles: Option<&Path>) -> Result<FileResult, FileError> {
    let source =
        read(path).map_err(|e| file_error(&path.display().to_string(), None, e.to_string()))?;
    let name = source.name.to_string();
    let parsed = crate::load::parse(&source.text)
        .map_err(|e| file_error(&name, e.span, e.message.clone()))?;
    let mut cases_raw = Vec::new();
    let spec: TestFile = serde_json::from_value(parsed.value.clone()).map_err(|e| {
        file_error(
            &name,
            parsed.index.span(""),
            format!("not a flow test file: {e}"),
        )
    })?;
    for (i, raw) in spec.tests.iter().enumerate() {
        let pointer = format!("/tests/{i}");
        let case: TestCase = serde_json::from_value(raw.clone()).map_err(|e| {
            let text = e.to_string();
            // Point at the offending key when serde names one.
            let key_span = text
                .strip_prefix("unknown field `")
                .and_then(|rest| rest.split('`').next())
                .and_then(|k| parsed.index.key_span(&format!("{pointer}/{k}")));
            let span = key_span.or_else(|| parsed.index.span(&pointer));
            file_error(&name, span, format!("test {}: {text}", i + 1))
        })?;
        crate::connectors::mock::scripted::check(&case.replies).map_err(|m| {
            file_error(
                &name,
                parsed.index.span(&format!("{pointer}/replies")),
                format!("test {}: {m}", i + 1),
            )
        })?;
        let line = parsed.index.span(&pointer).map_or(1, |s| s.line);
        cases_raw.push((case, line));
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let flow_path = match &spec.flow {
        Some(f) => dir.join(f),
        None => {
            let file_name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            dir.join(
                file_name
                    .replace(".test.yaml", ".yaml")
                    .replace(".test.yml", ".yml"),
            )
        }
    };
    let flow_source = read(&flow_path).map_err(|e| {
        let hint = if spec.flow.is_none() {
            " (name the flow under test with `flow: <file>.yaml` in the test file)"
        } else {
            ""
        };
        file_error(
            &name,
            parsed.index.span("/flow"),
            format!("cannot load the flow: {e}{hint}"),
        )
    })?;
    let profile = load_profile(path, profiles, &spec)
        .map_err(|m| file_error(&name, parsed.index.span("/profile"), m))?;
    let now = spec.now.as_deref().unwrap_or(DEFAULT_NOW);
    let now = chrono::DateTime::parse_from_rfc3339(now)
        .map_err(|e| file_error(&name, parsed.index.span("/now"), format!("`now`: {e}")))?
        .to_utc();
    let clock: crate::script::helpers::Clock = Arc::new(move || now);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| file_error(&name, None, e.to_string()))?;
    let mut result = FileResult {
        file: name.clone(),
        flow: flow_path.display().to_string(),
        cases: Vec::new(),
    };
    let mut shared: Option<Result<Arc<crate::plan::Plan>, String>> = None;
    for (i, (case, line)) in cases_raw.into_iter().enumerate() {
        let started = std::time::Instant::now();
        let mut profile = profile.clone();
        merge(&mut profile.values, &case.values);
        merge_tables(&mut profile, &case.tables);
        let mut out = CaseResult {
            name: case.name.clone(),
            failures: Vec::new(),
            calls: Vec::new(),
            record: None,
            micros: 0,
            line,
        };
        let event = match event_of(&case, dir) {
            Ok(e) => e,
            Err(m) => {
                out.failures.push(format!("test {}: {m}", i + 1));
                result.cases.push(out);
                continue;
            }
        };
        // Cases without overrides share one plan: lint and compile once per file.
        let planned = if case.values.is_empty() && case.tables.is_empty() {
            shared
                .get_or_insert_with(|| plan_for(&flow_source, profile, &clock))
                .clone()
        } else {
            plan_for(&flow_source, profile, &clock)
        };
        let plan = match planned {
            Ok(p) => p,
            Err(e) => {
                out.failures.push(e);
                result.cases.push(out);
                continue;
            }
        };
        result.flow = plan.flow.flow.clone();
        let script = Scripted::new(case.replies.clone());
        let mut executor = Executor::new(script.clients());
        executor.sleeper = Arc::new(RecordingSleeper::default());
        executor.jitter = Arc::new(Jitter::seeded(7));
        let record = runtime.block_on(executor.run(&plan, &event));
        out.calls = script.calls();
        out.failures = check(&case.expect, &record, &out.calls);
        for unused in script.unused() {
            out.failures
                .push(format!("scripted reply for `{unused}` was never used"));
        }
        out.record = Some(record);
        out.micros = started.elapsed().as_micros();
        result.cases.push(out);
    }
    Ok(result)
}

fn plan_for(
    flow: &crate::load::SourceFile,
    profile: Profile,
    clock: &crate::script::helpers::Clock,
) -> Result<Arc<crate::plan::Plan>, String> {
    crate::plan::build(flow.clone(), profile, clock.clone())
        .map(Arc::new)
        .map_err(|e| e.to_string())
}

fn load_profile(path: &Path, profiles: Option<&Path>, spec: &TestFile) -> Result<Profile, String> {
    let dir = profiles_dir(path, profiles);
    let name = spec.profile.as_deref().unwrap_or("dev");
    let mut profile = if spec.profile.is_none() && !dir.join("dev.yaml").exists() {
        Profile {
            profile: "dev".into(),
            ..Profile::default()
        }
    } else {
        find_profile(&dir, name).map_err(|e| e.to_string())?
    };
    merge(&mut profile.values, &spec.values);
    merge_tables(&mut profile, &spec.tables);
    Ok(profile)
}

fn merge_tables(profile: &mut Profile, tables: &BTreeMap<String, BTreeMap<String, Value>>) {
    for (table, rows) in tables {
        let t = profile.tables.entry(table.clone()).or_default();
        for (k, v) in rows {
            t.insert(k.clone(), v.clone());
        }
    }
}

fn merge(into: &mut Map<String, Value>, from: &Map<String, Value>) {
    for (k, v) in from {
        into.insert(k.clone(), v.clone());
    }
}

fn event_of(case: &TestCase, dir: &Path) -> Result<Value, String> {
    let mut event = match (&case.event, &case.event_file) {
        (Some(e), None) => e.clone(),
        (None, Some(f)) => {
            let p = dir.join(f);
            let text = std::fs::read_to_string(&p)
                .map_err(|e| format!("cannot read `{}`: {e}", p.display()))?;
            serde_json::from_str(&text)
                .map_err(|e| format!("`{}` is not JSON: {e}", p.display()))?
        }
        _ => return Err("give exactly one of `event` and `event_file`".into()),
    };
    for (path, value) in &case.patch {
        set_path(&mut event, path, value.clone())?;
    }
    Ok(event)
}

/// Set `a.b.c` in `target`, creating objects on the way.
fn set_path(target: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let mut at = target;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        if !at.is_object() {
            if at.is_null() {
                *at = Value::Object(Map::new());
            } else {
                return Err(format!(
                    "patch `{path}`: `{part}` is inside a value that is not an object"
                ));
            }
        }
        let Some(obj) = at.as_object_mut() else {
            return Err(format!("patch `{path}`: not an object"));
        };
        if i + 1 == parts.len() {
            obj.insert((*part).to_string(), value);
            return Ok(());
        }
        at = obj.entry((*part).to_string()).or_insert(Value::Null);
    }
    Ok(())
}

fn status_parts(status: &RunStatus) -> (&'static str, Option<&str>, Option<&str>) {
    match status {
        RunStatus::Completed => ("completed", None, None),
        RunStatus::Skipped { reason } => ("skipped", None, Some(reason)),
        RunStatus::Failed { step, reason } => ("failed", Some(step), Some(reason)),
        RunStatus::DeadLettered { step, reason } => ("dead_lettered", Some(step), Some(reason)),
        RunStatus::Waiting { step, reason, .. } => ("waiting", Some(step), Some(reason)),
    }
}

/// Every way the run differs from the expectation.
fn check(expect: &Expect, record: &RunRecord, calls: &[RecordedCall]) -> Vec<String> {
    let mut out = Vec::new();
    let (status, step, reason) = status_parts(&record.status);
    if expect.status.as_str() != status {
        let why = reason.map(|r| format!(": {r}")).unwrap_or_default();
        let at = step.map(|s| format!(" at step `{s}`")).unwrap_or_default();
        out.push(format!(
            "status: expected {}, got {status}{at}{why}",
            expect.status.as_str()
        ));
    }
    if let Some(want) = &expect.step
        && step != Some(want.as_str())
    {
        out.push(format!(
            "step: expected `{want}`, got {}",
            step.map_or("none".into(), |s| format!("`{s}`"))
        ));
    }
    if let Some(want) = &expect.reason {
        out.extend(text_or_matcher(want, reason.unwrap_or_default(), "reason"));
    }
    if let Some(want) = &expect.calls {
        if want.len() != calls.len() {
            out.push(format!(
                "calls: expected {} call(s), got {}: [{}]",
                want.len(),
                calls.len(),
                calls
                    .iter()
                    .map(|c| c.call.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        for (i, (w, got)) in want.iter().zip(calls).enumerate() {
            let at = format!("calls[{i}]");
            if w.call != got.call {
                out.push(format!("{at}: expected `{}`, got `{}`", w.call, got.call));
                continue;
            }
            if let Some(input) = &w.input {
                out.extend(compare(
                    input,
                    Some(&got.input),
                    w.exact,
                    &format!("{at} {} input", got.call),
                ));
            }
            if let Some(key) = &w.idempotency_key {
                let actual = got.idempotency_key.clone().map(Value::String);
                out.extend(compare(
                    key,
                    actual.as_ref(),
                    true,
                    &format!("{at} idempotency_key"),
                ));
            }
            if let Some(n) = w.attempt
                && n != got.attempt
            {
                out.push(format!("{at} attempt: expected {n}, got {}", got.attempt));
            }
        }
    }
    if let Some(want) = &expect.alerts {
        if want.len() != record.alerts.len() {
            out.push(format!(
                "alerts: expected {}, got {}: {:?}",
                want.len(),
                record.alerts.len(),
                record
                    .alerts
                    .iter()
                    .map(|a| a.message.as_str())
                    .collect::<Vec<_>>()
            ));
        }
        for (i, (w, got)) in want.iter().zip(&record.alerts).enumerate() {
            if let Some(sev) = &w.severity
                && sev != &got.severity
            {
                out.push(format!(
                    "alerts[{i}] severity: expected {sev}, got {}",
                    got.severity
                ));
            }
            if let Some(ch) = &w.channel
                && Some(ch) != got.channel.as_ref()
            {
                out.push(format!(
                    "alerts[{i}] channel: expected {ch}, got {:?}",
                    got.channel
                ));
            }
            if let Some(m) = &w.message {
                out.extend(text_or_matcher(
                    m,
                    &got.message,
                    &format!("alerts[{i}] message"),
                ));
            }
        }
    }
    for (id, want) in &expect.steps {
        let got = record.steps.iter().rev().find(|s| &s.id == id);
        match got {
            None => out.push(format!("steps.{id}: the step did not run")),
            Some(s) => out.extend(compare(
                want,
                s.output.as_ref(),
                false,
                &format!("steps.{id}"),
            )),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patch_sets_nested_paths() {
        let mut e = json!({"a": {"b": 1}});
        set_path(&mut e, "a.c", json!(2)).unwrap();
        set_path(&mut e, "x.y", json!("z")).unwrap();
        assert_eq!(e, json!({"a": {"b": 1, "c": 2}, "x": {"y": "z"}}));
        assert!(set_path(&mut e, "a.b.c", json!(1)).is_err());
    }
}
