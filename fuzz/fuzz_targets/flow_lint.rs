//! Fuzz target `flow_lint`: see `harness/mod.rs` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ledgerlink_fuzz::flow_lint(data);
});
