//! Contract tests for the PayTrace emulator over real HTTP.
