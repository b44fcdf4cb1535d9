//! The `mock` connector: replies a test scripts (including failures), for flow tests and for
//! `ledgerlink run-once --replies`. `Scripted` can also stand in for any other connector.
//! Operations and their input/output schemas are in `catalog.yaml` (published as
//! `schemas/connectors/mock.json`); flows call them as `mock.<operation>`.

pub mod ops;
pub mod scripted;
