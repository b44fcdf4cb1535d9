//! Contract tests for the Sage Pro facade emulator over real HTTP.
