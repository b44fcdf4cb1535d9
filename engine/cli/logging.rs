//! Log output for every command: human lines or JSON (`--log-format json`), on stderr, filtered
//! by `--log` or the `LEDGERLINK_LOG` variable (`warn` by default; `debug` shows each connector
//! request and answer, redacted; per-target filters such as `ledgerlink=debug,reqwest=warn`).

use std::str::FromStr;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
}

/// Install the global subscriber. A bad filter is a usage error naming the text.
pub fn init(filter: Option<&str>, format: Format) -> anyhow::Result<()> {
    let text = match filter {
        Some(f) => f.to_string(),
        None => std::env::var("LEDGERLINK_LOG").unwrap_or_else(|_| "warn".into()),
    };
    let targets = Targets::from_str(&text).map_err(|e| {
        anyhow::anyhow!("log filter `{text}`: {e} (try `debug` or `ledgerlink=debug`)")
    })?;
    let registry = tracing_subscriber::registry().with(targets);
    let result = match format {
        Format::Human => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .with_writer(|| OneLine(std::io::stderr())),
            )
            .try_init(),
        Format::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    // Already installed (tests calling main twice): keep the first.
    let _ = result;
    Ok(())
}

/// Human log lines stay one line each: a line break or carriage return inside a logged value
/// (a remote's error text, a webhook's field) is written escaped, so it cannot forge a log
/// line of its own. (Escape sequences in values are escaped by `tracing-subscriber` itself.)
/// The formatter hands over each event whole, its own line break last.
struct OneLine<W>(W);

impl<W: std::io::Write> std::io::Write for OneLine<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let (body, end) = match buf.split_last() {
            Some((b'\n', body)) => (body, &b"\n"[..]),
            _ => (buf, &b""[..]),
        };
        if !body.iter().any(|b| matches!(b, b'\n' | b'\r')) {
            self.0.write_all(buf)?;
            return Ok(buf.len());
        }
        let mut line = Vec::with_capacity(buf.len() + 8);
        for &b in body {
            match b {
                b'\n' => line.extend_from_slice(b"\\n"),
                b'\r' => line.extend_from_slice(b"\\r"),
                _ => line.push(b),
            }
        }
        line.extend_from_slice(end);
        self.0.write_all(&line)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_logged_line_break_cannot_start_a_forged_line() {
        let mut out = OneLine(Vec::new());
        out.write_all(b"WARN reason=\"late\nINFO all good\r\"\n")
            .unwrap();
        assert_eq!(
            String::from_utf8(out.0).unwrap(),
            "WARN reason=\"late\\nINFO all good\\r\"\n"
        );
        let mut plain = OneLine(Vec::new());
        plain.write_all(b"INFO ok\n").unwrap();
        assert_eq!(plain.0, b"INFO ok\n");
    }
}
