//! The `ledgerlink` binary: parse the command line, run, exit with its code.

/// mimalloc rather than the system allocator: an event's run allocates and frees many small
/// values across threads, where glibc `malloc` cost about a fifth of the engine's CPU on W1
/// (docs/performance.md). Wrapped to count what each thread holds: a script's memory budget
/// (`script::budget`).
#[global_allocator]
static ALLOCATOR: ledgerlink::script::budget::CountingAlloc<mimalloc::MiMalloc> =
    ledgerlink::script::budget::CountingAlloc(mimalloc::MiMalloc);

fn main() {
    std::process::exit(ledgerlink::cli::main());
}
