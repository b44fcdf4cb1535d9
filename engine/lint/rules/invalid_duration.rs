//! LL021 invalid-duration: a duration (`every`, `overlap`, `backoff`, `max_delay`) or size
//! (`max_body`) is not readable, such as `5 minutes later` or `1 banana`.

use super::{Rule, rule_code};
use crate::diag::Diagnostic;
use crate::lint::FlowCx;
use crate::model::Retry;

rule_code!(
    "LL021",
    "invalid-duration",
    "a duration or size cannot be read"
);

/// Parse a duration like `500ms`, `60s`, `5m`, `1d`.
pub fn parse(text: &str) -> Option<std::time::Duration> {
    humantime::parse_duration(text.trim()).ok()
}

/// Parse a size like `256KiB`, `1MiB`, `1000` (bytes).
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n.parse().ok()?;
    let mult = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "KB" | "k" => 1024,
        "MiB" | "MB" | "M" => 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// Every duration field of a flow: (pointer, text).
pub fn durations<'a>(cx: &'a FlowCx<'a>) -> Vec<(String, &'a str)> {
    let mut out = Vec::new();
    if let Some(p) = &cx.flow.trigger.poll {
        out.push(("/trigger/poll/every".to_string(), p.every.as_str()));
        if let Some(o) = &p.overlap {
            out.push(("/trigger/poll/overlap".to_string(), o.as_str()));
        }
    }
    for (pointer, retry) in super::retry_out_of_bounds::retries(cx) {
        push_retry(&pointer, retry, &mut out);
    }
    out
}

fn push_retry<'a>(pointer: &str, r: &'a Retry, out: &mut Vec<(String, &'a str)>) {
    if let Some(b) = &r.backoff {
        out.push((format!("{pointer}/backoff"), b.as_str()));
    }
    if let Some(m) = &r.max_delay {
        out.push((format!("{pointer}/max_delay"), m.as_str()));
    }
}

impl Rule for Check {
    fn code(&self) -> crate::diag::Code {
        CODE
    }

    fn check(&self, cx: &FlowCx<'_>, out: &mut Vec<Diagnostic>) {
        for (pointer, text) in durations(cx) {
            if parse(text).is_none() {
                out.push(
                    cx.error(CODE, &pointer, format!("`{text}` is not a duration"))
                        .with_help("write a number and a unit: `500ms`, `30s`, `5m`, `2h`, `1d`"),
                );
            }
        }
        if let Some(w) = &cx.flow.trigger.webhook
            && let Some(size) = &w.max_body
            && parse_size(size) == Some(0)
        {
            out.push(
                cx.error(
                    CODE,
                    "/trigger/webhook/max_body",
                    format!("`{size}` would refuse every event (an event is at least `{{}}`)"),
                )
                .with_help("leave `max_body` out for 1MiB, or give the largest body expected"),
            );
        }
        if let Some(w) = &cx.flow.trigger.webhook
            && let Some(size) = &w.max_body
            && parse_size(size).is_none()
        {
            out.push(
                cx.error(
                    CODE,
                    "/trigger/webhook/max_body",
                    format!("`{size}` is not a size"),
                )
                .with_help("write a size with a unit, as text: `256KiB`, `1MiB`, `1000B`"),
            );
        }
        if let Some(p) = &cx.flow.trigger.poll
            && parse(&p.every).is_some_and(|d| d < std::time::Duration::from_secs(1))
        {
            out.push(
                cx.error(
                    CODE,
                    "/trigger/poll/every",
                    format!("poll interval `{}` is under one second", p.every),
                )
                .with_help("poll at most once a second; use a webhook for real-time events"),
            );
        }
    }
}
