//! Fuzz target `webhook_intake`: see `harness/mod.rs` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ledgerlink_fuzz::webhook_intake(data);
});
