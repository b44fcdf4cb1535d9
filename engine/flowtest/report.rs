//! Printing results: a test-runner summary for people, JUnit XML for CI.

use super::runner::{FileError, FileResult};

/// What `ledgerlink test` found across all files.
#[derive(Debug, Default)]
pub struct Summary {
    pub files: Vec<FileResult>,
    pub errors: Vec<FileError>,
}

impl Summary {
    pub fn passed(&self) -> usize {
        self.cases().filter(|c| c.failures.is_empty()).count()
    }
    pub fn failed(&self) -> usize {
        self.cases().filter(|c| !c.failures.is_empty()).count()
    }
    pub fn ok(&self) -> bool {
        self.failed() == 0 && self.errors.is_empty()
    }
    fn cases(&self) -> impl Iterator<Item = &super::runner::CaseResult> {
        self.files.iter().flat_map(|f| &f.cases)
    }
}

/// The human report: one line per case, the differences and the calls made under a failure.
pub fn human(summary: &Summary, verbose: bool) -> String {
    let mut out = String::new();
    for f in &summary.files {
        out.push_str(&format!("{} (flow {})\n", f.file, f.flow));
        for c in &f.cases {
            let mark = if c.failures.is_empty() {
                "ok  "
            } else {
                "FAIL"
            };
            if c.failures.is_empty() {
                out.push_str(&format!("  {mark} {}\n", c.name));
            } else {
                // file:line, so an editor or terminal can jump to the failing case.
                out.push_str(&format!("  {mark} {} ({}:{})\n", c.name, f.file, c.line));
            }
            if !c.failures.is_empty() || verbose {
                out.push_str(&details(c));
            }
        }
    }
    for e in &summary.errors {
        out.push_str(&format!("error: {e}\n"));
    }
    let files = summary.files.len() + summary.errors.len();
    out.push_str(&format!(
        "\n{} passed, {} failed{} ({} file{})\n",
        summary.passed(),
        summary.failed(),
        if summary.errors.is_empty() {
            String::new()
        } else {
            format!(", {} file error(s)", summary.errors.len())
        },
        files,
        if files == 1 { "" } else { "s" }
    ));
    out
}

/// Under a case: the differences, the run's timeline and every call made.
fn details(c: &super::runner::CaseResult) -> String {
    let mut out = String::new();
    for line in &c.failures {
        out.push_str(&format!("       {line}\n"));
    }
    if let Some(r) = &c.record {
        out.push_str("       run:\n");
        for l in r.timeline(false).lines().skip(1) {
            out.push_str(&format!("       {l}\n"));
        }
    }
    if !c.calls.is_empty() {
        out.push_str("       calls made:\n");
        for call in &c.calls {
            out.push_str(&format!(
                "         {} (attempt {}, key {})\n           {}\n",
                call.call,
                call.attempt,
                call.idempotency_key.as_deref().unwrap_or("-"),
                call.input
            ));
        }
    }
    out
}

fn xml(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            '\'' => s.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {}
            c => s.push(c),
        }
    }
    s
}

/// JUnit XML (the dialect Jenkins, GitLab and GitHub test reporters read).
pub fn junit(summary: &Summary) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"ledgerlink\" tests=\"{}\" failures=\"{}\" errors=\"{}\">\n",
        summary.passed() + summary.failed(),
        summary.failed(),
        summary.errors.len()
    ));
    for f in &summary.files {
        let failures = f.cases.iter().filter(|c| !c.failures.is_empty()).count();
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\">\n",
            xml(&f.file),
            f.cases.len()
        ));
        for c in &f.cases {
            out.push_str(&format!(
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.6}\"",
                xml(&f.flow),
                xml(&c.name),
                c.micros as f64 / 1e6
            ));
            if c.failures.is_empty() {
                out.push_str("/>\n");
            } else {
                out.push_str(&format!(
                    ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                    xml(&c.failures[0]),
                    xml(&details(c))
                ));
            }
        }
        out.push_str("  </testsuite>\n");
    }
    for e in &summary.errors {
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"1\" failures=\"0\" errors=\"1\">\n    <testcase classname=\"{}\" name=\"load\">\n      <error message=\"{}\"/>\n    </testcase>\n  </testsuite>\n",
            xml(&e.file),
            xml(&e.file),
            xml(&e.to_string())
        ));
    }
    out.push_str("</testsuites>\n");
    out
}
