//! The `paytrace` connector: the PayTrace JSON API v1 (OAuth2 password grant, card and ACH
//! transactions, customer vault, exports). Card fields (`x-card-data` in the catalog) may only be
//! sent here, never to the ERP.
//! Operations and their input/output schemas are in `catalog.yaml` (published as
//! `schemas/connectors/paytrace.json`, documented in `docs/connectors/paytrace.md`); flows call
//! them as `paytrace.<operation>`. Settings (`config.rs`) come from the profile's
//! `connectors.paytrace`; `client.rs` talks HTTP; `errors.rs` classifies answers;
//! `recover.rs` looks up a charge whose answer was lost before anything retries it.

pub mod client;
pub mod config;
pub mod errors;
pub mod ops;
mod recover;
