//! The command line: the only module that knows argv. One file per subcommand; each returns an
//! exit code (0 ok, 1 findings or failed run, 2 usage or I/O).

/// `println!` that ends quietly on a closed pipe (`ledgerlink runs list | head`).
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::out(&format!("{}\n", format!($($arg)*)))
    };
}

mod bench;
mod bench_runtime;
mod bench_sandbox;
mod bench_reload;
mod bench_w1;
mod check;
mod dlq;
mod lint;
mod logging;
mod new;
mod poll;
mod profiles;
mod reconcile;
mod run;
mod run_once;
mod runs;
mod sandbox;
mod schema;
mod send;
mod setup;
mod test;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "ledgerlink",
    version,
    about = "Declarative PayTrace <-> Sage Pro integration flows"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log filter: `warn` (default, or $LEDGERLINK_LOG), `info`, `debug` (connector calls,
    /// redacted), or per target such as `ledgerlink=debug,reqwest=warn`. Logs go to stderr.
    #[arg(long, global = true, value_name = "FILTER")]
    log: Option<String>,
    /// Log line format.
    #[arg(long, global = true, value_enum, default_value = "human")]
    log_format: logging::Format,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check flow files: every finding with file:line:col, exit 1 on errors.
    Lint(lint::Args),
    /// Poll flows: `poll backfill FLOW --from DATE --to DATE`.
    Poll(poll::Args),
    /// Profiles: list them, or show what differs between two (promotion review).
    Profiles(profiles::Args),
    /// Check that the profile's connectors are reachable and accept their credentials.
    Check(check::Args),
    /// Run the engine: execute queued runs durably until stopped.
    Run(run::Args),
    /// Put events in a flow's inbox for `ledgerlink run`.
    Send(send::Args),
    /// Runs in the store: list, or show one with its journal.
    Runs(runs::Args),
    /// The dead-letter queue: list, show, replay, discard.
    Dlq(dlq::Args),
    /// Run one event through one flow and print the step timeline.
    RunOnce(run_once::Args),
    /// Run flow tests (`flows/<name>.test.yaml`) with scripted connectors, no network.
    Test(test::Args),
    /// Write a new flow and its test file from a template (`new --list` shows them).
    New(new::Args),
    /// Reconcile one day's PayTrace settlement with Sage Pro, write the report, post fees.
    Reconcile(reconcile::Args),
    /// Run the PayTrace and Sage Pro emulators on loopback.
    Sandbox(sandbox::Args),
    /// Print the JSON Schema of flow files, or of a connector's operations.
    Schema(schema::Args),
    /// Measure Ledgerlink on this machine (`bench lint`, `bench sandbox`).
    Bench(bench::Args),
    /// The hand-written W1 service `bench w1` measures Ledgerlink against (not for users).
    #[command(hide = true)]
    BenchBaseline(bench_w1::BaselineArgs),
}

/// Write to stdout; a closed pipe (`ledgerlink schema | head`) ends output quietly instead of
/// panicking like `print!`.
pub(crate) fn out(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

/// Parse argv, run, return the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    if let Err(e) = logging::init(cli.log.as_deref(), cli.log_format) {
        eprintln!("error: {e:#}");
        return 2;
    }
    let result = match cli.command {
        Command::Lint(a) => lint::run(a),
        Command::Check(a) => check::run(a),
        Command::Profiles(a) => profiles::run(a),
        Command::Poll(a) => poll::run(a),
        Command::Run(a) => run::run(a),
        Command::Send(a) => send::run(a),
        Command::Runs(a) => runs::run(a),
        Command::Dlq(a) => dlq::run(a),
        Command::RunOnce(a) => run_once::run(a),
        Command::Test(a) => test::run(a),
        Command::Reconcile(a) => reconcile::run(a),
        Command::New(a) => new::run(a),
        Command::BenchBaseline(a) => bench_w1::baseline(a),
        Command::Sandbox(a) => sandbox::run(a),
        Command::Schema(a) => schema::run(a),
        Command::Bench(a) => bench::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            2
        }
    }
}
