//! The `ledgerlink` binary: parse the command line, run, exit with its code.

fn main() {
    std::process::exit(ledgerlink::cli::main());
}
