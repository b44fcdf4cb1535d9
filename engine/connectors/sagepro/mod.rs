//! The `sagepro` connector: the Sage Pro ERP REST facade (`/api/...`): customers, invoices,
//! orders, payments, journal entries, credit memos, GL accounts. No card data is ever sent.
//! Operations and their input/output schemas are in `catalog.yaml` (published as
//! `schemas/connectors/sagepro.json`, documented in `docs/connectors/sagepro.md`). Settings
//! (`config.rs`) come from the profile's `connectors.sagepro`; `client.rs` talks HTTP with an
//! Idempotency-Key on every POST; `errors.rs` classifies answers.

pub mod client;
pub mod config;
pub mod errors;
pub mod ops;
