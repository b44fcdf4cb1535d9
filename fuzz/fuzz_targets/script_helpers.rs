//! Fuzz target `script_helpers`: see `harness/mod.rs` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ledgerlink_fuzz::script_helpers(data);
});
